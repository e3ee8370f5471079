// CUDA kernels of kl_sparsity, the sparsity-prior loss L_S of METHOD.md, as one fused
// pair (reference and formulas: kernels/cpu/kl_sparsity.cpp; M = sigmoid(l)):
//   forward  1. kl_image_sums_kernel: one block per image reduces its H*W pixels to
//               sum M, sum (1 - M) r and sum softplus(l) (= -log(1 - M)).
//            2. kl_combine_kernel: one block turns the per-image sums into
//               rho^_b, KL_b, fit_b, neg_b (stats, (B, 4)) and the scalar loss, for
//               weak_labels true (per-image prior) and false (batch-level prior).
//   backward kl_backward_kernel: ONE element-wise pass computing dL/dl from the logit
//            (sigmoid fused in), the residual, the image's label, its row of stats and
//            dloss, all read from device memory.
//
// Determinism and precision. Pass 1: thread t of image b's block sums pixels t, t + T,
// t + 2T, ... (T = block size) in double, then block_sum folds the threads in its fixed
// tree: the same order on every run. Accumulation is in DOUBLE, not float. rho^_b decides
// the clamp and feeds KL'(rho^) = -rho / rho^ + ..., which scales every pixel's gradient.
// In float the error would be small at S = 256 (64 terms per thread, then the tree: ~1e-7,
// measured), but each thread's sequential part grows with H*W (1024 terms at 1024 x 1024)
// and its float error with it; in double it stays negligible at any size, leaving only the
// float sigmoids' own ~1e-7, and a DADD per pixel costs nothing next to the 8 bytes loaded.
// Pass 2 combines the images sequentially in index order (thread 0), in double, exactly as
// the CPU reference does, so the batch-level rho^ of weak_labels = false and the loss are
// the reference's sums up to the per-image sums' rounding.
// Per-element math is float (expf, log1pf: within 2 ulp).
//
// Napkin math (paper preset, 16 x 1 x 256 x 256): forward reads 8 B per pixel = 8.4 MB;
// with one 1024-thread block per image only 16 SMs work, each streaming 512 KB, so the
// pass is latency-bound at roughly 10-20 us (vs ~2 us at full bandwidth), negligible next
// to the segmentation network. The backward pass reads 8 B and writes 4 B per pixel over
// the whole GPU: 12.6 MB, ~3 us.
#include <algorithm>
#include <cstdint>

#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/loss_common.cuh"

namespace sad::cuda {

namespace {

constexpr int kSumThreads = 1024;  // one block per image: as many loads in flight as a block can hold
constexpr int kCombineThreads = 256;
constexpr double kRhoLo = 1e-6, kRhoHi = 1.0 - 1e-6;  // the reference's clamp of rho^

// The params, widened to double once (the reference widens the same float values).
struct KlArgs {
  double rho, beta_kl, lambda_fit;
  bool weak_labels;
};

__device__ __forceinline__ double kl_bernoulli(double rho, double q) {
  return rho * log(rho / q) + (1.0 - rho) * log((1.0 - rho) / (1.0 - q));
}

// dKL(rho || q)/dq at the raw mean activation, 0 where the clamp is active: the clamped
// value does not move with the logits there (the reference's kl_slope).
__device__ __forceinline__ double kl_slope(double rho, double raw_q) {
  if (raw_q < kRhoLo || raw_q > kRhoHi) return 0.0;
  return -rho / raw_q + (1.0 - rho) / (1.0 - raw_q);
}

__global__ void __launch_bounds__(kSumThreads)
    kl_image_sums_kernel(const float* __restrict__ logits,    // (B, 1, H, W)
                         const float* __restrict__ residual,  // (B, 1, H, W)
                         int64_t hw,
                         double* __restrict__ sums) {  // (B, 3): sum M, sum (1 - M) r, sum softplus(l)
  const int64_t b = blockIdx.x;
  const float* l = logits + b * hw;
  const float* r = residual + b * hw;
  double sum_m = 0.0, sum_fit = 0.0, sum_neg = 0.0;
#pragma unroll 4
  for (int64_t k = threadIdx.x; k < hw; k += kSumThreads) {
    const Logistic f = logistic(l[k]);
    sum_m += f.p;
    sum_fit += static_cast<double>(f.q) * static_cast<double>(r[k]);
    sum_neg += f.softplus_pos;
  }
  sum_m = block_sum(sum_m);
  sum_fit = block_sum(sum_fit);
  sum_neg = block_sum(sum_neg);
  if (threadIdx.x == 0) {
    sums[b * 3 + 0] = sum_m;
    sums[b * 3 + 1] = sum_fit;
    sums[b * 3 + 2] = sum_neg;
  }
}

__global__ void __launch_bounds__(kCombineThreads)
    kl_combine_kernel(KlArgs p,
                      const double* __restrict__ sums,   // (B, 3) from kl_image_sums_kernel
                      const float* __restrict__ labels,  // (B)
                      int64_t nb, int64_t hw,
                      double* __restrict__ terms,   // (B) scratch: each image's term of the loss
                      float* __restrict__ loss,     // (1)
                      float* __restrict__ stats) {  // (B, 4): rho^_b (raw), KL_b, fit_b, neg_b
  const double n = static_cast<double>(hw);
  if (p.weak_labels) {
    // The images' terms are independent: one thread each.
    for (int64_t b = threadIdx.x; b < nb; b += kCombineThreads) {
      const double raw = sums[b * 3 + 0] / n, fit = sums[b * 3 + 1] / n, neg = sums[b * 3 + 2] / n;
      const double kl = kl_bernoulli(p.rho, fmin(fmax(raw, kRhoLo), kRhoHi));
      const double yb = labels[b];
      terms[b] = yb * (p.beta_kl * kl + p.lambda_fit * fit) + (1.0 - yb) * neg;
      stats[b * 4 + 0] = static_cast<float>(raw);
      stats[b * 4 + 1] = static_cast<float>(kl);
      stats[b * 4 + 2] = static_cast<float>(fit);
      stats[b * 4 + 3] = static_cast<float>(neg);
    }
    __syncthreads();  // makes the block's global writes to terms visible to thread 0
    if (threadIdx.x == 0) {
      double total = 0.0;
      for (int64_t b = 0; b < nb; ++b) total += terms[b];  // index order, like the reference
      loss[0] = static_cast<float>(total / static_cast<double>(nb));
    }
  } else {
    // Batch-level prior: rho^ over all pixels of all images, combined in index order.
    __shared__ double s_raw, s_kl;
    if (threadIdx.x == 0) {
      double all_m = 0.0, all_fit = 0.0;
      for (int64_t b = 0; b < nb; ++b) {
        all_m += sums[b * 3 + 0];
        all_fit += sums[b * 3 + 1];
      }
      const double count = n * static_cast<double>(nb);
      const double raw = all_m / count;
      const double kl = kl_bernoulli(p.rho, fmin(fmax(raw, kRhoLo), kRhoHi));
      loss[0] = static_cast<float>(all_fit / count + p.beta_kl * kl);
      s_raw = raw;
      s_kl = kl;
    }
    __syncthreads();
    for (int64_t b = threadIdx.x; b < nb; b += kCombineThreads) {
      stats[b * 4 + 0] = static_cast<float>(s_raw);
      stats[b * 4 + 1] = static_cast<float>(s_kl);
      stats[b * 4 + 2] = static_cast<float>(sums[b * 3 + 1] / n);
      stats[b * 4 + 3] = static_cast<float>(sums[b * 3 + 2] / n);
    }
  }
}

// dL/dl = scale [w_s s + w_rs r s + w_m M], s = M (1 - M), scale = dloss / (B H W), with
// the per-image weights of the reference:
//   weak_labels = true:  w_s = y_b beta_kl KL'(rho^_b), w_rs = -y_b lambda_fit, w_m = 1 - y_b
//   weak_labels = false: w_s = beta_kl KL'(rho^),       w_rs = -1,              w_m = 0
// grid.y walks the images (weights computed once per image and thread, in double from the
// stats' float rho^ exactly like the reference, so the clamp decision is the same);
// grid.x is a grid-stride loop over the image's pixels.
__global__ void kl_backward_kernel(KlArgs p,
                                   const float* __restrict__ logits,    // (B, 1, H, W)
                                   const float* __restrict__ residual,  // (B, 1, H, W)
                                   const float* __restrict__ labels,    // (B)
                                   const float* __restrict__ stats,     // (B, 4)
                                   const float* __restrict__ dloss,     // (1)
                                   int64_t nb, int64_t hw,
                                   float* __restrict__ dlogits) {  // (B, 1, H, W)
  const float scale = static_cast<float>(static_cast<double>(dloss[0]) / (static_cast<double>(nb) * hw));
  for (int64_t b = blockIdx.y; b < nb; b += gridDim.y) {
    const double kl_w = p.beta_kl * kl_slope(p.rho, static_cast<double>(stats[b * 4 + 0]));
    float w_s, w_rs, w_m;
    if (p.weak_labels) {
      const double yb = labels[b];
      w_s = static_cast<float>(yb * kl_w);
      w_rs = static_cast<float>(-yb * p.lambda_fit);
      w_m = static_cast<float>(1.0 - yb);
    } else {
      w_s = static_cast<float>(kl_w);
      w_rs = -1.0f;
      w_m = 0.0f;
    }
    const float* l = logits + b * hw;
    const float* r = residual + b * hw;
    float* dl = dlogits + b * hw;
    for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < hw;
         k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
      const Logistic f = logistic(l[k]);
      const float s = f.p * f.q;
      dl[k] = scale * (w_s * s + w_rs * r[k] * s + w_m * f.p);
    }
  }
}

KlArgs kl_args(const ops::KlSparsityParams& p) { return {p.rho, p.beta_kl, p.lambda_fit, p.weak_labels}; }

}  // namespace

void kl_sparsity_forward(const ops::KlSparsityParams& p, const Tensor& logits, const Tensor& residual,
                         const Tensor& labels, Tensor& loss, Tensor& stats) {
  const int64_t nb = logits.dim(0), hw = logits.dim(2) * logits.dim(3);
  SAD_CHECK(nb <= INT_MAX, "cuda::kl_sparsity_forward: batch ", nb, " exceeds the grid");
  // (B, 3) image sums, then (B) image terms.
  DeviceBuffer scratch(static_cast<size_t>(nb) * 4 * sizeof(double));
  double* sums = scratch.get<double>();
  double* terms = sums + nb * 3;
  kl_image_sums_kernel<<<static_cast<unsigned>(nb), kSumThreads, 0, stream()>>>(device_ptr(logits),
                                                                                device_ptr(residual), hw, sums);
  SAD_CUDA_LAUNCH_CHECK();
  kl_combine_kernel<<<1, kCombineThreads, 0, stream()>>>(kl_args(p), sums, device_ptr(labels), nb, hw, terms,
                                                         device_ptr(loss), device_ptr(stats));
  SAD_CUDA_LAUNCH_CHECK();
}

void kl_sparsity_backward(const ops::KlSparsityParams& p, const Tensor& logits, const Tensor& residual,
                          const Tensor& labels, const Tensor& stats, const Tensor& dloss, Tensor& dlogits) {
  const int64_t nb = logits.dim(0), hw = logits.dim(2) * logits.dim(3);
  const int64_t gy = std::min<int64_t>(nb, 65535);
  const int64_t per_image_max = (hw + kBlockSize - 1) / kBlockSize;
  const int64_t gx = std::clamp<int64_t>((grid_stride_blocks(nb * hw) + gy - 1) / gy, 1, per_image_max);
  kl_backward_kernel<<<dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy)), kBlockSize, 0, stream()>>>(
      kl_args(p), device_ptr(logits), device_ptr(residual), device_ptr(labels), device_ptr(stats), device_ptr(dloss),
      nb, hw, device_ptr(dlogits));
  SAD_CUDA_LAUNCH_CHECK();
}

}  // namespace sad::cuda
