// CUDA kernels of the mean losses: MSE and L1 (L_G's reconstruction term), BCE with
// logits (the GAN losses) and the binary focal loss (the `mask-supervised` ablation).
// The CPU references (kernels/cpu/pointwise_loss.cpp, bce_with_logits.cpp, focal_loss.cpp)
// define the functions; these compute the same ones in float32.
//
// Forward: per-element terms reduced by the deterministic two-pass mean of
// loss_common.cuh (fixed grid, double accumulators, no atomics). MSE/L1 terms are formed
// in double from the float inputs, exactly like the reference; BCE and focal terms use
// float transcendentals (expf/log1pf/powf) and only the sum is double.
// Backward: one grid-stride element-wise pass, dloss read from device memory.
//
// Bytes per element: forward reads 8 (two float inputs), backward reads 8 and writes 4
// per gradient. Scalar loads: these losses run once per step on tensors of at most a few
// million elements (microseconds at H200 bandwidth), and coalesced 4-byte loads with a
// full grid in flight already get most of it; float4 paths would double the code for
// nothing measurable. (Fusion, which moves whole feature maps, does vectorise.)
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/loss_common.cuh"

namespace sad::cuda {

namespace {

// ---- MSE / L1 ------------------------------------------------------------------------------

struct PointwiseTerm {
  const float* a;
  const float* b;
  bool mse;
  __device__ double operator()(int64_t i) const {
    const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    return mse ? d * d : fabs(d);
  }
};

__global__ void pointwise_loss_backward_kernel(bool mse, const float* __restrict__ a, const float* __restrict__ b,
                                               const float* __restrict__ dloss, int64_t n, float* __restrict__ da,
                                               float* __restrict__ db) {
  const float scale = mean_loss_scale(dloss, n);
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float d = a[i] - b[i];
    // MSE: 2 (a - b). L1: sign(a - b), 0 where a == b (the reference's subgradient). The
    // sign of the float difference is exact, so the L1 gradient's sign always agrees.
    const float g = (mse ? 2.0f * d : (d > 0.0f ? 1.0f : (d < 0.0f ? -1.0f : 0.0f))) * scale;
    if (da) da[i] = g;
    if (db) db[i] = -g;
  }
}

// ---- BCE with logits ----------------------------------------------------------------------

// max(x, 0) - x t + log1p(exp(-|x|)): the stable form of the reference.
struct BceTerm {
  const float* x;
  const float* t;
  __device__ float operator()(int64_t i) const {
    const float xi = x[i];
    return fmaxf(xi, 0.0f) - xi * t[i] + log1pf(expf(-fabsf(xi)));
  }
};

__global__ void bce_backward_kernel(const float* __restrict__ x, const float* __restrict__ t,
                                    const float* __restrict__ dloss, int64_t n, float* __restrict__ dx) {
  const float scale = mean_loss_scale(dloss, n);
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dx[i] = scale * (logistic(x[i]).p - t[i]);
}

// ---- focal loss ---------------------------------------------------------------------------

// Class weights a+ t and a- (1 - t): alpha < 0 means no weighting.
struct FocalWeights {
  float pos, neg;
};
__device__ __forceinline__ FocalWeights focal_weights(float alpha, float t) {
  const float a_pos = alpha >= 0.0f ? alpha : 1.0f;
  const float a_neg = alpha >= 0.0f ? 1.0f - alpha : 1.0f;
  return {a_pos * t, a_neg * (1.0f - t)};
}

// -[a+ t q^g log p + a- (1 - t) p^g log q], with log p = -softplus(-l), log q = -softplus(l).
struct FocalTerm {
  const float* l;
  const float* t;
  float gamma, alpha;
  __device__ float operator()(int64_t i) const {
    const Logistic f = logistic(l[i]);
    const FocalWeights w = focal_weights(alpha, t[i]);
    return w.pos * powf(f.q, gamma) * f.softplus_neg + w.neg * powf(f.p, gamma) * f.softplus_pos;
  }
};

// d/dl [q^g log p] = q^g [q - g p log p],  d/dl [p^g log q] = p^g [g q log q - p] (see the
// reference: no negative power of p or q, so saturated logits and gamma < 1 are safe).
__global__ void focal_backward_kernel(float gamma, float alpha, const float* __restrict__ l,
                                      const float* __restrict__ t, const float* __restrict__ dloss, int64_t n,
                                      float* __restrict__ dl) {
  const float scale = mean_loss_scale(dloss, n);
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const Logistic f = logistic(l[i]);
    const FocalWeights w = focal_weights(alpha, t[i]);
    const float log_p = -f.softplus_neg, log_q = -f.softplus_pos;
    const float d_pos = powf(f.q, gamma) * (f.q - gamma * f.p * log_p);
    const float d_neg = powf(f.p, gamma) * (gamma * f.q * log_q - f.p);
    dl[i] = -scale * (w.pos * d_pos + w.neg * d_neg);
  }
}

}  // namespace

void pointwise_loss_forward(const ops::PointwiseLossParams& p, const Tensor& a, const Tensor& b, Tensor& loss) {
  const PointwiseTerm term{device_ptr(a), device_ptr(b), p.kind == ops::PointwiseLossKind::Mse};
  deterministic_sum(a.numel(), term, device_ptr(loss), 1.0 / static_cast<double>(a.numel()));
}

void pointwise_loss_backward(const ops::PointwiseLossParams& p, const Tensor& a, const Tensor& b, const Tensor& dloss,
                             Tensor* da, Tensor* db) {
  if (!da && !db) return;
  const int64_t n = a.numel();
  pointwise_loss_backward_kernel<<<grid_stride_blocks(n), kBlockSize, 0, stream()>>>(
      p.kind == ops::PointwiseLossKind::Mse, device_ptr(a), device_ptr(b), device_ptr(dloss), n, device_ptr(da),
      device_ptr(db));
  SAD_CUDA_LAUNCH_CHECK();
}

void bce_with_logits_forward(const Tensor& logits, const Tensor& target, Tensor& loss) {
  deterministic_sum(logits.numel(), BceTerm{device_ptr(logits), device_ptr(target)}, device_ptr(loss),
                    1.0 / static_cast<double>(logits.numel()));
}

void bce_with_logits_backward(const Tensor& logits, const Tensor& target, const Tensor& dloss, Tensor& dlogits) {
  const int64_t n = logits.numel();
  bce_backward_kernel<<<grid_stride_blocks(n), kBlockSize, 0, stream()>>>(device_ptr(logits), device_ptr(target),
                                                                          device_ptr(dloss), n, device_ptr(dlogits));
  SAD_CUDA_LAUNCH_CHECK();
}

void focal_loss_forward(const ops::FocalParams& p, const Tensor& logits, const Tensor& target, Tensor& loss) {
  const FocalTerm term{device_ptr(logits), device_ptr(target), p.gamma, p.alpha};
  deterministic_sum(logits.numel(), term, device_ptr(loss), 1.0 / static_cast<double>(logits.numel()));
}

void focal_loss_backward(const ops::FocalParams& p, const Tensor& logits, const Tensor& target, const Tensor& dloss,
                         Tensor& dlogits) {
  const int64_t n = logits.numel();
  focal_backward_kernel<<<grid_stride_blocks(n), kBlockSize, 0, stream()>>>(
      p.gamma, p.alpha, device_ptr(logits), device_ptr(target), device_ptr(dloss), n, device_ptr(dlogits));
  SAD_CUDA_LAUNCH_CHECK();
}

}  // namespace sad::cuda
