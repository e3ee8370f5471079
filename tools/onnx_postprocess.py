#!/usr/bin/env python3
"""The image score of a sparsead model computed from the ONNX graph's "raw" output, as the
model's metadata "sparsead.postprocess" describes it (model/anomaly_model.cpp is the C++
original). tools/onnx_check.py compares it with the scores sparsead wrote.
"""
import math

import numpy as np

from onnx_stitch import window_starts


def gaussian_taps(window, sigma):
    d = np.arange(window) - window // 2
    g = np.exp(-d * d / (2 * sigma * sigma))
    return g / g.sum()


def gaussian_blur(m, sigma, inside_only):
    """Separable blur of an (H, W) map: zero padding, or only the taps inside, renormalised."""
    r = max(1, math.ceil(3.0 * sigma))
    g = gaussian_taps(2 * r + 1, sigma)

    def one_pass(a, axis):
        n = a.shape[axis]
        out = np.zeros_like(a)
        mass = np.zeros(n)
        for i in range(-r, r + 1):
            lo, hi = max(0, -i), min(n, n - i)  # positions whose neighbour pos + i lies inside
            src = np.take(a, range(lo + i, hi + i), axis=axis)
            idx = [slice(None)] * 2
            idx[axis] = slice(lo, hi)
            out[tuple(idx)] += g[i + r] * src
            mass[lo:hi] += g[i + r]
        if inside_only:
            out = out / (mass[:, None] if axis == 0 else mass[None, :])
        return out

    return one_pass(one_pass(m.astype(np.float64), 1), 0)


def box_filter(m, k):
    """Mean over the k x k box around each pixel, counting only pixels inside the map."""
    h, w = m.shape
    pad = k // 2
    # Summed-area tables of the zero-padded map and of the inside mask.
    big = np.zeros((h + 2 * pad, w + 2 * pad))
    cnt = np.zeros_like(big)
    big[pad:pad + h, pad:pad + w] = m
    cnt[pad:pad + h, pad:pad + w] = 1.0
    s = np.zeros((h + 2 * pad + 1, w + 2 * pad + 1))
    c = np.zeros_like(s)
    s[1:, 1:] = big.cumsum(0).cumsum(1)
    c[1:, 1:] = cnt.cumsum(0).cumsum(1)

    def box(t):
        return t[k:k + h, k:k + w] - t[0:h, k:k + w] - t[k:k + h, 0:w] + t[0:h, 0:w]

    return box(s) / box(c)


def window_score(v, lse, t):
    top = v.max()
    if not lse:
        return float(top)
    return float(top + t * math.log(np.exp((v - top) / t).mean()))


def image_score(raw_hw, config, tiled=False, reference=None):
    """The raw image score of one (H, W) raw map (a stitched map when tiled). reference: the
    graph's score_reference output (score_reference=mean models), subtracted from the
    smoothed map (step 1b of sparsead.postprocess)."""
    segmenter = config["mode"] != "residual"
    sigma = config["map_sigma"] if segmenter else config["residual_sigma"]
    m = raw_hw.astype(np.float64)
    if sigma > 0:
        m = gaussian_blur(m, sigma, segmenter and config["map_border"] == "inside")
    if reference is not None:
        m = m - reference.astype(np.float64)
    s = config["image_size"]
    k = s // 16 + 1
    k += 1 - k % 2
    v = box_filter(m, k)
    lse = segmenter and config["image_score"] == "lse"
    t = config["score_temperature"]
    if not tiled:
        return window_score(v, lse, t)
    stride = config["tile_stride"] or s // 2
    h, w = v.shape
    return max(window_score(v[y:y + s, x:x + s], lse, t)
               for y in window_starts(h, s, stride) for x in window_starts(w, s, stride))
