// CPU reference for the pointwise losses MSE and L1 (mean over all elements) and their
// backward. L_G of METHOD.md uses MSE(x^, x); L1 serves diagnostics and ablations.
#include <cmath>

#include "kernels/checks.h"
#include "kernels/cpu/cpu_ops.h"

// ---- the contract: the checks kernels/ops.h runs before either backend ----------------------

namespace sad::ops::contract {

using namespace detail;

const Tensor& pointwise_loss_forward(const PointwiseLossParams& p, const Tensor& a, const Tensor& b, Tensor& loss) {
  const char* op = p.kind == PointwiseLossKind::Mse ? "mse_loss" : "l1_loss";
  check_call(op, OpId::PointwiseLoss, "a", a, {{"b", &b}, {"loss", &loss}});
  check_shape(op, "b", b, a.shape());
  SAD_CHECK(a.numel() > 0, op, ": empty input");
  check_scalar(op, "loss", loss);
  return a;
}

const Tensor& pointwise_loss_backward(const PointwiseLossParams& p, const Tensor& a, const Tensor& b,
                                      const Tensor& dloss, Tensor* da, Tensor* db) {
  const char* op = p.kind == PointwiseLossKind::Mse ? "mse_loss_backward" : "l1_loss_backward";
  check_call(op, OpId::PointwiseLoss, "a", a, {{"b", &b}, {"dloss", &dloss}, {"da", da}, {"db", db}});
  check_shape(op, "b", b, a.shape());
  check_scalar(op, "dloss", dloss);
  if (da) check_shape(op, "da", *da, a.shape());
  if (db) check_shape(op, "db", *db, a.shape());
  return a;
}

}  // namespace sad::ops::contract

namespace sad::cpu {

void pointwise_loss_forward(const ops::PointwiseLossParams& p, const Tensor& a, const Tensor& b, Tensor& loss) {
  dispatch_float(a.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* pa = a.data<T>();  // (any shape)
    const T* pb = b.data<T>();  // (same shape as a)
    int64_t n = a.numel();
    // One sequential double accumulator: the sum does not depend on the thread count.
    double sum = 0;
    if (p.kind == ops::PointwiseLossKind::Mse) {
      for (int64_t i = 0; i < n; ++i) {
        double d = static_cast<double>(pa[i]) - static_cast<double>(pb[i]);
        sum += d * d;
      }
    } else {
      for (int64_t i = 0; i < n; ++i) sum += std::abs(static_cast<double>(pa[i]) - static_cast<double>(pb[i]));
    }
    loss.data<T>()[0] = static_cast<T>(sum / static_cast<double>(n));
  });
}

void pointwise_loss_backward(const ops::PointwiseLossParams& p, const Tensor& a, const Tensor& b, const Tensor& dloss,
                             Tensor* da, Tensor* db) {
  dispatch_float(a.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* pda = da ? da->data<T>() : nullptr;
    T* pdb = db ? db->data<T>() : nullptr;
    int64_t n = a.numel();
    const double scale = static_cast<double>(dloss.data<T>()[0]) / static_cast<double>(n);
    const bool mse = p.kind == ops::PointwiseLossKind::Mse;
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; ++i) {
      double d = static_cast<double>(pa[i]) - static_cast<double>(pb[i]);
      // MSE: d/da (a - b)^2 = 2 (a - b). L1: sign(a - b), 0 where a == b (the
      // subgradient PyTorch picks too).
      double g = mse ? 2.0 * d : (d > 0 ? 1.0 : (d < 0 ? -1.0 : 0.0));
      g *= scale;
      if (pda) pda[i] = static_cast<T>(g);
      if (pdb) pdb[i] = static_cast<T>(-g);
    }
  });
}

}  // namespace sad::cpu
