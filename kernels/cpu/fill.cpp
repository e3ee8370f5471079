// CPU reference for the small utilities: y += alpha x (gradient accumulation), fill, and
// the sticky non-finite flag that guards a training step without a host read.
#include <cmath>

#include "kernels/checks.h"
#include "kernels/cpu/cpu_ops.h"

// ---- the contract: the checks kernels/ops.h runs before either backend ----------------------

namespace sad::ops::contract {

using namespace detail;

const Tensor& axpy(float alpha, const Tensor& x, Tensor& y) {
  const char* op = "axpy";
  check_call(op, OpId::Axpy, "x", x, {{"y", &y}});
  check_shape(op, "y", y, x.shape());
  return x;
}

const Tensor& fill(Tensor& t, float value) {
  check_call("fill", OpId::Fill, "tensor", t, {});
  return t;
}

const Tensor& flag_nonfinite(const Tensor& x, Tensor& flag) {
  const char* op = "flag_nonfinite";
  check_call(op, OpId::FlagNonfinite, "x", x, {{"flag", &flag}});
  check_scalar(op, "flag", flag);
  return x;
}

}  // namespace sad::ops::contract

namespace sad::cpu {

void axpy(float alpha, const Tensor& x, Tensor& y) {
  dispatch_float(x.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    const T a = static_cast<T>(alpha);
    int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) yp[i] += a * xp[i];
  });
}

void fill(Tensor& t, float value) {
  dispatch_float(t.dtype(), [&]<typename T>(TypeTag<T>) {
    T* p = t.data<T>();
    const T v = static_cast<T>(value);
    int64_t n = t.numel();
    for (int64_t i = 0; i < n; ++i) p[i] = v;
  });
}

void flag_nonfinite(const Tensor& x, Tensor& flag) {
  dispatch_float(x.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* p = x.data<T>();
    const int64_t n = x.numel();
    bool bad = false;
    for (int64_t i = 0; i < n && !bad; ++i) bad = !std::isfinite(p[i]);
    if (bad) flag.data<T>()[0] = T(1);
  });
}

}  // namespace sad::cpu
