#!/usr/bin/env python3
"""Runs an exported sparsead ONNX model with ONNX Runtime on the reference input that
`sparsead export --reference DIR` wrote, and compares its output with the raw maps sparsead
computed for the same input: as maps in [0, 1] (sigmoid of the logits for a segmenter, the
residual evidence itself in residual mode), and as raw values. Prints the largest
differences and ONNX Runtime's median latency at batch 1 (one thread); exits 1 when the map difference exceeds
--tol.

usage: tools/onnx_check.py MODEL.onnx REFERENCE_DIR [--tol 1e-4] [--repeat 20]
Needs onnxruntime and numpy (scripts/onnx-venv.sh makes a virtual environment with them).
"""
import argparse
import json
import sys
import time

import os

import numpy as np
import onnxruntime as ort

from onnx_postprocess import image_score
from onnx_stitch import stitch


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("reference")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # comparable with sparsead --threads 1
    sess = ort.InferenceSession(args.model, opts, providers=["CPUExecutionProvider"])
    meta = sess.get_modelmeta().custom_metadata_map
    config = json.loads(meta["sparsead.config"])
    x = np.load(f"{args.reference}/input.npy")
    want = np.load(f"{args.reference}/raw.npy")
    raw, rec = sess.run(["raw", "reconstruction"], {"image": x})
    # score_reference=mean models carry the reference map as a constant output.
    names = [o.name for o in sess.get_outputs()]
    reference = sess.run(["score_reference"], {"image": x[:1]})[0] if "score_reference" in names else None
    if raw.shape != want.shape:
        print(f"onnx_check: raw has shape {raw.shape}, sparsead's {want.shape}", file=sys.stderr)
        return 1
    def as_map(r):
        return r if config["mode"] == "residual" else 1.0 / (1.0 + np.exp(-r.astype(np.float64)))

    diff = float(np.max(np.abs(raw - want)))
    scale = float(np.max(np.abs(want)))
    map_diff = float(np.max(np.abs(as_map(raw) - as_map(want))))
    ok = map_diff <= args.tol
    # The image scores from the graph's raw maps by the metadata's formula, against sparsead's.
    want_scores = np.load(f"{args.reference}/scores.npy").astype(np.float64)
    got_scores = np.array([image_score(r[0], config, reference=reference) for r in raw])
    score_diff = float(np.max(np.abs(got_scores - want_scores) / (1.0 + np.abs(want_scores))))
    ok = ok and score_diff <= args.tol
    # A tile model: the stitched map of a whole image through the reference stitcher.
    tile_diff = tile_score_diff = None
    if os.path.exists(f"{args.reference}/tile_input.npy"):
        image = np.load(f"{args.reference}/tile_input.npy")
        want_tile = np.load(f"{args.reference}/tile_raw.npy")
        s, stride = config["image_size"], config["tile_stride"] or config["image_size"] // 2
        got_tile = stitch(lambda w: sess.run(["raw"], {"image": w})[0], image, s, stride)
        tile_diff = float(np.max(np.abs(as_map(got_tile) - as_map(want_tile))))
        ok = ok and got_tile.shape == want_tile.shape and tile_diff <= args.tol
        want_tile_score = float(np.load(f"{args.reference}/tile_score.npy")[0])
        tile_score_diff = abs(image_score(got_tile, config, tiled=True) - want_tile_score) / (1.0 + abs(want_tile_score))
        ok = ok and tile_score_diff <= args.tol
    # Latency at batch 1, after one warm-up run.
    one = x[:1]
    sess.run(["raw"], {"image": one})
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        sess.run(["raw"], {"image": one})
        times.append((time.perf_counter() - t0) * 1e3)
    ms = float(np.median(times))
    print(json.dumps({"model": args.model, "mode": config["mode"], "image_size": config["image_size"],
                      "channels": config["channels"], "max_abs_map_diff": map_diff, "max_abs_raw_diff": diff,
                      "max_abs_raw": scale, "score_rel_diff": score_diff, "tiled_map_diff": tile_diff,
                      "tiled_score_rel_diff": tile_score_diff, "score_reference": reference is not None,
                      "tol": args.tol,
                      "ok": ok, "onnxruntime_median_ms_batch1": round(ms, 3), "onnxruntime": ort.__version__,
                      "reconstruction_range": [float(rec.min()), float(rec.max())]}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
