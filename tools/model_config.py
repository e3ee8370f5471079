#!/usr/bin/env python3
"""Read or change the config stored in a sparsead model file, without touching its tensors.

A model file is safetensors: an 8-byte little-endian header length, a JSON header whose
`__metadata__.config` is the model's config as one JSON string, then the tensor bytes. This
tool rewrites only that string, so a trained model can be scored again with other scoring
settings (map_sigma, map_border, image_score, score_temperature, tile_stride) to measure
them without retraining. It never changes the networks; `sparsead` validates the result
when it loads it.

usage: tools/model_config.py MODEL                       # print the config
       tools/model_config.py MODEL --set k=v ... --out NEW
Values are parsed as JSON when they parse (numbers, true/false), else kept as strings.
"""
import argparse
import json
import os
import struct
import sys
import tempfile


def read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        body = f.read()
    return header, body


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out")
    a = ap.parse_args()
    header, body = read(a.model)
    meta = header.get("__metadata__") or {}
    if "config" not in meta:
        sys.exit(f"{a.model}: no config in the metadata (not a sparsead model file)")
    cfg = json.loads(meta["config"])
    if not a.set:
        print(json.dumps(cfg, indent=2))
        return
    if not a.out:
        sys.exit("--set needs --out (the model file itself is never changed in place)")
    for kv in a.set:
        key, sep, value = kv.partition("=")
        if not sep or not key:
            sys.exit(f"--set {kv}: expected KEY=VALUE")  # an unknown key is refused by sparsead on load
        try:
            cfg[key] = json.loads(value)
        except json.JSONDecodeError:
            cfg[key] = value
    meta["config"] = json.dumps(cfg)
    header["__metadata__"] = meta
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # keep the data 8-byte aligned, as writers do
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(a.out)), suffix=".partial")
    with os.fdopen(fd, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + body)
    os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
