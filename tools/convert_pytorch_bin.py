#!/usr/bin/env python3
"""convert_pytorch_bin.py — turn a PyTorch checkpoint (pytorch_model.bin) into model.safetensors.

Many BERT-family models (older HuggingFace uploads, Chinese models in particular) ship only a pickled
`pytorch_model.bin`. The C++ engine reads only safetensors, so a fetch script converts once, at download time:

    python3 tools/convert_pytorch_bin.py weights/<name>/pytorch_model.bin weights/<name>/model.safetensors

What it does, and why:
  - loads with torch.load(weights_only=True): tensors only, no arbitrary pickled code is executed;
  - accepts a plain state dict, or one nested under "state_dict" / "model" (common training checkpoints);
  - keeps every tensor's name, dtype and shape unchanged (buffers such as embeddings.position_ids too:
    HuggingFace loaders ignore them, and so must ours);
  - tensors that share storage (tied weights, e.g. an MLM decoder tied to the word embeddings) are stored
    once under the first name in sorted order; the dropped aliases are listed in the metadata key
    "aliases" as {"dropped_name": "kept_name"} (safetensors forbids shared storage; transformers re-ties);
  - writes metadata {"format": "pt"} (what transformers expects) and writes atomically (tmp + rename);
  - re-reads the output and checks every tensor is bit-identical to the input before reporting success.
Prints the output's size and sha256 (record it in the fetch script that calls this).
"""
import argparse
import hashlib
import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file


def load_state_dict(path):
    sd = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(sd, dict) and key in sd and isinstance(sd[key], dict):
            sd = sd[key]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        sys.exit(f"convert_pytorch_bin: {path}: not a state dict of tensors")
    return sd


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input", help="pytorch_model.bin")
    ap.add_argument("output", help="model.safetensors")
    a = ap.parse_args()

    sd = load_state_dict(a.input)
    out, aliases, seen = {}, {}, {}
    for name in sorted(sd):
        t = sd[name]
        # Same storage, offset, shape and strides = the same tensor under two names (tied weights).
        key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), tuple(t.stride()), t.dtype)
        if t.numel() > 0 and key in seen:
            aliases[name] = seen[key]
            continue
        seen[key] = name
        out[name] = t.detach().contiguous().clone()
    meta = {"format": "pt"}
    if aliases:
        meta["aliases"] = json.dumps(aliases, sort_keys=True)
    tmp = a.output + ".tmp"
    save_file(out, tmp, metadata=meta)
    back = load_file(tmp)
    for name, t in out.items():
        if back[name].dtype != t.dtype or back[name].shape != t.shape or not torch.equal(back[name], t):
            os.remove(tmp)
            sys.exit(f"convert_pytorch_bin: round-trip mismatch on {name}")
    os.replace(tmp, a.output)
    h = hashlib.sha256()
    with open(a.output, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    print(f"convert_pytorch_bin: {a.output}: {len(out)} tensors"
          + (f" ({len(aliases)} tied aliases dropped: {', '.join(sorted(aliases))})" if aliases else "")
          + f", {os.path.getsize(a.output)} bytes, sha256 {h.hexdigest()}")


if __name__ == "__main__":
    main()
