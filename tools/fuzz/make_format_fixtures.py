#!/usr/bin/env python3
"""make_format_fixtures.py — reference files written by Python's own libraries, for the C++ readers.

Writes into tests/fixtures/formats/ (run from the repository root; needs torch, safetensors, numpy):
  py_written.safetensors   safetensors.torch.save_file of one tensor per supported dtype, a scalar, an
                           empty tensor and one __metadata__ entry. tests/test_safetensors.cpp checks the
                           values (written out literally there) and that our writer reproduces the file
                           byte for byte.
  np_f32.npy, np_i64.npy   numpy.save of small arrays; tests/test_npy.cpp compares our writer's bytes.
  npy_headers.txt          "descr shape hex(header)" per line: numpy's .npy v1.0 header for shapes too
                           large to save (written by the same numpy.lib.format code np.save uses).

Check a file written by the C++ side:  python3 tools/fuzz/make_format_fixtures.py --check FILE
"""
import io
import os
import sys

import numpy as np
import torch
from safetensors.torch import load_file, save_file

OUT = "tests/fixtures/formats"


def tensors():
    return {
        "f32": torch.tensor([[-1.5, 0.0, 0.25], [1e-8, 3.4e38, -7.0]], dtype=torch.float32),
        "bf16": torch.tensor([1.0, -2.5, 3.140625], dtype=torch.bfloat16),
        "f16": torch.tensor([1.0, -2.0, 65504.0], dtype=torch.float16),
        "i64": torch.tensor([[-1, 2**40], [3, -(2**62)]], dtype=torch.int64),
        "i32": torch.tensor([7, -8], dtype=torch.int32),
        "scalar": torch.tensor(42, dtype=torch.int32),
        "u8": torch.tensor([0, 255, 128], dtype=torch.uint8),
        "mask": torch.tensor([True, False, True], dtype=torch.bool),
        "empty": torch.zeros((0, 4), dtype=torch.float32),
        "a.layer.0.weight": torch.arange(12, dtype=torch.float32).reshape(3, 4) / 8,
    }


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        for k, v in load_file(sys.argv[2]).items():
            print(k, v.dtype, tuple(v.shape), v.flatten()[:6].tolist())
        return
    os.makedirs(OUT, exist_ok=True)
    save_file(tensors(), f"{OUT}/py_written.safetensors", metadata={"format": "pt"})
    np.save(f"{OUT}/np_f32.npy", (np.arange(15, dtype=np.float32).reshape(5, 3) - 7) / 4)
    np.save(f"{OUT}/np_i64.npy", np.array([[0, -1], [2**40, -(2**62)], [5, 6]], dtype=np.int64))
    with open(f"{OUT}/npy_headers.txt", "w") as f:
        for descr, shape in [("<f4", (5, 3)), ("<f4", (0, 384)), ("<f4", (1234567, 384)), ("<f4", ()),
                             ("<i8", (7,)), ("<i4", (3, 2, 1)), ("<f4", (9 * 10**18, 2)), ("|u1", (2**40,)),
                             ("|b1", (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1))]:
            b = io.BytesIO()
            np.lib.format.write_array_header_1_0(b, {"descr": descr, "fortran_order": False, "shape": shape})
            dims = ",".join(map(str, shape)) or "-"
            f.write(f"{descr} {dims} {b.getvalue().hex()}\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
