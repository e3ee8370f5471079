// CPU reference for scale_by_inverse: out = x * s, s = 1 / (d + eps) in double, rounded once
// to x's dtype (the residual evidence's batch normalisation, model/losses.cpp, with d the
// batch mean computed by the reduce op on the same device). The element-wise product is
// written s * x + 0, the form of the affine op it replaces, so the result is that op's bit
// for bit.
#include "kernels/checks.h"
#include "kernels/cpu/cpu_ops.h"

// ---- the contract: the checks kernels/ops.h runs before either backend ----------------------

namespace sad::ops::contract {

using namespace detail;

const Tensor& scale_by_inverse(const Tensor& x, const Tensor& denom, double eps, Tensor& out) {
  const char* op = "scale_by_inverse";
  check_call(op, OpId::ScaleByInverse, "x", x, {{"denom", &denom}, {"out", &out}});
  check_scalar(op, "denom", denom);
  check_shape(op, "out", out, x.shape());
  SAD_CHECK(eps >= 0, op, ": eps must be >= 0, got ", eps);
  return x;
}

}  // namespace sad::ops::contract

namespace sad::cpu {

void scale_by_inverse(const Tensor& x, const Tensor& denom, double eps, Tensor& out) {
  dispatch_float(x.dtype(), [&]<typename T>(TypeTag<T>) {
    const T s = static_cast<T>(1.0 / (static_cast<double>(denom.data<T>()[0]) + eps));
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) op[i] = s * xp[i] + T(0);
  });
}

}  // namespace sad::cpu
