// CPU reference for binary cross-entropy on logits (mean), the GAN loss of METHOD.md
// (L_D and the adversarial term of L_G). Written in the stable form
//   l(x, t) = max(x, 0) - x t + log1p(exp(-|x|)),
// which equals -[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))] without overflow.
#include <algorithm>
#include <cmath>

#include "kernels/checks.h"
#include "kernels/cpu/cpu_ops.h"

// ---- the contract: the checks kernels/ops.h runs before either backend ----------------------

namespace sad::ops::contract {

using namespace detail;

const Tensor& bce_with_logits_forward(const Tensor& logits, const Tensor& target, Tensor& loss) {
  const char* op = "bce_with_logits";
  check_call(op, OpId::BceWithLogits, "logits", logits, {{"target", &target}, {"loss", &loss}});
  check_shape(op, "target", target, logits.shape());
  SAD_CHECK(logits.numel() > 0, op, ": empty input");
  check_scalar(op, "loss", loss);
  return logits;
}

const Tensor& bce_with_logits_backward(const Tensor& logits, const Tensor& target, const Tensor& dloss,
                                       Tensor& dlogits) {
  const char* op = "bce_with_logits_backward";
  check_call(op, OpId::BceWithLogits, "logits", logits,
             {{"target", &target}, {"dloss", &dloss}, {"dlogits", &dlogits}});
  check_shape(op, "target", target, logits.shape());
  check_shape(op, "dlogits", dlogits, logits.shape());
  check_scalar(op, "dloss", dloss);
  return logits;
}

}  // namespace sad::ops::contract

namespace sad::cpu {

namespace {
double stable_sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  double e = std::exp(x);
  return e / (1.0 + e);
}
}  // namespace

void bce_with_logits_forward(const Tensor& logits, const Tensor& target, Tensor& loss) {
  dispatch_float(logits.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* x = logits.data<T>();  // (any shape)
    const T* t = target.data<T>();  // (same shape), values in [0, 1]
    int64_t n = logits.numel();
    double sum = 0;  // sequential: independent of the thread count
    for (int64_t i = 0; i < n; ++i) {
      double xi = x[i], ti = t[i];
      sum += std::max(xi, 0.0) - xi * ti + std::log1p(std::exp(-std::abs(xi)));
    }
    loss.data<T>()[0] = static_cast<T>(sum / static_cast<double>(n));
  });
}

void bce_with_logits_backward(const Tensor& logits, const Tensor& target, const Tensor& dloss, Tensor& dlogits) {
  dispatch_float(logits.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* x = logits.data<T>();
    const T* t = target.data<T>();
    T* dx = dlogits.data<T>();
    int64_t n = logits.numel();
    const double scale = static_cast<double>(dloss.data<T>()[0]) / static_cast<double>(n);
    // d/dx [max(x,0) - x t + log1p(exp(-|x|))] = sigmoid(x) - t.
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; ++i) dx[i] = static_cast<T>(scale * (stable_sigmoid(x[i]) - static_cast<double>(t[i])));
  });
}

}  // namespace sad::cpu
