#!/usr/bin/env python3
"""optim_reference.py — record PyTorch optimizer trajectories for tests/test_optim.cpp.

Writes tests/fixtures/optim/trajectories.json (committed; CI needs no PyTorch):
  run:  python3 tools/ref/optim_reference.py

Two parameters p1 [3, 4] and p2 [5] start from p = sin(0.7 i + 0.1) (i = flat index within the
parameter, scaled by 1.5 for p2). At every step the gradient is that of
    L(p) = sum(a * (p - t)^2) + 0.1 * sum(p^4),   a = 1 + 0.1 i,  t = cos(0.3 i)
i.e. g = 2 a (p - t) + 0.4 p^3 (the C++ test evaluates the same formula, so only the optimizer
is under test). Each case runs 10 steps of a torch.optim optimizer (float32) and records the
parameters after every step; the clipped case also records the pre-clip global gradient norm.
The schedule case records transformers' warm-up + linear / cosine learning rates.
"""
import json
import math
import os

import torch

torch.set_default_dtype(torch.float32)
STEPS = 10


def init_params():
    p1 = torch.tensor([math.sin(0.7 * i + 0.1) for i in range(12)], dtype=torch.float32).reshape(3, 4)
    p2 = torch.tensor([1.5 * math.sin(0.7 * i + 0.1) for i in range(5)], dtype=torch.float32)
    return [p1.clone().requires_grad_(True), p2.clone().requires_grad_(True)]


def set_grads(params):
    for p in params:
        n = p.numel()
        i = torch.arange(n, dtype=torch.float32).reshape(p.shape)
        a = 1.0 + 0.1 * i
        t = torch.cos(0.3 * i)
        with torch.no_grad():
            g = 2.0 * a * (p - t) + 0.4 * p ** 3
        p.grad = g.to(torch.float32)


def flat(params):
    return [float(x) for p in params for x in p.detach().reshape(-1).tolist()]


def run(make_opt, clip=None, sched=None):
    params = init_params()
    opt = make_opt(params)
    scheduler = sched(opt) if sched else None
    traj, norms, lrs = [], [], []
    for _ in range(STEPS):
        set_grads(params)
        if clip is not None:
            norms.append(float(torch.nn.utils.clip_grad_norm_(params, clip)))
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if scheduler:
            scheduler.step()
        traj.append(flat(params))
    return {"params": traj, "grad_norms": norms, "lrs": lrs}


def main():
    from transformers import get_cosine_schedule_with_warmup, get_linear_schedule_with_warmup

    cases = {
        "sgd": run(lambda p: torch.optim.SGD(p, lr=0.1)),
        "sgd_momentum": run(lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
        "sgd_nesterov": run(lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
        "adamw": run(lambda p: torch.optim.AdamW(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)),
        "adamw_clip_warmup_linear": run(
            lambda p: torch.optim.AdamW(p, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05),
            clip=1.0,
            sched=lambda o: get_linear_schedule_with_warmup(o, num_warmup_steps=3, num_training_steps=10),
        ),
    }
    # schedules alone: multipliers of base lr 1.0 for steps 0..12
    scheds = {}
    for name, fn in (("linear", get_linear_schedule_with_warmup), ("cosine", get_cosine_schedule_with_warmup)):
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        s = fn(opt, num_warmup_steps=3, num_training_steps=10)
        lrs = []
        for _ in range(13):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            s.step()
        scheds[name] = lrs
    out = {
        "generator": "tools/ref/optim_reference.py",
        "torch_version": torch.__version__,
        "steps": STEPS,
        "init": flat(init_params()),
        "cases": cases,
        "schedules": {"warmup": 3, "total": 10, "lrs": scheds},
    }
    path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "optim", "trajectories.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
