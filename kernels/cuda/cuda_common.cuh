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
// For a whole-tensor sum use two passes: per-block partials into a DeviceBuffer, then
// one block reduces the partials in index order (never atomicAdd into the result).
#pragma once

#include <cuda_runtime.h>

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

// Grid-stride loop over [0, n): for (int64_t i : grid_stride(n)) is not worth its
// complexity in device code; write it out:
//   for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
//        i += (int64_t)gridDim.x * blockDim.x)

}  // namespace sad::cuda
