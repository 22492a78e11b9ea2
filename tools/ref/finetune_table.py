#!/usr/bin/env python3
"""finetune_table.py — the issue-4 table from the run folders tools/ref/finetune_table.sh wrote.

    python3 tools/ref/finetune_table.py [runs/ft] [--json]

Each run folder KIND_sSEED holds the test metrics: test_scores.json (ours: tastegraph predict scored by
score_predictions.py) or report.json (PyTorch, finetune_reference.py). For each KIND: the mean ± sample standard
deviation over its seeds of accuracy and macro-F1 per task (AUC for sentiment), in points (× 100), and the
training samples/s (ours: metrics.jsonl; PyTorch: report.json). Then, for our runs, the F1 of the rarest
category class by seed (score_predictions.py's category.f1.* / category.support.*), and the two comparisons the
issue asks for: (b) − (e) per metric, and multi-task (b, and m / p when present) − single-task (dc / ds).
"""
import json
import os
import statistics
import sys

KINDS = [("a", "(a) frozen encoder + linear heads"), ("b", "(b) full fine-tuning, fixed weights 1:1"),
         ("c", "(c) full fine-tuning, uncertainty weighting"),
         ("w", "(b') full fine-tuning, fixed weights 2:1 (category:sentiment)"),
         ("m", "(b+mlm) as (b) plus a masked-LM auxiliary head"),
         ("p", "(b+pcgrad) as (b) with PCGrad at the pooled vector"), ("dc", "(d) single task: category alone"),
         ("ds", "(d) single task: sentiment alone"), ("e", "(e) = (b) in PyTorch + transformers")]
METRICS = ["category.accuracy", "category.macro_f1", "sentiment.accuracy", "sentiment.macro_f1", "sentiment.auc"]


def load(folder):
    for name in ("test_scores.json", "report.json"):
        p = os.path.join(folder, name)
        if os.path.exists(p):
            with open(p) as f:
                d = json.load(f)
            m = {k: 100.0 * d[k] for k in METRICS if d.get(k) is not None}
            # the rarest category class's F1 (the class where multi- and single-task runs differ most)
            support = {k[len("category.support."):]: v for k, v in d.items() if k.startswith("category.support.")}
            if support:
                rare = min(support, key=lambda c: (support[c], c))
                m["rare"] = (rare, d.get(f"category.f1.{rare}", 0.0))
            sps = d.get("train_samples_per_s")
            mp = os.path.join(folder, "metrics.jsonl")
            if sps is None and os.path.exists(mp):
                with open(mp) as f:
                    rows = [json.loads(line) for line in f if line.strip()]
                vals = [r["train_samples_per_s"] for r in rows if "train_samples_per_s" in r]
                sps = statistics.mean(vals) if vals else None
            return m, sps
    return None, None


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    root = args[0] if args else "runs/ft"
    runs = {}
    for entry in sorted(os.listdir(root)):
        path = os.path.join(root, entry)
        if not os.path.isdir(path) or "_s" not in entry:
            continue
        kind, seed = entry.rsplit("_s", 1)
        m, sps = load(path)
        if m is not None:
            runs.setdefault(kind, []).append((seed, m, sps))
    summary = {}
    for kind, _ in KINDS:
        rs = runs.get(kind, [])
        if not rs:
            continue
        s = {"seeds": [r[0] for r in rs]}
        for k in METRICS:
            v = [r[1][k] for r in rs if k in r[1]]
            if v:
                s[k] = (statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0)
        sp = [r[2] for r in rs if r[2]]
        s["samples_per_s"] = statistics.mean(sp) if sp else None
        summary[kind] = s
    if "--json" in sys.argv:
        print(json.dumps(summary))
        return

    def cell(s, k):
        return f"{s[k][0]:.2f} ± {s[k][1]:.2f}" if k in s else "—"

    print("| run | seeds | category accuracy / macro-F1 | sentiment accuracy / macro-F1 / AUC | samples/s |")
    print("|---|---|---|---|---|")
    for kind, label in KINDS:
        if kind in summary:
            s = summary[kind]
            sp = f"{s['samples_per_s']:.0f}" if s["samples_per_s"] else "—"
            print(f"| {label} | {len(s['seeds'])} | {cell(s, METRICS[0])} / {cell(s, METRICS[1])} | "
                  f"{cell(s, METRICS[2])} / {cell(s, METRICS[3])} / {cell(s, METRICS[4])} | {sp} |")

    rare = [(kind, r[0], r[1]["rare"]) for kind, _ in KINDS for r in runs.get(kind, []) if "rare" in r[1]]
    if rare:
        print(f"\nF1 of the rarest category class ({rare[0][2][0]}), by seed: " +
              "; ".join(f"{kind} " + ", ".join(f"s{seed} {v[1]:.2f}" for k2, seed, v in rare if k2 == kind)
                        for kind in dict.fromkeys(k for k, _, _ in rare)))

    def diff(a, b, keys):
        return ", ".join(f"{k} {summary[a][k][0] - summary[b][k][0]:+.2f}" for k in keys
                         if k in summary[a] and k in summary[b])

    if "b" in summary and "e" in summary:
        print(f"\n(b) - (e), points: {diff('b', 'e', METRICS)}")
    for multi in ("b", "m", "p"):
        if multi in summary and "dc" in summary:
            print(f"multi-task ({multi}) - single-task category (dc): {diff(multi, 'dc', METRICS[:2])}")
        if multi in summary and "ds" in summary:
            print(f"multi-task ({multi}) - single-task sentiment (ds): {diff(multi, 'ds', METRICS[2:])}")


if __name__ == "__main__":
    main()
