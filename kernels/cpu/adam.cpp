// CPU reference for one Adam step over a flat parameter arena, in place; the update
// rule of PyTorch's torch.optim.Adam (weight decay as an L2 term added to the gradient,
// no amsgrad):
//   g = grad + wd * param
//   m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
//   param -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
// evaluated like PyTorch as (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
// Each element is computed in double and rounded once when stored, so the float32
// result is the formula's value rounded, independent of the thread count.
#include <cmath>

#include "kernels/checks.h"
#include "kernels/cpu/cpu_ops.h"

// ---- the contract: the checks kernels/ops.h runs before either backend ----------------------

namespace sad::ops::contract {

using namespace detail;

const Tensor& adam_step(const AdamParams& p, Tensor& param, const Tensor& grad, Tensor& m, Tensor& v,
                        const Tensor& skip) {
  const char* op = "adam_step";
  check_call(op, OpId::Adam, "param", param,
             {{"grad", &grad}, {"m", &m}, {"v", &v}, {"skip", skip.defined() ? &skip : nullptr}});
  for (const Tensor* t : {&grad, static_cast<const Tensor*>(&m), static_cast<const Tensor*>(&v)})
    check_shape(op, "grad/m/v", *t, param.shape());
  if (skip.defined()) check_scalar(op, "skip", skip);
  SAD_CHECK(p.step >= 1, op, ": step must be >= 1 (bias correction), got ", p.step);
  return param;
}

}  // namespace sad::ops::contract

namespace sad::cpu {

void adam_step(const ops::AdamParams& p, Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const Tensor& skip) {
  dispatch_float(param.dtype(), [&]<typename T>(TypeTag<T>) {
    if (skip.defined() && skip.data<T>()[0] != T(0)) return;  // a diverged loss: no update
    const double b1 = p.beta1, b2 = p.beta2, eps = p.eps, wd = p.weight_decay;
    const double t = static_cast<double>(p.step);
    const double step_size = static_cast<double>(p.lr) / (1.0 - std::pow(b1, t));
    const double bias2_sqrt = std::sqrt(1.0 - std::pow(b2, t));
    T* w = param.data<T>();
    const T* g = grad.data<T>();
    T* mp = m.data<T>();
    T* vp = v.data<T>();
    const int64_t n = param.numel();
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; ++i) {
      const double wi = static_cast<double>(w[i]);
      const double gi = static_cast<double>(g[i]) + wd * wi;
      const double mi = b1 * static_cast<double>(mp[i]) + (1.0 - b1) * gi;
      const double vi = b2 * static_cast<double>(vp[i]) + (1.0 - b2) * gi * gi;
      mp[i] = static_cast<T>(mi);
      vp[i] = static_cast<T>(vi);
      w[i] = static_cast<T>(wi - step_size * mi / (std::sqrt(vi) / bias2_sqrt + eps));
    }
  });
}

}  // namespace sad::cpu
