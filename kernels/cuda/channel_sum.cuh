// Per-channel sums over an (N, C, HW) tensor (batch-norm statistics and their gradients, the
// convolution's bias gradient) as deterministic segmented sums (segmented_sum.cuh): a segment
// per channel, r in [0, N HW) running over image r / HW, pixel r % HW. Each channel's sum is
// split over several blocks when the channel is long (segmented_sum's row layout: up to 1024
// blocks in all), so C = 32 channels no longer leave 100 of 132 SMs idle, and every sum still
// has an order fixed by (C, N HW) alone: repeated runs give the same bits.
// Accumulation is in double, as the CPU reference's.
#pragma once

#include "kernels/cuda/segmented_sum.cuh"

namespace sad::cuda {

enum class ChannelSumKind {
  X,       // x
  SqDev,   // (x - mean)^2, mean = mean_sum[c] / M (the first pass's sums)
  Dy,      // dy
  DyXhat,  // dy (x - save_mean[c]) save_invstd[c]
};

struct ChannelSum {
  ChannelSumKind kind = ChannelSumKind::X;
  const float* x = nullptr;   // (N, C, HW)
  const float* dy = nullptr;  // (N, C, HW)
  int64_t C = 0, HW = 1, M = 0;
  const double* mean_sum = nullptr;                          // SqDev: (C)
  const float *save_mean = nullptr, *save_invstd = nullptr;  // DyXhat: (C)
  double* out = nullptr;                                     // (C), or
  float* out_f = nullptr;                                    // (C), rounded once

  struct Base {
    int64_t c;
    double a, b;
  };
  __device__ Base at(int64_t c) const {
    Base base{c, 0.0, 0.0};
    if (kind == ChannelSumKind::SqDev) base.a = mean_sum[c] / static_cast<double>(M);
    if (kind == ChannelSumKind::DyXhat) base.a = save_mean[c], base.b = save_invstd[c];
    return base;
  }
  __device__ double load(const Base& base, int64_t r) const {
    const int64_t n = r / HW, i = (n * C + base.c) * HW + (r - n * HW);
    switch (kind) {
      case ChannelSumKind::X: return static_cast<double>(x[i]);
      case ChannelSumKind::SqDev: {
        const double d = static_cast<double>(x[i]) - base.a;
        return d * d;
      }
      case ChannelSumKind::Dy: return static_cast<double>(dy[i]);
      case ChannelSumKind::DyXhat: return static_cast<double>(dy[i]) * ((static_cast<double>(x[i]) - base.a) * base.b);
    }
    return 0.0;
  }
  __device__ void store(int64_t c, double total) const {
    if (out) out[c] = total;
    if (out_f) out_f[c] = static_cast<float>(total);
  }
};

// The sums of `seg` for every channel (seg.C of them, seg.M = N HW values each).
inline void channel_sums(const ChannelSum& seg) { segmented_sum(seg, seg.C, seg.M, false); }

}  // namespace sad::cuda
