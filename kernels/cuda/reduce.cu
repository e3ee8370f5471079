// CUDA sum and mean, over the whole tensor (-> shape (1)) or over one axis kept with
// size 1, and their backward (the upstream gradient broadcast back): the same functions
// as kernels/cpu/reduce.cpp.
//
// Forward: segmented_sum.cuh, in double. The whole tensor is one segment: per-block
// partials over fixed chunks, then one block adds the partials in index order (two
// passes, no atomics). One axis of a tensor seen as (outer, len, inner): a segment per
// output; with inner > 1 neighbouring outputs are neighbours in memory (column layout,
// a thread per output, e.g. the mean over channels), with inner == 1 each output is a
// contiguous row (row layout, a block per output). The chunking depends on the shape
// only, so a result is the same on every run and every GPU.
// Backward: a thread per input element; the whole-tensor case reads dout[0] on the
// device (no host round trip). Same double arithmetic as the reference: bit-equal.
//
// Napkin math: forward reads |in| and writes |out| (+ 8 bytes per partial); backward
// reads |out| (cached) and writes |in|.
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/segmented_sum.cuh"

namespace sad::cuda {

namespace {

// (outer, axis, inner) view of a contiguous tensor of shape s around `axis`.
void outer_len_inner(const Shape& s, int axis, int64_t& outer, int64_t& len, int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int d = 0; d < axis; ++d) outer *= s[static_cast<size_t>(d)];
  len = s[static_cast<size_t>(axis)];
  for (size_t d = static_cast<size_t>(axis) + 1; d < s.size(); ++d) inner *= s[d];
}

// Segment s = output s; its elements x[(o * len + r) * inner + i] with s = o * inner + i.
// The whole-tensor sum is the case outer = inner = 1.
struct ReduceSeg {
  const float* x;  // (outer, len, inner)
  float* y;        // (outer, 1, inner)
  int64_t len, inner;
  bool mean;

  __device__ int64_t at(int64_t s) const {
    const int64_t o = s / inner, i = s - o * inner;
    return o * len * inner + i;
  }
  __device__ double load(int64_t base, int64_t r) const { return static_cast<double>(x[base + r * inner]); }
  __device__ void store(int64_t s, double total) const {
    y[s] = static_cast<float>(mean ? total / static_cast<double>(len) : total);
  }
};

template <typename I>
__global__ void __launch_bounds__(kBlockSize)
    reduce_all_backward_kernel(const float* __restrict__ dy, float* __restrict__ dx, I n, bool mean) {
  const float g = static_cast<float>(mean ? static_cast<double>(dy[0]) / static_cast<double>(n) : dy[0]);
  for (I i = grid_start<I>(); i < n; i += grid_step<I>()) dx[i] = g;
}

template <typename I>
__global__ void __launch_bounds__(kBlockSize)
    reduce_axis_backward_kernel(const float* __restrict__ dy, float* __restrict__ dx, I len, I inner, I n,
                                double scale) {
  const I run = len * inner;
  for (I k = grid_start<I>(); k < n; k += grid_step<I>()) {
    const I i = k % inner, o = k / run;
    dx[k] = static_cast<float>(static_cast<double>(dy[static_cast<int64_t>(o) * inner + i]) * scale);
  }
}

}  // namespace

void reduce_forward(const ops::ReduceParams& p, const Tensor& inp, Tensor& out) {
  const bool mean = p.kind == ops::ReduceKind::Mean;
  if (p.axis < 0) {
    const ReduceSeg seg{device_ptr(inp), device_ptr(out), inp.numel(), 1, mean};
    segmented_sum(seg, 1, inp.numel(), false);
    return;
  }
  int64_t outer, len, inner;
  outer_len_inner(inp.shape(), p.axis, outer, len, inner);
  const ReduceSeg seg{device_ptr(inp), device_ptr(out), len, inner, mean};
  segmented_sum(seg, outer * inner, len, inner > 1);
}

void reduce_backward(const ops::ReduceParams& p, const Tensor& dout, Tensor& dinp) {
  const int64_t n = dinp.numel();
  if (n == 0) return;
  const bool mean = p.kind == ops::ReduceKind::Mean;
  const float* dy = device_ptr(dout);
  float* dx = device_ptr(dinp);
  if (p.axis < 0) {
    with_index_type(n, [&]<typename I>(I) {
      reduce_all_backward_kernel<I>
          <<<grid_stride_blocks(n), kBlockSize, 0, stream()>>>(dy, dx, static_cast<I>(n), mean);
      SAD_CUDA_LAUNCH_CHECK();
    });
    return;
  }
  int64_t outer, len, inner;
  outer_len_inner(dinp.shape(), p.axis, outer, len, inner);
  const double scale = mean ? 1.0 / static_cast<double>(len) : 1.0;
  with_index_type(n, [&]<typename I>(I) {
    reduce_axis_backward_kernel<I><<<grid_stride_blocks(n), kBlockSize, 0, stream()>>>(
        dy, dx, static_cast<I>(len), static_cast<I>(inner), static_cast<I>(n), scale);
    SAD_CUDA_LAUNCH_CHECK();
  });
}

}  // namespace sad::cuda
