#!/usr/bin/env python3
"""Golden fixtures for tests/test_golden.cpp, computed by the PyTorch twin (torch_ref).

Regenerate (from the repository root; deterministic, CPU only, about a minute):
    tools/setup-python.sh && .venv/bin/python tools/torch_ref/make_golden.py

Writes tests/data/golden/*.safetensors, each with __metadata__ {fixture_version,
regenerate, torch_version, settings (JSON)}:
  layers.safetensors      every layer type and loss on small awkward shapes, float64:
                          `<case>.<tensor>` holds the inputs, the upstream gradient
                          (`dout`, where the output is not a scalar loss), the output and
                          the gradient of each input (`d<input>`)
  weights.safetensors     G.*, D.*, S.* in sparsead's names (S=32, C=3, w=4), float32
  phase1.safetensors      one phase-1 step (G and D) on explicit x, x~ (batch 2): x^, the
                          losses, every gradient (grad.D.* after D's backward, grad.G.*),
                          the weights after each Adam step (stepped.D.*, stepped.G.*),
                          the BN running statistics after the step (after.G.*, after.D.*),
                          and a 5-step loss trajectory (traj.loss_d, traj.loss_g; the
                          same run in float32 as traj32.*, the reference's own spread)
  phase2_<variant>.safetensors  one phase-2 step of S for sparse_kl (weak labels),
                          batch_prior (weak_labels = false) and mask_supervised (focal):
                          x^, r, logits, loss, grad.S.*, stepped.S.* (the weights after
                          the step), after.S.*, traj.loss, traj32.loss
  inference.safetensors   G and S in eval mode: the maps M and the image scores

How the numbers are made: every input and weight is drawn (numpy's seeded PCG64) and
rounded to float32, so the C++ (float32, or float64 for the layer cases) starts from
exactly the same values; the reference then runs in float64, so the expected values
carry no float32 error of their own. Network-level expected tensors are stored as float32
(their rounding, 6e-8 relative, is far below every tolerance), losses as float64.
Inputs are explicit (the perturbed image, the mask, the weak labels), so no random number
generator has to agree between Python and C++.

Weights are not DCGAN's N(0, 0.02): the fixtures use N(0, 1/fan_in) convolutions, BN
scales and shifts away from 1 and 0, and running statistics away from 0 and 1, so that
activations are O(1) and every term of every gradient (BN's included) is exercised.
"""

import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from torch_ref import losses, nets, state, steps  # noqa: E402

FIXTURE_VERSION = 1  # bump when a file's contents or meaning change; tests/golden_util.h checks it
REGENERATE = "tools/setup-python.sh && .venv/bin/python tools/torch_ref/make_golden.py"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(REPO, "tests", "data", "golden")

S, C, W, B = 32, 3, 4, 2  # image size, channels, width, batch
SEED = 5
TRAJECTORY_STEPS = 5
F64 = torch.float64

# METHOD.md's defaults (and sparsead's Config defaults; the C++ test checks they agree).
GAN = {"l_mse": 1.0, "l_ssim": 1.0, "l_adv": 0.05, "lr_g": 2e-4, "lr_d": 2e-4, "gan_beta1": 0.5, "gan_beta2": 0.999,
       "adam_eps": 1e-8}
SEG_VARIANTS = {
    "sparse_kl": {"mode": "sparse-kl", "weak_labels": True, "rho": 0.03, "beta_kl": 1.0, "lambda_fit": 1.0},
    "batch_prior": {"mode": "sparse-kl", "weak_labels": False, "rho": 0.02, "beta_kl": 10.0, "lambda_fit": 1.0},
    "mask_supervised": {"mode": "mask-supervised", "weak_labels": True, "rho": 0.03, "beta_kl": 1.0,
                        "lambda_fit": 1.0},
}
SEG_COMMON = {"residual_kind": "mix", "focal_gamma": 2.0, "lr_s": 1e-3, "seg_beta1": 0.9, "seg_beta2": 0.999,
              "adam_eps": 1e-8}


class Draw:
    """Seeded draws, rounded to float32 and returned as float64 tensors."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def _t(self, a):
        return torch.from_numpy(np.asarray(a, dtype=np.float32).astype(np.float64))

    def normal(self, shape, mean=0.0, std=1.0):
        return self._t(self.rng.normal(mean, std, shape))

    def uniform(self, shape, lo=-1.0, hi=1.0):
        return self._t(self.rng.uniform(lo, hi, shape))

    def away_from_zero(self, shape, margin=0.05):
        """Uniform in [-1, -margin] U [margin, 1]: no point on a ReLU or |x| kink."""
        u = self.rng.uniform(margin, 1.0, shape) * self.rng.choice([-1.0, 1.0], shape)
        return self._t(u)


def metadata(settings):
    return {"fixture_version": str(FIXTURE_VERSION), "regenerate": REGENERATE, "torch_version": torch.__version__,
            "settings": json.dumps(settings, sort_keys=True)}


# ---- weights and inputs ----------------------------------------------------------------

@torch.no_grad()
def init_weights(module, draw, rho=None):
    for _, m in module.named_modules():
        if isinstance(m, torch.nn.Conv2d):
            fan_in = m.weight[0].numel()
            m.weight.copy_(draw.normal(m.weight.shape, std=fan_in ** -0.5))
            if m.bias is not None:
                m.bias.copy_(draw.uniform(m.bias.shape, -0.1, 0.1))
        elif isinstance(m, torch.nn.BatchNorm2d):
            m.weight.copy_(draw.uniform(m.weight.shape, 0.8, 1.2))
            m.bias.copy_(draw.uniform(m.bias.shape, -0.1, 0.1))
            m.running_mean.copy_(draw.uniform(m.running_mean.shape, -0.2, 0.2))
            m.running_var.copy_(draw.uniform(m.running_var.shape, 0.5, 1.5))
    if rho is not None:  # S's head keeps its prior: M starts near rho
        module.head_out.bias.fill_(float(np.float32(losses.rho_logit(rho))))


def smooth_images(draw, b, c, s):
    """Images in [-1, 1]: a few random plane waves plus a little noise, like texture."""
    yy, xx = np.meshgrid(np.arange(s) / s, np.arange(s) / s, indexing="ij")
    out = np.zeros((b, c, s, s))
    for i in range(b):
        for ch in range(c):
            acc = 0.05 * draw.rng.standard_normal((s, s))
            for _ in range(4):
                fx, fy = draw.rng.uniform(0.5, 3.0, 2)
                acc += draw.rng.uniform(0.2, 0.4) * np.sin(2 * np.pi * (fx * xx + fy * yy) + draw.rng.uniform(0, 6.28))
            out[i, ch] = acc
    return draw._t(np.clip(out, -1, 1))


def perturbed_batch(draw, x):
    """Image 0 gets a visible elliptic defect (METHOD.md's blend, the source its own
    negative shifted), image 1 stays clean: weak labels (1, 0), masks (B, 1, S, S)."""
    b, _, s, _ = x.shape
    yy, xx = np.meshgrid(np.arange(s), np.arange(s), indexing="ij")
    cy, cx = draw.rng.uniform(8, s - 8, 2)
    ry, rx = draw.rng.uniform(3, 6, 2)
    m0 = (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0).astype(np.float64)
    mask = torch.zeros(b, 1, s, s, dtype=F64)
    mask[0, 0] = torch.from_numpy(m0)
    source = -torch.roll(x, shifts=(7, 11), dims=(2, 3))
    beta = 0.8
    blended = ((1 - mask) * x + mask * ((1 - beta) * x + beta * source)).clamp(-1, 1)
    x_tilde = draw._t(blended.numpy())
    x_tilde[1] = x[1]
    labels = torch.tensor([1.0, 0.0], dtype=F64)
    return x_tilde, mask, labels


def make_nets(weights, dtype=F64):
    g = nets.Generator(C, W).to(dtype)
    d = nets.Discriminator(C, W).to(dtype)
    s = nets.Segmenter(C, W).to(dtype)
    state.load_module(g, weights, "G.")
    state.load_module(d, weights, "D.")
    state.load_module(s, weights, "S.")
    return g, d, s


def running_stats(module, prefix):
    return {f"after.{n}": t.detach().clone() for n, t in state.named_state(module, prefix).items()
            if n.endswith("running_mean") or n.endswith("running_var")}


def grads(module, prefix):
    return {f"grad.{prefix}{n}": p.grad.detach().clone() for n, p in module.named_parameters()}


def params(module, prefix):
    """The parameters after an Adam step."""
    return {f"stepped.{prefix}{n}": p.detach().clone() for n, p in module.named_parameters()}


def as_f32(tensors):
    return {k: v.to(torch.float32) for k, v in tensors.items()}


def scalar(v):
    return torch.tensor([v], dtype=F64)


# ---- the layer cases ---------------------------------------------------------------------

class Layers:
    """Collects `<case>.<tensor>` entries; `grad_case` runs fn on leaf inputs, seeds the
    backward with `dout` (or 1 for a scalar loss) and records every input's gradient."""

    def __init__(self, draw):
        self.draw = draw
        self.t = {}

    def put(self, case, name, value):
        self.t[f"{case}.{name}"] = value.detach().clone().to(F64)

    def grad_case(self, case, fn, inputs, scalar_loss=False):
        leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
        out = fn(**leaves)
        if scalar_loss:
            out = out.reshape(1)
            out.backward(torch.ones_like(out))
        else:
            dout = self.draw.normal(out.shape)
            out.backward(dout)
            self.put(case, "dout", dout)
        for k, v in inputs.items():
            self.put(case, k, v)
            self.put(case, "d" + k, leaves[k].grad)
        self.put(case, "out", out)
        return out


def layer_cases(draw):
    L = Layers(draw)
    d = draw
    # Convolutions of the three networks: 3x3 s1/s2 pad 1, 4x4 s2/s1 pad 1, 1x1 s2; odd sizes.
    conv_cases = [
        ("conv3x3_s1_bias", (2, 3, 7, 6), (4, 3, 3, 3), 1, 1, True),
        ("conv3x3_s2", (2, 3, 7, 6), (5, 3, 3, 3), 2, 1, False),
        ("conv4x4_s2_bias", (2, 2, 9, 8), (3, 2, 4, 4), 2, 1, True),
        ("conv4x4_s1_bias", (1, 3, 5, 6), (2, 3, 4, 4), 1, 1, True),
        ("conv1x1_s2", (2, 4, 5, 5), (3, 4, 1, 1), 2, 0, False),
    ]
    for name, xs, ws, stride, pad, bias in conv_cases:
        inputs = {"x": d.normal(xs), "weight": d.normal(ws, std=0.3)}
        if bias:
            inputs["bias"] = d.normal((ws[0],), std=0.3)
            L.grad_case(name, lambda x, weight, bias: F.conv2d(x, weight, bias, stride, pad), inputs)
        else:
            L.grad_case(name, lambda x, weight: F.conv2d(x, weight, None, stride, pad), inputs)

    # Batch norm, training (batch statistics, running statistics updated) and eval.
    for mode in ("train", "eval"):
        case = f"batch_norm_{mode}"
        rm, rv = d.uniform((3,), -0.3, 0.3), d.uniform((3,), 0.5, 1.5)
        L.put(case, "running_mean", rm)
        L.put(case, "running_var", rv)
        rm_run, rv_run = rm.clone(), rv.clone()
        inputs = {"x": d.normal((2, 3, 5, 4), mean=0.3, std=1.5), "gamma": d.uniform((3,), 0.5, 1.5),
                  "beta": d.uniform((3,), -0.5, 0.5)}
        L.grad_case(case, lambda x, gamma, beta: F.batch_norm(x, rm_run, rv_run, gamma, beta, mode == "train",
                                                              nets.BN_MOMENTUM, nets.BN_EPS), inputs)
        L.put(case, "running_mean_after", rm_run)
        L.put(case, "running_var_after", rv_run)

    # Activations and upsampling (inputs off the kinks at 0).
    L.grad_case("relu", lambda x: F.relu(x), {"x": d.away_from_zero((2, 3, 4, 5))})
    L.grad_case("leaky_relu", lambda x: F.leaky_relu(x, nets.LEAKY_SLOPE), {"x": d.away_from_zero((2, 3, 4, 5))})
    L.grad_case("tanh", lambda x: torch.tanh(x), {"x": d.normal((2, 3, 4, 5), std=1.5)})
    L.grad_case("sigmoid", lambda x: torch.sigmoid(x), {"x": d.normal((2, 3, 4, 5), std=3.0)})
    L.grad_case("upsample_nearest", lambda x: nets.up2(x), {"x": d.normal((2, 3, 3, 5))})

    # Fusion: [a, b, |a - b|], with some exact ties a == b (derivative 0 there), and the
    # whole fusion block ReLU(BN(Conv1x1(fusion))) in training mode.
    a, b = d.normal((2, 3, 4, 5)), d.normal((2, 3, 4, 5))
    b[:, :, 0, :] = a[:, :, 0, :]
    L.grad_case("fusion", lambda a, b: nets.fusion(a, b), {"a": a, "b": b})
    case = "fusion_block"
    rm, rv = d.uniform((3,), -0.3, 0.3), d.uniform((3,), 0.5, 1.5)
    L.put(case, "running_mean", rm)
    L.put(case, "running_var", rv)
    rm_run, rv_run = rm.clone(), rv.clone()
    inputs = {"a": d.normal((2, 3, 4, 4)), "b": d.normal((2, 3, 4, 4)), "weight": d.normal((3, 9, 1, 1), std=0.3),
              "gamma": d.uniform((3,), 0.5, 1.5), "beta": d.uniform((3,), -0.5, 0.5)}
    L.grad_case(case, lambda a, b, weight, gamma, beta: F.relu(F.batch_norm(
        F.conv2d(nets.fusion(a, b), weight), rm_run, rv_run, gamma, beta, True, nets.BN_MOMENTUM, nets.BN_EPS)),
        inputs)
    L.put(case, "running_mean_after", rm_run)
    L.put(case, "running_var_after", rv_run)

    # SSIM: L_G's mean over valid positions, and the same-size and valid maps.
    x, y = d.uniform((2, 3, 16, 13)), d.uniform((2, 3, 16, 13))
    y = (0.6 * x + 0.4 * y).clamp(-1, 1)  # correlated, like a reconstruction
    L.grad_case("ssim_valid_mean", lambda x, y: losses.ssim(x, y), {"x": x, "y": y}, scalar_loss=True)
    x, y = d.uniform((2, 2, 13, 16)), d.uniform((2, 2, 13, 16))
    y = (0.7 * x + 0.3 * y).clamp(-1, 1)
    L.grad_case("ssim_map_same", lambda x, y: losses.ssim_map(x, y, True), {"x": x, "y": y})
    L.grad_case("ssim_map_valid", lambda x, y: losses.ssim_map(x, y, False), {"x": x, "y": y})

    # Scalar losses.
    L.grad_case("mse", lambda a, b: F.mse_loss(a, b), {"a": d.normal((2, 3, 4, 4)), "b": d.normal((2, 3, 4, 4))},
                scalar_loss=True)
    target = torch.tensor([1.0, 0.0, 0.3, 1.0, 0.0, 0.7, 1.0, 0.0, 0.5] * 2, dtype=F64).reshape(2, 1, 3, 3)
    L.put("bce", "target", target)
    L.grad_case("bce", lambda logits: F.binary_cross_entropy_with_logits(logits, target),
                {"logits": d.normal((2, 1, 3, 3), std=3.0)}, scalar_loss=True)
    mask = (d.uniform((2, 1, 6, 6), 0, 1) < 0.2).to(F64)
    L.put("focal", "target", mask)
    L.grad_case("focal", lambda logits: losses.focal_loss(logits, mask, 2.0),
                {"logits": d.normal((2, 1, 6, 6), mean=-1.0, std=3.0)}, scalar_loss=True)
    gx, gxh = d.uniform((2, 3, 16, 16)), d.uniform((2, 3, 16, 16))
    gxh = (0.5 * gx + 0.5 * gxh).clamp(-1, 1)
    d_fake = d.normal((2, 1, 2, 2))
    L.put("generator_loss", "x", gx)
    L.grad_case("generator_loss", lambda x_hat, d_fake: losses.generator_loss(x_hat, gx, d_fake)[0],
                {"x_hat": gxh, "d_fake": d_fake}, scalar_loss=True)
    _, mse, ssim_v, adv = losses.generator_loss(gxh, gx, d_fake)
    L.put("generator_loss", "mse", scalar(mse.item()))
    L.put("generator_loss", "ssim", scalar(ssim_v.item()))
    L.put("generator_loss", "adv", scalar(adv.item()))
    L.grad_case("discriminator_loss", lambda d_real, d_fake: losses.discriminator_loss(d_real, d_fake),
                {"d_real": d.normal((2, 1, 2, 2)), "d_fake": d.normal((2, 1, 2, 2))}, scalar_loss=True)

    # kl_sparsity: weak labels (1, 0, 1), the batch-level prior, and an image whose
    # rho^ is below the clamp (its KL gradient vanishes).
    logits = d.normal((3, 1, 8, 8), mean=-3.0, std=1.5)
    r = d.uniform((3, 1, 8, 8), 0.0, 2.0)
    labels = torch.tensor([1.0, 0.0, 1.0], dtype=F64)
    for case, kw in (("kl_weak", {"rho": 0.03, "beta_kl": 1.0, "lambda_fit": 1.0, "weak_labels": True}),
                     ("kl_batch_prior", {"rho": 0.02, "beta_kl": 10.0, "lambda_fit": 1.0, "weak_labels": False}),
                     ("kl_weak_lambda", {"rho": 0.05, "beta_kl": 2.0, "lambda_fit": 0.5, "weak_labels": True})):
        L.put(case, "residual", r)
        L.put(case, "labels", labels)
        L.grad_case(case, lambda logits: losses.kl_sparsity(logits, r, labels, **kw), {"logits": logits},
                    scalar_loss=True)
    clamped = logits.clone()
    clamped[0] = -30.0  # rho^_0 = sigmoid(-30) ~ 1e-13 < 1e-6
    L.put("kl_clamped", "residual", r)
    L.put("kl_clamped", "labels", labels)
    L.grad_case("kl_clamped", lambda logits: losses.kl_sparsity(logits, r, labels), {"logits": clamped},
                scalar_loss=True)

    # Residual evidence, all three kinds, raw and batch-normalised.
    xt, xh = d.uniform((2, 3, 16, 16)), d.uniform((2, 3, 16, 16))
    xh = (0.7 * xt + 0.3 * xh).clamp(-1, 1)
    L.put("residual", "x_tilde", xt)
    L.put("residual", "x_hat", xh)
    for kind in ("l1", "ssim", "mix"):
        L.put("residual", kind, losses.residual_evidence(xt, xh, kind, normalise=False))
        L.put("residual", kind + "_normalised", losses.residual_evidence(xt, xh, kind, normalise=True))

    # Image score: box sides 3 (S = 32), 5 (S = 48: 4 made odd), 5 (S = 64).
    for s in (32, 48, 64):
        m = torch.sigmoid(d.normal((s, s), mean=-2.0, std=2.0))
        m = d._t(m.numpy())
        L.put(f"image_score_{s}", "map", m)
        L.put(f"image_score_{s}", "filtered", losses.box_filter(m))
        L.put(f"image_score_{s}", "score", scalar(losses.image_score(m).item()))
        L.put(f"image_score_{s}", "side", scalar(losses.box_side(s)))

    # Adam: three steps of torch.optim.Adam with the GAN settings on explicit gradients.
    p0 = d.normal((37,))
    p = p0.clone().requires_grad_(True)
    opt = torch.optim.Adam([p], lr=GAN["lr_g"], betas=(GAN["gan_beta1"], GAN["gan_beta2"]), eps=GAN["adam_eps"])
    L.put("adam", "param", p0)
    for k in range(3):
        g = d.normal((37,), std=10.0 ** (-k))  # shrinking gradients: v's memory matters
        L.put("adam", f"grad{k}", g)
        p.grad = g.clone()
        opt.step()
        L.put("adam", f"param{k}", p)
    st = opt.state[p]
    L.put("adam", "m", st["exp_avg"])
    L.put("adam", "v", st["exp_avg_sq"])
    return L.t


# ---- the training steps ------------------------------------------------------------------

def phase1(weights, x, x_tilde):
    g, d, _ = make_nets(weights)
    opt_g = steps.make_adam(g, GAN["lr_g"], (GAN["gan_beta1"], GAN["gan_beta2"]), GAN["adam_eps"])
    opt_d = steps.make_adam(d, GAN["lr_d"], (GAN["gan_beta1"], GAN["gan_beta2"]), GAN["adam_eps"])
    out = {"x": x, "x_tilde": x_tilde}
    d_grads = {}

    def after_d_update():
        d_grads.update(grads(d, "D."))
        d_grads.update(params(d, "D."))

    res = steps.gan_step(g, d, opt_g, opt_d, x, x_tilde, GAN["l_mse"], GAN["l_ssim"], GAN["l_adv"],
                         after_d_update=after_d_update)
    out.update(d_grads)
    out.update(grads(g, "G."))
    out.update(params(g, "G."))
    out.update(running_stats(g, "G."))
    out.update(running_stats(d, "D."))
    out["x_hat"] = res["x_hat"]
    out = as_f32(out)
    for k in ("loss_d", "loss_g", "mse", "ssim", "adv"):
        out[k] = scalar(res[k])
    # The trajectory in float64 (the reference) and in float32 (its spread: a few Adam
    # steps in float32 drift from float64 on their own, see docs/GOLDEN.md).
    for dtype, tag in ((F64, "traj"), (torch.float32, "traj32")):
        g, d, _ = make_nets(weights, dtype)
        opt_g = steps.make_adam(g, GAN["lr_g"], (GAN["gan_beta1"], GAN["gan_beta2"]), GAN["adam_eps"])
        opt_d = steps.make_adam(d, GAN["lr_d"], (GAN["gan_beta1"], GAN["gan_beta2"]), GAN["adam_eps"])
        xs, xts = x.to(dtype), x_tilde.to(dtype)
        traj = [steps.gan_step(g, d, opt_g, opt_d, xs, xts, GAN["l_mse"], GAN["l_ssim"], GAN["l_adv"])
                for _ in range(TRAJECTORY_STEPS)]
        out[f"{tag}.loss_d"] = torch.tensor([t["loss_d"] for t in traj], dtype=F64)
        out[f"{tag}.loss_g"] = torch.tensor([t["loss_g"] for t in traj], dtype=F64)
    return out


def phase2(weights, x_tilde, mask, labels, variant):
    kw = {k: variant[k] for k in ("mode", "weak_labels", "rho", "beta_kl", "lambda_fit")}
    kw.update(residual_kind=SEG_COMMON["residual_kind"], focal_gamma=SEG_COMMON["focal_gamma"])

    def fresh(dtype=F64):
        g, _, s = make_nets(weights, dtype)
        opt = steps.make_adam(s, SEG_COMMON["lr_s"], (SEG_COMMON["seg_beta1"], SEG_COMMON["seg_beta2"]),
                              SEG_COMMON["adam_eps"])
        return g, s, opt

    g, s, opt = fresh()
    res = steps.seg_step(g, s, opt, x_tilde, mask, labels, **kw)
    out = {"x_tilde": x_tilde, "mask": mask, "labels": labels, "x_hat": res["x_hat"], "residual": res["residual"],
           "logits": res["logits"]}
    out.update(grads(s, "S."))
    out.update(params(s, "S."))
    out.update(running_stats(s, "S."))
    out.update(running_stats(g, "G."))  # unchanged: G runs in eval mode
    out = as_f32(out)
    out["loss"] = scalar(res["loss"])
    for dtype, tag in ((F64, "traj"), (torch.float32, "traj32")):
        g, s, opt = fresh(dtype)
        inputs = [t.to(dtype) for t in (x_tilde, mask, labels)]
        out[f"{tag}.loss"] = torch.tensor([steps.seg_step(g, s, opt, *inputs, **kw)["loss"]
                                           for _ in range(TRAJECTORY_STEPS)], dtype=F64)
    return out


@torch.no_grad()
def inference(weights, x):
    g, _, s = make_nets(weights)
    g.eval()
    s.eval()
    maps = torch.sigmoid(s(x, g(x)))
    scores = torch.stack([losses.image_score(maps[b, 0]) for b in range(x.shape[0])])
    return {"x": x.to(torch.float32), "maps": maps.to(torch.float32), "scores": scores}


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT, exist_ok=True)
    draw = Draw(SEED)

    layers = layer_cases(draw)
    state.write(os.path.join(OUT, "layers.safetensors"), layers, metadata({"bn_momentum": nets.BN_MOMENTUM,
                                                                          "bn_eps": nets.BN_EPS}))

    g, d, s = nets.Generator(C, W).to(F64), nets.Discriminator(C, W).to(F64), nets.Segmenter(C, W).to(F64)
    init_weights(g, draw)
    init_weights(d, draw)
    init_weights(s, draw, rho=SEG_VARIANTS["sparse_kl"]["rho"])
    weights = {}
    for module, prefix in ((g, "G."), (d, "D."), (s, "S.")):
        weights.update(state.named_state(module, prefix))
    weights = as_f32(weights)
    shape = {"image_size": S, "channels": C, "width": W, "batch": B}
    state.write(os.path.join(OUT, "weights.safetensors"), weights, metadata(shape))

    x = smooth_images(draw, B, C, S)
    x_tilde, mask, labels = perturbed_batch(draw, x)
    state.write(os.path.join(OUT, "phase1.safetensors"), phase1(weights, x, x_tilde), metadata({**shape, **GAN}))
    for name, variant in SEG_VARIANTS.items():
        state.write(os.path.join(OUT, f"phase2_{name}.safetensors"), phase2(weights, x_tilde, mask, labels, variant),
                    metadata({**shape, **SEG_COMMON, **variant}))
    state.write(os.path.join(OUT, "inference.safetensors"), inference(weights, x_tilde), metadata(shape))

    total = 0
    for f in sorted(os.listdir(OUT)):
        n = os.path.getsize(os.path.join(OUT, f))
        total += n
        print(f"{f:36s} {n / 1024:8.1f} KiB")
    print(f"{'total':36s} {total / 1024:8.1f} KiB (fixture version {FIXTURE_VERSION})")


if __name__ == "__main__":
    main()
