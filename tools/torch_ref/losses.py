"""The losses and scores of METHOD.md in plain PyTorch (autograd supplies every gradient).

Written from METHOD.md; where METHOD.md leaves a detail open, the choice sparsead's C++
makes is stated here and in the docstring of the function:
- the SSIM inside L_G averages the map over VALID positions (no padding: a window never
  reaches outside the image), while the SSIM map of the residual evidence is same-size
  with zero padding 5 (METHOD.md says so for the residual only);
- the image-score box side is S/16 + 1, made odd by adding 1 when it is even.
"""

import math

import torch
import torch.nn.functional as F

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
DATA_RANGE = 2.0  # L: images live in [-1, 1]
RHO_CLAMP = 1e-6  # rho^ is clamped to [1e-6, 1 - 1e-6] inside the KL only
RESIDUAL_EPS = 1e-6  # r <- r / (mean(r) + 1e-6)


# ---- SSIM --------------------------------------------------------------------------------

def gaussian_window(channels, dtype, window=SSIM_WINDOW, sigma=SSIM_SIGMA):
    """The normalised 2-D Gaussian window g g^T (window x window), one copy per channel:
    a depthwise (groups = C) convolution weight of shape (C, 1, window, window)."""
    d = torch.arange(window, dtype=torch.float64) - window // 2
    g = torch.exp(-d * d / (2 * sigma * sigma))
    g = g / g.sum()
    w2 = torch.outer(g, g)
    return w2.to(dtype).expand(channels, 1, window, window).contiguous()


def ssim_map(x, y, same_size):
    """Per-channel SSIM map of images x, y (B, C, H, W).

    mu = G*x, sigma_xx = G*(x^2) - mu_x^2, sigma_xy = G*(xy) - mu_x mu_y (G* a Gaussian
    correlation), C1 = (K1 L)^2, C2 = (K2 L)^2,
    SSIM = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_xx + sigma_yy + C2)).
    same_size: zero padding window/2 (H x W map); otherwise valid positions
    ((H - 10) x (W - 10) for the 11 window).
    """
    c = x.shape[1]
    win = gaussian_window(c, x.dtype)
    pad = SSIM_WINDOW // 2 if same_size else 0

    def blur(t):
        return F.conv2d(t, win, padding=pad, groups=c)

    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    c1, c2 = (SSIM_K1 * DATA_RANGE) ** 2, (SSIM_K2 * DATA_RANGE) ** 2
    return ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))


def ssim(x, y):
    """SSIM(x, y) of L_G: the mean of the valid-position map."""
    return ssim_map(x, y, same_size=False).mean()


# ---- phase 1: the GAN losses ------------------------------------------------------------

def bce_with_logits(logits, target_value):
    """Mean binary cross-entropy of logits against a constant target (1 real, 0 fake)."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target_value))


def discriminator_loss(d_real_logits, d_fake_logits):
    """L_D = BCE(D(x), 1) + BCE(D(x^.detach()), 0); the caller detaches x^."""
    return bce_with_logits(d_real_logits, 1.0) + bce_with_logits(d_fake_logits, 0.0)


def generator_loss(x_hat, x, d_fake_logits, l_mse=1.0, l_ssim=1.0, l_adv=0.05):
    """L_G = l_mse MSE(x^, x) + l_ssim (1 - SSIM(x^, x)) + l_adv BCE(D(x^), 1).
    Returns (total, mse, ssim, adv)."""
    mse = F.mse_loss(x_hat, x)
    s = ssim(x_hat, x)
    adv = bce_with_logits(d_fake_logits, 1.0)
    return l_mse * mse + l_ssim * (1 - s) + l_adv * adv, mse, s, adv


# ---- phase 2: residual evidence and the losses of S -----------------------------------

@torch.no_grad()
def residual_evidence(x_tilde, x_hat, kind="mix", normalise=True):
    """r (B, 1, S, S), no gradient:
    l1:   mean_c |x~ - x^|
    ssim: mean_c (1 - SSIMmap(x~, x^)) / 2, the map same-size (zero padding 5)
    mix:  0.5 l1 + 0.5 ssim (the default)
    normalise: r / (mean over the whole batch + 1e-6), the training-time form."""
    l1 = (x_tilde - x_hat).abs().mean(dim=1, keepdim=True)
    dssim = ((1 - ssim_map(x_tilde, x_hat, same_size=True)) / 2).mean(dim=1, keepdim=True)
    r = {"l1": l1, "ssim": dssim, "mix": 0.5 * l1 + 0.5 * dssim}[kind]
    if normalise:
        r = r / (r.mean() + RESIDUAL_EPS)
    return r


def kl_bernoulli(rho, q):
    """KL(rho || q) between Bernoulli distributions."""
    return rho * torch.log(rho / q) + (1 - rho) * torch.log((1 - rho) / (1 - q))


def kl_sparsity(logits, r, labels, rho=0.03, beta_kl=1.0, lambda_fit=1.0, weak_labels=True):
    """The sparsity-prior loss L_S on S's logits l (B, 1, S, S), M = sigmoid(l).

    weak_labels (y_b in {0, 1}, one per image):
      rho^_b = mean_ij M_bij, clamped to [1e-6, 1 - 1e-6]
      L_kl,b = KL(rho || rho^_b);  L_fit,b = mean_ij (1 - M_bij) r_bij;
      L_neg,b = mean_ij -log(1 - M_bij)
      L_S = mean_b [ y_b (beta_kl L_kl,b + lambda_fit L_fit,b) + (1 - y_b) L_neg,b ]
    weak_labels = False (labels ignored, a batch-level prior):
      L_S = mean_bij (1 - M) r + beta_kl KL(rho || clamp(mean_bij M))
    1 - M = sigmoid(-l) and -log(1 - M) = softplus(l) come straight from the logits.
    """
    m = torch.sigmoid(logits)
    one_minus_m = torch.sigmoid(-logits)
    if not weak_labels:
        rho_hat = m.mean().clamp(RHO_CLAMP, 1 - RHO_CLAMP)
        return (one_minus_m * r).mean() + beta_kl * kl_bernoulli(rho, rho_hat)
    dims = (1, 2, 3)
    rho_hat = m.mean(dim=dims).clamp(RHO_CLAMP, 1 - RHO_CLAMP)  # (B)
    l_kl = kl_bernoulli(rho, rho_hat)
    l_fit = (one_minus_m * r).mean(dim=dims)
    l_neg = F.softplus(logits).mean(dim=dims)
    y = labels.reshape(-1)
    return (y * (beta_kl * l_kl + lambda_fit * l_fit) + (1 - y) * l_neg).mean()


def focal_loss(logits, target, gamma=2.0):
    """Binary focal loss (mean) of the mask-supervised ablation:
    FL = -[t (1 - p)^gamma log p + (1 - t) p^gamma log(1 - p)], p = sigmoid(l),
    with log p = -softplus(-l) and log(1 - p) = -softplus(l)."""
    p = torch.sigmoid(logits)
    q = torch.sigmoid(-logits)
    log_p, log_q = -F.softplus(-logits), -F.softplus(logits)
    return -(target * q.pow(gamma) * log_p + (1 - target) * p.pow(gamma) * log_q).mean()


# ---- inference ---------------------------------------------------------------------------

def box_side(s):
    """The image score's box side: S/16 + 1, made odd (+1) when it is even."""
    k = s // 16 + 1
    return k + 1 if k % 2 == 0 else k


def box_filter(map_ss):
    """A (S, S) map averaged by a stride-1 box of box_side(S), each border window
    averaging only its pixels inside the image (count_include_pad = False)."""
    s = map_ss.shape[-1]
    k = box_side(s)
    m = map_ss.reshape(1, 1, *map_ss.shape[-2:])
    return F.avg_pool2d(m, k, stride=1, padding=k // 2, count_include_pad=False).reshape(map_ss.shape)


def image_score(map_ss):
    """The image score of METHOD.md: the maximum of the box-filtered map."""
    return box_filter(map_ss).max()


def rho_logit(rho):
    """S's head bias prior log(rho / (1 - rho))."""
    return math.log(rho / (1 - rho))
