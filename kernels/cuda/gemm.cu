// CUDA gemm through cuBLAS: C = alpha op(A) op(B) + beta C on row-major tensors.
// cuBLAS is column-major; a row-major (R, S) matrix is the column-major (S, R) matrix
// of the same memory, i.e. its transpose. So the row-major product C = op(A) op(B) is
// computed as the column-major product C^T = op(B)^T op(A)^T: swap the operands, keep
// each operand's own transpose flag, and pass (m, n, k) = (N, M, K). Every leading
// dimension is then the row length of the row-major tensor.
// Math: fp32 (CUBLAS_DEFAULT_MATH, which never converts fp32 inputs to TF32); TF32
// tensor cores only with fast_math(). beta == 0 follows BLAS: C is not read (it may
// hold garbage or NaN).
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace sad::cuda {

void gemm(const ops::GemmParams& p, const Tensor& a, const Tensor& b, Tensor& c) {
  const int64_t M = c.dim(0), N = c.dim(1), K = p.trans_a ? a.dim(0) : a.dim(1);
  if (M == 0 || N == 0) return;
  cublasHandle_t h = cublas_handle();
  if (K == 0) {  // empty sum: C = beta C (cuBLAS wants k >= 1 with valid leading dimensions)
    if (p.beta == 0.0f) {
      SAD_CUDA_CHECK(cudaMemsetAsync(device_ptr(c), 0, c.nbytes(), stream()));
    } else {
      const float beta = p.beta;
      SAD_CUBLAS_CHECK(cublasSscal(h, checked_int(M * N, "M*N"), &beta, device_ptr(c), 1));
    }
    return;
  }
  SAD_CUBLAS_CHECK(cublasSetMathMode(h, fast_math() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  const float alpha = p.alpha, beta = p.beta;
  SAD_CUBLAS_CHECK(cublasSgemm(h, p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                               checked_int(N, "N"), checked_int(M, "M"), checked_int(K, "K"), &alpha, device_ptr(b),
                               checked_int(b.dim(1), "ldb"), device_ptr(a), checked_int(a.dim(1), "lda"), &beta,
                               device_ptr(c), checked_int(N, "ldc")));
}

}  // namespace sad::cuda
