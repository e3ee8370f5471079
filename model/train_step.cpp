// The phase-1 and phase-2 training steps (see train_step.h).
#include "model/train_step.h"

#include <cmath>

namespace sad {

namespace {

// Before a loss's backward, so a diverged loss never reaches the weights: with a guard the
// device raises its flag (the optimisers then skip), without one the host reads and throws.
// Returns the value read (0 with a guard).
double check_loss(const Variable& loss, const char* what, StepPlace where, const StepGuard* guard) {
  if (guard) {
    Tensor flag = guard->flag;
    ops::flag_nonfinite(loss.data(), flag);
    return 0;
  }
  const double v = loss.data().item();
  SAD_CHECK(std::isfinite(v), "training diverged: ", what, " is ", v, " at epoch ", where.epoch, ", step ", where.step,
            " (try a lower learning rate)");
  return v;
}

// One-element tensors on one device into a (n) tensor there: device-side copies only.
Tensor gather_scalars(std::initializer_list<Tensor> scalars) {
  const Tensor& first = *scalars.begin();
  Tensor out = Tensor::empty({static_cast<int64_t>(scalars.size())}, first.dtype(), first.device());
  int64_t k = 0;
  for (const Tensor& t : scalars) {
    out.slice0(k, k + 1).copy_from(t.reshape({1}));
    ++k;
  }
  return out;
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
                       const std::function<void()>& after_d_update, const StepGuard* guard) {
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
  res.loss_d = check_loss(ld, "L_D", where, guard);
  ld.backward();
  opt_d.step();
  if (after_d_update) after_d_update();
  // G: reconstruction + SSIM + adversarial, against the updated D.
  opt_g.zero_grad();
  GeneratorLoss lg = generator_loss(xr, x, d.forward(xr), w);
  res.loss_g = check_loss(lg.total, "L_G", where, guard);
  lg.total.backward();
  opt_g.step();
  res.losses = gather_scalars({ld.data(), lg.total.data(), lg.mse, lg.ssim, lg.adv});
  if (!guard) res.mse = lg.mse.item(), res.ssim = lg.ssim.item(), res.adv = lg.adv.item();
  res.x_hat = xr.data();
  return res;
}

SegStepResult seg_step(Generator& g, Segmenter& s, Adam& opt_s, const SegLossSettings& st, const Tensor& x_tilde,
                       const Tensor& mask, const Tensor& labels, StepPlace where, const StepGuard* guard) {
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
  const Tensor fit_r = st.residual_floor.defined() ? residual_excess(res.residual, st.residual_floor) : res.residual;
  opt_s.zero_grad();
  Variable logits = s.forward(Variable(x_tilde), Variable(res.x_hat));
  Variable loss = st.mask_supervised ? focal_loss(logits, mask, st.focal) : kl_sparsity(logits, fit_r, y, st.kl);
  res.loss = check_loss(loss, "L_S", where, guard);
  loss.backward();
  opt_s.step();
  res.losses = gather_scalars({loss.data()});
  res.logits = logits.data();
  return res;
}

}  // namespace sad
