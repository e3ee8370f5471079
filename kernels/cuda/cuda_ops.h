// The CUDA backend's entry points (namespace sad::cuda): the same ops with the same
// signatures as kernels/cpu/cpu_ops.h, float32 only, plus the backend's run-time
// controls (probe, synchronise, fast math, allocator statistics).
// Plain C++: this header is included by dispatch.cpp and runtime.cpp, so it names no
// CUDA type. Inputs were validated in kernels/dispatch.cpp; nothing is checked twice.
// All work is queued on one stream (kernels/cuda/cuda_context.h) and is asynchronous
// with respect to the host unless a function says otherwise.
#pragma once

#include <cstddef>

#include "kernels/ops.h"

namespace sad::cuda {

// ---- ops (one implementation file per op family under kernels/cuda/) ----------------------
void conv2d_forward(const ops::Conv2dParams& p, const Tensor& inp, const Tensor& weight, const Tensor* bias,
                    Tensor& out);
void conv2d_backward(const ops::Conv2dParams& p, const Tensor& inp, const Tensor& weight, const Tensor& dout,
                     Tensor* dinp, Tensor* dweight, Tensor* dbias);
void gemm(const ops::GemmParams& p, const Tensor& a, const Tensor& b, Tensor& c);
void batch_norm2d_forward(const ops::BatchNormParams& p, const Tensor& inp, const Tensor& gamma, const Tensor& beta,
                          Tensor& running_mean, Tensor& running_var, Tensor& out, Tensor& save_mean,
                          Tensor& save_invstd);
void batch_norm2d_backward(const ops::BatchNormParams& p, const Tensor& inp, const Tensor& gamma,
                           const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dout, Tensor* dinp,
                           Tensor* dgamma, Tensor* dbeta);
void unary_forward(const ops::UnaryParams& p, const Tensor& inp, Tensor& out);
void unary_backward(const ops::UnaryParams& p, const Tensor& inp, const Tensor& out, const Tensor& dout, Tensor& dinp);
void binary_forward(const ops::BinaryParams& p, const Tensor& a, const Tensor& b, Tensor& out);
void binary_backward(const ops::BinaryParams& p, const Tensor& a, const Tensor& b, const Tensor& dout, Tensor* da,
                     Tensor* db);
void concat(const ops::ConcatParams& p, std::span<const Tensor> inputs, Tensor& out);
void split(const ops::ConcatParams& p, const Tensor& inp, std::span<Tensor> outputs);
void upsample_nearest_forward(const ops::UpsampleParams& p, const Tensor& inp, Tensor& out);
void upsample_nearest_backward(const ops::UpsampleParams& p, const Tensor& dout, Tensor& dinp);
void resize_bilinear_forward(const ops::ResizeParams& p, const Tensor& inp, Tensor& out);
void resize_bilinear_backward(const ops::ResizeParams& p, const Tensor& dout, Tensor& dinp);
void avg_pool2d_forward(const ops::AvgPoolParams& p, const Tensor& inp, Tensor& out);
void avg_pool2d_backward(const ops::AvgPoolParams& p, const Tensor& dout, Tensor& dinp);
void reduce_forward(const ops::ReduceParams& p, const Tensor& inp, Tensor& out);
void reduce_backward(const ops::ReduceParams& p, const Tensor& dout, Tensor& dinp);
void pointwise_loss_forward(const ops::PointwiseLossParams& p, const Tensor& a, const Tensor& b, Tensor& loss);
void pointwise_loss_backward(const ops::PointwiseLossParams& p, const Tensor& a, const Tensor& b, const Tensor& dloss,
                             Tensor* da, Tensor* db);
void bce_with_logits_forward(const Tensor& logits, const Tensor& target, Tensor& loss);
void bce_with_logits_backward(const Tensor& logits, const Tensor& target, const Tensor& dloss, Tensor& dlogits);
void ssim_forward(const ops::SsimParams& p, const Tensor& x, const Tensor& y, Tensor& map);
void ssim_backward(const ops::SsimParams& p, const Tensor& x, const Tensor& y, const Tensor& dmap, Tensor* dx,
                   Tensor* dy);
void focal_loss_forward(const ops::FocalParams& p, const Tensor& logits, const Tensor& target, Tensor& loss);
void focal_loss_backward(const ops::FocalParams& p, const Tensor& logits, const Tensor& target, const Tensor& dloss,
                         Tensor& dlogits);
void fusion_forward(const Tensor& a, const Tensor& b, Tensor& out);
void fusion_backward(const Tensor& a, const Tensor& b, const Tensor& dout, Tensor* da, Tensor* db);
void kl_sparsity_forward(const ops::KlSparsityParams& p, const Tensor& logits, const Tensor& residual,
                         const Tensor& labels, Tensor& loss, Tensor& stats);
void kl_sparsity_backward(const ops::KlSparsityParams& p, const Tensor& logits, const Tensor& residual,
                          const Tensor& labels, const Tensor& stats, const Tensor& dloss, Tensor& dlogits);
void adam_step(const ops::AdamParams& p, Tensor& param, const Tensor& grad, Tensor& m, Tensor& v);
void axpy(float alpha, const Tensor& x, Tensor& y);
void fill(Tensor& t, float value);

// ---- run-time controls ---------------------------------------------------------------------

// True when a GPU answers. The first success selects device 0, creates the stream and
// registers the CUDA DeviceApi (tensor/device.h); the answer is computed once per
// process. Any CUDA error (no driver, "driver version is insufficient", no device)
// means false: never throws, never prints.
bool probe_and_register();

// Waits for all queued work on the backend's stream; throws sad::Error on a CUDA error
// (a failed kernel reports here at the latest).
void synchronize();

// Fast math: TF32 tensor cores in cuBLAS and cuDNN, and cuDNN algorithms that are not
// deterministic. Off by default (fp32 FMA math, deterministic algorithms); the initial
// value comes from SPARSEAD_FAST_MATH=1. Takes effect at the next op call.
void set_fast_math(bool on);
bool fast_math();

// The caching device allocator (kernels/cuda/allocator.cpp). Byte counts are those of
// the rounded size classes, i.e. what the device actually holds for us.
struct AllocatorStats {
  size_t bytes_in_use = 0;        // handed out and not yet returned
  size_t peak_bytes = 0;          // max of bytes_in_use since start or reset_peak_stats()
  size_t cached_bytes = 0;        // returned blocks kept for reuse
  size_t num_allocs = 0;          // allocate() calls
  size_t num_cache_hits = 0;      // allocate() calls served from the cache
  size_t num_device_mallocs = 0;  // cudaMalloc calls that succeeded
  size_t num_releases = 0;        // times the cache was emptied (on demand or on OOM retry)
};
AllocatorStats allocator_stats();
void reset_peak_stats();
// Returns every cached (unused) block to the driver; blocks in use are untouched.
void release_cached_memory();

// out = scale * sum of all elements of x, through deterministic_sum (cuda_common.cuh):
// the building block of whole-tensor reductions and losses, exposed so that the parity
// tests can check it (accuracy and bitwise repeatability) apart from any op.
void sum_all(const Tensor& x, Tensor& out /*(1)*/, double scale);

}  // namespace sad::cuda
