#!/usr/bin/env python3
"""bench_train.py — `make bench-train`: one BERT fine-tuning step, ours vs PyTorch, same batch, same threads.

    python3 tools/bench/bench_train.py [--build build] [--model weights/all-MiniLM-L6-v2] [--threads 2]
                                       [--batch 32] [--seq 128] [--warmup 3] [--steps 10] [--repeat 1]
                                       [--bf16] [--json-out FILE]

The step (identical on both sides, dropout off so the two compute the same numbers):
    h    = BertModel(ids, mask, token_type_ids = 0)           [B, T, C]   (MiniLM-L6: C 384, 6 layers)
    z    = sum_t mask h / max(sum_t mask, 1)                    [B, C]      masked mean pooling
    loss = cross_entropy(z Wᵀ + b, y)                           10 classes, W [10, C] from a fixed seed, b = 0
    loss.backward();  clip_grad_norm(all, 1.0);  AdamW(lr 5e-5, wd 0.01 on matrices/embeddings, 0 otherwise)
that is what `tastegraph finetune` does per batch (nn/finetune.cpp) and what transformers' Trainer does.

1. Data: 10·(rows/10) real reviews from ../shared/data/chinese-online-shopping-10cats (the first reviews of each
   of the 10 categories, read at run time, never copied), labels = the category index (sorted by code point);
   tokenized once by HF BertTokenizerFast with the model's vocab.txt, cut or padded to exactly --seq tokens, so
   both sides see the same ids, masks and labels -> $BUILD/bench_train_work/{ids,mask,labels,head_w}.npy.
   Step s uses rows [s·B, (s+1)·B) mod N (the same sequence of batches on both sides).
2. Each implementation runs in its own process (so peak RSS is its own; VmHWM, weights, optimizer state and the
   peer's Python runtime included), --threads threads each: $BUILD/bench_train, then this script with
   --peer torch (transformers BertModel, default attention implementation, torch.set_num_threads). Each runs
   --warmup steps, then --steps timed steps, and prints one JSON line with the median step time, its split into
   forward / backward / optimizer (clipping + AdamW + zero_grad), peak RSS and the loss of every step.
   --repeat R runs the pair R times, interleaved (ours, torch, ours, torch, ...) and reports medians.
   --bf16 adds a second pair with the Linear GEMMs on bf16 operands and f32 accumulation on both sides (ours:
   BertTrainable::bf16_matmul; PyTorch: torch.autocast("cpu", bfloat16) around the encoder).
3. Checks that the two compute the same thing: the first step's loss (same weights, same batch) must agree to
   1e-4 relative (bf16 pair: 1e-2), and the losses of the later steps (which depend on the gradients and the
   AdamW updates) are printed side by side with their largest relative difference.
4. Prints a table (samples/s, ms/step, forward/backward/optimizer ms, peak RSS, ratio ours/PyTorch) and the same
   as JSON lines. The machine may be shared: compare within one run.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "..", "shared", "data", "chinese-online-shopping-10cats", "online_shopping_10_cats.csv")
NUM_CLASSES = 10


def peak_rss_mb():
    """Peak resident set of this process: VmHWM (unlike ru_maxrss it is not inherited across fork + exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def make_data(model, seq, n, work):
    """ids/mask int32 [n, seq], labels int64 [n], head_w f32 [10, C] (N(0, 0.02), numpy seed 0)."""
    import csv
    import numpy as np
    from transformers import BertTokenizerFast
    per = n // NUM_CLASSES
    by_cat = {}
    with open(DATA, encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            text = (row.get("review") or "").strip().lstrip("\ufeff")
            lst = by_cat.setdefault(row["cat"], [])
            if text and len(lst) < per:
                lst.append(text)
    cats = sorted(by_cat)  # code point order, as `tastegraph finetune` assigns class ids
    if len(cats) != NUM_CLASSES or any(len(by_cat[c]) < per for c in cats):
        sys.exit(f"bench_train: {DATA}: expected {NUM_CLASSES} categories with {per} reviews each")
    texts, labels = [], []
    for i in range(per):  # interleave the categories so every batch holds several classes
        for k, c in enumerate(cats):
            texts.append(by_cat[c][i])
            labels.append(k)
    tok = BertTokenizerFast(os.path.join(model, "vocab.txt"), do_lower_case=True)
    enc = tok(texts, truncation=True, max_length=seq, padding="max_length")
    ids = np.array(enc["input_ids"], dtype=np.int32)
    mask = np.array(enc["attention_mask"], dtype=np.int32)
    with open(os.path.join(model, "config.json")) as f:
        C = json.load(f)["hidden_size"]
    head_w = (np.random.default_rng(0).standard_normal((NUM_CLASSES, C)) * 0.02).astype(np.float32)
    np.save(os.path.join(work, "ids.npy"), ids)
    np.save(os.path.join(work, "mask.npy"), mask)
    np.save(os.path.join(work, "labels.npy"), np.array(labels, dtype=np.int64))
    np.save(os.path.join(work, "head_w.npy"), head_w)
    print(f"bench_train: {n} reviews, {mask.sum(1).mean():.1f} real tokens per row on average "
          f"({(mask.sum(1) == seq).mean() * 100:.0f}% cut at {seq})", file=sys.stderr)


def peer_torch(a):
    """The PyTorch step, timed the way bench_train.cpp times ours."""
    import numpy as np
    import torch
    from transformers import BertModel
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    ids = torch.from_numpy(np.load(os.path.join(a.work, "ids.npy")).astype(np.int64))
    mask = torch.from_numpy(np.load(os.path.join(a.work, "mask.npy")).astype(np.int64))
    labels = torch.from_numpy(np.load(os.path.join(a.work, "labels.npy")))
    head_w = torch.from_numpy(np.load(os.path.join(a.work, "head_w.npy")))
    bert = BertModel.from_pretrained(a.model, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                                     add_pooling_layer=False)
    bert.train()
    head = torch.nn.Linear(head_w.shape[1], head_w.shape[0])
    with torch.no_grad():
        head.weight.copy_(head_w)
        head.bias.zero_()
    params = list(bert.named_parameters()) + [("head." + n, p) for n, p in head.named_parameters()]
    decay = [p for n, p in params if p.dim() >= 2]
    no_decay = [p for n, p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    all_params = decay + no_decay
    n, B = ids.shape[0], a.batch
    tt = torch.zeros(B, ids.shape[1], dtype=torch.int64)

    losses, step_ms, fwd_ms, bwd_ms, opt_ms = [], [], [], [], []
    for s in range(a.warmup + a.steps):
        r = [(s * B + i) % n for i in range(B)]
        x, m, y = ids[r], mask[r], labels[r]
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.matmul == "bf16"):
            h = bert(input_ids=x, attention_mask=m, token_type_ids=tt).last_hidden_state
        h = h.float()
        mf = m.unsqueeze(-1).to(h.dtype)
        z = (h * mf).sum(1) / mf.sum(1).clamp(min=1.0)
        loss = torch.nn.functional.cross_entropy(head(z), y)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(all_params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        t3 = time.perf_counter()
        losses.append(loss.item())
        if s >= a.warmup:
            step_ms.append(1e3 * (t3 - t0))
            fwd_ms.append(1e3 * (t1 - t0))
            bwd_ms.append(1e3 * (t2 - t1))
            opt_ms.append(1e3 * (t3 - t2))
    med = statistics.median(step_ms)
    print(json.dumps({"impl": "pytorch", "matmul": a.matmul, "threads": a.threads, "batch": B, "seq": int(ids.shape[1]),
                      "steps": a.steps, "ms_per_step": round(med, 2), "samples_per_s": round(1e3 * B / med, 2),
                      "fwd_ms": round(statistics.median(fwd_ms), 2), "bwd_ms": round(statistics.median(bwd_ms), 2),
                      "opt_ms": round(statistics.median(opt_ms), 2), "peak_rss_mb": round(peak_rss_mb(), 1),
                      "attn": bert.config._attn_implementation, "torch": torch.__version__,
                      "losses": [round(v, 7) for v in losses]}), flush=True)


def run_json(cmd, env):
    print("bench_train: " + " ".join(cmd), file=sys.stderr, flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"bench_train: {cmd[0]} failed with exit code {p.returncode}")
    lines = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    if len(lines) != 1:
        sys.exit(f"bench_train: {cmd[0]} printed {len(lines)} JSON lines, expected 1")
    return lines[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--model", default=os.path.join(ROOT, "weights", "all-MiniLM-L6-v2"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--rows", type=int, default=160)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--bf16", action="store_true", help="also run both sides with bf16 Linear GEMMs "
                    "(ours: BertTrainable::bf16_matmul; PyTorch: torch.autocast(cpu, bfloat16))")
    ap.add_argument("--json-out", default="")
    ap.add_argument("--peer", choices=["torch"], help=argparse.SUPPRESS)  # internal: child process
    ap.add_argument("--work", help=argparse.SUPPRESS)
    ap.add_argument("--matmul", default="f32", help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.peer:
        peer_torch(a)
        return

    if not os.path.exists(os.path.join(a.model, "model.safetensors")):
        sys.exit(f"bench_train: {a.model} missing: run `make weights` first")
    build = os.path.join(ROOT, a.build) if not os.path.isabs(a.build) else a.build
    a.work = os.path.join(build, "bench_train_work", f"n{a.rows}_s{a.seq}")
    os.makedirs(a.work, exist_ok=True)
    if not os.path.exists(os.path.join(a.work, "head_w.npy")):
        make_data(a.model, a.seq, a.rows, a.work)

    common = ["--model", a.model, "--work", a.work, "--threads", str(a.threads), "--batch", str(a.batch),
              "--warmup", str(a.warmup), "--steps", str(a.steps), "--lr", str(a.lr)]
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    modes = ["f32", "bf16"] if a.bf16 else ["f32"]
    runs = {}  # (impl, matmul) -> list of results
    for _ in range(a.repeat):  # interleaved: a slow spell of the shared machine hits every side
        for mm in modes:
            runs.setdefault(("tastegraph", mm), []).append(
                run_json([os.path.join(build, "bench_train")] + common + ["--matmul", mm], env))
            runs.setdefault(("pytorch", mm), []).append(
                run_json([sys.executable, os.path.abspath(__file__), "--peer", "torch", "--matmul", mm] + common, env))

    def summary(rs):
        r = dict(rs[0])
        for k in ["ms_per_step", "fwd_ms", "bwd_ms", "opt_ms", "peak_rss_mb"]:
            r[k] = round(statistics.median(x[k] for x in rs), 2)
        r["samples_per_s"] = round(1e3 * a.batch / r["ms_per_step"], 2)
        r["repeat"] = len(rs)
        return r

    res = {key: summary(rs) for key, rs in runs.items()}
    losses = {key: r.pop("losses") for key, r in res.items()}

    def rel(x, y):
        return abs(x - y) / abs(y)

    print(f"\nBERT training step: {os.path.basename(a.model)}, batch {a.batch} x seq {a.seq}, {a.threads} threads, "
          f"mean pooling + {NUM_CLASSES}-way softmax head, AdamW, dropout off; median of {a.steps} steps "
          f"after {a.warmup} warm-up" + (f", median of {a.repeat} interleaved runs" if a.repeat > 1 else ""))
    hdr = (f"{'impl':<16} {'samples/s':>9} {'ms/step':>8} {'fwd ms':>7} {'bwd ms':>7} {'opt ms':>7} "
           f"{'peak RSS MB':>11} | {'vs torch f32':>12}")
    print(hdr)
    print("-" * len(hdr))
    base = res[("pytorch", "f32")]
    rows = []
    for mm in modes:
        for impl in ["tastegraph", "pytorch"]:
            r = res[(impl, mm)]
            name = f"{impl} {mm}" + (" (autocast)" if impl == "pytorch" and mm == "bf16" else "")
            sp, rs_ = r["samples_per_s"] / base["samples_per_s"], r["peak_rss_mb"] / base["peak_rss_mb"]
            print(f"{name:<16} {r['samples_per_s']:9.2f} {r['ms_per_step']:8.1f} {r['fwd_ms']:7.1f} {r['bwd_ms']:7.1f} "
                  f"{r['opt_ms']:7.1f} {r['peak_rss_mb']:11.0f} | {sp:5.2f}x speed")
            rows.append(dict(r, ratio_vs_pytorch_f32=round(sp, 3), rss_ratio_vs_pytorch_f32=round(rs_, 3)))
    checks = []
    for mm in modes:
        o, t = res[("tastegraph", mm)], res[("pytorch", mm)]
        sp, rs_ = o["samples_per_s"] / t["samples_per_s"], o["peak_rss_mb"] / t["peak_rss_mb"]
        lo, lt = losses[("tastegraph", mm)], losses[("pytorch", mm)]
        first, worst = rel(lo[0], lt[0]), max(rel(x, y) for x, y in zip(lo, lt))
        tol = 1e-4 if mm == "f32" else 1e-2  # bf16 operands: ~3 significant digits per product
        print(f"\n{mm}: ours / PyTorch {mm} = {sp:.2f}x samples/s (goal >= 2), {rs_:.2f}x peak RSS (goal <= 1)")
        print(f"{mm}: losses (ours | PyTorch), step 1 = same weights, same batch:")
        for i, (x, y) in enumerate(zip(lo, lt)):
            print(f"  step {i + 1:>2}{' (warm-up)' if i < a.warmup else '          '}  {x:.6f} | {y:.6f}")
        print(f"{mm}: first-step loss relative difference {first:.2e} (must be <= {tol:g}); largest over all "
              f"steps {worst:.2e}")
        checks += [{"check": f"ratio_vs_pytorch_{mm}", "samples_per_s": round(sp, 3), "peak_rss": round(rs_, 3)},
                   {"check": f"first_step_loss_rel_diff_{mm}", "value": first, "ok": first <= tol},
                   {"check": f"max_step_loss_rel_diff_{mm}", "value": worst}]
    print("\nJSON lines:")
    for r in rows + checks:
        print(json.dumps(r))
    if a.json_out:
        with open(a.json_out, "w") as f:
            for r in rows + checks:
                f.write(json.dumps(r) + "\n")
    bad = [c["check"] for c in checks if c.get("ok") is False]
    if bad:
        sys.exit(f"bench_train: {', '.join(bad)}: the two sides do not compute the same step")


if __name__ == "__main__":
    main()
