// CUDA concat / split along any axis and nearest upsampling by an integer factor
// (forward and backward): the same functions as kernels/cpu/concat.cpp and
// kernels/cpu/upsample_nearest.cpp.
//
// concat / split: a contiguous tensor seen as (outer, axis, inner) makes part i a block
// of `outer` rows of size_i * inner elements, at column offset sum_{j<i} size_j * inner of
// the whole's rows. One strided row-copy kernel per part (parts are few: 2 or 3 in the
// networks), float4 when the row length, both row strides and both base pointers allow.
// upsample forward: a thread per output pixel reads its source pixel. Backward is a
// gather: a thread per input pixel adds its s x s block of dout in double, in the
// reference's order (ky, then kx), so the result is the reference's bit for bit.
// Copies only, or sums in a fixed order: deterministic.
//
// Napkin math: concat/split move 2 x numel x 4 bytes; upsample forward reads |in| (L2
// hits after the first of the s^2 readers) and writes s^2 |in|; backward the reverse.
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/launch_util.cuh"

namespace sad::cuda {

namespace {

// dst[o * dst_stride + j] = src[o * src_stride + j] for o < rows, j < run (in units of V).
template <typename V, typename I>
__global__ void __launch_bounds__(kBlockSize) copy_rows_kernel(const V* __restrict__ src, int64_t src_stride,
                                                               V* __restrict__ dst, int64_t dst_stride, I run, I n) {
  for (I i = grid_start<I>(); i < n; i += grid_step<I>()) {
    const I o = i / run, j = i - o * run;
    dst[static_cast<int64_t>(o) * dst_stride + j] = src[static_cast<int64_t>(o) * src_stride + j];
  }
}

void copy_rows(const float* src, int64_t src_stride, float* dst, int64_t dst_stride, int64_t rows, int64_t run) {
  if (rows == 0 || run == 0) return;
  const bool vec = run % 4 == 0 && src_stride % 4 == 0 && dst_stride % 4 == 0 && aligned16(src) && aligned16(dst);
  const int64_t w = vec ? 4 : 1;
  const int64_t n = rows * (run / w);
  with_index_type(n, [&]<typename I>(I) {
    const unsigned grid = grid_stride_blocks(n);
    if (vec)
      copy_rows_kernel<float4, I><<<grid, kBlockSize, 0, stream()>>>(
          reinterpret_cast<const float4*>(src), src_stride / w, reinterpret_cast<float4*>(dst), dst_stride / w,
          static_cast<I>(run / w), static_cast<I>(n));
    else
      copy_rows_kernel<float, I>
          <<<grid, kBlockSize, 0, stream()>>>(src, src_stride, dst, dst_stride, static_cast<I>(run), static_cast<I>(n));
    SAD_CUDA_LAUNCH_CHECK();
  });
}

// Elements before and after `axis` of a contiguous tensor of shape s.
void outer_inner(const Shape& s, int axis, int64_t& outer, int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int d = 0; d < axis; ++d) outer *= s[static_cast<size_t>(d)];
  for (size_t d = static_cast<size_t>(axis) + 1; d < s.size(); ++d) inner *= s[d];
}

template <typename I>
__global__ void __launch_bounds__(kBlockSize)
    upsample_forward_kernel(const float* __restrict__ x, float* __restrict__ y, I h, I w, I s, I n) {
  const I ho = h * s, wo = w * s;
  for (I i = grid_start<I>(); i < n; i += grid_step<I>()) {
    const I ox = i % wo, t = i / wo;
    const I oy = t % ho, pl = t / ho;
    y[i] = x[(static_cast<int64_t>(pl) * h + oy / s) * w + ox / s];
  }
}

template <typename I>
__global__ void __launch_bounds__(kBlockSize)
    upsample_backward_kernel(const float* __restrict__ dy, float* __restrict__ dx, I h, I w, I s, I n) {
  const int64_t wo = static_cast<int64_t>(w) * s, plane_out = static_cast<int64_t>(h) * s * wo;
  for (I i = grid_start<I>(); i < n; i += grid_step<I>()) {
    const I ix = i % w, t = i / w;
    const I iy = t % h, pl = t / h;
    const float* block = dy + pl * plane_out + static_cast<int64_t>(iy) * s * wo + static_cast<int64_t>(ix) * s;
    double acc = 0.0;
    for (I ky = 0; ky < s; ++ky)
      for (I kx = 0; kx < s; ++kx) acc += static_cast<double>(block[ky * wo + kx]);
    dx[i] = static_cast<float>(acc);
  }
}

}  // namespace

void concat(const ops::ConcatParams& p, std::span<const Tensor> inputs, Tensor& out) {
  int64_t outer, inner;
  outer_inner(out.shape(), p.axis, outer, inner);
  const int64_t whole_run = out.dim(p.axis) * inner;
  float* whole = device_ptr(out);
  int64_t offset = 0;  // along the axis, in elements of one outer row
  for (const Tensor& part : inputs) {
    const int64_t run = part.dim(p.axis) * inner;
    copy_rows(device_ptr(part), run, whole + offset, whole_run, outer, run);
    offset += run;
  }
}

void split(const ops::ConcatParams& p, const Tensor& inp, std::span<Tensor> outputs) {
  int64_t outer, inner;
  outer_inner(inp.shape(), p.axis, outer, inner);
  const int64_t whole_run = inp.dim(p.axis) * inner;
  const float* whole = device_ptr(inp);
  int64_t offset = 0;
  for (Tensor& part : outputs) {
    const int64_t run = part.dim(p.axis) * inner;
    copy_rows(whole + offset, whole_run, device_ptr(part), run, outer, run);
    offset += run;
  }
}

void upsample_nearest_forward(const ops::UpsampleParams& p, const Tensor& inp, Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const float* x = device_ptr(inp);  // (N, C, H, W)
  float* y = device_ptr(out);        // (N, C, sH, sW)
  with_index_type(n, [&]<typename I>(I) {
    upsample_forward_kernel<I><<<grid_stride_blocks(n), kBlockSize, 0, stream()>>>(
        x, y, static_cast<I>(inp.dim(2)), static_cast<I>(inp.dim(3)), static_cast<I>(p.scale), static_cast<I>(n));
    SAD_CUDA_LAUNCH_CHECK();
  });
}

void upsample_nearest_backward(const ops::UpsampleParams& p, const Tensor& dout, Tensor& dinp) {
  const int64_t n = dinp.numel();
  if (n == 0) return;
  const float* dy = device_ptr(dout);  // (N, C, sH, sW)
  float* dx = device_ptr(dinp);        // (N, C, H, W)
  // The index type must hold dout's flat indices too (n s^2 of them).
  with_index_type(dout.numel(), [&]<typename I>(I) {
    upsample_backward_kernel<I><<<grid_stride_blocks(n), kBlockSize, 0, stream()>>>(
        dy, dx, static_cast<I>(dinp.dim(2)), static_cast<I>(dinp.dim(3)), static_cast<I>(p.scale), static_cast<I>(n));
    SAD_CUDA_LAUNCH_CHECK();
  });
}

}  // namespace sad::cuda
