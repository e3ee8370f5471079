"""Weights in and out of sparsead's safetensors files, by parameter name.

A model file (`sparsead train` -> RUN/model.safetensors) holds `G.<name>` and `S.<name>`
for every parameter and BN running statistic, where <name> is the module path of
model/networks.cpp (`G.enc.0.0.conv.weight`, `S.fuse1.bn.running_mean`); the training
checkpoint adds `D.<name>` and the Adam moments. The classes of nets.py reproduce those
paths, so loading is a dictionary lookup by name. PyTorch's `num_batches_tracked` is not
stored by sparsead and is skipped both ways.

    from torch_ref import nets, state
    g = nets.Generator(channels=3, width=16)
    state.load_module(g, state.read("run/model.safetensors")[0], prefix="G.")
"""

import json
import struct

import torch
from safetensors import safe_open
from safetensors.torch import load_file

SKIPPED = ("num_batches_tracked",)
DTYPES = {torch.float32: "F32", torch.float64: "F64"}


def named_state(module, prefix=""):
    """{prefix + name: tensor} for every parameter and buffer sparsead stores."""
    out = {}
    for name, t in list(module.named_parameters()) + list(module.named_buffers()):
        if name.rsplit(".", 1)[-1] in SKIPPED:
            continue
        out[prefix + name] = t
    return out


@torch.no_grad()
def load_module(module, tensors, prefix="", strict=True):
    """Copies tensors[prefix + name] into each of module's parameters and buffers
    (converted to the module's dtype). Missing names and shape mismatches are errors;
    with strict, so is a tensor under `prefix` that the module does not have."""
    mine = named_state(module, prefix)
    for name, dst in mine.items():
        if name not in tensors:
            raise KeyError(f"tensor '{name}' is missing")
        src = tensors[name]
        if tuple(src.shape) != tuple(dst.shape):
            raise ValueError(f"tensor '{name}' has shape {tuple(src.shape)}, the module expects {tuple(dst.shape)}")
        dst.copy_(src.to(dst.dtype))
    if strict:
        extra = [n for n in tensors if n.startswith(prefix) and n not in mine]
        if extra:
            raise KeyError(f"unexpected tensors under '{prefix}': {extra[:5]}")


def read(path):
    """(tensors, metadata) of a safetensors file; tensors on the CPU."""
    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
    return load_file(path), meta


def write(path, tensors, metadata=None):
    """Writes contiguous float32/float64 CPU tensors (the dtypes our reader accepts) in the
    safetensors layout, with the metadata first and the tensors in name order.

    Written here rather than with safetensors.torch.save_file, whose metadata order
    varies from run to run: this way the same contents give the same bytes, so a
    regenerated fixture that did not change leaves no diff."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in sorted(metadata.items())}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        if t.dtype not in DTYPES:
            raise TypeError(f"tensor '{name}': sparsead reads float32 and float64 only, got {t.dtype}")
        raw = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 8)  # the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)
