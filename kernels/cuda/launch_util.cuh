// Launch helpers shared by the hand-written element-wise and shape kernels
// (elementwise.cu, binary.cu, adam.cu, shape.cu, resize.cu, pool.cu, reduce.cu):
// alignment tests for the float4 paths and the choice of a 32- or 64-bit flat index.
//
// Why a 32-bit index: 64-bit integer division is emulated on the GPU (tens of
// instructions), and a flat index decoded into (plane, y, x) needs two of them per
// element, enough to make a bandwidth-bound kernel compute-bound. Below 2^31 elements
// the kernels decode in uint32_t; a grid-stride step never wraps, since i < n + stride
// < 2^31 + 2^22.
#pragma once

#include <cstdint>

#include "kernels/cuda/cuda_common.cuh"

namespace sad::cuda {

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// Calls f(I{}) with I = uint32_t when flat indices below n fit 31 bits, else int64_t.
// f is a templated lambda: [&]<typename I>(I) { kernel<I><<<...>>>(..., static_cast<I>(n)); }.
template <typename F>
void with_index_type(int64_t n, F&& f) {
  if (n < (int64_t{1} << 31))
    f(uint32_t{});
  else
    f(int64_t{});
}

// The first index and the step of a 1-D grid-stride loop, in the index type I.
template <typename I>
__device__ __forceinline__ I grid_start() {
  return static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + static_cast<I>(threadIdx.x);
}
template <typename I>
__device__ __forceinline__ I grid_step() {
  return static_cast<I>(gridDim.x) * static_cast<I>(blockDim.x);
}

// The y-dimension of a grid is limited to 65535 blocks; kernels loop over the rest.
inline unsigned grid_y(int64_t n) { return static_cast<unsigned>(n < 1 ? 1 : (n > 65535 ? 65535 : n)); }

}  // namespace sad::cuda
