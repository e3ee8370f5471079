// CUDA bilinear resize (PyTorch's F.interpolate(mode='bilinear', antialias=False), both
// align_corners conventions) and its backward: the same functions as
// kernels/cpu/resize_bilinear.cpp, whose header gives the source-coordinate formula.
//
// Forward: a thread per output pixel computes its two taps per axis (in double, like
// the reference) and blends four input pixels. The coordinate is computed with
// __dmul_rn/__dadd_rn, never a fused multiply-add, so that floor() picks the same
// neighbour as the reference even where the coordinate is an exact integer; the blend
// is written the same way, so the forward should be bit-equal to the reference.
// Backward is a gather instead of the reference's scatter: along each axis the outputs
// whose taps include input index i form one contiguous range (the taps are monotone in
// the output index: i0(d) is i - 1 or i), found once per axis index by binary search
// into a small scratch table. A thread per input pixel then adds weight_y * weight_x *
// dout over that rectangle in (oy, ox) order, in double. No atomics: deterministic.
// (The reference adds the two taps of a clamped border pixel separately, this sums
// their weights first: a double-rounding difference, far below float32's ulp.)
//
// Napkin math: forward reads <= 4 |out| floats (mostly cache hits) and writes |out|;
// backward reads each dout value once per input pixel whose rectangle holds it
// (<= 4 on average) and writes |in|.
#include <cmath>

#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/launch_util.cuh"

namespace sad::cuda {

namespace {

// The source coordinate map of one axis: input size, output size, scale, convention.
struct AxisMap {
  int64_t in, out;
  double scale;
  bool align_corners;
};

AxisMap axis_map(int64_t in, int64_t out, bool align_corners) {
  double scale;
  if (align_corners)
    scale = out > 1 ? static_cast<double>(in - 1) / static_cast<double>(out - 1) : 0.0;
  else
    scale = out > 0 ? static_cast<double>(in) / static_cast<double>(out) : 0.0;
  return {in, out, scale, align_corners};
}

struct Taps {
  int64_t i0, i1;
  double w0, w1;
};

__device__ __forceinline__ Taps taps_at(const AxisMap& a, int64_t d) {
  const double dd = static_cast<double>(d);
  double s = a.align_corners ? __dmul_rn(a.scale, dd) : __dadd_rn(__dmul_rn(a.scale, __dadd_rn(dd, 0.5)), -0.5);
  if (s < 0) s = 0;
  // Beyond the last pixel (upsampling without align_corners) both taps are that pixel.
  const int64_t i0 = min(static_cast<int64_t>(floor(s)), a.in - 1);
  const double frac = fmin(fmax(s - static_cast<double>(i0), 0.0), 1.0);
  return {i0, min(i0 + 1, a.in - 1), 1.0 - frac, frac};
}

// w0 * a + w1 * b, rounded after each operation as the reference does.
__device__ __forceinline__ double blend(double w0, double a, double w1, double b) {
  return __dadd_rn(__dmul_rn(w0, a), __dmul_rn(w1, b));
}

template <typename I>
__global__ void __launch_bounds__(kBlockSize)
    resize_forward_kernel(AxisMap my, AxisMap mx, const float* __restrict__ x, float* __restrict__ y, I n) {
  const I ho = static_cast<I>(my.out), wo = static_cast<I>(mx.out);
  for (I i = grid_start<I>(); i < n; i += grid_step<I>()) {
    const I ox = i % wo, t = i / wo;
    const I oy = t % ho, pl = t / ho;
    const Taps ty = taps_at(my, oy), tx = taps_at(mx, ox);
    const float* xp = x + static_cast<int64_t>(pl) * my.in * mx.in;
    const float* r0 = xp + ty.i0 * mx.in;
    const float* r1 = xp + ty.i1 * mx.in;
    const double top = blend(tx.w0, r0[tx.i0], tx.w1, r0[tx.i1]);
    const double bot = blend(tx.w0, r1[tx.i0], tx.w1, r1[tx.i1]);
    y[i] = static_cast<float>(blend(ty.w0, top, ty.w1, bot));
  }
}

// First output index d in [0, out) with i0(d) >= v (out if none); i0 is monotone.
__device__ __forceinline__ int64_t first_tap_at_least(const AxisMap& a, int64_t v) {
  int64_t lo = 0, hi = a.out;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (taps_at(a, mid).i0 >= v)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

// ranges[2 i], ranges[2 i + 1]: the outputs [begin, end) that read input index i, for
// the H indices of the y axis followed by the W indices of the x axis.
__global__ void __launch_bounds__(kBlockSize) resize_ranges_kernel(AxisMap my, AxisMap mx, int64_t* ranges) {
  const int64_t total = my.in + mx.in;
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < total;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    if (k < my.in) {
      ranges[2 * k] = first_tap_at_least(my, k - 1);
      ranges[2 * k + 1] = first_tap_at_least(my, k + 1);
    } else {
      ranges[2 * k] = first_tap_at_least(mx, k - my.in - 1);
      ranges[2 * k + 1] = first_tap_at_least(mx, k - my.in + 1);
    }
  }
}

// The weight of input index i in output d's interpolation along one axis.
__device__ __forceinline__ double tap_weight(const AxisMap& a, int64_t d, int64_t i) {
  const Taps t = taps_at(a, d);
  return (t.i0 == i ? t.w0 : 0.0) + (t.i1 == i ? t.w1 : 0.0);
}

template <typename I>
__global__ void __launch_bounds__(kBlockSize)
    resize_backward_kernel(AxisMap my, AxisMap mx, const int64_t* __restrict__ ranges, const float* __restrict__ dy,
                           float* __restrict__ dx, I n) {
  const I h = static_cast<I>(my.in), w = static_cast<I>(mx.in);
  for (I i = grid_start<I>(); i < n; i += grid_step<I>()) {
    const I ix = i % w, t = i / w;
    const I iy = t % h, pl = t / h;
    const int64_t y_begin = ranges[2 * iy], y_end = ranges[2 * iy + 1];
    const int64_t x_begin = ranges[2 * (my.in + ix)], x_end = ranges[2 * (my.in + ix) + 1];
    const float* g = dy + static_cast<int64_t>(pl) * my.out * mx.out;
    double acc = 0.0;
    for (int64_t oy = y_begin; oy < y_end; ++oy) {
      const double wy = tap_weight(my, oy, iy);
      for (int64_t ox = x_begin; ox < x_end; ++ox)
        acc += wy * tap_weight(mx, ox, ix) * static_cast<double>(g[oy * mx.out + ox]);
    }
    dx[i] = static_cast<float>(acc);
  }
}

}  // namespace

void resize_bilinear_forward(const ops::ResizeParams& p, const Tensor& inp, Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const AxisMap my = axis_map(inp.dim(2), out.dim(2), p.align_corners);
  const AxisMap mx = axis_map(inp.dim(3), out.dim(3), p.align_corners);
  const float* x = device_ptr(inp);  // (N, C, H, W)
  float* y = device_ptr(out);        // (N, C, Ho, Wo)
  with_index_type(n, [&]<typename I>(I) {
    resize_forward_kernel<I><<<grid_stride_blocks(n), kBlockSize, 0, stream()>>>(my, mx, x, y, static_cast<I>(n));
    SAD_CUDA_LAUNCH_CHECK();
  });
}

void resize_bilinear_backward(const ops::ResizeParams& p, const Tensor& dout, Tensor& dinp) {
  const int64_t n = dinp.numel();
  if (n == 0) return;  // also an empty image: no pixel to clamp to
  const AxisMap my = axis_map(dinp.dim(2), dout.dim(2), p.align_corners);
  const AxisMap mx = axis_map(dinp.dim(3), dout.dim(3), p.align_corners);
  const float* dy = device_ptr(dout);  // (N, C, Ho, Wo)
  float* dx = device_ptr(dinp);        // (N, C, H, W)
  const int64_t axis_total = my.in + mx.in;
  DeviceBuffer ranges(static_cast<size_t>(2 * axis_total) * sizeof(int64_t));
  resize_ranges_kernel<<<blocks_for(axis_total), kBlockSize, 0, stream()>>>(my, mx, ranges.get<int64_t>());
  SAD_CUDA_LAUNCH_CHECK();
  with_index_type(n, [&]<typename I>(I) {
    resize_backward_kernel<I>
        <<<grid_stride_blocks(n), kBlockSize, 0, stream()>>>(my, mx, ranges.get<int64_t>(), dy, dx, static_cast<I>(n));
    SAD_CUDA_LAUNCH_CHECK();
  });
}

}  // namespace sad::cuda
