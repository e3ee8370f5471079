// The losses of METHOD.md built from the op set: the GAN losses of phase 1, the residual
// evidence r that the sparsity-prior loss weighs (no gradient), and S's losses of
// phase 2 per mode.
#pragma once

#include <string>

#include "autograd/functions.h"

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
struct GeneratorLoss {
  Variable total;
  double mse = 0, ssim = 0, adv = 0;
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
enum class ResidualKind { L1, Ssim, Mix };
ResidualKind parse_residual_kind(const std::string& s);
const char* residual_kind_name(ResidualKind k);
Tensor residual_evidence(const Tensor& x_tilde, const Tensor& x_hat, ResidualKind kind, bool normalise);

}  // namespace sad
