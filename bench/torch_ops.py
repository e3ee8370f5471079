#!/usr/bin/env python3
"""PyTorch's time for the conv2d, GEMM, activation and SSIM cases of sparsead-bench, written as a
Google-Benchmark-style JSON with the same benchmark names, so that

    python3 bench/bench_table.py ours.json --compare torch.json

puts each of our ops next to PyTorch's (oneDNN convolutions, MKL GEMM) with the ratio.
The layer list mirrors conv_cases() in bench/bench_ops.cpp; keep the two in step.

    python bench/torch_ops.py --threads 2 --out torch-ops.json [--presets S128w16,S256w32]
"""

import argparse
import json
import sys
import time

PRESETS = {"S128w16": (128, 16), "S256w32": (256, 32)}


def conv_cases(s, w, c=3, b=16):
    # (layer, N, Ci, Co, H, k, stride, pad): bench/bench_ops.cpp's conv_cases().
    return [
        ("G.enc.0.0", b, c, w, s, 3, 2, 1),
        ("G.enc.3.1", b, 8 * w, 8 * w, s // 16, 3, 1, 1),
        ("G.dec.3.2", b, w, w, s, 3, 1, 1),
        ("D.net.2", b, w, 2 * w, s // 2, 4, 2, 1),
        ("D.net.4", b, 4 * w, 8 * w, s // 8, 4, 1, 1),
        ("S.stem.0", 2 * b, c, w, s, 3, 1, 1),
        ("S.enc1.0.conv2", 2 * b, w, w, s // 2, 3, 1, 1),
        ("S.enc4.1.conv1", 2 * b, 8 * w, 8 * w, s // 16, 3, 1, 1),
        ("S.fuse1", b, 3 * w, w, s // 2, 1, 1, 0),
        ("S.refine1.0", b, 3 * w, w, s // 2, 3, 1, 1),
        ("S.head_conv", b, w, w, s, 3, 1, 1),
    ]


GEMMS = [(256, 256, 256, False), (1024, 1024, 1024, False), (2048, 2048, 2048, False), (16, 1024, 144, False),
         (32, 1024, 288, False), (256, 256, 2304, False), (256, 2304, 256, True)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", required=True)
    ap.add_argument("--presets", default="S128w16,S256w32")
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds per benchmark (default 0.5)")
    a = ap.parse_args()

    import torch
    import torch.nn.functional as F

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    results = []

    def bench(name, fn, label, flops=None, items=None):
        fn()  # warm-up: oneDNN primitive creation, allocator
        n, t0 = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            el = time.perf_counter() - t0
            if el >= a.min_time and n >= 2:
                break
        ms = el / n * 1000
        r = {"name": name + "/real_time", "run_type": "iteration", "iterations": n, "real_time": ms,
             "time_unit": "ms", "label": label}
        if flops:
            r["FLOP/s"] = flops / (ms / 1000)
        if items:
            r["items_per_second"] = items / (ms / 1000)
        results.append(r)
        print(f"{name:55s} {ms:10.2f} ms", file=sys.stderr)

    for tag in a.presets.split(","):
        s, w = PRESETS[tag]
        for layer, n, ci, co, h, k, st, pd in conv_cases(s, w):
            x = torch.rand(n, ci, h, h) * 2 - 1
            wt = (torch.rand(co, ci, k, k) * 2 - 1) * 0.1
            ho = (h + 2 * pd - k) // st + 1
            flops = 2.0 * n * co * ho * ho * ci * k * k
            label = f"N={n} Ci={ci} Co={co} H={h} k{k}s{st}"
            with torch.no_grad():
                bench(f"conv2d_forward/cpu/{tag}/{layer}", lambda: F.conv2d(x, wt, None, st, pd), label, flops)
            xg, wg = x.clone().requires_grad_(), wt.clone().requires_grad_()
            out = F.conv2d(xg, wg, None, st, pd)
            dout = torch.rand_like(out) * 2 - 1

            def backward():
                torch.autograd.grad(out, (xg, wg), dout, retain_graph=True)

            bench(f"conv2d_backward/cpu/{tag}/{layer}", backward, label, 2 * flops)
    for m, n, k, tb in GEMMS:
        am = torch.rand(m, k)
        bm = torch.rand(n, k) if tb else torch.rand(k, n)
        f = (lambda: am @ bm.t()) if tb else (lambda: am @ bm)
        bench(f"gemm/cpu/M{m}_N{n}_K{k}" + ("_Bt" if tb else ""), f, "torch.mm", 2.0 * m * n * k)
    # Activations at (B, w, S, S): the backward is the kernel autograd calls (aten's
    # threshold_backward, leaky_relu_backward, tanh_backward), our unary_backward's peer.
    aten = torch.ops.aten
    for tag in a.presets.split(","):
        s, w = PRESETS[tag]
        x = torch.rand(16, w, s, s) * 6 - 3
        dy = torch.rand_like(x) * 2 - 1
        label = f"(16, {w}, {s}, {s})"
        y_relu, y_tanh = F.relu(x), torch.tanh(x)
        cases = [
            ("relu", lambda: F.relu(x), lambda: aten.threshold_backward(dy, y_relu, 0)),
            ("leaky_relu", lambda: F.leaky_relu(x, 0.2), lambda: aten.leaky_relu_backward(dy, x, 0.2, False)),
            ("tanh", lambda: torch.tanh(x), lambda: aten.tanh_backward(dy, y_tanh)),
        ]
        for kind, fwd, bwd in cases:
            bench(f"{kind}_forward/cpu/{tag}", fwd, label)
            bench(f"{kind}_backward/cpu/{tag}", bwd, label)
    try:
        from torch_ref import losses
    except ImportError:
        losses = None
        print("torch_ops: torch_ref not importable (PYTHONPATH=tools): no SSIM", file=sys.stderr)
    if losses is not None:
        for tag in a.presets.split(","):
            s, _ = PRESETS[tag]
            xs, ys = torch.rand(16, 3, s, s) * 2 - 1, torch.rand(16, 3, s, s) * 2 - 1
            with torch.no_grad():
                bench(f"ssim_forward/cpu/{tag}", lambda: losses.ssim_map(xs, ys, False), "(16, 3, S, S) valid", None,
                      16)
            xg, yg = xs.clone().requires_grad_(), ys.clone().requires_grad_()
            mp = losses.ssim_map(xg, yg, False)
            dm = torch.ones_like(mp)
            bench(f"ssim_backward/cpu/{tag}", lambda: torch.autograd.grad(mp, (xg, yg), dm, retain_graph=True),
                  "(16, 3, S, S) valid", None, 16)
    ctx = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "torch_version": torch.__version__,
           "sparsead_threads": str(a.threads), "num_cpus": torch.get_num_threads(), "mhz_per_cpu": 0,
           "load_avg": [float(v) for v in open("/proc/loadavg").read().split()[:3]]}
    json.dump({"context": ctx, "benchmarks": results}, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
