"""One training step of each phase, in the order model/train_step.cpp runs it.

Phase 1 (G and D, METHOD.md "GAN losses"):
  x^ = G(x~) once (G in training mode: one BN statistics update);
  D: zero its gradients, L_D = BCE(D(x), 1) + BCE(D(x^.detach()), 0), backward, Adam;
  G: zero its gradients, L_G(x^, x, D(x^)) with the D just updated, backward, Adam.
  L_G's backward also reaches D's parameters (D(x^) is not detached); those gradients
  are discarded by the next step's zero_grad, as in any DCGAN loop.
Phase 2 (S, METHOD.md "The sparsity-prior loss"):
  G in eval mode and frozen: x^ = G(x~) and r = residual_evidence(x~, x^) without
  gradient; S in training mode: logits = S(x~, x^); L_S = kl_sparsity(logits, r, y)
  (or focal_loss(logits, m) in the mask-supervised ablation); backward; Adam.
"""

import torch

from . import losses


def make_adam(module, lr, betas, eps=1e-8):
    return torch.optim.Adam(module.parameters(), lr=lr, betas=betas, eps=eps)


def gan_step(g, d, opt_g, opt_d, x, x_tilde, l_mse=1.0, l_ssim=1.0, l_adv=0.05, after_d_update=None):
    """Returns {loss_d, loss_g, mse, ssim, adv, x_hat}. after_d_update() runs after D's
    Adam step and before G's loss, while D's gradients are those of L_D alone."""
    g.train()
    d.train()
    x_hat = g(x_tilde)
    opt_d.zero_grad()
    loss_d = losses.discriminator_loss(d(x), d(x_hat.detach()))
    loss_d.backward()
    opt_d.step()
    if after_d_update is not None:
        after_d_update()
    opt_g.zero_grad()
    loss_g, mse, s, adv = losses.generator_loss(x_hat, x, d(x_hat), l_mse, l_ssim, l_adv)
    loss_g.backward()
    opt_g.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "mse": mse.item(), "ssim": s.item(),
            "adv": adv.item(), "x_hat": x_hat.detach()}


def seg_step(g, s, opt_s, x_tilde, mask, labels, mode="sparse-kl", residual_kind="mix", rho=0.03, beta_kl=1.0,
             lambda_fit=1.0, weak_labels=True, focal_gamma=2.0):
    """Returns {loss, x_hat, residual, logits}."""
    g.eval()
    s.train()
    with torch.no_grad():
        x_hat = g(x_tilde)
        r = losses.residual_evidence(x_tilde, x_hat, residual_kind, normalise=True)
    opt_s.zero_grad()
    logits = s(x_tilde, x_hat)
    if mode == "mask-supervised":
        loss = losses.focal_loss(logits, mask, focal_gamma)
    else:
        loss = losses.kl_sparsity(logits, r, labels, rho, beta_kl, lambda_fit, weak_labels)
    loss.backward()
    opt_s.step()
    return {"loss": loss.item(), "x_hat": x_hat, "residual": r, "logits": logits.detach()}
