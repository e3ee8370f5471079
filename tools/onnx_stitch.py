#!/usr/bin/env python3
"""The tiling rule of a sparsead tile model (its ONNX metadata "sparsead.tiling"), as a
small reference: cover an image at working scale with S x S windows, run each through the
graph, and stitch the windows' raw maps with tent weights. data/tiles.cpp is the C++ original;
tools/onnx_check.py uses this to check an exported tile model end to end.
"""
import numpy as np


def window_starts(n, s, stride):
    """Origins along an axis of length n >= s: 0, stride, ... while a window fits, then one
    flush with the far edge when the last did not reach it."""
    starts = list(range(0, n - s + 1, stride))
    if starts[-1] + s < n:
        starts.append(n - s)
    return starts


def window_weight(s):
    """The outer product of t(i) = (min(i, s - 1 - i) + 1) / ceil(s / 2)."""
    i = np.arange(s)
    t = (np.minimum(i, s - 1 - i) + 1) / ((s + 1) // 2)
    return np.outer(t, t).astype(np.float32)


def stitch(run, image, s, stride, batch=8):
    """image: (C, H, W) float32 at working scale in [-1, 1]; run: (N, C, s, s) -> (N, 1, s, s).
    Returns the (H, W) weighted mean of the windows' maps."""
    _, h, w = image.shape
    ys, xs = window_starts(h, s, stride), window_starts(w, s, stride)
    origins = [(y, x) for y in ys for x in xs]
    acc = np.zeros((h, w), np.float64)
    norm = np.zeros((h, w), np.float64)
    wt = window_weight(s).astype(np.float64)
    for k in range(0, len(origins), batch):
        part = origins[k:k + batch]
        windows = np.stack([image[:, y:y + s, x:x + s] for y, x in part]).astype(np.float32)
        maps = run(windows)[:, 0]
        for (y, x), m in zip(part, maps):
            acc[y:y + s, x:x + s] += wt * m
            norm[y:y + s, x:x + s] += wt
    return (acc / norm).astype(np.float32)
