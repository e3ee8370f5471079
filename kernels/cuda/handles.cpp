// cuBLAS and cuDNN handles bound to the backend's stream, created on first use (so a
// process that never runs gemm does not pay for loading cuBLAS), and the cuDNN
// workspace pool. Handles are never destroyed: destroying them at exit races with the
// CUDA runtime's own teardown, and the driver frees everything with the process.
#include "kernels/cuda/cuda_context.h"

namespace sad::cuda {

cublasHandle_t cublas_handle() {
  static cublasHandle_t handle = [] {
    cublasHandle_t h = nullptr;
    SAD_CUBLAS_CHECK(cublasCreate(&h));
    SAD_CUBLAS_CHECK(cublasSetStream(h, stream()));
    // Reductions inside cuBLAS kernels without atomics: bit-identical results run to run.
    SAD_CUBLAS_CHECK(cublasSetAtomicsMode(h, CUBLAS_ATOMICS_NOT_ALLOWED));
    return h;
  }();
  return handle;
}

cudnnHandle_t cudnn_handle() {
  static cudnnHandle_t handle = [] {
    cudnnHandle_t h = nullptr;
    SAD_CUDNN_CHECK(cudnnCreate(&h));
    SAD_CUDNN_CHECK(cudnnSetStream(h, stream()));
    return h;
  }();
  return handle;
}

// One grow-only buffer: convolution workspaces of one network reach their maximum
// after the first step, so later calls never allocate. Growing frees the old block
// into the caching allocator, which is safe in stream order (see DeviceBuffer).
void* workspace(size_t nbytes) {
  static DeviceBuffer* buf = new DeviceBuffer;  // never destroyed, like the handles
  if (nbytes == 0) return nullptr;
  if (buf->nbytes() < nbytes) {
    *buf = DeviceBuffer();  // release first: the old and new blocks need not coexist
    *buf = DeviceBuffer(nbytes);
  }
  return buf->get<void>();
}

}  // namespace sad::cuda
