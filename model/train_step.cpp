// The phase-1 and phase-2 training steps (see train_step.h).
#include "model/train_step.h"

#include <cmath>

namespace sad {

namespace {

// Checked before backward, so a diverged loss never reaches the weights.
void check_finite(double v, const char* what, StepPlace where) {
  SAD_CHECK(std::isfinite(v), "training diverged: ", what, " is ", v, " at epoch ", where.epoch, ", step ", where.step,
            " (try a lower learning rate)");
}

}  // namespace

GanLossWeights gan_loss_weights(const Config& cfg) {
  return {static_cast<float>(cfg.l_mse), static_cast<float>(cfg.l_ssim), static_cast<float>(cfg.l_adv)};
}

namespace {
AdamConfig adam_config(double lr, double b1, double b2, double eps) { return {lr, b1, b2, eps, 0.0}; }
}  // namespace

AdamConfig adam_config_g(const Config& c) { return adam_config(c.lr_g, c.gan_beta1, c.gan_beta2, c.adam_eps); }
AdamConfig adam_config_d(const Config& c) { return adam_config(c.lr_d, c.gan_beta1, c.gan_beta2, c.adam_eps); }
AdamConfig adam_config_s(const Config& c) { return adam_config(c.lr_s, c.seg_beta1, c.seg_beta2, c.adam_eps); }

SegLossSettings seg_loss_settings(const Config& cfg) {
  SegLossSettings st;
  st.mask_supervised = cfg.mode == Mode::MaskSupervised;
  st.residual = cfg.residual_kind;
  st.kl = {static_cast<float>(cfg.rho), static_cast<float>(cfg.beta_kl), static_cast<float>(cfg.lambda_fit),
           cfg.weak_labels};
  st.focal = {static_cast<float>(cfg.focal_gamma), -1.0f};  // no class weighting
  st.label_contrast = cfg.label_contrast;
  return st;
}

GanStepResult gan_step(Generator& g, Discriminator& d, Adam& opt_g, Adam& opt_d, const Tensor& x_t,
                       const Tensor& x_tilde, const GanLossWeights& w, StepPlace where,
                       const std::function<void()>& after_d_update) {
  g.train();
  d.train();
  Variable x(x_t);
  Variable xr = g.forward(Variable(x_tilde));
  GanStepResult res;
  // D: real images against detached reconstructions. The two forwards are separate
  // statements: as arguments of one call their order (and so the order of D's BN
  // running-statistics updates) would be the compiler's choice (GCC: right to left).
  opt_d.zero_grad();
  Variable d_real = d.forward(x);
  Variable d_fake = d.forward(xr.detach());
  Variable ld = discriminator_loss(d_real, d_fake);
  res.loss_d = ld.data().item();
  check_finite(res.loss_d, "L_D", where);
  ld.backward();
  opt_d.step();
  if (after_d_update) after_d_update();
  // G: reconstruction + SSIM + adversarial, against the updated D.
  opt_g.zero_grad();
  GeneratorLoss lg = generator_loss(xr, x, d.forward(xr), w);
  res.loss_g = lg.total.data().item();
  check_finite(res.loss_g, "L_G", where);
  lg.total.backward();
  opt_g.step();
  res.mse = lg.mse, res.ssim = lg.ssim, res.adv = lg.adv;
  res.x_hat = xr.data();
  return res;
}

SegStepResult seg_step(Generator& g, Segmenter& s, Adam& opt_s, const SegLossSettings& st, const Tensor& x_tilde,
                       const Tensor& mask, const Tensor& labels, StepPlace where) {
  g.eval();  // METHOD.md: G stays in eval mode (running BN statistics) in phase 2
  s.train();
  SegStepResult res;
  {
    NoGradGuard ng;  // G is frozen: no gradient into G in phase 2
    res.x_hat = g.forward(Variable(x_tilde)).data();
    res.residual = residual_evidence(x_tilde, res.x_hat, st.residual, true);
  }
  Tensor y = labels;
  if (!st.mask_supervised && st.label_contrast > 0) {
    ContrastLabels c = contrast_labels(res.residual, mask, labels, st.label_contrast);
    y = c.labels;
    res.perturbed = c.perturbed, res.kept = c.kept;
  }
  opt_s.zero_grad();
  Variable logits = s.forward(Variable(x_tilde), Variable(res.x_hat));
  Variable loss = st.mask_supervised ? focal_loss(logits, mask, st.focal) : kl_sparsity(logits, res.residual, y, st.kl);
  res.loss = loss.data().item();
  check_finite(res.loss, "L_S", where);
  loss.backward();
  opt_s.step();
  res.logits = logits.data();
  return res;
}

}  // namespace sad
