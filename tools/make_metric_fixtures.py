#!/usr/bin/env python3
"""Golden data for eval/metrics: writes tests/data/metrics_fixtures.txt.

Image-level AUROC and AP come from scikit-learn (roc_auc_score, average_precision_score),
the ground-truth regions from scipy.ndimage.label with an 8-connectivity structure, and
AUPRO from a direct Python rendering of the procedure published with MVTec AD (written
here, brute force: one pass over all pixels per distinct threshold), so that the C++ sweep
(sorted positives, counted negatives) is checked against a formulation that shares no code
or shortcut with it. Best F1 is brute force over exact fractions, with the tie rule of
metrics.h (the highest threshold wins).

Needs numpy, scipy and scikit-learn:
    python3 -m venv .venv && .venv/bin/pip install numpy scipy scikit-learn
    .venv/bin/python tools/make_metric_fixtures.py

Format (whitespace-separated, one record per line, read by tests/test_metrics.cpp):
    sparsead-metric-fixtures <version>
    # comment
    binary <name> <n>
    scores <n float32>
    labels <n 0/1>
    expect <roc_auc> <ap> <f1> <f1_threshold> <f1_precision> <f1_recall>
    pixel <name> <num_images>
    image <w> <h>                       (then, per image:)
    scores <w*h float32, row-major>
    mask <w*h 0/1> | mask none          (none = no mask at all, an empty span in C++)
    regions <w*h scipy labels>
    expect <pixel_auroc> <pixel_ap> <aupro@0.3> <aupro@0.1> <aupro@1.0> <f1> <f1_threshold>
Undefined values are written as `none`. Scores are float32 written in their shortest
round-trip form, expected values as shortest round-trip doubles.
"""

import os
import sys
from fractions import Fraction

import numpy as np
import scipy
import scipy.ndimage
import sklearn
from sklearn.metrics import average_precision_score, roc_auc_score

VERSION = 1  # bump when the format or the cases change; the C++ test checks it
AUPRO_LIMITS = (0.3, 0.1, 1.0)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "metrics_fixtures.txt")
EIGHT = np.ones((3, 3), dtype=int)  # 8-connectivity: diagonal neighbours join a region


def fmt_f32(x):
    return np.format_float_positional(np.float32(x), unique=True, trim="-")


def fmt_expect(v):
    return "none" if v is None else repr(float(v))


def has_both(labels):
    return labels.any() and not labels.all()


def f1_reference(scores, labels):
    """Best F1 over distinct thresholds (positive when score >= t); ties -> highest t."""
    labels = labels.astype(bool)
    p = int(labels.sum())
    if p == 0:
        return None
    best = None
    for t in sorted(set(scores.tolist()), reverse=True):
        pred = scores >= t
        tp = int((pred & labels).sum())
        fp = int((pred & ~labels).sum())
        f1 = Fraction(2 * tp, tp + fp + p)
        if best is None or f1 > best[0]:  # strict: an equal F1 at a lower t does not win
            best = (f1, t, Fraction(tp, tp + fp), Fraction(tp, p))
    return tuple(float(v) for v in best)


def binary_expect(scores, labels):
    lab = labels.astype(bool)
    auc = roc_auc_score(lab, scores.astype(np.float64)) if has_both(lab) else None
    ap = average_precision_score(lab, scores.astype(np.float64)) if lab.any() else None
    f1 = f1_reference(scores, labels)
    return [auc, ap] + (list(f1) if f1 else [None] * 4)


def trapezoid_to(x, y, limit):
    """Area under the polyline (x, y) (x non-decreasing) from x[0] to `limit`; the curve is
    interpolated linearly at `limit` when no point lies exactly there (as MVTec does)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    keep = x <= limit
    xs, ys = x[keep], y[keep]
    area = float(np.sum(0.5 * (ys[1:] + ys[:-1]) * (xs[1:] - xs[:-1])))
    if limit not in x:
        i = int(np.searchsorted(x, limit, side="right"))  # first point past the limit
        y_at = y[i - 1] + (y[i] - y[i - 1]) * (limit - x[i - 1]) / (x[i] - x[i - 1])
        area += 0.5 * (y[i - 1] + y_at) * (limit - x[i - 1])
    return area


def aupro_reference(images):
    """MVTec AD AUPRO for each limit in AUPRO_LIMITS, brute force over distinct thresholds."""
    region_scores, normal_scores = [], []
    for scores, mask in images:
        labels, n = scipy.ndimage.label(mask, structure=EIGHT)
        region_scores += [scores[labels == r] for r in range(1, n + 1)]
        normal_scores.append(scores[labels == 0])
    normal = np.concatenate(normal_scores)
    if not region_scores or normal.size == 0:
        return [None] * len(AUPRO_LIMITS)
    thresholds = np.unique(np.concatenate([s.ravel() for s, _ in images]))[::-1]
    fprs, pros = [0.0], [0.0]
    for t in thresholds:
        fprs.append(np.count_nonzero(normal >= t) / normal.size)
        pros.append(np.mean([np.count_nonzero(r >= t) / r.size for r in region_scores]))
    return [trapezoid_to(fprs, pros, lim) / lim for lim in AUPRO_LIMITS]


def pixel_expect(images):
    scores = np.concatenate([s.ravel() for s, _ in images])
    labels = np.concatenate([m.ravel() for _, m in images]).astype(bool)
    auc = roc_auc_score(labels, scores.astype(np.float64)) if has_both(labels) else None
    ap = average_precision_score(labels, scores.astype(np.float64)) if labels.any() else None
    f1 = f1_reference(scores, labels)
    return [auc, ap] + aupro_reference(images) + (list(f1[:2]) if f1 else [None, None])


# ---- cases -------------------------------------------------------------------------------------


def q(x, step):
    """Quantise to a grid so that ties are common (float32)."""
    return (np.round(np.asarray(x, dtype=np.float64) / step) * step).astype(np.float32)


def binary_cases(rng):
    f = np.float32
    cases = [
        ("perfect", np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9], f), np.array([0, 0, 0, 1, 1, 1])),
        ("reversed", np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1], f), np.array([0, 0, 0, 1, 1, 1])),
        ("all_equal", np.full(7, 0.5, f), np.array([0, 1, 0, 1, 1, 0, 0])),
        ("hand_4", np.array([0.1, 0.4, 0.35, 0.8], f), np.array([0, 0, 1, 1])),
        ("tie_across_classes", np.array([0.2, 0.5, 0.5, 0.5, 0.9, 0.1], f), np.array([0, 0, 1, 1, 1, 0])),
        ("only_positives", np.array([0.3, 0.1, 0.3], f), np.array([1, 1, 1])),
        ("only_negatives", np.array([0.3, 0.1, 0.2], f), np.array([0, 0, 0])),
        ("single_positive", np.array([0.25], f), np.array([1])),
        ("signed_zero_extremes",
         np.array([-0.0, 0.0, -1.5, 3e38, -3.4e38, 3.4e38, 0.0, -2.0], f), np.array([1, 0, 0, 1, 0, 1, 1, 0])),
        ("f1_tie_rule", np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4], f), np.array([1, 0, 1, 1, 0, 0])),
    ]
    for k in range(6):
        n = int(rng.integers(5, 25))
        labels = (rng.random(n) < 0.4).astype(int)
        labels[0] = 1  # both classes present in every small random case
        labels[-1] = 0
        cases.append((f"small_ties_{k}", q(rng.random(n) + 0.3 * labels, 0.25), labels))
    n = 300
    labels = (rng.random(n) < 0.3).astype(int)
    cases.append(("random_continuous", (rng.normal(size=n) + 1.2 * labels).astype(np.float32), labels))
    cases.append(("random_grid", q(rng.normal(size=n) + 0.8 * labels, 0.125), labels))
    return cases


def blob_mask(rng, h, w, density):
    noise = scipy.ndimage.gaussian_filter(rng.normal(size=(h, w)), sigma=1.5)
    return (noise > np.quantile(noise, 1 - density)).astype(np.uint8)


def maps_for(rng, masks, signal, step=None):
    out = []
    for m in masks:
        s = scipy.ndimage.gaussian_filter(rng.random(m.shape), 1.0) + signal * m + 0.05 * rng.normal(size=m.shape)
        out.append((q(s, step) if step else s.astype(np.float32), m))
    return out


def pixel_cases(rng):
    f = np.float32
    cases = []
    one = np.zeros((6, 8), np.uint8)
    one[2:4, 3:6] = 1
    cases.append(("one_region_perfect", [(one.astype(f) * 0.5 + 0.25, one)], None))
    cases.append(("one_region_uniform", [(np.full((6, 8), 0.5, f), one)], None))
    diag = np.zeros((5, 5), np.uint8)
    diag[0, 0] = diag[1, 1] = diag[2, 2] = diag[4, 0] = diag[3, 4] = 1  # 3 regions: a diagonal line, 2 lone pixels
    cases.append(("diagonal_touch", maps_for(rng, [diag], 0.15), None))
    a = blob_mask(rng, 12, 10, 0.15)
    cases.append(("empty_mask_image", maps_for(rng, [a, np.zeros((9, 7), np.uint8), a[:5, :6]], 0.6, 0.05), None))
    cases.append(("mask_none", maps_for(rng, [np.zeros((4, 5), np.uint8), a], 0.4), {0}))
    tiny = [np.array([[1]], np.uint8), np.array([[0, 1, 0]], np.uint8), np.array([[1, 0], [0, 1]], np.uint8),
            np.array([[0]], np.uint8)]
    cases.append(("tiny_images", maps_for(rng, tiny, 0.3, 0.1), None))
    cases.append(("all_defect_plus_normal",
                  maps_for(rng, [np.ones((3, 4), np.uint8), np.zeros((5, 3), np.uint8)], 0.2, 0.1), None))
    cases.append(("no_regions", maps_for(rng, [np.zeros((4, 4), np.uint8)] * 2, 0.0), None))
    cases.append(("no_normal", maps_for(rng, [np.ones((3, 3), np.uint8)], 0.0), None))
    masks = [blob_mask(rng, 17, 13, 0.2), blob_mask(rng, 9, 21, 0.1), blob_mask(rng, 24, 32, 0.08)]
    cases.append(("random_blobs", maps_for(rng, masks, 0.35), None))
    cases.append(("random_blobs_quantised", maps_for(rng, masks, 0.35, 0.02), None))
    cases.append(("four_levels", maps_for(rng, [blob_mask(rng, 15, 15, 0.2), blob_mask(rng, 11, 8, 0.3)], 0.3, 0.25),
                  None))
    masks = [blob_mask(rng, 40, 48, 0.05), blob_mask(rng, 40, 48, 0.02)]
    cases.append(("larger_random", maps_for(rng, masks, 0.25), None))
    return cases


def main():
    rng = np.random.default_rng(20240611)
    lines = [f"sparsead-metric-fixtures {VERSION}",
             f"# generated by tools/make_metric_fixtures.py with numpy {np.__version__}, scipy {scipy.__version__},"
             f" scikit-learn {sklearn.__version__}"]
    for name, scores, labels in binary_cases(rng):
        scores = np.asarray(scores, np.float32)
        lines += [f"binary {name} {scores.size}",
                  "scores " + " ".join(fmt_f32(s) for s in scores),
                  "labels " + " ".join(str(int(v)) for v in labels),
                  "expect " + " ".join(fmt_expect(v) for v in binary_expect(scores, np.asarray(labels)))]
    for name, images, no_mask in pixel_cases(rng):
        lines.append(f"pixel {name} {len(images)}")
        for i, (scores, mask) in enumerate(images):
            h, w = mask.shape
            regions, _ = scipy.ndimage.label(mask, structure=EIGHT)
            lines += [f"image {w} {h}",
                      "scores " + " ".join(fmt_f32(s) for s in scores.ravel()),
                      "mask none" if no_mask and i in no_mask else "mask " + " ".join(str(int(v)) for v in mask.ravel()),
                      "regions " + " ".join(str(int(v)) for v in regions.ravel())]
        lines.append("expect " + " ".join(fmt_expect(v) for v in pixel_expect(images)))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
