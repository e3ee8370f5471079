// CUDA 2-D average pooling (k x k box, stride, zero padding, floor mode, both
// count_include_pad conventions) and its backward: the same functions as
// kernels/cpu/avg_pool2d.cpp.
//
// Forward: a thread per output pixel adds its window clipped to the image, in double and
// in (iy, ix) order, then divides by the window's count; that is the reference's
// arithmetic in its order, so the result should be bit-equal.
// Backward is a gather instead of the reference's scatter: a thread per input pixel
// visits the outputs whose window holds it (oy from ceil((iy + pad - k + 1) / stride) to
// floor((iy + pad) / stride), clipped to the output; likewise ox) in (oy, ox) order and
// adds dout / count in double. For one input pixel the reference adds exactly these
// terms in exactly this order, so this too should be bit-equal. No atomics.
//
// Napkin math: forward reads k^2 |out| floats (mostly cache hits) and writes |out|;
// backward reads ~(k / stride)^2 |in| dout values and writes |in|.
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/launch_util.cuh"

namespace sad::cuda {

namespace {

struct PoolGeometry {
  int64_t h, w, ho, wo;
  int kernel, stride, pad;
  bool count_include_pad;
};

// The window of output index o along one axis clipped to [0, n), and the number of
// its positions the divisor counts along that axis (as window_at in the reference).
struct Window {
  int64_t begin, end, size;
};

__device__ __forceinline__ Window window_at(const PoolGeometry& g, int64_t o, int64_t n) {
  const int64_t b = o * g.stride - g.pad, e = b + g.kernel;
  Window w{max(b, int64_t{0}), min(e, n), 0};
  w.size = g.count_include_pad ? e - b : w.end - w.begin;
  return w;
}

template <typename I>
__global__ void __launch_bounds__(kBlockSize)
    avg_pool_forward_kernel(PoolGeometry g, const float* __restrict__ x, float* __restrict__ y, I n) {
  const I ho = static_cast<I>(g.ho), wo = static_cast<I>(g.wo);
  for (I i = grid_start<I>(); i < n; i += grid_step<I>()) {
    const I ox = i % wo, t = i / wo;
    const I oy = t % ho, pl = t / ho;
    const Window wy = window_at(g, oy, g.h), wx = window_at(g, ox, g.w);
    const float* xp = x + static_cast<int64_t>(pl) * g.h * g.w;
    double acc = 0.0;
    for (int64_t iy = wy.begin; iy < wy.end; ++iy)
      for (int64_t ix = wx.begin; ix < wx.end; ++ix) acc += static_cast<double>(xp[iy * g.w + ix]);
    // An empty window (only possible for an empty image) averages to 0.
    const int64_t count = wy.size * wx.size;
    y[i] = static_cast<float>(count > 0 ? acc / static_cast<double>(count) : 0.0);
  }
}

// Outputs [first, last] along one axis whose window holds input index i.
__device__ __forceinline__ void outputs_reading(const PoolGeometry& g, int64_t i, int64_t n_out, int64_t& first,
                                                int64_t& last) {
  const int64_t num = i + g.pad - g.kernel + 1;  // o * stride >= num
  first = num <= 0 ? 0 : (num + g.stride - 1) / g.stride;
  last = min((i + g.pad) / g.stride, n_out - 1);  // o * stride <= i + pad
}

template <typename I>
__global__ void __launch_bounds__(kBlockSize)
    avg_pool_backward_kernel(PoolGeometry g, const float* __restrict__ dy, float* __restrict__ dx, I n) {
  const I h = static_cast<I>(g.h), w = static_cast<I>(g.w);
  for (I i = grid_start<I>(); i < n; i += grid_step<I>()) {
    const I ix = i % w, t = i / w;
    const I iy = t % h, pl = t / h;
    int64_t oy0, oy1, ox0, ox1;
    outputs_reading(g, iy, g.ho, oy0, oy1);
    outputs_reading(g, ix, g.wo, ox0, ox1);
    const float* gp = dy + static_cast<int64_t>(pl) * g.ho * g.wo;
    double acc = 0.0;
    for (int64_t oy = oy0; oy <= oy1; ++oy) {
      const int64_t size_y = window_at(g, oy, g.h).size;
      for (int64_t ox = ox0; ox <= ox1; ++ox) {
        const int64_t count = size_y * window_at(g, ox, g.w).size;
        acc += static_cast<double>(gp[oy * g.wo + ox]) / static_cast<double>(count);
      }
    }
    dx[i] = static_cast<float>(acc);
  }
}

PoolGeometry geometry(const ops::AvgPoolParams& p, const Tensor& in, const Tensor& out) {
  return {in.dim(2), in.dim(3), out.dim(2), out.dim(3), p.kernel, p.stride, p.pad, p.count_include_pad};
}

}  // namespace

void avg_pool2d_forward(const ops::AvgPoolParams& p, const Tensor& inp, Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const PoolGeometry g = geometry(p, inp, out);
  const float* x = device_ptr(inp);  // (N, C, H, W)
  float* y = device_ptr(out);        // (N, C, Ho, Wo)
  with_index_type(n, [&]<typename I>(I) {
    avg_pool_forward_kernel<I><<<grid_stride_blocks(n), kBlockSize, 0, stream()>>>(g, x, y, static_cast<I>(n));
    SAD_CUDA_LAUNCH_CHECK();
  });
}

void avg_pool2d_backward(const ops::AvgPoolParams& p, const Tensor& dout, Tensor& dinp) {
  const int64_t n = dinp.numel();
  if (n == 0) return;
  const PoolGeometry g = geometry(p, dinp, dout);
  const float* dy = device_ptr(dout);  // (N, C, Ho, Wo)
  float* dx = device_ptr(dinp);        // (N, C, H, W)
  with_index_type(n, [&]<typename I>(I) {
    avg_pool_backward_kernel<I><<<grid_stride_blocks(n), kBlockSize, 0, stream()>>>(g, dy, dx, static_cast<I>(n));
    SAD_CUDA_LAUNCH_CHECK();
  });
}

}  // namespace sad::cuda
