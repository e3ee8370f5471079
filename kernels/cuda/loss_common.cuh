// Device helpers shared by the loss kernels (losses.cu, kl_sparsity.cu): the stable
// logistic functions of a logit from one expf, and the deterministic two-pass mean of
// per-element terms that every "mean over all elements" loss reduces with.
//
// Two-pass mean: pass 1 runs min(ceil(n / 256), 1024) blocks of 256 threads; thread t of
// block k sums elements t + 256 k, t + 256 (k + G), ... (G = grid size) in a double
// accumulator, block_sum folds the block's threads in its fixed tree, and the block's
// partial goes to slot k of a scratch buffer. Pass 2 is one block that folds the partials
// the same way (slot order is index order) and writes sum / n as float. The grid depends on
// n only (not on the GPU model), so the value is the same from run to run and machine to
// machine. Double accumulation: the block trees keep a float sum accurate while each thread
// holds a few terms, but a thread's sequential part grows with n (n / 262144 terms), and
// its float error with it; in double the result stays within one float rounding of the
// CPU reference's double sum at any n, and a DADD per element is free next to its load.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/cuda_common.cuh"

namespace sad::cuda {

// sigmoid(l) = p, sigmoid(-l) = q = 1 - p, softplus(l) = -log(1 - p) and softplus(-l) =
// -log p, all from e = exp(-|l|) <= 1: no overflow for any logit, and q is never formed as
// 1 - p (which would round to 0 for l > 17). Same branches as the CPU reference's stable
// sigmoid, in float (expf/log1pf: within 2 ulp).
struct Logistic {
  float p, q;
  float softplus_pos;  // softplus(l)
  float softplus_neg;  // softplus(-l)
};

__device__ __forceinline__ Logistic logistic(float l) {
  const float e = expf(-fabsf(l));
  const float inv = 1.0f / (1.0f + e);
  const float big = inv, small = e * inv;
  const float lp = log1pf(e);
  Logistic f;
  f.p = l >= 0.0f ? big : small;
  f.q = l >= 0.0f ? small : big;
  f.softplus_pos = fmaxf(l, 0.0f) + lp;
  f.softplus_neg = fmaxf(-l, 0.0f) + lp;
  return f;
}

// Means of per-element terms use deterministic_sum (cuda_common.cuh) with scale 1/n.

// The upstream gradient of a mean loss, dloss / n, read from device memory by each thread
// (one broadcast load; the host never waits for it). Divided in double like the reference.
__device__ __forceinline__ float mean_loss_scale(const float* dloss, int64_t n) {
  return static_cast<float>(static_cast<double>(dloss[0]) / static_cast<double>(n));
}

}  // namespace sad::cuda
