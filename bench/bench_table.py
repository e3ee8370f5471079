#!/usr/bin/env python3
"""Markdown tables from sparsead-bench's JSON (--benchmark_out=FILE --benchmark_out_format=json),
one per benchmark family, as docs/BENCHMARKS.md shows them. Standard library only.

    python3 bench/bench_table.py bench-cpu.json [--compare other.json]

--compare adds the other file's time and the ratio this / other for every benchmark of
the same name (e.g. a run before and after a change, or two machines).
"""

import argparse
import json
import sys


def rate(b):
    """The benchmark's throughput counter, in the unit that reads best."""
    if "FLOP/s" in b:
        return f"{b['FLOP/s'] / 1e9:.1f} GFLOP/s"
    if "bytes_per_second" in b:
        return f"{b['bytes_per_second'] / 1e9:.2f} GB/s"
    if "items_per_second" in b:
        return f"{b['items_per_second']:.2f} img/s"
    return ""


def to_ms(b):
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
    return b["real_time"] * scale


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json")
    ap.add_argument("--compare")
    a = ap.parse_args()
    doc = json.load(open(a.json))
    other = {}
    if a.compare:
        other = {b["name"]: b for b in json.load(open(a.compare))["benchmarks"] if b.get("run_type") == "iteration"}
    ctx = doc["context"]
    print(f"<!-- {a.json}: {ctx.get('date')}, {ctx.get('num_cpus')} CPUs at {ctx.get('mhz_per_cpu')} MHz, "
          f"load {', '.join(f'{x:.2f}' for x in ctx.get('load_avg', []))}, "
          f"threads {ctx.get('sparsead_threads', '?')} -->")
    families = {}
    for b in doc["benchmarks"]:
        if b.get("run_type") != "iteration" or b.get("error_occurred"):
            continue
        families.setdefault(b["name"].split("/")[0], []).append(b)
    for fam, rows in families.items():
        print(f"\n**{fam}**\n")
        head = "| benchmark | ms | rate | shape |" + (" other ms | ratio |" if other else "")
        print(head)
        print("|" + "---|" * (head.count("|") - 1))
        for b in rows:
            name = b["name"].split("/", 1)[1].replace("/real_time", "")
            name = name.split("/min_time")[0]
            line = f"| {name} | {to_ms(b):.2f} | {rate(b)} | {b.get('label', '')} |"
            if other:
                o = other.get(b["name"])
                line += f" {to_ms(o):.2f} | {to_ms(b) / to_ms(o):.2f} |" if o else " | |"
            print(line)


if __name__ == "__main__":
    sys.exit(main())
