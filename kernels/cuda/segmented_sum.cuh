// Deterministic segmented sums: for every segment s in [0, nseg), the double sum of
// seg.load(s, r) over r in [0, len), handed to seg.store(s, total). Used by reduce.cu
// (whole tensor: one segment; one axis: a segment per output) and binary.cu (the
// gradient of a broadcast input: a segment per input element, r running over its
// preimage). No atomics: every sum has an order fixed by (nseg, len) alone, not by the
// GPU model or the scheduling, so repeated runs give the same bits.
//
// Two layouts, chosen by the caller's `seg_contiguous` (segments s and s+1 read
// neighbouring addresses for the same r, e.g. a reduction over channels):
// - column: a thread per (segment, chunk of r) adds its chunk sequentially; adjacent
//   threads read adjacent addresses. Several chunks per segment only when there are few
//   segments; their partials are then added by a thread per segment in chunk order.
// - row (r runs along memory, or few segments): a block per (chunk, segment); thread t
//   adds r = begin + t, begin + t + 256, ... sequentially, then block_sum (fixed shuffle
//   tree). With several chunks, a second kernel adds each segment's partials with one
//   block in index order (strided per thread, then block_sum).
// Accumulation is in double throughout, so a different order than the CPU reference's
// sequential double sum changes the float32 result by at most 1 ulp in practice.
//
// Seg: trivially copyable, with
//   __device__ Base at(int64_t s) const;            // per-segment setup (decoding s)
//   __device__ double load(const Base&, int64_t r) const;
//   __device__ void store(int64_t s, double total) const;
#pragma once

#include <algorithm>

#include "kernels/cuda/launch_util.cuh"

namespace sad::cuda {

namespace seg_detail {

inline constexpr int64_t kColumnChunk = 32;         // fewest elements a column thread adds before splitting
inline constexpr int64_t kColumnThreads = 1 << 18;  // enough threads to fill the GPU several times
inline constexpr int64_t kRowChunk = 4096;          // fewest elements per block in the row layout
inline constexpr int64_t kRowBlocks = 1024;         // enough blocks to fill the GPU (132 SMs x 8)
inline constexpr int64_t kMaxChunks = 1024;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Chunks per segment: as many as wanted for parallelism, none shorter than min_chunk.
inline int64_t num_chunks(int64_t len, int64_t nseg, int64_t min_chunk, int64_t target_units) {
  int64_t c = std::min({ceil_div(len, min_chunk), ceil_div(target_units, nseg), kMaxChunks});
  c = std::max<int64_t>(c, 1);
  return ceil_div(len, ceil_div(len, c));  // no empty chunk
}

// partial == nullptr: one chunk, store directly. Else partial[c * nseg + s].
template <typename Seg>
__global__ void __launch_bounds__(kBlockSize)
    column_kernel(Seg seg, int64_t nseg, int64_t len, int64_t chunk_len, double* partial) {
  const int64_t c = blockIdx.y;
  const int64_t begin = c * chunk_len, end = min(len, begin + chunk_len);
  for (int64_t s = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; s < nseg;
       s += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const auto base = seg.at(s);
    double acc = 0.0;
    for (int64_t r = begin; r < end; ++r) acc += seg.load(base, r);
    if (partial)
      partial[c * nseg + s] = acc;
    else
      seg.store(s, acc);
  }
}

template <typename Seg>
__global__ void __launch_bounds__(kBlockSize)
    column_finish_kernel(Seg seg, int64_t nseg, int64_t chunks, const double* partial) {
  for (int64_t s = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; s < nseg;
       s += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    double acc = 0.0;
    for (int64_t c = 0; c < chunks; ++c) acc += partial[c * nseg + s];
    seg.store(s, acc);
  }
}

// partial == nullptr: one chunk, store directly. Else partial[s * chunks + c].
template <typename Seg>
__global__ void __launch_bounds__(kBlockSize)
    row_kernel(Seg seg, int64_t nseg, int64_t len, int64_t chunk_len, double* partial) {
  const int64_t c = blockIdx.x, chunks = gridDim.x;
  const int64_t begin = c * chunk_len, end = min(len, begin + chunk_len);
  for (int64_t s = blockIdx.y; s < nseg; s += gridDim.y) {  // uniform per block: block_sum is safe
    const auto base = seg.at(s);
    double acc = 0.0;
    for (int64_t r = begin + threadIdx.x; r < end; r += blockDim.x) acc += seg.load(base, r);
    acc = block_sum(acc);
    if (threadIdx.x == 0) {
      if (partial)
        partial[s * chunks + c] = acc;
      else
        seg.store(s, acc);
    }
  }
}

template <typename Seg>
__global__ void __launch_bounds__(kBlockSize)
    row_finish_kernel(Seg seg, int64_t nseg, int64_t chunks, const double* partial) {
  for (int64_t s = blockIdx.x; s < nseg; s += gridDim.x) {
    double acc = 0.0;
    for (int64_t c = threadIdx.x; c < chunks; c += blockDim.x) acc += partial[s * chunks + c];
    acc = block_sum(acc);
    if (threadIdx.x == 0) seg.store(s, acc);
  }
}

}  // namespace seg_detail

template <typename Seg>
void segmented_sum(const Seg& seg, int64_t nseg, int64_t len, bool seg_contiguous) {
  using namespace seg_detail;
  if (nseg <= 0) return;
  // Column when neighbouring segments are neighbours in memory (and enough of them to
  // fill a warp's transaction), or when each sum is so short that a block would idle.
  const bool column = (seg_contiguous && nseg >= 32) || len <= 16;
  if (column) {
    const int64_t chunks = len > 0 ? num_chunks(len, nseg, kColumnChunk, kColumnThreads) : 1;
    const int64_t chunk_len = len > 0 ? ceil_div(len, chunks) : 0;
    DeviceBuffer partial =
        chunks > 1 ? DeviceBuffer(static_cast<size_t>(nseg * chunks) * sizeof(double)) : DeviceBuffer();
    const dim3 grid(blocks_for(nseg), static_cast<unsigned>(chunks));
    column_kernel<Seg><<<grid, kBlockSize, 0, stream()>>>(seg, nseg, len, chunk_len, partial.get<double>());
    SAD_CUDA_LAUNCH_CHECK();
    if (chunks > 1) {
      column_finish_kernel<Seg>
          <<<blocks_for(nseg), kBlockSize, 0, stream()>>>(seg, nseg, chunks, partial.get<double>());
      SAD_CUDA_LAUNCH_CHECK();
    }
    return;
  }
  const int64_t chunks = num_chunks(len, nseg, kRowChunk, kRowBlocks);
  const int64_t chunk_len = ceil_div(len, chunks);
  DeviceBuffer partial =
      chunks > 1 ? DeviceBuffer(static_cast<size_t>(nseg * chunks) * sizeof(double)) : DeviceBuffer();
  const dim3 grid(static_cast<unsigned>(chunks), grid_y(nseg));
  row_kernel<Seg><<<grid, kBlockSize, 0, stream()>>>(seg, nseg, len, chunk_len, partial.get<double>());
  SAD_CUDA_LAUNCH_CHECK();
  if (chunks > 1) {
    row_finish_kernel<Seg><<<grid_y(nseg), kBlockSize, 0, stream()>>>(seg, nseg, chunks, partial.get<double>());
    SAD_CUDA_LAUNCH_CHECK();
  }
}

}  // namespace sad::cuda
