// CUDA kernels of the fusion op of METHOD.md's segmentation network: the input of each
// fusion block, out = [a, b, |a - b|] along channels, as one kernel each way (reference:
// kernels/cpu/fusion.cpp). Forward reads a and b once and writes the three channel blocks;
// backward reads a, b and dout once and writes
//   da = d0 + sign(a - b) d2,   db = d1 - sign(a - b) d2   (sign 0 where a == b).
//
// Parallelisation: grid.y walks the images, grid.x a grid-stride loop over the C*H*W
// elements of one image (no division per element). Every output element is written by
// exactly one thread and nothing is reduced, so results are deterministic and, since
// sign * d2 is exact, bit-identical to the float32 reference.
// float4 path when C*H*W is a multiple of 4 and every pointer is 16-byte aligned (then
// each image's blocks start aligned too); scalar otherwise (e.g. a view at an odd offset).
//
// Napkin math, paper preset, finest scale (a, b: 16 x 32 x 128 x 128 = 8.4M elements):
// forward moves 8 B in + 12 B out per element = 168 MB, ~40 us at ~4.2 TB/s; backward
// moves 8 B (a, b) + 12 B (dout) in and 8 B (da, db) out = 235 MB, ~56 us.
#include <algorithm>
#include <cstdint>

#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace sad::cuda {

namespace {

// sign(a - b) * d without forming a - b: the sign of the float difference equals the
// comparison's result, and both agree with the reference's comparisons.
__device__ __forceinline__ float sign_times(float a, float b, float d) { return a > b ? d : (a < b ? -d : 0.0f); }

__device__ __forceinline__ float abs_diff(float a, float b) { return fabsf(a - b); }
__device__ __forceinline__ float4 abs_diff(float4 a, float4 b) {
  return {abs_diff(a.x, b.x), abs_diff(a.y, b.y), abs_diff(a.z, b.z), abs_diff(a.w, b.w)};
}
__device__ __forceinline__ float4 sign_times(float4 a, float4 b, float4 d) {
  return {sign_times(a.x, b.x, d.x), sign_times(a.y, b.y, d.y), sign_times(a.z, b.z, d.z), sign_times(a.w, b.w, d.w)};
}
__device__ __forceinline__ float add(float a, float b) { return a + b; }
__device__ __forceinline__ float4 add(float4 a, float4 b) { return {a.x + b.x, a.y + b.y, a.z + b.z, a.w + b.w}; }
__device__ __forceinline__ float sub(float a, float b) { return a - b; }
__device__ __forceinline__ float4 sub(float4 a, float4 b) { return {a.x - b.x, a.y - b.y, a.z - b.z, a.w - b.w}; }

// V is float or float4; chw counts V units per image.
template <typename V>
__global__ void fusion_forward_kernel(const V* __restrict__ a,  // (N, C, H, W)
                                      const V* __restrict__ b,  // (N, C, H, W)
                                      V* __restrict__ out,      // (N, 3C, H, W)
                                      int64_t n_img, int64_t chw) {
  for (int64_t img = blockIdx.y; img < n_img; img += gridDim.y) {
    const V* ai = a + img * chw;
    const V* bi = b + img * chw;
    V* o = out + img * 3 * chw;
    for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < chw;
         k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
      const V av = ai[k], bv = bi[k];
      o[k] = av;
      o[chw + k] = bv;
      o[2 * chw + k] = abs_diff(av, bv);
    }
  }
}

template <typename V>
__global__ void fusion_backward_kernel(const V* __restrict__ a,     // (N, C, H, W)
                                       const V* __restrict__ b,     // (N, C, H, W)
                                       const V* __restrict__ dout,  // (N, 3C, H, W)
                                       V* __restrict__ da,          // (N, C, H, W) or null
                                       V* __restrict__ db,          // (N, C, H, W) or null
                                       int64_t n_img, int64_t chw) {
  for (int64_t img = blockIdx.y; img < n_img; img += gridDim.y) {
    const V* d = dout + img * 3 * chw;
    for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < chw;
         k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
      const int64_t j = img * chw + k;
      const V s_d2 = sign_times(a[j], b[j], d[2 * chw + k]);
      if (da) da[j] = add(d[k], s_d2);
      if (db) db[j] = sub(d[chw + k], s_d2);
    }
  }
}

bool aligned16(const void* p) { return p == nullptr || reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// grid.y = images (at most 65535, the rest by the stride loop); grid.x = enough blocks
// per image that the whole grid fills the GPU a few times, no more than the image needs.
dim3 fusion_grid(int64_t n_img, int64_t units) {
  const int64_t gy = std::min<int64_t>(n_img, 65535);
  const int64_t per_image_max = (units + kBlockSize - 1) / kBlockSize;
  const int64_t total = grid_stride_blocks(n_img * units);
  const int64_t gx = std::clamp<int64_t>((total + gy - 1) / gy, 1, std::max<int64_t>(per_image_max, 1));
  return dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy));
}

}  // namespace

void fusion_forward(const Tensor& a, const Tensor& b, Tensor& out) {
  const int64_t n_img = a.dim(0), chw = a.dim(1) * a.dim(2) * a.dim(3);
  if (n_img * chw == 0) return;
  const float *pa = device_ptr(a), *pb = device_ptr(b);
  float* po = device_ptr(out);
  if (chw % 4 == 0 && aligned16(pa) && aligned16(pb) && aligned16(po)) {
    fusion_forward_kernel<float4><<<fusion_grid(n_img, chw / 4), kBlockSize, 0, stream()>>>(
        reinterpret_cast<const float4*>(pa), reinterpret_cast<const float4*>(pb), reinterpret_cast<float4*>(po), n_img,
        chw / 4);
  } else {
    fusion_forward_kernel<float><<<fusion_grid(n_img, chw), kBlockSize, 0, stream()>>>(pa, pb, po, n_img, chw);
  }
  SAD_CUDA_LAUNCH_CHECK();
}

void fusion_backward(const Tensor& a, const Tensor& b, const Tensor& dout, Tensor* da, Tensor* db) {
  const int64_t n_img = a.dim(0), chw = a.dim(1) * a.dim(2) * a.dim(3);
  if ((!da && !db) || n_img * chw == 0) return;
  const float *pa = device_ptr(a), *pb = device_ptr(b), *pd = device_ptr(dout);
  float *pda = device_ptr(da), *pdb = device_ptr(db);
  if (chw % 4 == 0 && aligned16(pa) && aligned16(pb) && aligned16(pd) && aligned16(pda) && aligned16(pdb)) {
    fusion_backward_kernel<float4><<<fusion_grid(n_img, chw / 4), kBlockSize, 0, stream()>>>(
        reinterpret_cast<const float4*>(pa), reinterpret_cast<const float4*>(pb), reinterpret_cast<const float4*>(pd),
        reinterpret_cast<float4*>(pda), reinterpret_cast<float4*>(pdb), n_img, chw / 4);
  } else {
    fusion_backward_kernel<float>
        <<<fusion_grid(n_img, chw), kBlockSize, 0, stream()>>>(pa, pb, pd, pda, pdb, n_img, chw);
  }
  SAD_CUDA_LAUNCH_CHECK();
}

}  // namespace sad::cuda
