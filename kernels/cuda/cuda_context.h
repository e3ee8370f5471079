// Host-side plumbing of the CUDA backend, usable from .cpp and .cu files alike: the
// checked-call macros, the one stream all work goes to, the cuBLAS/cuDNN handles bound
// to it, the cuDNN workspace, scratch buffers from the caching allocator, the typed
// pointer accessor of a Tensor and the 1-D launch-size helpers.
// Device-side helpers (block reductions) are in kernels/cuda/cuda_common.cuh.
//
// Threading: the backend is driven from one host thread (the training loop); the
// allocator is thread-safe, the handles and the workspace are not.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <climits>
#include <cstddef>
#include <cstdint>

#include "tensor/check.h"
#include "tensor/tensor.h"

namespace sad::cuda {

// ---- errors -----------------------------------------------------------------------------------
namespace detail {
// Throw sad::Error("cuda: <call> failed: <name> (<description>) [file:line]").
[[noreturn]] void fail_cuda(cudaError_t err, const char* call, const char* file, int line);
[[noreturn]] void fail_cublas(cublasStatus_t st, const char* call, const char* file, int line);
[[noreturn]] void fail_cudnn(cudnnStatus_t st, const char* call, const char* file, int line);
void check_launch(const char* file, int line);
// The DeviceApi of the caching allocator (allocator.cpp), registered by the probe.
const DeviceApi* device_api_impl();
}  // namespace detail

// True when SPARSEAD_SYNC=1 (read once): every SAD_CUDA_LAUNCH_CHECK then waits for the
// kernel, so an asynchronous fault is reported at the launch that caused it.
bool sync_after_launch();

}  // namespace sad::cuda

#define SAD_CUDA_CHECK(call)                                               \
  do {                                                                     \
    cudaError_t sad_err_ = (call);                                         \
    if (sad_err_ != cudaSuccess) [[unlikely]]                              \
      ::sad::cuda::detail::fail_cuda(sad_err_, #call, __FILE__, __LINE__); \
  } while (0)

#define SAD_CUBLAS_CHECK(call)                                              \
  do {                                                                      \
    cublasStatus_t sad_st_ = (call);                                        \
    if (sad_st_ != CUBLAS_STATUS_SUCCESS) [[unlikely]]                      \
      ::sad::cuda::detail::fail_cublas(sad_st_, #call, __FILE__, __LINE__); \
  } while (0)

#define SAD_CUDNN_CHECK(call)                                              \
  do {                                                                     \
    cudnnStatus_t sad_st_ = (call);                                        \
    if (sad_st_ != CUDNN_STATUS_SUCCESS) [[unlikely]]                      \
      ::sad::cuda::detail::fail_cudnn(sad_st_, #call, __FILE__, __LINE__); \
  } while (0)

// After every kernel launch: reports a bad launch configuration at once, and with
// SPARSEAD_SYNC=1 also any fault of the kernel itself.
#define SAD_CUDA_LAUNCH_CHECK() ::sad::cuda::detail::check_launch(__FILE__, __LINE__)

namespace sad::cuda {

// ---- the stream and the library handles --------------------------------------------------------

// The one stream all of the backend's work goes to (created by probe_and_register()).
// Everything is ordered on it, so freed memory can be reused without events.
cudaStream_t stream();

// Created on first use, bound to stream(). gemm/conv2d set the math mode per call
// (fast_math() may change between calls).
cublasHandle_t cublas_handle();
cudnnHandle_t cudnn_handle();

// Device properties of device 0, read once at the probe.
int sm_count();

// cuDNN workspace: one grow-only device buffer shared by all cuDNN calls. The pointer
// is valid until the next workspace() call; stream order makes reuse by the next call
// safe. Returns nullptr for 0 bytes.
void* workspace(size_t nbytes);

// ---- scratch memory ------------------------------------------------------------------------------

// A move-only device buffer from the caching allocator, for temporaries inside an op
// (partial sums of a two-pass reduction, ...). Freeing it while kernels that use it are
// still queued is safe: the block is only handed out again to work queued later on the
// same stream.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t nbytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), nbytes_(o.nbytes_) {
    o.ptr_ = nullptr;
    o.nbytes_ = 0;
  }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  template <typename T>
  T* get() const {
    return static_cast<T*>(ptr_);
  }
  size_t nbytes() const { return nbytes_; }

 private:
  void* ptr_ = nullptr;
  size_t nbytes_ = 0;
};

// ---- tensors -----------------------------------------------------------------------------------

// The typed device pointer of a CUDA tensor (float32: the backend's only dtype).
template <typename T = float>
T* device_ptr(const Tensor& t) {
  SAD_CHECK(t.device().is_cuda(), "cuda kernel given ", t.str());
  return t.data<T>();
}
// Optional tensors (a gradient output that is not needed): nullptr stays nullptr.
template <typename T = float>
T* device_ptr(const Tensor* t) {
  return t ? device_ptr<T>(*t) : nullptr;
}

// ---- launch sizes ----------------------------------------------------------------------------------

inline constexpr int kBlockSize = 256;  // default threads per block for element-wise kernels

// Blocks to cover n items with one thread each (exact grid; kernels still test i < n).
inline unsigned blocks_for(int64_t n, int block = kBlockSize) {
  int64_t b = (n + block - 1) / block;
  SAD_CHECK(b <= INT_MAX, "cuda: ", n, " items need more than 2^31 blocks");
  return static_cast<unsigned>(b < 1 ? 1 : b);
}

// Blocks for a grid-stride loop over n items: enough to fill the GPU several times,
// no more (each thread then handles n / (blocks * block) items).
inline unsigned grid_stride_blocks(int64_t n, int block = kBlockSize) {
  int64_t cap = static_cast<int64_t>(sm_count()) * 32;
  int64_t b = (n + block - 1) / block;
  return static_cast<unsigned>(b < 1 ? 1 : (b > cap ? cap : b));
}

// int dimensions for the vendor libraries, which take int: checked, not truncated.
inline int checked_int(int64_t v, const char* what) {
  SAD_CHECK(v >= 0 && v <= INT_MAX, "cuda: ", what, " = ", v, " does not fit the library's int");
  return static_cast<int>(v);
}

}  // namespace sad::cuda
