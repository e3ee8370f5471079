// Typed wrappers over OpenBLAS's row-major GEMM, so that the CPU kernels can call one
// name for float32 and float64. Private to kernels/cpu.
//
// Every call runs single-threaded. OpenBLAS's own threading changes the result bits
// with the thread count (seen on this project's AMD EPYC machines: a conv2d with one
// image differed between 1 and 2 threads), which would break "results independent of
// the thread count". So the kernels split their work into a fixed set of GEMMs (a
// decomposition that depends on the shapes only) and run those in OpenMP loops.
// OpenBLAS (OpenMP build) already runs single-threaded inside an active parallel
// region; outside one, the OpenMP thread count is lowered to 1 for the call.
#pragma once

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace sad::cpu::blas {

// Holds the OpenMP thread count at 1 (OpenBLAS follows it) for its lifetime, when
// called outside a parallel region.
class SingleThreaded {
 public:
  SingleThreaded() {
    if (!omp_in_parallel() && omp_get_max_threads() > 1) {
      saved_ = omp_get_max_threads();
      omp_set_num_threads(1);
    }
  }
  ~SingleThreaded() {
    if (saved_ > 0) omp_set_num_threads(saved_);
  }
  SingleThreaded(const SingleThreaded&) = delete;
  SingleThreaded& operator=(const SingleThreaded&) = delete;

 private:
  int saved_ = 0;
};

inline blasint ld(int64_t x) { return static_cast<blasint>(std::max<int64_t>(x, 1)); }

// C (m, n) = alpha op(A) op(B) + beta C, all row-major with leading dimensions lda, ldb,
// ldc. With beta == 0, C is not read (it may hold garbage, even NaN).
inline void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  SingleThreaded one;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a, ld(lda), b, ld(ldb),
              beta, c, ld(ldc));
}

inline void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
                 int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  SingleThreaded one;
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a, ld(lda), b, ld(ldb),
              beta, c, ld(ldc));
}

// The i-th of `parts` near-equal consecutive ranges of [0, total): [begin, end).
inline int64_t part_begin(int64_t i, int64_t parts, int64_t total) { return i * total / parts; }

}  // namespace sad::cpu::blas
