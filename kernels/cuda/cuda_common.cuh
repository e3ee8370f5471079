// Shared header for the backend's .cu files: everything of cuda_context.h (checked calls,
// the stream, launch sizes, device_ptr) plus device-side helpers.
//
// Deterministic reductions. block_sum / block_max reduce one value per thread to one
// value per block in a FIXED order: a shuffle tree inside each warp (offsets 16, 8, 4,
// 2, 1), then warp 0 reduces the per-warp partials the same way. For a fixed blockDim
// and a fixed assignment of elements to threads the result is bit-identical from run to
// run (no atomics, no order that depends on scheduling). The float result is not the
// CPU reference's double sum: accumulate in double (T = double) where the sum is long
// or cancels (statistics), or compare with a tolerance that grows with the length.
// For a whole-tensor sum use deterministic_sum() below (two passes: per-block partials
// into a DeviceBuffer, then one block reduces them in index order; never atomicAdd into
// the result).
//
// Writing an op (kernels/cuda/<op>.cu): include this header and kernels/cuda/cuda_ops.h,
// write the kernel(s) in an anonymous namespace, take pointers with device_ptr(t), launch
// on stream() and put SAD_CUDA_LAUNCH_CHECK() after every launch, e.g.
//   __global__ void relu_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n) {
//     for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
//          i += (int64_t)gridDim.x * blockDim.x)
//       y[i] = x[i] > 0.f ? x[i] : 0.f;
//   }
//   relu_kernel<<<grid_stride_blocks(n), kBlockSize, 0, stream()>>>(device_ptr(inp), device_ptr(out), n);
//   SAD_CUDA_LAUNCH_CHECK();
// Temporaries: DeviceBuffer. Never synchronise inside an op; never read device memory
// on the host (a loss stays a device scalar). Then delete the op's stub.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>

#include "kernels/cuda/cuda_context.h"

namespace sad::cuda {

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;  // complete in lane 0
}

template <typename T>
__device__ __forceinline__ T warp_max(T v) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    T o = __shfl_down_sync(0xffffffffu, v, offset);
    v = o > v ? o : v;
  }
  return v;  // complete in lane 0
}

namespace detail {
struct WarpSumOp {
  template <typename T>
  __device__ __forceinline__ T operator()(T v) const {
    return warp_sum(v);
  }
};
struct WarpMaxOp {
  template <typename T>
  __device__ __forceinline__ T operator()(T v) const {
    return warp_max(v);
  }
};

// One value per thread -> one per block; the result is returned to EVERY thread.
// Requires blockDim.x a multiple of 32 (<= 1024), blockDim.y == blockDim.z == 1, and all
// threads of the block to call it (it synchronises). `identity` fills the missing warps.
template <typename T, typename WarpOp>
__device__ __forceinline__ T block_reduce(T v, T identity, WarpOp warp_op) {
  __shared__ T partial[32];
  __shared__ T result;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_op(v);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    T w = lane < nwarps ? partial[lane] : identity;
    w = warp_op(w);
    if (lane == 0) result = w;
  }
  __syncthreads();
  T r = result;
  __syncthreads();  // the shared slots may be reused by the next call
  return r;
}
}  // namespace detail

template <typename T>
__device__ __forceinline__ T block_sum(T v) {
  return detail::block_reduce(v, T(0), detail::WarpSumOp{});
}

template <typename T>
__device__ __forceinline__ T block_max(T v, T lowest) {
  return detail::block_reduce(v, lowest, detail::WarpMaxOp{});
}

// ---- deterministic whole-range sums ------------------------------------------------------------

inline constexpr int kReduceThreads = 256;     // fixed: part of the summation order
inline constexpr int kReduceMaxBlocks = 1024;  // fixed: the grid depends on n only, not on the GPU

// Pass 1: block b sums f(i) over i = b * blockDim + t, stepping by gridDim * blockDim, in
// double, and writes partials[b].
template <typename F>
__global__ void partial_sums_kernel(int64_t n, F f, double* __restrict__ partials) {
  double s = 0;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    s += static_cast<double>(f(i));
  s = block_sum(s);
  if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

// Pass 2 (one block): out[0] = scale * sum of the partials, or, with scale_ptr, scale
// times *scale_ptr (a device scalar such as a loss's upstream gradient).
template <typename T>
__global__ void finish_sum_kernel(const double* __restrict__ partials, int nparts, double scale,
                                  const T* __restrict__ scale_ptr, T* __restrict__ out) {
  double s = 0;
  for (int i = threadIdx.x; i < nparts; i += blockDim.x) s += partials[i];
  s = block_sum(s);
  if (threadIdx.x == 0) out[0] = static_cast<T>(s * scale * (scale_ptr ? static_cast<double>(*scale_ptr) : 1.0));
}

// out[0] = scale * sum_{i < n} f(i) (times *scale_ptr when given), accumulated in double,
// bit-identical from run to run and independent of the GPU model's SM count. f is a
// functor or an extended __device__ lambda (nvcc --extended-lambda), e.g. an MSE loss:
//   const float *a = device_ptr(x), *b = device_ptr(y);
//   deterministic_sum(n, [=] __device__(int64_t i) { float d = a[i] - b[i]; return d * d; },
//                     device_ptr(loss), 1.0 / n);
// Queued on stream(); nothing waits.
template <typename F>
void deterministic_sum(int64_t n, F f, float* out, double scale = 1.0, const float* scale_ptr = nullptr) {
  const int blocks =
      static_cast<int>(std::clamp<int64_t>((n + kReduceThreads - 1) / kReduceThreads, 1, kReduceMaxBlocks));
  DeviceBuffer partials(static_cast<size_t>(blocks) * sizeof(double));
  partial_sums_kernel<<<blocks, kReduceThreads, 0, stream()>>>(n, f, partials.get<double>());
  SAD_CUDA_LAUNCH_CHECK();
  finish_sum_kernel<float><<<1, kReduceThreads, 0, stream()>>>(partials.get<double>(), blocks, scale, scale_ptr, out);
  SAD_CUDA_LAUNCH_CHECK();
}

// Grid-stride loop over [0, n): for (int64_t i : grid_stride(n)) is not worth its
// complexity in device code; write it out:
//   for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
//        i += (int64_t)gridDim.x * blockDim.x)

}  // namespace sad::cuda
