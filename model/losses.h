// The losses of METHOD.md built from the op set: the GAN losses of phase 1, the residual
// evidence r that the sparsity-prior loss weighs (no gradient), and S's losses of
// phase 2 per mode.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "autograd/functions.h"
#include "model/config.h"  // ResidualKind

namespace sad {

struct GanLossWeights {
  float l_mse = 1.0f;
  float l_ssim = 1.0f;
  float l_adv = 0.05f;
};

// SSIM settings of METHOD.md: Gaussian 11, sigma 1.5, L = 2. The loss uses valid
// positions (no padding artefacts at the borders); the residual map is same-size.
ops::SsimParams ssim_loss_params();
ops::SsimParams ssim_map_params();

// L_G = l_mse MSE(x^, x) + l_ssim (1 - SSIM(x^, x)) + l_adv BCEwithLogits(D(x^), 1).
// d_fake_logits = D(x^) with x^ attached to G's graph. Parts are returned for logging.
// L_G and its parts, all one-element tensors on the networks' device (nothing is read by
// the host here): mse, ssim (the SSIM itself, not 1 - SSIM) and adv are detached values.
struct GeneratorLoss {
  Variable total;
  Tensor mse, ssim, adv;
};
GeneratorLoss generator_loss(const Variable& x_hat, const Variable& x, const Variable& d_fake_logits,
                             const GanLossWeights& w);

// L_D = BCEwithLogits(D(x), 1) + BCEwithLogits(D(x^.detach()), 0).
Variable discriminator_loss(const Variable& d_real_logits, const Variable& d_fake_logits);

// Residual evidence (B, 1, S, S), no gradient:
//   l1:   mean_c |x~ - x^|
//   ssim: mean_c (1 - SSIMmap(x~, x^)) / 2
//   mix:  0.5 l1 + 0.5 ssim (METHOD.md's default)
// normalise = true divides by its batch mean + 1e-6 (the training-time form).
Tensor residual_evidence(const Tensor& x_tilde, const Tensor& x_hat, ResidualKind kind, bool normalise);

// The fit term's residual against G's usual error (option fit_excess): max(r - floor, 0), with
// floor (1, 1, S, S) broadcast over the batch. residual (B, 1, S, S); a new tensor.
Tensor residual_excess(const Tensor& residual, const Tensor& floor);

// G's usual error: the per-pixel mean of residual_evidence(x, G(x), kind, normalise = true)
// over batches of unperturbed images, (1, 1, S, S) float32 on the CPU. `batch(i)` returns batch
// i of `count` as (B, C, S, S) on G's device; G runs in eval mode without gradients.
class Generator;
Tensor mean_residual(Generator& g, int64_t count, const std::function<Tensor(int64_t)>& batch, ResidualKind kind);

// The weak label against G's own error (option label_contrast, a deviation from METHOD.md):
// a perturbed image (label 1) keeps y = 1 only when its perturbation stands out in the
// residual, mean of r over the mask >= contrast * mean of r outside it; otherwise y = 0, as
// G reconstructs that perturbation no worse than the rest of the image and S cannot tell it
// from normal texture there. residual (B, 1, S, S), mask (B, 1, S, S) in {0, 1}, labels (B),
// on any device; returns the labels (B) on the labels' device. The mask decides only this
// one bit per image: the loss still never sees a pixel label.
struct ContrastLabels {
  Tensor labels;
  int64_t perturbed = 0, kept = 0;  // images with label 1 before, and those still 1 after
};
ContrastLabels contrast_labels(const Tensor& residual, const Tensor& mask, const Tensor& labels, double contrast);

}  // namespace sad
