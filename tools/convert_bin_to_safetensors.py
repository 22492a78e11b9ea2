#!/usr/bin/env python3
"""convert_bin_to_safetensors.py — turn a PyTorch checkpoint (pytorch_model.bin) into model.safetensors.

    python3 tools/convert_bin_to_safetensors.py weights/<model>            (writes weights/<model>/model.safetensors)
    python3 tools/convert_bin_to_safetensors.py IN.bin OUT.safetensors

The engine reads only safetensors (zero-copy mmap, validated header); this is the one-time conversion for models
that ship only the pickle format. The pickle is loaded with torch.load(weights_only=True), which refuses
arbitrary Python objects. Tensors are stored as they are (dtype and names unchanged), made contiguous; tensors
that share storage (tied weights) are cloned, as safetensors requires distinct buffers. Writes atomically
(temporary file + rename) and checks the result by reading every tensor back.
"""
import os
import sys

import torch
from safetensors.torch import load_file, save_file


def convert(src, dst):
    sd = torch.load(src, map_location="cpu", weights_only=True)
    if "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    out, seen = {}, set()
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            continue
        ptr = v.untyped_storage().data_ptr()
        v = v.contiguous()
        if ptr in seen:
            v = v.clone()
        seen.add(ptr)
        out[k] = v
    tmp = dst + ".tmp"
    save_file(out, tmp, metadata={"format": "pt", "converted_from": os.path.basename(src)})
    back = load_file(tmp)
    assert back.keys() == out.keys() and all(torch.equal(back[k], out[k]) for k in out), "read-back mismatch"
    os.replace(tmp, dst)
    print(f"{src} -> {dst}: {len(out)} tensors, {os.path.getsize(dst):,} bytes")


if __name__ == "__main__":
    if len(sys.argv) == 2 and os.path.isdir(sys.argv[1]):
        convert(os.path.join(sys.argv[1], "pytorch_model.bin"), os.path.join(sys.argv[1], "model.safetensors"))
    elif len(sys.argv) == 3:
        convert(sys.argv[1], sys.argv[2])
    else:
        sys.exit(__doc__)
