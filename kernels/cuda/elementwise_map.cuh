// The one element-wise "map" kernel behind unary, axpy and same-shape binary ops:
// out[i] = op(in_0[i], ..., in_{NI-1}[i]) over a flat range, with a float4 path when
// every pointer is 16-byte aligned (a view_at() into an arena may not be: then the
// scalar path runs). Each element is computed independently, so any grid gives the same
// bits. In place is allowed (out may equal an input): each thread reads its element(s)
// before writing them and no other thread touches them.
//
// Op: a trivially copyable functor with `__device__ float operator()(const float (&v)[NI]) const`.
#pragma once

#include "kernels/cuda/launch_util.cuh"

namespace sad::cuda {

template <int NI>
struct InPtrs {
  const float* p[NI];
};

namespace detail {

template <int NI, typename Op>
__device__ __forceinline__ float4 map_lanes(const Op& op, const float4 (&v)[NI]) {
  float a[NI];
  float4 r;
#pragma unroll
  for (int k = 0; k < NI; ++k) a[k] = v[k].x;
  r.x = op(a);
#pragma unroll
  for (int k = 0; k < NI; ++k) a[k] = v[k].y;
  r.y = op(a);
#pragma unroll
  for (int k = 0; k < NI; ++k) a[k] = v[k].z;
  r.z = op(a);
#pragma unroll
  for (int k = 0; k < NI; ++k) a[k] = v[k].w;
  r.w = op(a);
  return r;
}

template <bool kVec, int NI, typename I, typename Op>
__global__ void __launch_bounds__(kBlockSize) map_kernel(InPtrs<NI> in, float* out, I n, Op op) {
  const I start = grid_start<I>(), step = grid_step<I>();
  I scalar_begin = 0;
  if constexpr (kVec) {
    const I nv = n / 4;
    for (I i = start; i < nv; i += step) {
      float4 v[NI];
#pragma unroll
      for (int k = 0; k < NI; ++k) v[k] = reinterpret_cast<const float4*>(in.p[k])[i];
      reinterpret_cast<float4*>(out)[i] = map_lanes<NI>(op, v);
    }
    scalar_begin = nv * 4;  // the last n % 4 elements
  }
  for (I i = scalar_begin + start; i < n; i += step) {
    float a[NI];
#pragma unroll
    for (int k = 0; k < NI; ++k) a[k] = in.p[k][i];
    out[i] = op(a);
  }
}

}  // namespace detail

// Queues out[i] = op(in[i]...) for i in [0, n) on the backend's stream.
template <int NI, typename Op>
void launch_map(InPtrs<NI> in, float* out, int64_t n, const Op& op) {
  if (n <= 0) return;
  bool vec = aligned16(out);
  for (int k = 0; k < NI; ++k) vec = vec && aligned16(in.p[k]);
  const unsigned grid = grid_stride_blocks(vec ? (n + 3) / 4 : n);
  with_index_type(n, [&]<typename I>(I) {
    if (vec)
      detail::map_kernel<true, NI, I, Op><<<grid, kBlockSize, 0, stream()>>>(in, out, static_cast<I>(n), op);
    else
      detail::map_kernel<false, NI, I, Op><<<grid, kBlockSize, 0, stream()>>>(in, out, static_cast<I>(n), op);
    SAD_CUDA_LAUNCH_CHECK();
  });
}

}  // namespace sad::cuda
