#!/usr/bin/env python3
"""The PyTorch side of bench/compare_torch.sh: times one phase of training or inference
with the PyTorch twin of our networks (tools/torch_ref: nets.py, steps.py) and prints one
JSON object in the format of sparsead-steps (bench/steps_main.cpp), so the two can be
put side by side.

    PYTHONPATH=tools python bench/torch_bench.py --phase phase1 [--preset cpu] [--batch 16]
        [--threads 2] [--device cpu|cuda] [--steps 5] [--warmup 1]

One phase per process, so that the peak RSS (getrusage's ru_maxrss) is that phase's.
Initialisation follows METHOD.md (conv weights N(0, 0.02), BN 1 and 0, other biases 0,
S's head bias the prior), as ours does; the batch is a fixed synthetic one of the same
kind as bench/workload.cpp builds (smooth images, a square defect in every other x~).
"""

import argparse
import json
import math
import os
import resource
import sys
import time

PRESETS = {"cpu": (128, 16), "paper": (256, 32)}  # S, w (METHOD.md)


def proc_status_mib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return float(line.split()[1]) / 1024.0
    return -1.0


def latency_step(torch, g, s, x, size, a):
    """One image from its PNG file to its score, as `sparsead predict` runs it
    (model/anomaly_model.cpp: decode, resize to S, G, S, blur the logits, box filter,
    log-sum-exp score, sigmoid, the map back at the image's size): the twin of
    sparsead-steps --phase latency. Needs Pillow to decode."""
    import tempfile

    import numpy as np
    import torch.nn.functional as F
    from PIL import Image

    if a.batch != 1:
        sys.exit("torch_bench: the latency phase scores one image at a time (--batch 1)")
    img = ((x[0].clamp(-1, 1) + 1) * 0.5 * 255.0 + 0.5).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    fd, path = tempfile.mkstemp(suffix=".png", prefix="torch-latency-")
    os.close(fd)
    Image.fromarray(img.squeeze()).save(path)
    import atexit
    atexit.register(os.remove, path)
    # map_sigma (= residual_sigma: 2 at S = 128, scaled with S) and score_temperature, as config.cpp sets them
    sigma, temperature = 2.0 * size / 128, 0.1
    r = max(1, math.ceil(3.0 * sigma))
    d = torch.arange(2 * r + 1, dtype=torch.float32) - r
    taps = torch.exp(-d * d / (2 * sigma * sigma))
    taps = (taps / taps.sum()).to(x.device)
    k = size // 16 + 1
    k += 1 - k % 2
    g.eval()
    s.eval()

    def step():
        with torch.no_grad():
            im = np.asarray(Image.open(path).convert("RGB" if x.shape[1] == 3 else "L"))
            t = torch.from_numpy(im.copy()).float().div_(255.0)
            t = t.permute(2, 0, 1) if t.dim() == 3 else t[None]
            h, w = t.shape[1], t.shape[2]
            xin = F.interpolate(t[None].to(x.device), size=(size, size), mode="bilinear", align_corners=False)
            xin = xin * 2 - 1
            logits = s(xin, g(xin))
            m = F.conv2d(logits, taps.view(1, 1, 1, -1), padding=(0, r))
            m = F.conv2d(m, taps.view(1, 1, -1, 1), padding=(r, 0))
            v = F.avg_pool2d(m, k, stride=1, padding=k // 2, count_include_pad=False)
            top = v.max()
            score = (top + temperature * torch.log(torch.exp((v - top) / temperature).mean())).item()
            # The map back at the image's size, which `sparsead predict` also returns (eager
            # mode computes it whether or not it is read).
            F.interpolate(torch.sigmoid(m), size=(h, w), mode="bilinear", align_corners=False)
            return score

    return step


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--phase", required=True, choices=["phase1", "phase2", "inference", "latency"])
    ap.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", action="store_true",
                    help="also run --steps steps under torch.profiler and print its per-op table to stderr")
    a = ap.parse_args()

    import torch  # after argparse: --help works without torch

    try:
        from torch_ref import nets, steps
    except ImportError as e:
        sys.exit(f"torch_bench: cannot import torch_ref ({e}); set PYTHONPATH to the tools/ folder that holds "
                 "torch_ref (the PyTorch twin of our networks)")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    dev = torch.device(a.device)
    if a.device == "cuda" and not torch.cuda.is_available():
        sys.exit("torch_bench: --device cuda but torch sees no GPU")
    size, width = PRESETS[a.preset]
    c, b = a.channels, a.batch
    rho, lr_g, lr_s = 0.03, 2e-4, 1e-3

    def init_dcgan(module):
        with torch.no_grad():
            for m in module.modules():
                if isinstance(m, torch.nn.Conv2d):
                    m.weight.normal_(0.0, 0.02)
                    if m.bias is not None:
                        m.bias.zero_()
                elif isinstance(m, torch.nn.BatchNorm2d):
                    m.weight.fill_(1.0)
                    m.bias.zero_()

    g = nets.Generator(c, width)
    init_dcgan(g)
    d = s = None
    if a.phase == "phase1":
        d = nets.Discriminator(c, width)
        init_dcgan(d)
    else:
        s = nets.Segmenter(c, width, rho)
        init_dcgan(s)
        with torch.no_grad():
            s.head_out.bias.fill_(math.log(rho / (1 - rho)))
    for m in (g, d, s):
        if m is not None:
            m.to(dev)

    # The batch: smooth random images in [-1, 1]; every other x~ carries a bright square
    # defect of side S/8 (weak label 1).
    gen = torch.Generator().manual_seed(a.seed + 101)
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                            indexing="ij")
    x = torch.empty(b, c, size, size)
    for i in range(b):
        for ch in range(c):
            fx, fy, ph = (1 + 5 * torch.rand(2, generator=gen)).tolist() + [6.3 * torch.rand(1, generator=gen).item()]
            x[i, ch] = 0.6 * torch.sin(fx * xx / size * 6.283 + ph) * torch.cos(fy * yy / size * 6.283) + \
                0.2 * (2 * torch.rand(size, size, generator=gen) - 1)
    xt = x.clone()
    labels = torch.zeros(b)
    side = size // 8
    for i in range(0, b, 2):
        labels[i] = 1
        y0, x0 = (i * 7 % 5 + 1) * size // 8, (i * 3 % 5 + 2) * size // 8
        xt[i, :, y0:y0 + side, x0:x0 + side] = 0.9
    x, xt, labels = x.to(dev), xt.to(dev), labels.to(dev)

    if a.phase == "phase1":
        opt_g = steps.make_adam(g, lr_g, (0.5, 0.999))
        opt_d = steps.make_adam(d, lr_g, (0.5, 0.999))

        def step():
            r = steps.gan_step(g, d, opt_g, opt_d, x, xt)
            return r["loss_d"] + r["loss_g"]
    elif a.phase == "phase2":
        opt_s = steps.make_adam(s, lr_s, (0.9, 0.999))

        def step():
            return steps.seg_step(g, s, opt_s, xt, None, labels)["loss"]
    elif a.phase == "latency":
        step = latency_step(torch, g, s, x, size, a)
    else:
        def step():
            # G then S up to the map, as sparsead-steps times it.
            with torch.no_grad():
                g.eval()
                s.eval()
                return torch.sigmoid(s(x, g(x))).mean().item()

    def sync():
        if a.device == "cuda":
            torch.cuda.synchronize()

    rss_setup = proc_status_mib("VmRSS:")
    v = step()  # the first step is checked, as ours is, and warms up
    if not math.isfinite(v):
        sys.exit(f"torch_bench: {a.phase} step returned {v}")
    for _ in range(a.warmup - 1):
        step()
    ms, cpu_ms = [], []
    for _ in range(a.steps):
        sync()
        t0, c0 = time.perf_counter(), time.process_time()  # process_time: every thread's CPU time
        step()
        sync()
        cpu_ms.append((time.process_time() - c0) * 1000.0)
        ms.append((time.perf_counter() - t0) * 1000.0)
    srt = sorted(ms)
    median = srt[len(srt) // 2]
    out = {
        "impl": "pytorch", "torch_version": torch.__version__, "phase": a.phase, "preset": a.preset,
        "image_size": size, "width": width, "batch": b, "threads": torch.get_num_threads(), "device": a.device,
        "step_ms": ms, "median_ms": median, "min_ms": srt[0],
        "cpu_ms": cpu_ms, "median_cpu_ms": sorted(cpu_ms)[len(cpu_ms) // 2], "images_per_s": b * 1000.0 / median,
        "rss_setup_mib": rss_setup,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    if a.device == "cuda":
        out["gpu_peak_mib"] = torch.cuda.max_memory_allocated() / (1024.0 * 1024.0)
    print(json.dumps(out))
    if a.profile:  # where PyTorch's time goes, op by op (docs/BENCHMARKS.md's profile section)
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(a.steps):
                step()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15, max_name_column_width=40),
              file=sys.stderr)


if __name__ == "__main__":
    main()
