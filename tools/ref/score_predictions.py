#!/usr/bin/env python3
"""score_predictions.py — accuracy / macro-F1 (and AUC for binary tasks) of `tastegraph predict` output.

    python3 tools/ref/score_predictions.py --pred runs/shop/test_pred.jsonl --truth /tmp/shop/test.csv \
        --task category:softmax:cat --task sentiment:binary:label [--json]

--pred: one JSON line per input row, {"row": i, "<task>": prediction, ...} (softmax: the class label,
binary: P(label 1)); --truth: the CSV that was predicted (header row), rows in the same order. The
definitions are those of tools/ref/finetune_reference.py (the PyTorch side of the comparison):
macro-F1 = mean over classes present in the truth or the predictions of 2TP / (2TP + FP + FN); binary
predictions are P >= 0.5 (logit > 0 up to ties); AUC by the Mann-Whitney U statistic with average ranks.
Prints `task.accuracy`, `task.macro_f1`, `task.auc` (and, for softmax tasks, `task.f1.CLASS` and
`task.support.CLASS`, the class's count in the truth) as a table, or one JSON object with --json.
"""
import argparse
import collections
import csv
import json
import sys


def class_f1(y, p):
    """{class: F1} over the classes present in the truth or the predictions."""
    out = {}
    for c in sorted(set(y) | set(p)):
        tp = sum(1 for a, b in zip(y, p) if a == c and b == c)
        fp = sum(1 for a, b in zip(y, p) if a != c and b == c)
        fn = sum(1 for a, b in zip(y, p) if a == c and b != c)
        out[c] = 2 * tp / (2 * tp + fp + fn)
    return out



def roc_auc(y, score):
    pos = sum(1 for v in y if v == 1)
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return None
    order = sorted(range(len(y)), key=lambda i: score[i])
    ranks = [0.0] * len(y)
    i = 0
    while i < len(order):  # average ranks over ties
        j = i
        while j + 1 < len(order) and score[order[j + 1]] == score[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    r_pos = sum(r for r, v in zip(ranks, y) if v == 1)
    return (r_pos - pos * (pos + 1) / 2) / (pos * neg)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pred", required=True)
    ap.add_argument("--truth", required=True)
    ap.add_argument("--task", action="append", required=True, help="NAME:KIND:COLUMN (softmax or binary)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    with open(a.truth, newline="", encoding="utf-8") as f:
        truth = list(csv.DictReader(f))
    with open(a.pred, encoding="utf-8") as f:
        preds = [json.loads(line) for line in f if line.strip()]
    if len(preds) != len(truth):
        sys.exit(f"score_predictions: {a.pred} has {len(preds)} rows, {a.truth} has {len(truth)}")
    out = {}
    for spec in a.task:
        name, kind, col = spec.split(":")[:3]
        y = [r[col] for r in truth]
        if kind == "softmax":
            p = [str(r[name]) for r in preds]
        elif kind == "binary":
            y = [int(v) for v in y]
            score = [float(r[name]) for r in preds]
            p = [1 if s >= 0.5 else 0 for s in score]
            out[f"{name}.auc"] = roc_auc(y, score)
        else:
            sys.exit(f"score_predictions: task kind {kind} not supported (softmax, binary)")
        out[f"{name}.accuracy"] = sum(1 for u, v in zip(y, p) if u == v) / len(y)
        f1 = class_f1(y, p)
        out[f"{name}.macro_f1"] = sum(f1.values()) / len(f1) if f1 else 0.0
        if kind == "softmax":  # per class, with the class's count in the truth (the table reports the rarest)
            support = collections.Counter(y)
            for c, v in f1.items():
                out[f"{name}.f1.{c}"] = v
                out[f"{name}.support.{c}"] = support[c]
    out = dict(sorted(out.items()))
    if a.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:28s} {v:.4f}" if v is not None else f"{k:28s} -")


if __name__ == "__main__":
    main()
