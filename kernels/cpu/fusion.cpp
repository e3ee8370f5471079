// CPU reference for the fusion op of METHOD.md's segmentation network: the input of each
// fusion block, out = [a, b, |a - b|] along channels, and its backward in one pass.
#include <cmath>

#include "kernels/checks.h"
#include "kernels/cpu/cpu_ops.h"

// ---- the contract: the checks kernels/ops.h runs before either backend ----------------------

namespace sad::ops::contract {

using namespace detail;

const Tensor& fusion_forward(const Tensor& a, const Tensor& b, Tensor& out) {
  const char* op = "fusion_forward";
  check_defined(op, "a", a);
  check_alike(op, a, {{"b", &b}, {"output", &out}});
  check_supported(OpId::Fusion, a);
  check_ndim(op, "a", a, 4);
  check_shape(op, "b", b, a.shape());
  check_shape(op, "output", out, {a.dim(0), 3 * a.dim(1), a.dim(2), a.dim(3)});
  return a;
}

const Tensor& fusion_backward(const Tensor& a, const Tensor& b, const Tensor& dout, Tensor* da, Tensor* db) {
  const char* op = "fusion_backward";
  check_defined(op, "a", a);
  check_alike(op, a, {{"b", &b}, {"dout", &dout}, {"da", da}, {"db", db}});
  check_supported(OpId::Fusion, a);
  check_ndim(op, "a", a, 4);
  check_shape(op, "b", b, a.shape());
  check_shape(op, "dout", dout, {a.dim(0), 3 * a.dim(1), a.dim(2), a.dim(3)});
  if (da) check_shape(op, "da", *da, a.shape());
  if (db) check_shape(op, "db", *db, a.shape());
  return a;
}

}  // namespace sad::ops::contract

namespace sad::cpu {

void fusion_forward(const Tensor& a, const Tensor& b, Tensor& out) {
  dispatch_float(a.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* pa = a.data<T>();  // (N, C, H, W)
    const T* pb = b.data<T>();  // (N, C, H, W)
    T* po = out.data<T>();      // (N, 3C, H, W)
    const int64_t n = a.dim(0), chw = a.dim(1) * a.dim(2) * a.dim(3);
#pragma omp parallel for schedule(static) if (n * chw > 32768)
    for (int64_t i = 0; i < n; ++i) {
      const T* ai = pa + i * chw;
      const T* bi = pb + i * chw;
      // Image i's output is three consecutive C-channel blocks: a, b, |a - b|.
      T* o = po + i * 3 * chw;
      for (int64_t k = 0; k < chw; ++k) {
        o[k] = ai[k];
        o[chw + k] = bi[k];
        o[2 * chw + k] = std::abs(ai[k] - bi[k]);
      }
    }
  });
}

void fusion_backward(const Tensor& a, const Tensor& b, const Tensor& dout, Tensor* da, Tensor* db) {
  dispatch_float(a.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* pa = a.data<T>();      // (N, C, H, W)
    const T* pb = b.data<T>();      // (N, C, H, W)
    const T* pdo = dout.data<T>();  // (N, 3C, H, W)
    T* pda = da ? da->data<T>() : nullptr;
    T* pdb = db ? db->data<T>() : nullptr;
    const int64_t n = a.dim(0), chw = a.dim(1) * a.dim(2) * a.dim(3);
#pragma omp parallel for schedule(static) if (n * chw > 32768)
    for (int64_t i = 0; i < n; ++i) {
      const T* d = pdo + i * 3 * chw;
      for (int64_t k = 0; k < chw; ++k) {
        const int64_t j = i * chw + k;
        // d|a - b|/da = sign(a - b) = -d|a - b|/db; 0 where a == b (the subgradient
        // PyTorch's abs picks, so a twin built from cat + abs agrees).
        const T s = pa[j] > pb[j] ? T(1) : (pa[j] < pb[j] ? T(-1) : T(0));
        if (pda) pda[j] = d[k] + s * d[2 * chw + k];
        if (pdb) pdb[j] = d[chw + k] - s * d[2 * chw + k];
      }
    }
  });
}

}  // namespace sad::cpu
