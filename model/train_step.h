// One training step of each phase on an explicit batch: the code the trainer runs for
// every batch, callable on its own so that tests/test_golden.cpp can check it against the
// PyTorch twin (tools/torch_ref/steps.py) without the data pipeline or any RNG.
//
// Phase 1 (METHOD.md, "GAN losses"): x^ = G(x~) once (G in training mode, one BN
// statistics update); D: zero_grad, L_D = BCE(D(x), 1) + BCE(D(x^.detach()), 0),
// backward, Adam; G: zero_grad, L_G(x^, x, D(x^)) with the D just updated, backward,
// Adam. L_G's backward also reaches D's gradients (D(x^) is not detached); the next
// step's zero_grad discards them, as in any DCGAN loop.
// Phase 2 ("The sparsity-prior loss"): G in eval mode and frozen, x^ and the residual
// evidence r without gradient; S in training mode; L_S (or the focal loss of the
// mask-supervised ablation), backward, Adam.
// Gradients stay in the optimisers' arenas after a step (Adam reads, never clears them).
#pragma once

#include <functional>

#include "layers/optim.h"
#include "model/config.h"
#include "model/losses.h"
#include "model/networks.h"

namespace sad {

// Where a step is, for the message when a loss is not finite.
struct StepPlace {
  int64_t epoch = 0, step = 0;
};

// How a step meets a non-finite loss.
// - No guard (nullptr: tests, tools): each loss is read by the host before its backward,
//   and a non-finite one throws, naming the loss and the step; the result's doubles hold
//   the losses.
// - A guard (the trainer): `flag`, one element on the networks' device, given to the step's
//   optimisers beforehand (Adam::set_skip_flag). Each loss raises it on the device when it is
//   not finite (ops::flag_nonfinite) before its backward, so from that loss on no Adam step
//   changes a weight, and the host reads nothing: the losses stay on the device in the
//   result's `losses`, for the host to read when it logs. The doubles stay 0.
struct StepGuard {
  Tensor flag;
};

struct GanStepResult {
  double loss_d = 0, loss_g = 0;      // L_D, L_G (without a guard)
  double mse = 0, ssim = 0, adv = 0;  // L_G's parts (without a guard)
  Tensor losses;                      // (5) on the device: L_D, L_G, mse, ssim, adv
  Tensor x_hat;                       // (B, C, S, S) G(x~), detached
};

// x, x_tilde: (B, C, S, S) on the networks' device. after_d_update (for inspection, e.g.
// by tests) runs after D's Adam step and before G's loss, while D's arena holds the
// gradients of L_D alone.
GanStepResult gan_step(Generator& g, Discriminator& d, Adam& opt_g, Adam& opt_d, const Tensor& x, const Tensor& x_tilde,
                       const GanLossWeights& w, StepPlace where = {}, const std::function<void()>& after_d_update = {},
                       const StepGuard* guard = nullptr);

// S's loss settings of a Config (mode, residual kind, kl_sparsity and focal parameters).
struct SegLossSettings {
  bool mask_supervised = false;
  ResidualKind residual = ResidualKind::Mix;
  ops::KlSparsityParams kl;
  ops::FocalParams focal;
  double label_contrast = 0;  // > 0: weak labels against G's error (contrast_labels)
  // fit_excess: (1, 1, S, S) on the device, fit_excess times G's mean residual per pixel,
  // subtracted from r in the fit term (clipped at 0); undefined: r as it is (METHOD.md).
  Tensor residual_floor;
  bool needs_mask() const { return mask_supervised || label_contrast > 0; }
};
SegLossSettings seg_loss_settings(const Config& cfg);
GanLossWeights gan_loss_weights(const Config& cfg);

// Each network's Adam settings (METHOD.md: G and D lr 2e-4, betas (0.5, 0.999); S lr 1e-3,
// betas (0.9, 0.999); eps 1e-8).
AdamConfig adam_config_g(const Config& cfg);
AdamConfig adam_config_d(const Config& cfg);
AdamConfig adam_config_s(const Config& cfg);

struct SegStepResult {
  double loss = 0;                  // L_S (without a guard)
  Tensor losses;                    // (1) on the device: L_S
  Tensor x_hat;                     // (B, C, S, S) G(x~) in eval mode
  Tensor residual;                  // (B, 1, S, S) r, batch-normalised
  Tensor logits;                    // (B, 1, S, S) S(x~, x^), detached
  int64_t perturbed = 0, kept = 0;  // label_contrast: label-1 images, and those it kept at 1
};

// x_tilde (B, C, S, S); mask (B, 1, S, S), read only by the mask-supervised ablation and by
// label_contrast (which turns it into one bit per image); labels (B) weak labels, read only
// by sparse-kl.
SegStepResult seg_step(Generator& g, Segmenter& s, Adam& opt_s, const SegLossSettings& st, const Tensor& x_tilde,
                       const Tensor& mask, const Tensor& labels, StepPlace where = {},
                       const StepGuard* guard = nullptr);

}  // namespace sad
