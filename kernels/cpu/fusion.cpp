// CPU reference for the fusion op of METHOD.md's segmentation network: the input of each
// fusion block, out = [a, b, |a - b|] along channels, and its backward in one pass.
#include <cmath>

#include "kernels/checks.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/isa.h"

// ---- the contract: the checks kernels/ops.h runs before either backend ----------------------

namespace sad::ops::contract {

using namespace detail;

const Tensor& fusion_forward(const Tensor& a, const Tensor& b, Tensor& out) {
  const char* op = "fusion_forward";
  check_call(op, OpId::Fusion, "a", a, {{"b", &b}, {"output", &out}});
  check_ndim(op, "a", a, 4);
  check_shape(op, "b", b, a.shape());
  check_shape(op, "output", out, {a.dim(0), 3 * a.dim(1), a.dim(2), a.dim(3)});
  return a;
}

const Tensor& fusion_backward(const Tensor& a, const Tensor& b, const Tensor& dout, Tensor* da, Tensor* db) {
  const char* op = "fusion_backward";
  check_call(op, OpId::Fusion, "a", a, {{"b", &b}, {"dout", &dout}, {"da", da}, {"db", db}});
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
      isa_run([&] {
        for (int64_t k = 0; k < chw; ++k) {
          o[k] = ai[k];
          o[chw + k] = bi[k];
          o[2 * chw + k] = std::abs(ai[k] - bi[k]);
        }
      });
    }
  });
}

// d|a - b|/da = sign(a - b) = -d|a - b|/db; 0 where a == b (the subgradient PyTorch's abs
// picks, so a twin built from cat + abs agrees). One loop per combination of wanted
// gradients, on restrict-qualified rows, so the compiler vectorises it: a branch on the
// gradient pointers inside the loop, and the possible aliasing of the outputs with the
// inputs, kept it scalar (2.5 GB/s against 16 for a copy, docs/BENCHMARKS.md). Every
// element is computed by the same expression as before, so results are bit for bit the same.
template <typename T>
static void fusion_backward_rows(int64_t chw, const T* __restrict a, const T* __restrict b, const T* __restrict d,
                                 T* __restrict da, T* __restrict db) {
  const T* __restrict d_b = d + chw;
  const T* __restrict d_abs = d + 2 * chw;
  auto sign = [](T x, T y) { return static_cast<T>((x > y) - (x < y)); };
  if (da && db) {
    for (int64_t k = 0; k < chw; ++k) {
      const T s = sign(a[k], b[k]);
      da[k] = d[k] + s * d_abs[k];
      db[k] = d_b[k] - s * d_abs[k];
    }
  } else if (da) {
    for (int64_t k = 0; k < chw; ++k) da[k] = d[k] + sign(a[k], b[k]) * d_abs[k];
  } else if (db) {
    for (int64_t k = 0; k < chw; ++k) db[k] = d_b[k] - sign(a[k], b[k]) * d_abs[k];
  }
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
    for (int64_t i = 0; i < n; ++i)
      isa_run([&] {
        fusion_backward_rows<T>(chw, pa + i * chw, pb + i * chw, pdo + i * 3 * chw, pda ? pda + i * chw : nullptr,
                                pdb ? pdb + i * chw : nullptr);
      });
  });
}

}  // namespace sad::cpu
