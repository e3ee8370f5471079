"""G, D and S of METHOD.md in plain PyTorch, with sparsead's parameter names.

Each class builds the same tree of submodules as model/networks.cpp, so that PyTorch's
own dotted names (`enc.0.0.conv.weight`, `stage.1.bn.running_var`, ...) are exactly the
names our Module writes into a model file after its prefix (`G.`, `D.`, `S.`). The
forward passes are written from METHOD.md, not from the C++: this file is what an
auditor compares both against.

Conventions (METHOD.md, "Conventions for every network"):
- a convolution followed by BN has no bias; 3x3 convolutions pad 1, D's 4x4 pad 1;
- BN momentum 0.1, eps 1e-5, running variance unbiased (PyTorch's own BatchNorm2d);
- upsampling is nearest x2.
PyTorch's BatchNorm2d also keeps a `num_batches_tracked` counter; with a fixed momentum it
changes nothing, and sparsead does not store it (see state.py).
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

BN_MOMENTUM = 0.1
BN_EPS = 1e-5
LEAKY_SLOPE = 0.2


class ConvBnAct(nn.Module):
    """Conv (no bias) -> BN -> ReLU (slope 0) or LeakyReLU(slope). Children: conv, bn."""

    def __init__(self, cin, cout, kernel, stride, padding, slope):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.slope = slope

    def forward(self, x):
        h = self.bn(self.conv(x))
        return F.relu(h) if self.slope == 0 else F.leaky_relu(h, self.slope)


class Generator(nn.Module):
    """G: encoder 4 x ([Conv3x3 s2, BN, LReLU] + [Conv3x3, BN, LReLU]) with widths
    w, 2w, 4w, 8w; decoder 4 x ([Up x2, Conv3x3, BN, ReLU] + [Conv3x3, BN, ReLU]) with
    widths 4w, 2w, w, w; head Conv3x3 -> C (with bias), tanh. No skip connections.

    Names: enc.<stage>.<0|1>.{conv,bn}.*, dec.<stage>.<1|2>.{conv,bn}.* (index 0 of a
    decoder stage is the parameter-free upsampling), head.{weight,bias}.
    """

    def __init__(self, channels, width):
        super().__init__()
        w = width
        self.enc = nn.Sequential()
        cin = channels
        for cout in (w, 2 * w, 4 * w, 8 * w):
            self.enc.append(nn.Sequential(ConvBnAct(cin, cout, 3, 2, 1, LEAKY_SLOPE),
                                          ConvBnAct(cout, cout, 3, 1, 1, LEAKY_SLOPE)))
            cin = cout
        self.dec = nn.Sequential()
        for cout in (4 * w, 2 * w, w, w):
            self.dec.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                          ConvBnAct(cin, cout, 3, 1, 1, 0.0),
                                          ConvBnAct(cout, cout, 3, 1, 1, 0.0)))
            cin = cout
        self.head = nn.Conv2d(cin, channels, 3, 1, 1, bias=True)

    def forward(self, x):  # (B, C, S, S) -> (B, C, S, S)
        return torch.tanh(self.head(self.dec(self.enc(x))))


class Discriminator(nn.Module):
    """D: Conv4x4 s2 (w, with bias), LReLU; Conv4x4 s2 (2w), BN, LReLU; Conv4x4 s2 (4w),
    BN, LReLU; Conv4x4 s1 (8w), BN, LReLU; Conv4x4 s1 -> 1 logit per patch (with bias).
    All paddings 1. Names: net.0.*, net.2.{conv,bn}.*, net.3.*, net.4.*, net.5.*.
    """

    def __init__(self, channels, width):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(channels, w, 4, 2, 1, bias=True),
            nn.LeakyReLU(LEAKY_SLOPE),
            ConvBnAct(w, 2 * w, 4, 2, 1, LEAKY_SLOPE),
            ConvBnAct(2 * w, 4 * w, 4, 2, 1, LEAKY_SLOPE),
            ConvBnAct(4 * w, 8 * w, 4, 1, 1, LEAKY_SLOPE),
            nn.Conv2d(8 * w, 1, 4, 1, 1, bias=True),
        )

    def forward(self, x):  # (B, C, S, S) -> (B, 1, S/8 - 2, S/8 - 2)
        return self.net(x)


class BasicBlock(nn.Module):
    """ResNet basic block: ReLU(BN(Conv3x3(ReLU(BN(Conv3x3 s(x))))) + shortcut(x)), the
    shortcut Conv1x1 s + BN when the shape changes, else the identity.
    Names: conv1, bn1, conv2, bn2[, short_conv, short_bn].
    """

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, eps=BN_EPS, momentum=BN_MOMENTUM)
        if stride != 1 or cin != cout:
            self.short_conv = nn.Conv2d(cin, cout, 1, stride, 0, bias=False)
            self.short_bn = nn.BatchNorm2d(cout, eps=BN_EPS, momentum=BN_MOMENTUM)
        else:
            self.short_conv = None

    def forward(self, x):
        h = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        s = self.short_bn(self.short_conv(x)) if self.short_conv is not None else x
        return F.relu(h + s)


def fusion(a, b):
    """The input of a fusion block: [a, b, |a - b|] along channels. (The derivative of
    |a - b| at a == b is taken as 0, PyTorch's sign(0) = 0, as in the C++ kernel.)"""
    return torch.cat([a, b, (a - b).abs()], dim=1)


class Segmenter(nn.Module):
    """S: progressive feature fusion of x~ and x^ = G(x~).

    - Siamese encoder E, run once on the concatenated batch [x~; x^] (2B images, one BN
      statistics update): stem Conv3x3 (w), BN, ReLU; stages enc1..enc4 of two basic
      blocks (the first with stride 2), widths w, 2w, 4w, 8w at S/2 .. S/16. After each
      stage the batch splits back: a_k = E_k(x~), b_k = E_k(x^).
    - Fusion blocks fuse1..fuse4: z_k = ReLU(BN(Conv1x1([a_k, b_k, |a_k - b_k|]))),
      2^(k-1) w channels.
    - Coarse to fine: d_4 = z_4; d_k = refine_k(concat(Up2(d_{k+1}), z_k)) for k = 3, 2, 1,
      refine_k = 2 x [Conv3x3, BN, ReLU] with 2^(k-1) w channels.
    - Head: Up2 (S/2 -> S), head_conv Conv3x3 (w, with bias), ReLU, head_out Conv1x1 -> 1
      logit (its bias starts at log(rho / (1 - rho)); M = sigmoid(logit)).
    """

    def __init__(self, channels, width, rho=0.03):
        super().__init__()
        w = width
        self.stem = nn.Sequential(ConvBnAct(channels, w, 3, 1, 1, 0.0))
        cin = w
        for k in range(4):
            wk = w << k
            self.add_module(f"enc{k + 1}", nn.Sequential(BasicBlock(cin, wk, 2), BasicBlock(wk, wk, 1)))
            cin = wk
        for k in range(4):
            wk = w << k
            self.add_module(f"fuse{k + 1}", ConvBnAct(3 * wk, wk, 1, 1, 0, 0.0))
        for k in (3, 2, 1):
            wk, up_in = w << (k - 1), w << k
            self.add_module(f"refine{k}", nn.Sequential(ConvBnAct(up_in + wk, wk, 3, 1, 1, 0.0),
                                                        ConvBnAct(wk, wk, 3, 1, 1, 0.0)))
        self.head_conv = nn.Conv2d(w, w, 3, 1, 1, bias=True)
        self.head_out = nn.Conv2d(w, 1, 1, 1, 0, bias=True)
        with torch.no_grad():
            self.head_out.bias.fill_(math.log(rho / (1 - rho)))

    def forward(self, x, x_hat):  # (B, C, S, S) twice -> logits (B, 1, S, S)
        batch = x.shape[0]
        h = self.stem(torch.cat([x, x_hat], dim=0))
        z = []
        for k in range(1, 5):
            h = getattr(self, f"enc{k}")(h)
            a, b = h[:batch], h[batch:]
            z.append(getattr(self, f"fuse{k}")(fusion(a, b)))
        d = z[3]
        for k in (3, 2, 1):
            d = getattr(self, f"refine{k}")(torch.cat([up2(d), z[k - 1]], dim=1))
        return self.head_out(F.relu(self.head_conv(up2(d))))


def up2(x):
    """Nearest-neighbour upsampling by 2."""
    return F.interpolate(x, scale_factor=2, mode="nearest")
