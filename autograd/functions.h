// One differentiable function per op: each runs the op's forward through kernels/ops.h
// and, when a gradient is needed (an input requires one and grad mode is on), records a
// Node whose backward calls the op's backward entry point. Implementations live in
// autograd/fn_<group>.cpp.
#pragma once

#include <vector>

#include "autograd/variable.h"
#include "kernels/ops.h"

namespace sad {

// ---- convolution, matrix products, normalisation ----------------------------------------
Variable conv2d(const Variable& x,       // (N, Ci, H, W)
                const Variable& weight,  // (Co, Ci, KH, KW)
                const Variable& bias,    // (Co), or undefined for none
                const ops::Conv2dParams& p);
Variable matmul(const Variable& a, const Variable& b);  // (M, K) @ (K, N) -> (M, N)
// y = x W^T + b, x (N, K), W (M, K), b (M) or undefined.
Variable linear(const Variable& x, const Variable& weight, const Variable& bias);
// Batch norm over (N, H, W) per channel; running statistics are updated in place in
// training mode and used in eval mode.
Variable batch_norm2d(const Variable& x, const Variable& gamma, const Variable& beta, Tensor& running_mean,
                      Tensor& running_var, const ops::BatchNormParams& p);

// ---- element-wise -------------------------------------------------------------------------
Variable relu(const Variable& x);
Variable leaky_relu(const Variable& x, float slope);
Variable sigmoid(const Variable& x);
Variable tanh(const Variable& x);
Variable abs(const Variable& x);
Variable softplus(const Variable& x);
Variable affine(const Variable& x, float scale, float shift);  // scale * x + shift
Variable add(const Variable& a, const Variable& b);            // broadcasting
Variable sub(const Variable& a, const Variable& b);
Variable mul(const Variable& a, const Variable& b);

// ---- shape ---------------------------------------------------------------------------------
Variable concat(const std::vector<Variable>& xs, int axis);
std::vector<Variable> split(const Variable& x, const std::vector<int64_t>& sizes, int axis);
Variable upsample_nearest(const Variable& x, int scale);                    // (N,C,H,W) -> (N,C,sH,sW)
Variable resize_bilinear(const Variable& x, int64_t out_h, int64_t out_w);  // align_corners = false
Variable avg_pool2d(const Variable& x, const ops::AvgPoolParams& p);

// ---- reductions ------------------------------------------------------------------------------
Variable sum(const Variable& x);                  // -> (1)
Variable mean(const Variable& x);                 // -> (1)
Variable mean_axis(const Variable& x, int axis);  // keeps the axis with size 1

// ---- losses (mean reduction, output shape (1)) ----------------------------------------------
Variable mse_loss(const Variable& a, const Variable& b);
Variable l1_loss(const Variable& a, const Variable& b);
Variable bce_with_logits(const Variable& logits, const Tensor& target);
Variable ssim_map(const Variable& x, const Variable& y, const ops::SsimParams& p);  // (N,C,Ho,Wo)
Variable ssim(const Variable& x, const Variable& y, const ops::SsimParams& p);      // mean of the map
Variable focal_loss(const Variable& logits, const Tensor& target, const ops::FocalParams& p);

// ---- the method's own ops --------------------------------------------------------------------
Variable fusion(const Variable& a, const Variable& b);  // [a, b, |a - b|] along channels
// The sparsity-prior loss of METHOD.md on segmentation logits (B, 1, H, W); the
// residual and labels carry no gradient. If stats is non-null it receives the
// per-image diagnostics (B, 4) = [rho^, KL, fit, neg].
Variable kl_sparsity(const Variable& logits, const Tensor& residual, const Tensor& labels,
                     const ops::KlSparsityParams& p, Tensor* stats = nullptr);

}  // namespace sad
