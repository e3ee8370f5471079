// CUDA batch_norm2d: hand-written kernels rather than cuDNN's batch norm, so that the
// conventions are exactly those of kernels/ops.h and the CPU reference (biased variance
// to normalise, unbiased variance in the running estimate with PyTorch's momentum rule,
// save_invstd = 1/sqrt(var + eps), eval-mode save_* = running statistics) and the
// results are deterministic.
//
// Per-channel statistics: one block of kStatThreads threads per channel, double
// accumulators (the sums run over N*H*W values and the variance would cancel in float),
// reduced with block_sum in a fixed order; two passes (mean, then sum (x - mean)^2) like
// the CPU reference. The element-wise parts are separate grid-stride kernels.
// One block per channel leaves SMs idle when C < 132; fine for now (memory bound, and
// BN is a small part of a step); split the reduction over several blocks if it shows up.
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace sad::cuda {

namespace {

constexpr int kStatThreads = 256;  // fixed: the reduction order (and so the result) depends on it

// Element j of channel c, j in [0, N*HW): image j / HW, pixel j % HW.
__device__ __forceinline__ int64_t channel_index(int64_t j, int64_t c, int64_t C, int64_t HW) {
  const int64_t n = j / HW, i = j - n * HW;
  return (n * C + c) * HW + i;
}

__global__ void bn_train_stats_kernel(const float* __restrict__ x,  // (N, C, HW)
                                      int64_t N, int64_t C, int64_t HW, float momentum, float eps,
                                      float* __restrict__ running_mean,   // (C)
                                      float* __restrict__ running_var,    // (C)
                                      float* __restrict__ save_mean,      // (C)
                                      float* __restrict__ save_invstd) {  // (C)
  const int64_t c = blockIdx.x, M = N * HW;
  double s = 0;
  for (int64_t j = threadIdx.x; j < M; j += blockDim.x) s += x[channel_index(j, c, C, HW)];
  const double mean = block_sum(s) / static_cast<double>(M);
  double ss = 0;
  for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
    const double d = x[channel_index(j, c, C, HW)] - mean;
    ss += d * d;
  }
  ss = block_sum(ss);
  if (threadIdx.x == 0) {
    const double var = ss / static_cast<double>(M);  // biased: normalises
    const double unbiased = ss / static_cast<double>(M - 1);
    const double m = momentum;
    running_mean[c] = static_cast<float>((1 - m) * running_mean[c] + m * mean);
    running_var[c] = static_cast<float>((1 - m) * running_var[c] + m * unbiased);
    save_mean[c] = static_cast<float>(mean);
    save_invstd[c] = static_cast<float>(1.0 / sqrt(var + static_cast<double>(eps)));
  }
}

__global__ void bn_eval_stats_kernel(int64_t C, float eps, const float* __restrict__ running_mean,
                                     const float* __restrict__ running_var, float* __restrict__ save_mean,
                                     float* __restrict__ save_invstd) {
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  save_mean[c] = running_mean[c];
  save_invstd[c] = static_cast<float>(1.0 / sqrt(static_cast<double>(running_var[c]) + static_cast<double>(eps)));
}

__global__ void bn_apply_kernel(const float* __restrict__ x,  // (N, C, HW)
                                int64_t total, int64_t C, int64_t HW, const float* __restrict__ mean,
                                const float* __restrict__ invstd, const float* __restrict__ gamma,
                                const float* __restrict__ beta,
                                float* __restrict__ y) {  // (N, C, HW)
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t c = (i / HW) % C;
    y[i] = (x[i] - mean[c]) * (gamma[c] * invstd[c]) + beta[c];
  }
}

// Per channel: sum dy and sum dy * xhat. Writes dgamma/dbeta when wanted and the two
// means that the training-mode input gradient subtracts (coef[2c], coef[2c+1]).
__global__ void bn_backward_reduce_kernel(const float* __restrict__ x,   // (N, C, HW)
                                          const float* __restrict__ dy,  // (N, C, HW)
                                          int64_t N, int64_t C, int64_t HW, bool training,
                                          const float* __restrict__ save_mean, const float* __restrict__ save_invstd,
                                          float* __restrict__ dgamma,   // (C) or null
                                          float* __restrict__ dbeta,    // (C) or null
                                          double* __restrict__ coef) {  // (C, 2)
  const int64_t c = blockIdx.x, M = N * HW;
  const double mean = save_mean[c], invstd = save_invstd[c];
  double sdy = 0, sdyx = 0;
  for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
    const int64_t i = channel_index(j, c, C, HW);
    const double g = dy[i];
    sdy += g;
    sdyx += g * ((x[i] - mean) * invstd);
  }
  sdy = block_sum(sdy);
  sdyx = block_sum(sdyx);
  if (threadIdx.x == 0) {
    if (dbeta) dbeta[c] = static_cast<float>(sdy);
    if (dgamma) dgamma[c] = static_cast<float>(sdyx);
    // Training: the batch statistics depend on every x of the channel, which subtracts
    // mean(dy) + xhat mean(dy xhat) from dy. Eval: the statistics are constants.
    coef[2 * c] = training ? sdy / static_cast<double>(M) : 0.0;
    coef[2 * c + 1] = training ? sdyx / static_cast<double>(M) : 0.0;
  }
}

__global__ void bn_backward_apply_kernel(const float* __restrict__ x,   // (N, C, HW)
                                         const float* __restrict__ dy,  // (N, C, HW)
                                         int64_t total, int64_t C, int64_t HW, const float* __restrict__ gamma,
                                         const float* __restrict__ save_mean, const float* __restrict__ save_invstd,
                                         const double* __restrict__ coef,
                                         float* __restrict__ dx) {  // (N, C, HW)
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t c = (i / HW) % C;
    const float invstd = save_invstd[c];
    const float xhat = (x[i] - save_mean[c]) * invstd;
    const float mdy = static_cast<float>(coef[2 * c]), mdyx = static_cast<float>(coef[2 * c + 1]);
    dx[i] = gamma[c] * invstd * (dy[i] - mdy - xhat * mdyx);
  }
}

}  // namespace

void batch_norm2d_forward(const ops::BatchNormParams& p, const Tensor& inp, const Tensor& gamma, const Tensor& beta,
                          Tensor& running_mean, Tensor& running_var, Tensor& out, Tensor& save_mean,
                          Tensor& save_invstd) {
  const int64_t N = inp.dim(0), C = inp.dim(1), HW = inp.dim(2) * inp.dim(3), total = inp.numel();
  if (C == 0) return;
  cudaStream_t s = stream();
  if (p.training) {
    bn_train_stats_kernel<<<checked_int(C, "channels"), kStatThreads, 0, s>>>(
        device_ptr(inp), N, C, HW, p.momentum, p.eps, device_ptr(running_mean), device_ptr(running_var),
        device_ptr(save_mean), device_ptr(save_invstd));
  } else {
    bn_eval_stats_kernel<<<blocks_for(C), kBlockSize, 0, s>>>(
        C, p.eps, device_ptr(running_mean), device_ptr(running_var), device_ptr(save_mean), device_ptr(save_invstd));
  }
  SAD_CUDA_LAUNCH_CHECK();
  if (total == 0) return;
  bn_apply_kernel<<<grid_stride_blocks(total), kBlockSize, 0, s>>>(device_ptr(inp), total, C, HW, device_ptr(save_mean),
                                                                   device_ptr(save_invstd), device_ptr(gamma),
                                                                   device_ptr(beta), device_ptr(out));
  SAD_CUDA_LAUNCH_CHECK();
}

void batch_norm2d_backward(const ops::BatchNormParams& p, const Tensor& inp, const Tensor& gamma,
                           const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dout, Tensor* dinp,
                           Tensor* dgamma, Tensor* dbeta) {
  const int64_t N = inp.dim(0), C = inp.dim(1), HW = inp.dim(2) * inp.dim(3), total = inp.numel();
  if (C == 0 || (!dinp && !dgamma && !dbeta)) return;
  cudaStream_t s = stream();
  DeviceBuffer coef(static_cast<size_t>(C) * 2 * sizeof(double));  // (C, 2)
  bn_backward_reduce_kernel<<<checked_int(C, "channels"), kStatThreads, 0, s>>>(
      device_ptr(inp), device_ptr(dout), N, C, HW, p.training, device_ptr(save_mean), device_ptr(save_invstd),
      device_ptr(dgamma), device_ptr(dbeta), coef.get<double>());
  SAD_CUDA_LAUNCH_CHECK();
  if (!dinp || total == 0) return;
  bn_backward_apply_kernel<<<grid_stride_blocks(total), kBlockSize, 0, s>>>(
      device_ptr(inp), device_ptr(dout), total, C, HW, device_ptr(gamma), device_ptr(save_mean),
      device_ptr(save_invstd), coef.get<double>(), device_ptr(*dinp));
  SAD_CUDA_LAUNCH_CHECK();
}

}  // namespace sad::cuda
