// CUDA Adam step over one flat parameter arena, in place: ONE fused kernel that reads
// param, grad, m, v and writes param, m, v (the update rule of kernels/cpu/adam.cpp,
// i.e. PyTorch's torch.optim.Adam with L2 weight decay, no amsgrad):
//   g = grad + wd * param
//   m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
//   param -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// The bias corrections are host scalars (std::pow in double, as the reference). An optional
// one-element skip flag (flag_nonfinite's) is read by every thread on the device: non-zero
// means no update, without the host ever reading the loss.
//
// Parallelisation: a flat grid-stride loop, float4 when all four arrays are 16-byte
// aligned; elements are independent, so the grid does not change any value.
// Precision: like the reference, each element is computed in double and rounded once
// when stored. The products are written with __dmul_rn/__dadd_rn so that nvcc does not
// fuse them into FMAs: then every double operation is the reference's, in its order,
// and (sqrt and division being correctly rounded on both sides) the float32 results
// should match the CPU bit for bit. H200 double throughput is ample for this
// bandwidth-bound loop (~40 double ops per 28 bytes).
//
// Napkin math (n parameters): reads 16n bytes, writes 12n; for the ~10M parameters of
// the `paper` preset, 280 MB per step, ~60 us at ~4.8 TB/s.
#include <cmath>

#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/launch_util.cuh"

namespace sad::cuda {

namespace {

struct AdamScalars {
  double b1, b2, one_minus_b1, one_minus_b2, eps, wd;
  double step_size;   // lr / (1 - b1^t)
  double bias2_sqrt;  // sqrt(1 - b2^t)
};

// Updates one element; returns the new parameter and writes the new moments.
__device__ __forceinline__ float adam_element(const AdamScalars& s, float w, float g, float& m, float& v) {
  const double wi = w;
  const double gi = __dadd_rn(static_cast<double>(g), __dmul_rn(s.wd, wi));
  const double mi = __dadd_rn(__dmul_rn(s.b1, static_cast<double>(m)), __dmul_rn(s.one_minus_b1, gi));
  const double vi = __dadd_rn(__dmul_rn(s.b2, static_cast<double>(v)), __dmul_rn(__dmul_rn(s.one_minus_b2, gi), gi));
  m = static_cast<float>(mi);
  v = static_cast<float>(vi);
  const double denom = sqrt(vi) / s.bias2_sqrt + s.eps;
  return static_cast<float>(wi - __dmul_rn(s.step_size, mi) / denom);
}

template <bool kVec, typename I>
__global__ void __launch_bounds__(kBlockSize)
    adam_kernel(AdamScalars s, float* __restrict__ param, const float* __restrict__ grad, float* __restrict__ m,
                float* __restrict__ v, const float* __restrict__ skip, I n) {
  if (skip != nullptr && *skip != 0.0f) return;  // a diverged loss (flag_nonfinite): no update
  const I start = grid_start<I>(), step = grid_step<I>();
  I scalar_begin = 0;
  if constexpr (kVec) {
    const I nv = n / 4;
    for (I i = start; i < nv; i += step) {
      float4 w4 = reinterpret_cast<const float4*>(param)[i];
      const float4 g4 = reinterpret_cast<const float4*>(grad)[i];
      float4 m4 = reinterpret_cast<const float4*>(m)[i];
      float4 v4 = reinterpret_cast<const float4*>(v)[i];
      w4.x = adam_element(s, w4.x, g4.x, m4.x, v4.x);
      w4.y = adam_element(s, w4.y, g4.y, m4.y, v4.y);
      w4.z = adam_element(s, w4.z, g4.z, m4.z, v4.z);
      w4.w = adam_element(s, w4.w, g4.w, m4.w, v4.w);
      reinterpret_cast<float4*>(param)[i] = w4;
      reinterpret_cast<float4*>(m)[i] = m4;
      reinterpret_cast<float4*>(v)[i] = v4;
    }
    scalar_begin = nv * 4;
  }
  for (I i = scalar_begin + start; i < n; i += step) {
    float mi = m[i], vi = v[i];
    param[i] = adam_element(s, param[i], grad[i], mi, vi);
    m[i] = mi;
    v[i] = vi;
  }
}

}  // namespace

void adam_step(const ops::AdamParams& p, Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const Tensor& skip) {
  const int64_t n = param.numel();
  if (n == 0) return;
  AdamScalars s;
  s.b1 = p.beta1;
  s.b2 = p.beta2;
  s.one_minus_b1 = 1.0 - s.b1;
  s.one_minus_b2 = 1.0 - s.b2;
  s.eps = p.eps;
  s.wd = p.weight_decay;
  const double t = static_cast<double>(p.step);
  s.step_size = static_cast<double>(p.lr) / (1.0 - std::pow(s.b1, t));
  s.bias2_sqrt = std::sqrt(1.0 - std::pow(s.b2, t));

  float* wp = device_ptr(param);
  const float* gp = device_ptr(grad);
  float* mp = device_ptr(m);
  float* vp = device_ptr(v);
  const float* sp = skip.defined() ? device_ptr(skip) : nullptr;
  const bool vec = aligned16(wp) && aligned16(gp) && aligned16(mp) && aligned16(vp);
  const unsigned grid = grid_stride_blocks(vec ? (n + 3) / 4 : n);
  with_index_type(n, [&]<typename I>(I) {
    if (vec)
      adam_kernel<true, I><<<grid, kBlockSize, 0, stream()>>>(s, wp, gp, mp, vp, sp, static_cast<I>(n));
    else
      adam_kernel<false, I><<<grid, kBlockSize, 0, stream()>>>(s, wp, gp, mp, vp, sp, static_cast<I>(n));
    SAD_CUDA_LAUNCH_CHECK();
  });
}

}  // namespace sad::cuda
