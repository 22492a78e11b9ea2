#!/usr/bin/env python3
"""finetune_reference.py — PyTorch + transformers reference for multi-task fine-tuning (issue 4, run (e)).

One BERT encoder shared by two heads, trained on the Chinese online-shopping reviews with the committed split
(tests/fixtures/shopping_split/*.idx, see tools/ref/make_split.py; the text is read from ../shared at run time):

    category   softmax head, 10 classes (column `cat`; class id = rank of the category name in code-point order)
    sentiment  binary head: one logit + sigmoid cross-entropy (column `label`, 1 = positive)
               (--sentiment-kind softmax: a 2-class softmax head instead)

Everything `tastegraph finetune` must reproduce for the (b)-vs-(e) comparison is spelled out here:

  text       column `review`, BertTokenizerFast from the model folder, [CLS] text [SEP], truncated to --max-len
  pooling    --pool cls|mean|pooler; default `auto` = the model's sentence-transformers pooling
             (1_Pooling/config.json) if present, else cls. mean = average of the last hidden states over
             the real (unpadded) tokens; cls = last hidden state of [CLS]; pooler = tanh(dense(h_CLS)).
  heads      Linear(H, K) on the pooled vector, weights ~ N(0, 0.02) (BERT's initializer_range), bias 0,
             drawn from torch.Generator seeded with --seed in the order category, sentiment.
  loss       per task: mean over the batch of the cross-entropy (softmax) or BCE-with-logits (binary).
             --balance fixed:        L = Σ_t w_t L_t                 (w_t from --weights, default 1 each)
             --balance uncertainty:  L = Σ_t exp(-s_t) L_t + s_t     (Kendall, Gal & Cipolla 2018; s_t = log σ_t²
                                     learned, initialised to 0, no weight decay)
  optimiser  AdamW (β = 0.9, 0.999, ε = 1e-8, decoupled weight decay --wd on every weight matrix and
             embedding; none on biases, LayerNorm parameters and s_t), one learning rate for all.
             Parameters that do not reach the loss (the pooler, unless --pool pooler) get no gradient and
             AdamW leaves them untouched (no decay either).
  schedule   with N optimiser steps in all and W = --warmup steps (a value < 1 is a fraction of N, rounded
             down), step k = 1..N uses lr·k/W for k ≤ W and lr·(N−k)/(N−W) after (the last step uses 0).
             This is transformers' linear schedule shifted by one step (theirs starts at 0 instead).
  clipping   global L2 norm of all gradients clipped to --clip (0 = off), after backward, before the step.
  batches    length-bucketed and shuffled: every epoch, a permutation of the training rows (torch.Generator
             seeded with seed + epoch) is cut into chunks of --batch × 50 rows, each chunk sorted by token
             count (stable), cut into batches of --batch, and the batch order shuffled with the same
             generator; each batch is padded to its own longest row.
  dropout    the model's own hidden/attention dropout while training (--no-dropout turns it off).
  eval       after every epoch on valid and test: accuracy and macro-F1 per task (macro-F1 = mean of the
             per-class F1 over the classes present in the truth or the predictions, as scikit-learn does),
             plus ROC AUC for the sentiment head (null if the split has one label only). The best epoch is the one with the highest mean
             valid macro-F1 over the tasks; report.json holds that epoch's test (and valid) metrics.

Outputs in -o DIR: metrics.jsonl (one line per epoch), report.json (keys like "category.accuracy",
"sentiment.macro_f1", plus "valid.*", "best_epoch", timings and the full configuration).

    python3 tools/ref/finetune_reference.py -m weights/all-MiniLM-L6-v2 -o runs/ref_e --epochs 3
    python3 tools/ref/finetune_reference.py -m weights/all-MiniLM-L6-v2 -o runs/smoke --limit 512 --epochs 1

--tasks category or --tasks sentiment trains a single-task model (run (d)); --freeze-encoder trains only the
heads on the frozen encoder (run (a)).

Step-fixture mode (the C++ backward test):  --dump-step OUT.safetensors -m tests/fixtures/bert/tiny
    One training step on the first --batch rows of the train split, computed in float64 with dropout off,
    at learning rate --lr exactly (no warm-up/decay factor): stores the batch (input_ids/attention_mask/token_type_ids [B,T] i32, labels.<task> [B] i32), the initial
    head weights (param.<name>), every parameter's gradient (grad.<name>), every parameter after one AdamW
    step with the configured lr/wd and the warm-up/decay factor of step 1 (after.<name>), and loss / task
    losses / lr as 1-element tensors, all as float32 (values computed in float64). Encoder parameter names
    are those of the model folder's model.safetensors with its "bert." prefix, heads are "head.category.weight"
    etc., uncertainty parameters "balance.s.<task>". __metadata__ carries the configuration as JSON.
"""
import argparse
import csv
import json
import math
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_CSV = os.path.join(ROOT, "..", "shared", "data", "chinese-online-shopping-10cats",
                           "online_shopping_10_cats.csv")
DEFAULT_SPLIT = os.path.join(ROOT, "tests", "fixtures", "shopping_split")
TASKS = ("category", "sentiment")


# ---------------------------------------------------------------------------------------------- data

def load_data(csv_path, split_dir, limit):
    """Returns {split: {"text": [...], "category": np.int64[n], "sentiment": np.int64[n]}}, category names."""
    with open(csv_path, encoding="utf-8", newline="") as f:
        r = csv.reader(f)
        header = next(r)
        if header != ["cat", "label", "review"]:
            sys.exit(f"finetune_reference: {csv_path}: unexpected header {header}")
        rows = list(r)
    cats = sorted({row[0] for row in rows})
    cat_id = {c: i for i, c in enumerate(cats)}
    data = {}
    for split in ("train", "valid", "test"):
        with open(os.path.join(split_dir, f"{split}.idx")) as f:
            idx = [int(x) for x in f]
        if limit:
            idx = idx[:limit]     # first N rows of each split file (files are in row order)
        data[split] = {"row": np.array(idx), "text": [rows[i][2] for i in idx],
                       "category": np.array([cat_id[rows[i][0]] for i in idx]),
                       "sentiment": np.array([int(rows[i][1]) for i in idx])}
    return data, cats


def tokenize(tok, texts, max_len):
    return tok(texts, truncation=True, max_length=max_len, add_special_tokens=True)["input_ids"]


def bucketed_batches(lengths, batch, gen):
    """Length-bucketed, shuffled batches (see the header): list of index arrays."""
    perm = torch.randperm(len(lengths), generator=gen).tolist()
    chunk = batch * 50
    batches = []
    for c in range(0, len(perm), chunk):
        part = sorted(perm[c:c + chunk], key=lambda i: lengths[i])   # stable sort
        batches += [part[b:b + batch] for b in range(0, len(part), batch)]
    order = torch.randperm(len(batches), generator=gen).tolist()
    return [batches[i] for i in order]


def collate(ids_list, rows, pad_id):
    T = max(len(ids_list[i]) for i in rows)
    ids = torch.full((len(rows), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), T), dtype=torch.long)
    for b, i in enumerate(rows):
        ids[b, :len(ids_list[i])] = torch.tensor(ids_list[i])
        mask[b, :len(ids_list[i])] = 1
    return ids, mask, torch.zeros_like(ids)


# ---------------------------------------------------------------------------------------------- model

def pooling_mode(model_dir, requested):
    if requested != "auto":
        return requested
    p = os.path.join(model_dir, "1_Pooling", "config.json")
    if os.path.exists(p):
        cfg = json.load(open(p))
        if cfg.get("pooling_mode_mean_tokens"):
            return "mean"
        if cfg.get("pooling_mode_cls_token"):
            return "cls"
        if cfg.get("pooling_mode_max_tokens"):
            return "max"
    return "cls"


class MultiTask(torch.nn.Module):
    def __init__(self, encoder, tasks, n_classes, pool, balance, weights, seed):
        super().__init__()
        self.encoder, self.tasks, self.pool, self.balance = encoder, tasks, pool, balance
        self.fixed_w = weights
        H = encoder.config.hidden_size
        gen = torch.Generator().manual_seed(seed)
        self.heads = torch.nn.ModuleDict()
        for t in tasks:
            lin = torch.nn.Linear(H, n_classes[t])
            with torch.no_grad():
                lin.weight.copy_(torch.randn(lin.weight.shape, generator=gen) * 0.02)
                lin.bias.zero_()
            self.heads[t] = lin
        self.s = torch.nn.ParameterDict({t: torch.nn.Parameter(torch.zeros(())) for t in tasks}) \
            if balance == "uncertainty" else None

    def pooled(self, ids, mask, tt):
        out = self.encoder(input_ids=ids, attention_mask=mask, token_type_ids=tt)
        h = out.last_hidden_state                                   # [B, T, H]
        if self.pool == "cls":
            return h[:, 0]
        if self.pool == "pooler":
            return out.pooler_output
        m = mask.unsqueeze(-1).to(h.dtype)                          # [B, T, 1]
        if self.pool == "mean":
            return (h * m).sum(1) / m.sum(1).clamp(min=1)
        return h.masked_fill(m == 0, float("-inf")).max(1).values   # max

    def forward(self, ids, mask, tt):
        z = self.pooled(ids, mask, tt)
        return {t: self.heads[t](z) for t in self.tasks}

    def task_loss(self, t, logits, y):
        if logits.shape[1] == 1:                                    # binary head: one logit
            return F.binary_cross_entropy_with_logits(logits[:, 0], y.to(logits.dtype))
        return F.cross_entropy(logits, y)

    def loss(self, logits, labels):
        parts = {t: self.task_loss(t, logits[t], labels[t]) for t in self.tasks}
        if self.balance == "uncertainty":
            total = sum(torch.exp(-self.s[t]) * parts[t] + self.s[t] for t in self.tasks)
        else:
            total = sum(self.fixed_w[t] * parts[t] for t in self.tasks)
        return total, parts


def set_train_mode(model, frozen_encoder):
    """Dropout on while training; a frozen encoder only provides features, so it runs in eval mode."""
    model.train()
    if frozen_encoder:
        model.encoder.eval()


def param_groups(model, wd):
    """Weight decay on weight matrices and embeddings only (ndim ≥ 2)."""
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.ndim >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


def lr_lambda(warmup, total):
    def f(step):   # step = number of optimiser steps already taken (0 for the first)
        s = step + 1
        if s <= warmup:
            return s / max(1, warmup)
        return max(0.0, (total - s) / max(1, total - warmup))
    return f


# ---------------------------------------------------------------------------------------------- metrics

def macro_f1(y, p, k):
    f1s = []
    for c in range(k):
        tp = int(np.sum((y == c) & (p == c)))
        fp = int(np.sum((y != c) & (p == c)))
        fn = int(np.sum((y == c) & (p != c)))
        if tp + fp + fn == 0:
            continue                    # class absent from truth and predictions
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1s)) if f1s else 0.0


def roc_auc(y, score):
    """Mann–Whitney U with average ranks for ties; None (JSON null) when one class is absent."""
    y = np.asarray(y)
    pos, neg = int(np.sum(y == 1)), int(np.sum(y == 0))
    if pos == 0 or neg == 0:
        return None
    order = np.argsort(score, kind="mergesort")
    s = np.asarray(score)[order]
    ranks = np.empty(len(s))
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


@torch.no_grad()
def evaluate(model, ids_list, data, n_classes, batch, pad_id):
    model.eval()
    order = sorted(range(len(ids_list)), key=lambda i: len(ids_list[i]))
    preds = {t: np.zeros(len(ids_list), dtype=np.int64) for t in model.tasks}
    scores = np.zeros(len(ids_list))
    for b in range(0, len(order), batch):
        rows = order[b:b + batch]
        logits = model(*collate(ids_list, rows, pad_id))
        for t in model.tasks:
            lg = logits[t]
            if lg.shape[1] == 1:
                preds[t][rows] = (lg[:, 0] > 0).long().numpy()
                scores[rows] = lg[:, 0].double().numpy()
            else:
                preds[t][rows] = lg.argmax(1).numpy()
                if t == "sentiment":
                    scores[rows] = (lg[:, 1] - lg[:, 0]).double().numpy()
    m = {}
    for t in model.tasks:
        y = data[t]
        m[f"{t}.accuracy"] = float(np.mean(preds[t] == y))
        m[f"{t}.macro_f1"] = macro_f1(y, preds[t], n_classes[t] if n_classes[t] > 1 else 2)
        if t == "sentiment":
            m[f"{t}.auc"] = roc_auc(y, scores)
    model.train()
    return m


# ---------------------------------------------------------------------------------------------- main

def build(args, dtype=torch.float32):
    from transformers import AutoConfig, AutoModel, BertTokenizerFast
    cfg = AutoConfig.from_pretrained(args.model)
    if args.no_dropout:
        cfg.hidden_dropout_prob = 0.0
        cfg.attention_probs_dropout_prob = 0.0
    enc = AutoModel.from_pretrained(args.model, config=cfg, add_pooling_layer=True).to(dtype)
    tok = BertTokenizerFast.from_pretrained(args.model)
    return enc, tok


def parse_weights(s, tasks):
    w = {t: 1.0 for t in tasks}
    for part in filter(None, (s or "").split(",")):
        k, v = part.split("=")
        w[k] = float(v)
    return w


def main():
    ap = argparse.ArgumentParser(description="multi-task fine-tuning reference (PyTorch + transformers)")
    ap.add_argument("-m", "--model", required=True, help="model folder (config.json, vocab.txt, weights)")
    ap.add_argument("-o", "--out", help="run folder for metrics.jsonl and report.json")
    ap.add_argument("--csv", default=DEFAULT_CSV)
    ap.add_argument("--split-dir", default=DEFAULT_SPLIT)
    ap.add_argument("--tasks", default="category,sentiment")
    ap.add_argument("--sentiment-kind", choices=["binary", "softmax"], default="binary")
    ap.add_argument("--balance", choices=["fixed", "uncertainty"], default="fixed")
    ap.add_argument("--weights", default="", help="fixed loss weights, e.g. category=1,sentiment=0.5")
    ap.add_argument("--pool", choices=["auto", "cls", "mean", "max", "pooler"], default="auto")
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--wd", type=float, default=0.01)
    ap.add_argument("--warmup", type=float, default=0.1, help="steps, or a fraction of all steps if < 1")
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--eval-batch", type=int, default=128)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N rows of each split")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--freeze-encoder", action="store_true")
    ap.add_argument("--no-dropout", action="store_true")
    ap.add_argument("--dump-step", metavar="OUT.safetensors", help="write a one-step fixture and exit")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    tasks = [t for t in args.tasks.split(",") if t]
    for t in tasks:
        if t not in TASKS:
            sys.exit(f"finetune_reference: unknown task {t} (have {TASKS})")
    if args.dump_step:
        args.no_dropout = True
        args.limit = args.limit or args.batch
    data, cats = load_data(args.csv, args.split_dir, args.limit)
    n_classes = {"category": len(cats), "sentiment": 1 if args.sentiment_kind == "binary" else 2}
    pool = pooling_mode(args.model, args.pool)
    weights = parse_weights(args.weights, tasks)
    dtype = torch.float64 if args.dump_step else torch.float32
    enc, tok = build(args, dtype)
    model = MultiTask(enc, tasks, n_classes, pool, args.balance, weights, args.seed).to(dtype)
    if args.freeze_encoder:
        for p in model.encoder.parameters():
            p.requires_grad_(False)
    pad_id = tok.pad_token_id
    config = {k: (os.path.relpath(v, ROOT) if k in ("model", "csv", "split_dir") and os.path.isabs(v) else v)
              for k, v in vars(args).items()}
    config.update(pool=pool, tasks=tasks, loss_weights=weights, categories=cats,
                  torch=torch.__version__, threads=torch.get_num_threads())

    ids = {s: tokenize(tok, data[s]["text"], args.max_len) for s in data}

    if args.dump_step:
        dump_step(args, model, ids["train"], data["train"], tasks, pad_id, config)
        return

    if not args.out:
        sys.exit("finetune_reference: -o DIR is required")
    os.makedirs(args.out, exist_ok=True)
    lengths = [len(x) for x in ids["train"]]
    steps_per_epoch = math.ceil(len(lengths) / args.batch)
    total = steps_per_epoch * args.epochs
    warmup = int(args.warmup * total) if args.warmup < 1 else int(args.warmup)
    opt = torch.optim.AdamW(param_groups(model, args.wd), lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(warmup, total))
    labels_all = {t: torch.tensor(data["train"][t]) for t in tasks}
    set_train_mode(model, args.freeze_encoder)
    metrics_path = os.path.join(args.out, "metrics.jsonl")
    open(metrics_path, "w").close()
    history, step = [], 0
    t_start = time.time()
    for epoch in range(1, args.epochs + 1):
        gen = torch.Generator().manual_seed(args.seed + epoch)
        t0, seen, loss_sum = time.time(), 0, 0.0
        for rows in bucketed_batches(lengths, args.batch, gen):
            batch = collate(ids["train"], rows, pad_id)
            logits = model(*batch)
            loss, parts = model.loss(logits, {t: labels_all[t][rows] for t in tasks})
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if args.clip > 0:
                torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], args.clip)
            opt.step()
            sched.step()
            step += 1
            seen += len(rows)
            loss_sum += loss.item() * len(rows)
            if step % 5 == 0:
                print(f"epoch {epoch} step {step}/{total} loss {loss.item():.4f} "
                      f"{seen / (time.time() - t0):.1f} samples/s", file=sys.stderr, flush=True)
        train_time = time.time() - t0
        rec = {"epoch": epoch, "step": step, "train_loss": loss_sum / max(1, seen),
               "train_samples_per_s": seen / train_time, "train_seconds": train_time}
        if args.balance == "uncertainty":
            rec["s"] = {t: model.s[t].item() for t in tasks}
        for s in ("valid", "test"):
            for k, v in evaluate(model, ids[s], data[s], n_classes, args.eval_batch, pad_id).items():
                rec[f"{s}.{k}"] = v
        set_train_mode(model, args.freeze_encoder)   # evaluate() left everything in train mode
        history.append(rec)
        with open(metrics_path, "a") as f:
            f.write(json.dumps(rec, allow_nan=False) + "\n")
        print(json.dumps(rec), file=sys.stderr, flush=True)

    def score(r):
        return np.mean([r[f"valid.{t}.macro_f1"] for t in tasks])
    best = max(history, key=score)
    report = {"best_epoch": best["epoch"], "selection": "mean valid macro_f1 over tasks"}
    for k, v in best.items():
        if k.startswith("test."):
            report[k[5:]] = v
        elif k.startswith("valid."):
            report[k] = v
    report["train_samples_per_s"] = float(np.mean([r["train_samples_per_s"] for r in history]))
    report["wall_seconds"] = time.time() - t_start
    report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report["rows"] = {s: len(ids[s]) for s in ids}
    report["config"] = config
    tmp = os.path.join(args.out, "report.json.tmp")
    with open(tmp, "w") as f:
        json.dump(report, f, ensure_ascii=False, indent=1, allow_nan=False)
    os.replace(tmp, os.path.join(args.out, "report.json"))
    print(json.dumps({k: v for k, v in report.items() if k != "config"}, ensure_ascii=False))


def dump_step(args, model, ids_list, data, tasks, pad_id, config):
    """One float64 training step; see the header for what is stored."""
    from safetensors.numpy import save_file
    rows = list(range(min(args.batch, len(ids_list))))
    ids, mask, tt = collate(ids_list, rows, pad_id)
    labels = {t: torch.tensor(data[t][rows]) for t in tasks}
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]

    def fixture_name(n):   # encoder names as in model.safetensors ("bert." prefix), heads/balance readable
        if n.startswith("encoder."):
            return "bert." + n[len("encoder."):]
        if n.startswith("heads."):
            return "head." + n[len("heads."):]
        if n.startswith("s."):
            return "balance.s." + n[2:]
        return n

    out = {"input_ids": ids.int().numpy(), "attention_mask": mask.int().numpy(),
           "token_type_ids": tt.int().numpy()}
    for t in tasks:
        out[f"labels.{t}"] = labels[t].int().numpy()
    for n, p in named:
        if not n.startswith("encoder."):
            out[f"param.{fixture_name(n)}"] = p.detach().float().numpy().copy()
    model.train()   # dropout probabilities are 0 (--no-dropout), so train mode is deterministic
    logits = model(ids, mask, tt)
    loss, parts = model.loss(logits, labels)
    loss.backward()
    lr1 = args.lr   # the step uses --lr as it is (no warm-up/decay factor)
    unused = [fixture_name(n) for n, p in named if p.grad is None]   # e.g. the pooler unless --pool pooler
    gnorm = float(torch.sqrt(sum((p.grad.double() ** 2).sum() for _, p in named if p.grad is not None)))
    for n, p in named:
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        out[f"grad.{fixture_name(n)}"] = g.detach().float().numpy().copy()
    if args.clip > 0:
        torch.nn.utils.clip_grad_norm_([p for _, p in named], args.clip)
    opt = torch.optim.AdamW(param_groups(model, args.wd), lr=lr1, betas=(0.9, 0.999), eps=1e-8)
    opt.step()
    for n, p in named:
        out[f"after.{fixture_name(n)}"] = p.detach().float().numpy().copy()
    out["loss"] = np.array([loss.item()], dtype=np.float32)
    for t in tasks:
        out[f"loss.{t}"] = np.array([parts[t].item()], dtype=np.float32)
    out["lr"] = np.array([lr1], dtype=np.float32)
    meta = dict(config, loss_f64=repr(loss.item()), grad_norm_before_clip=repr(gnorm), lr_step1=repr(lr1),
                unused_parameters=unused,
                note="grads are before clipping (zero for unused parameters, which AdamW leaves untouched); "
                     "after.* is after clipping + one AdamW step")
    save_file(out, args.dump_step, metadata={"config": json.dumps(meta, ensure_ascii=False, default=str)})
    print(f"finetune_reference: wrote {args.dump_step}: loss {loss.item():.6f}, {len(named)} parameters, "
          f"grad norm {gnorm:.4g}, lr {lr1:g}, batch {ids.shape[0]}x{ids.shape[1]}")


if __name__ == "__main__":
    main()
