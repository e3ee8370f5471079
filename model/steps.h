// One optimisation step of each training phase, exactly as the trainer runs it, callable
// on its own: the trainer's epoch loops call these, and so do the benchmarks (and any test
// that wants a step without a dataset, a loader or a run directory).
// Tensors live on the networks' device; nothing here reads files or prints.
#pragma once

#include "layers/optim.h"
#include "model/losses.h"
#include "model/networks.h"

namespace sad {

// Phase 1 (METHOD.md, "GAN losses"): x^ = G(x~); one Adam step of D on
// L_D = BCE(D(x), 1) + BCE(D(x^.detach()), 0), then one of G on L_G. Puts G and D in
// training mode. The losses are read back to the host (for logging and the finiteness
// check the caller makes).
struct GanStepLosses {
  double loss_d = 0, loss_g = 0;
  double mse = 0, ssim = 0, adv = 0;  // L_G's parts, unweighted
};
GanStepLosses gan_step(Generator& g, Discriminator& d, Adam& opt_g, Adam& opt_d,
                       const Tensor& x,        // (B, C, S, S) normal images
                       const Tensor& x_tilde,  // (B, C, S, S) their perturbed versions (G's input)
                       const GanLossWeights& w);

// Phase 2: one Adam step of S with G frozen (eval mode, no gradient): x^ = G(x~),
// logits = S(x~, x^), then the sparsity-prior loss on the batch-normalised residual
// evidence, or the focal loss on the synthetic masks (mask_supervised). Puts G in eval and
// S in training mode. Returns L_S.
struct SegStepOptions {
  bool mask_supervised = false;
  ResidualKind residual_kind = ResidualKind::Mix;
  ops::KlSparsityParams kl;
  ops::FocalParams focal;
};
double seg_step(Generator& g, Segmenter& s, Adam& opt_s,
                const Tensor& x_tilde,  // (B, C, S, S)
                const Tensor& labels,   // (B) weak labels in {0, 1} (sparse-kl)
                const Tensor& masks,    // (B, 1, S, S) synthetic masks (mask-supervised only; else may be undefined)
                const SegStepOptions& o);

}  // namespace sad
