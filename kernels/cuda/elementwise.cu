// CUDA unary element-wise ops (relu, leaky_relu, sigmoid, tanh, abs, affine, softplus)
// forward and backward, axpy (y += alpha x), fill, flag_nonfinite and scale_by_inverse: the
// same functions as kernels/cpu/unary.cpp, fill.cpp and scale_by_inverse.cpp, in float32.
//
// Parallelisation: one flat grid-stride map (elementwise_map.cuh), float4 when aligned;
// every element is independent, so the result does not depend on the grid.
// Bit parity with the CPU reference: where the reference does a multiply then an add
// (affine, axpy, 1 - y^2), the kernels use __fmul_rn/__fadd_rn so that nvcc does not
// contract them into one fused multiply-add, which rounds once instead of twice. The
// transcendental kinds (sigmoid, tanh, softplus and softplus' derivative) use CUDA's
// expf/tanhf/log1pf (within 2 ulp; glibc's within 1), so those differ by a few ulp.
//
// Napkin math (n float32 elements): forward 8n bytes, backward 16n, axpy 12n, fill 4n;
// at ~4.8 TB/s (H200) a 1M-element forward is ~2 us of traffic, i.e. launch-bound.
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/elementwise_map.cuh"

namespace sad::cuda {

namespace {

__device__ __forceinline__ float sigmoid_value(float x) {
  // Two branches so that expf never overflows (as the reference).
  if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
  const float e = expf(x);
  return e / (1.0f + e);
}

__device__ __forceinline__ float unary_value(const ops::UnaryParams& p, float x) {
  switch (p.kind) {
    case ops::UnaryKind::Relu: return x > 0.0f ? x : 0.0f;
    case ops::UnaryKind::LeakyRelu: return x > 0.0f ? x : p.alpha * x;
    case ops::UnaryKind::Sigmoid: return sigmoid_value(x);
    case ops::UnaryKind::Tanh: return tanhf(x);
    case ops::UnaryKind::Abs: return fabsf(x);
    case ops::UnaryKind::Affine: return __fadd_rn(__fmul_rn(p.alpha, x), p.beta);
    case ops::UnaryKind::Softplus: return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
    case ops::UnaryKind::Count: break;
  }
  return 0.0f;
}

// dx from the input x, the forward output y (sigmoid and tanh use it) and dy = g. Where
// the slope is 0 or +-1 the gradient is selected, not multiplied, as in the CPU reference
// (kernels/cpu/unary.cpp): a NaN g where the slope is 0 gives 0, like PyTorch's
// threshold_backward.
__device__ __forceinline__ float unary_backward_value(const ops::UnaryParams& p, float x, float y, float g) {
  switch (p.kind) {
    case ops::UnaryKind::Relu: return x > 0.0f ? g : 0.0f;
    case ops::UnaryKind::LeakyRelu: return x > 0.0f ? g : g * p.alpha;
    case ops::UnaryKind::Sigmoid: return g * (y * (1.0f - y));
    case ops::UnaryKind::Tanh: return g * (1.0f - __fmul_rn(y, y));
    case ops::UnaryKind::Abs: return x > 0.0f ? g : (x < 0.0f ? -g : 0.0f);
    case ops::UnaryKind::Affine: return g * p.alpha;
    case ops::UnaryKind::Softplus: return g * sigmoid_value(x);
    case ops::UnaryKind::Count: break;
  }
  return 0.0f;
}

struct UnaryForwardOp {
  ops::UnaryParams p;
  __device__ float operator()(const float (&v)[1]) const { return unary_value(p, v[0]); }
};

struct UnaryBackwardOp {
  ops::UnaryParams p;
  // v = {x, y, dy}
  __device__ float operator()(const float (&v)[3]) const { return unary_backward_value(p, v[0], v[1], v[2]); }
};

struct AxpyOp {
  float alpha;
  // v = {y, x}
  __device__ float operator()(const float (&v)[2]) const { return __fadd_rn(v[0], __fmul_rn(alpha, v[1])); }
};

template <bool kVec, typename I>
__global__ void __launch_bounds__(kBlockSize) fill_kernel(float* out, I n, float value) {
  const I start = grid_start<I>(), step = grid_step<I>();
  I scalar_begin = 0;
  if constexpr (kVec) {
    const I nv = n / 4;
    const float4 v4 = make_float4(value, value, value, value);
    for (I i = start; i < nv; i += step) reinterpret_cast<float4*>(out)[i] = v4;
    scalar_begin = nv * 4;
  }
  for (I i = scalar_begin + start; i < n; i += step) out[i] = value;
}

// Sets *flag = 1 when any element is NaN or infinite. Writers race only to store the same
// value, and nobody else touches the flag in this kernel, so the result is deterministic.
template <typename I>
__global__ void __launch_bounds__(kBlockSize) flag_nonfinite_kernel(const float* __restrict__ x, I n, float* flag) {
  const I start = grid_start<I>(), step = grid_step<I>();
  for (I i = start; i < n; i += step)
    if (!isfinite(x[i])) *flag = 1.0f;
}

// out = s x + 0 with s = 1 / (d + eps) in double (IEEE division, as the CPU's), rounded to
// float once: the affine op's form, so the CPU's result bit for bit.
struct ScaleByInverseOp {
  const float* denom;
  double eps;
  __device__ float operator()(const float (&v)[1]) const {
    const float s = static_cast<float>(1.0 / __dadd_rn(static_cast<double>(*denom), eps));
    return __fadd_rn(__fmul_rn(s, v[0]), 0.0f);
  }
};

}  // namespace

void unary_forward(const ops::UnaryParams& p, const Tensor& inp, Tensor& out) {
  // inp and out may be the same tensor (in place).
  launch_map<1>({{device_ptr(inp)}}, device_ptr(out), inp.numel(), UnaryForwardOp{p});
}

void unary_backward(const ops::UnaryParams& p, const Tensor& inp, const Tensor& out, const Tensor& dout, Tensor& dinp) {
  launch_map<3>({{device_ptr(inp), device_ptr(out), device_ptr(dout)}}, device_ptr(dinp), inp.numel(),
                UnaryBackwardOp{p});
}

void axpy(float alpha, const Tensor& x, Tensor& y) {
  float* yp = device_ptr(y);
  launch_map<2>({{yp, device_ptr(x)}}, yp, x.numel(), AxpyOp{alpha});
}

void fill(Tensor& t, float value) {
  const int64_t n = t.numel();
  if (n == 0) return;
  float* p = device_ptr(t);
  const bool vec = aligned16(p);
  const unsigned grid = grid_stride_blocks(vec ? (n + 3) / 4 : n);
  with_index_type(n, [&]<typename I>(I) {
    if (vec)
      fill_kernel<true, I><<<grid, kBlockSize, 0, stream()>>>(p, static_cast<I>(n), value);
    else
      fill_kernel<false, I><<<grid, kBlockSize, 0, stream()>>>(p, static_cast<I>(n), value);
    SAD_CUDA_LAUNCH_CHECK();
  });
}

void scale_by_inverse(const Tensor& x, const Tensor& denom, double eps, Tensor& out) {
  launch_map<1>({{device_ptr(x)}}, device_ptr(out), x.numel(), ScaleByInverseOp{device_ptr(denom), eps});
}

void flag_nonfinite(const Tensor& x, Tensor& flag) {
  const int64_t n = x.numel();
  if (n == 0) return;
  const float* xp = device_ptr(x);
  float* fp = device_ptr(flag);
  with_index_type(n, [&]<typename I>(I) {
    flag_nonfinite_kernel<I><<<grid_stride_blocks(n), kBlockSize, 0, stream()>>>(xp, static_cast<I>(n), fp);
    SAD_CUDA_LAUNCH_CHECK();
  });
}

}  // namespace sad::cuda
