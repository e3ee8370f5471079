// CPU reference for gemm, C = alpha op(A) op(B) + beta C on row-major matrices, through
// OpenBLAS (float32 and float64). linear and matmul (autograd/fn_linalg.cpp) run on it.
// C is cut into fixed tiles, one single-threaded GEMM each (kernels/cpu/blas.h says
// why), so the result bits do not depend on the thread count.
#include <algorithm>

#include "kernels/checks.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/cpu_ops.h"

// ---- the contract: the checks kernels/ops.h runs before either backend ----------------------

namespace sad::ops::contract {

using namespace detail;

const Tensor& gemm(const GemmParams& p, const Tensor& a, const Tensor& b, Tensor& c) {
  const char* op = "gemm";
  check_call(op, OpId::Gemm, "A", a, {{"B", &b}, {"C", &c}});
  check_ndim(op, "A", a, 2);
  check_ndim(op, "B", b, 2);
  check_ndim(op, "C", c, 2);
  int64_t m = p.trans_a ? a.dim(1) : a.dim(0), ka = p.trans_a ? a.dim(0) : a.dim(1);
  int64_t kb = p.trans_b ? b.dim(1) : b.dim(0), n = p.trans_b ? b.dim(0) : b.dim(1);
  SAD_CHECK(ka == kb, op, ": inner dimensions differ: A ", shape_str(a.shape()), (p.trans_a ? "^T" : ""), " @ B ",
            shape_str(b.shape()), (p.trans_b ? "^T" : ""));
  check_shape(op, "C", c, {m, n});
  return a;
}

}  // namespace sad::ops::contract

namespace sad::cpu {

namespace {
// Tile of C per task: large enough for OpenBLAS to run near full speed.
constexpr int64_t kTileRows = 128, kTileCols = 512;
}  // namespace

void gemm(const ops::GemmParams& p, const Tensor& a, const Tensor& b, Tensor& c) {
  const int64_t m = c.dim(0), n = c.dim(1);
  const int64_t k = p.trans_a ? a.dim(0) : a.dim(1);
  const int64_t lda = a.dim(1), ldb = b.dim(1);
  dispatch_float(a.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* ap = a.data<T>();  // (M, K), or (K, M) when trans_a
    const T* bp = b.data<T>();  // (K, N), or (N, K) when trans_b
    T* cp = c.data<T>();        // (M, N)
    if (m == 0 || n == 0) return;
    if (k == 0) {
      // An empty sum: C = beta C, with beta = 0 meaning "do not read C" as in BLAS.
      for (int64_t i = 0; i < m * n; ++i) cp[i] = p.beta == 0.0f ? T(0) : static_cast<T>(p.beta) * cp[i];
      return;
    }
    const int64_t row_tiles = (m + kTileRows - 1) / kTileRows, col_tiles = (n + kTileCols - 1) / kTileCols;
#pragma omp parallel for schedule(static) if (m * n * k > (int64_t(1) << 18))
    for (int64_t t = 0; t < row_tiles * col_tiles; ++t) {
      const int64_t i0 = t / col_tiles * kTileRows, j0 = t % col_tiles * kTileCols;
      const int64_t rows = std::min(kTileRows, m - i0), cols = std::min(kTileCols, n - j0);
      // Rows i0.. of op(A) and columns j0.. of op(B), wherever they sit in memory.
      const T* at = p.trans_a ? ap + i0 : ap + i0 * lda;
      const T* bt = p.trans_b ? bp + j0 * ldb : bp + j0;
      blas::gemm(p.trans_a, p.trans_b, rows, cols, k, static_cast<T>(p.alpha), at, lda, bt, ldb, static_cast<T>(p.beta),
                 cp + i0 * n + j0, n);
    }
  });
}

}  // namespace sad::cpu
