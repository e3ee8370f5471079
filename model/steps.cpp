// The two training steps (model/steps.h).
#include "model/steps.h"

namespace sad {

GanStepLosses gan_step(Generator& g, Discriminator& d, Adam& opt_g, Adam& opt_d, const Tensor& x,
                       const Tensor& x_tilde, const GanLossWeights& w) {
  SAD_CHECK(x.shape() == x_tilde.shape() && x.ndim() == 4, "gan_step: x ", shape_str(x.shape()), " and x~ ",
            shape_str(x_tilde.shape()), " must be equal (B, C, S, S)");
  g.train();
  d.train();
  Variable xv(x);
  Variable xr = g.forward(Variable(x_tilde));
  GanStepLosses out;
  // D: real images against detached reconstructions.
  opt_d.zero_grad();
  Variable ld = discriminator_loss(d.forward(xv), d.forward(xr.detach()));
  out.loss_d = ld.data().item();
  ld.backward();
  opt_d.step();
  // G: reconstruction + SSIM + adversarial, through the D just updated.
  opt_g.zero_grad();
  GeneratorLoss lg = generator_loss(xr, xv, d.forward(xr), w);
  out.loss_g = lg.total.data().item();
  out.mse = lg.mse, out.ssim = lg.ssim, out.adv = lg.adv;
  lg.total.backward();
  opt_g.step();
  return out;
}

double seg_step(Generator& g, Segmenter& s, Adam& opt_s, const Tensor& x_tilde, const Tensor& labels,
                const Tensor& masks, const SegStepOptions& o) {
  SAD_CHECK(x_tilde.ndim() == 4, "seg_step: x~ ", shape_str(x_tilde.shape()), " must be (B, C, S, S)");
  g.eval();  // METHOD.md: G stays in eval mode (running BN statistics) in phase 2
  s.train();
  Tensor xr, r;
  {
    NoGradGuard ng;  // G is frozen: no gradient into G in phase 2
    xr = g.forward(Variable(x_tilde)).data();
    if (!o.mask_supervised) r = residual_evidence(x_tilde, xr, o.residual_kind, true);
  }
  opt_s.zero_grad();
  Variable logits = s.forward(Variable(x_tilde), Variable(xr));
  Variable loss = o.mask_supervised ? focal_loss(logits, masks, o.focal) : kl_sparsity(logits, r, labels, o.kl);
  const double value = loss.data().item();
  loss.backward();
  opt_s.step();
  return value;
}

}  // namespace sad
