// CUDA batch_norm2d: hand-written kernels rather than cuDNN's batch norm, so that the
// conventions are exactly those of kernels/ops.h and the CPU reference (biased variance
// to normalise, unbiased variance in the running estimate with PyTorch's momentum rule,
// save_invstd = 1/sqrt(var + eps), eval-mode save_* = running statistics) and the
// results are deterministic.
//
// Per-channel statistics: deterministic segmented sums (channel_sum.cuh: several blocks per
// channel, an order fixed by the shape), double accumulators (the sums run over N*H*W values
// and the variance would cancel in float); two passes (mean, then sum (x - mean)^2) like the
// CPU reference, then one thread per channel finishes (running statistics, save_*, or the
// gradients' coefficients). The element-wise parts are separate grid-stride kernels; a fused
// activation (ops::BnAct) is applied in the forward's and undone by a kernel of its own
// before the backward's sums.
#include "kernels/cuda/channel_sum.cuh"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace sad::cuda {

namespace {

// From the per-channel sums of x and of (x - mean)^2: the running statistics (momentum rule,
// unbiased variance) and the saved mean and 1 / sqrt(biased variance + eps).
__global__ void bn_train_finish_kernel(const double* __restrict__ sum, const double* __restrict__ sqdev, int64_t C,
                                       int64_t M, float momentum, float eps,
                                       float* __restrict__ running_mean,   // (C)
                                       float* __restrict__ running_var,    // (C)
                                       float* __restrict__ save_mean,      // (C)
                                       float* __restrict__ save_invstd) {  // (C)
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  const double mean = sum[c] / static_cast<double>(M);
  const double var = sqdev[c] / static_cast<double>(M);  // biased: normalises
  const double unbiased = sqdev[c] / static_cast<double>(M - 1);
  const double m = momentum;
  running_mean[c] = static_cast<float>((1 - m) * running_mean[c] + m * mean);
  running_var[c] = static_cast<float>((1 - m) * running_var[c] + m * unbiased);
  save_mean[c] = static_cast<float>(mean);
  save_invstd[c] = static_cast<float>(1.0 / sqrt(var + static_cast<double>(eps)));
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
                                const float* __restrict__ beta, ops::BnAct act, float alpha,
                                float* __restrict__ y) {  // (N, C, HW)
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t c = (i / HW) % C;
    const float v = (x[i] - mean[c]) * (gamma[c] * invstd[c]) + beta[c];
    y[i] = act == ops::BnAct::None || v > 0.0f ? v : (act == ops::BnAct::Relu ? 0.0f : alpha * v);
  }
}

// The gradient of the normalised value through a fused activation, from the fused output:
// dy where out > 0, else 0 (relu) or alpha dy (leaky), like the unary ops' backward.
__global__ void bn_act_grad_kernel(const float* __restrict__ dy, const float* __restrict__ out, int64_t total,
                                   ops::BnAct act, float alpha, float* __restrict__ dpre) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dpre[i] = out[i] > 0.0f ? dy[i] : (act == ops::BnAct::Relu ? 0.0f : alpha * dy[i]);
}

// From the per-channel sums of dy and dy * xhat: dgamma/dbeta when wanted and the two means
// that the training-mode input gradient subtracts (coef[2c], coef[2c+1]).
__global__ void bn_backward_finish_kernel(const double* __restrict__ sdy, const double* __restrict__ sdyx, int64_t C,
                                          int64_t M, bool training,
                                          float* __restrict__ dgamma,   // (C) or null
                                          float* __restrict__ dbeta,    // (C) or null
                                          double* __restrict__ coef) {  // (C, 2)
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  if (dbeta) dbeta[c] = static_cast<float>(sdy[c]);
  if (dgamma) dgamma[c] = static_cast<float>(sdyx[c]);
  // Training: the batch statistics depend on every x of the channel, which subtracts
  // mean(dy) + xhat mean(dy xhat) from dy. Eval: the statistics are constants.
  coef[2 * c] = training ? sdy[c] / static_cast<double>(M) : 0.0;
  coef[2 * c + 1] = training ? sdyx[c] / static_cast<double>(M) : 0.0;
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
    const int64_t M = N * HW;
    DeviceBuffer sums(static_cast<size_t>(C) * 2 * sizeof(double));  // (2, C): sum x, sum (x - mean)^2
    double* sum = sums.get<double>();
    double* sqdev = sum + C;
    const float* xp = device_ptr(inp);
    channel_sums({.kind = ChannelSumKind::X, .x = xp, .C = C, .HW = HW, .M = M, .out = sum});
    channel_sums({.kind = ChannelSumKind::SqDev, .x = xp, .C = C, .HW = HW, .M = M, .mean_sum = sum, .out = sqdev});
    bn_train_finish_kernel<<<blocks_for(C), kBlockSize, 0, s>>>(sum, sqdev, C, M, p.momentum, p.eps,
                                                                device_ptr(running_mean), device_ptr(running_var),
                                                                device_ptr(save_mean), device_ptr(save_invstd));
  } else {
    bn_eval_stats_kernel<<<blocks_for(C), kBlockSize, 0, s>>>(
        C, p.eps, device_ptr(running_mean), device_ptr(running_var), device_ptr(save_mean), device_ptr(save_invstd));
  }
  SAD_CUDA_LAUNCH_CHECK();
  if (total == 0) return;
  bn_apply_kernel<<<grid_stride_blocks(total), kBlockSize, 0, s>>>(device_ptr(inp), total, C, HW, device_ptr(save_mean),
                                                                   device_ptr(save_invstd), device_ptr(gamma),
                                                                   device_ptr(beta), p.act, p.alpha, device_ptr(out));
  SAD_CUDA_LAUNCH_CHECK();
}

void batch_norm2d_backward(const ops::BatchNormParams& p, const Tensor& inp, const Tensor& gamma,
                           const Tensor& save_mean, const Tensor& save_invstd, const Tensor* out, const Tensor& dout,
                           Tensor* dinp, Tensor* dgamma, Tensor* dbeta) {
  const int64_t N = inp.dim(0), C = inp.dim(1), HW = inp.dim(2) * inp.dim(3), total = inp.numel();
  if (C == 0 || (!dinp && !dgamma && !dbeta)) return;
  cudaStream_t s = stream();
  const int64_t M = N * HW;
  DeviceBuffer coef(static_cast<size_t>(C) * 2 * sizeof(double));  // (C, 2)
  DeviceBuffer sums(static_cast<size_t>(C) * 2 * sizeof(double));  // (2, C): sum dy, sum dy xhat
  double* sdy = sums.get<double>();
  double* sdyx = sdy + C;
  const float *xp = device_ptr(inp), *dyp = device_ptr(dout);
  // A fused activation: its gradient first, into a buffer the rest reads as dy (one extra
  // pass; the CPU path folds it into its loops).
  DeviceBuffer dpre =
      p.act == ops::BnAct::None ? DeviceBuffer() : DeviceBuffer(static_cast<size_t>(total) * sizeof(float));
  if (p.act != ops::BnAct::None && total > 0) {
    bn_act_grad_kernel<<<grid_stride_blocks(total), kBlockSize, 0, s>>>(dyp, device_ptr(*out), total, p.act, p.alpha,
                                                                        dpre.get<float>());
    SAD_CUDA_LAUNCH_CHECK();
    dyp = dpre.get<float>();
  }
  channel_sums({.kind = ChannelSumKind::Dy, .dy = dyp, .C = C, .HW = HW, .M = M, .out = sdy});
  channel_sums({.kind = ChannelSumKind::DyXhat,
                .x = xp,
                .dy = dyp,
                .C = C,
                .HW = HW,
                .M = M,
                .save_mean = device_ptr(save_mean),
                .save_invstd = device_ptr(save_invstd),
                .out = sdyx});
  bn_backward_finish_kernel<<<blocks_for(C), kBlockSize, 0, s>>>(sdy, sdyx, C, M, p.training, device_ptr(dgamma),
                                                                 device_ptr(dbeta), coef.get<double>());
  SAD_CUDA_LAUNCH_CHECK();
  if (!dinp || total == 0) return;
  bn_backward_apply_kernel<<<grid_stride_blocks(total), kBlockSize, 0, s>>>(
      device_ptr(inp), dyp, total, C, HW, device_ptr(gamma), device_ptr(save_mean), device_ptr(save_invstd),
      coef.get<double>(), device_ptr(*dinp));
  SAD_CUDA_LAUNCH_CHECK();
}

}  // namespace sad::cuda
