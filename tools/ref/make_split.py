#!/usr/bin/env python3
"""make_split.py — the fixed, stratified 80/10/10 split of the Chinese online-shopping reviews.

Data: ../shared/data/chinese-online-shopping-10cats/online_shopping_10_cats.csv (columns cat,label,review;
62,774 data rows; licence forbids copying its text into the repository). This script writes only ROW
INDICES, so the split can be committed while the text stays in ../shared.

    python3 tools/ref/make_split.py                    # (re)write tests/fixtures/shopping_split/*.idx
    python3 tools/ref/make_split.py --check            # regenerate in memory, compare with the committed files
    python3 tools/ref/make_split.py --materialize DIR  # also write DIR/{train,valid,test}.csv (text from ../shared)

Row index convention: 0-based index of the DATA record (the header is not counted), i.e. index i is the
(i+1)-th record after the header, which is physical line i+2 of the file (the file has no embedded newlines).

Rules, in order:
 1. Rows whose review is empty after removing U+FEFF and white space are EXCLUDED from every split and listed
    in excluded.idx (in this file: exactly one, index 36425 = 1-based data row 36,426, cat 热水器, label 1).
    Nothing else is dropped or edited; the stray U+FEFF at the start of review 0 is kept (the tokenizer's
    text cleaning removes format characters).
 2. Identical review texts are kept together: all rows with the same review string form one unit that goes
    to a single split, so no test text is ever seen in training. There are 45 such groups (94 rows); 17 of
    them are the same (cat, review) with BOTH labels, i.e. label noise in the source, left as they are.
    A unit belongs to the stratum (cat, label) of its first row.
 3. Stratum = (cat, label): 10 categories × 2 labels = 20 strata. Strata are visited in sorted order
    (cat by Unicode code point, then label). In each, the units are shuffled with one SplitMix64 stream
    (seed below, Fisher–Yates, index drawn by 128-bit multiply-high) and dealt out: test takes units until
    it holds round(0.1 × rows in stratum) rows, then valid the same, then train the rest.
 The generator is written out here (not Python's `random`) so the split does not depend on a library version.

Outputs (tests/fixtures/shopping_split/): train.idx, valid.idx, test.idx — one index per line, in a fixed
shuffled order (sorted, then Fisher–Yates with a second SplitMix64 stream seeded with seed ^ 0x5EED0F0E), so
the first N lines are a random sample of the split: `--limit N` means "the first N rows" everywhere —
excluded.idx (ascending), and split.json with the seed, the source file's sha256 and the counts per split
and stratum. --materialize writes the CSV rows in the same order as the .idx files.
"""
import argparse
import collections
import csv
import hashlib
import json
import os
import sys

SEED = 20180402          # recorded seed (the date the source zip was last changed)
FRACTIONS = {"test": 0.1, "valid": 0.1}   # train gets the rest
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_CSV = os.path.join(REPO, "..", "shared", "data", "chinese-online-shopping-10cats",
                           "online_shopping_10_cats.csv")
DEFAULT_OUT = os.path.join(REPO, "tests", "fixtures", "shopping_split")
SPLITS = ("train", "valid", "test")
MASK64 = (1 << 64) - 1


class SplitMix64:
    """Steele, Lea & Flood (2014) SplitMix64: 64-bit state, one output per step."""

    def __init__(self, seed):
        self.s = seed & MASK64

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & MASK64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def below(self, n):
        """Integer in [0, n): high 64 bits of the 128-bit product (Lemire); bias < n / 2^64."""
        return (self.next() * n) >> 64


def shuffle(items, rng):
    """Fisher–Yates, last position first."""
    for i in range(len(items) - 1, 0, -1):
        j = rng.below(i + 1)
        items[i], items[j] = items[j], items[i]


def read_rows(path):
    with open(path, encoding="utf-8", newline="") as f:
        r = csv.reader(f)
        header = next(r)
        if header != ["cat", "label", "review"]:
            sys.exit(f"make_split: {path}: unexpected header {header}")
        rows = list(r)
    for i, row in enumerate(rows):
        if len(row) != 3 or row[1] not in ("0", "1"):
            sys.exit(f"make_split: {path}: data row {i} (line {i + 2}) malformed: {row[:2]}")
    return rows


def make_split(rows, seed=SEED):
    """Returns ({split: sorted indices}, excluded indices, stats dict)."""
    excluded = [i for i, r in enumerate(rows) if r[2].replace("\ufeff", "").strip() == ""]
    excl = set(excluded)
    # Units: rows grouped by identical review text, in order of first appearance.
    units_by_text = collections.OrderedDict()
    for i, r in enumerate(rows):
        if i not in excl:
            units_by_text.setdefault(r[2], []).append(i)
    strata = collections.defaultdict(list)      # (cat, label) -> list of units
    for unit in units_by_text.values():
        first = rows[unit[0]]
        strata[(first[0], first[1])].append(unit)
    rng = SplitMix64(seed)
    out = {s: [] for s in SPLITS}
    per_stratum = {}
    for key in sorted(strata):
        units = strata[key]
        n_rows = sum(len(u) for u in units)
        shuffle(units, rng)
        quota = {s: round(FRACTIONS[s] * n_rows) for s in FRACTIONS}
        got = {s: [] for s in SPLITS}
        k = 0
        for s in ("test", "valid"):
            while k < len(units) and len(got[s]) < quota[s]:
                got[s].extend(units[k])
                k += 1
        for u in units[k:]:
            got["train"].extend(u)
        for s in SPLITS:
            out[s].extend(got[s])
        per_stratum[f"{key[0]}/{key[1]}"] = {s: len(got[s]) for s in SPLITS}
    # File order: each split's rows in a fixed random order (a second stream from the same seed), so that
    # the first N lines are a random sample of the split — what `--limit N` ("the first N rows") takes.
    order_rng = SplitMix64(seed ^ 0x5EED0F0E)
    for s in SPLITS:
        out[s].sort()
        shuffle(out[s], order_rng)
    dup_groups = [u for u in units_by_text.values() if len(u) > 1]
    stats = {
        "rows": len(rows),
        "excluded": len(excluded),
        "counts": {s: len(out[s]) for s in SPLITS},
        "duplicate_text_groups": len(dup_groups),
        "rows_in_duplicate_text_groups": sum(len(u) for u in dup_groups),
        "per_stratum": per_stratum,
    }
    return out, excluded, stats


def idx_text(indices):
    return "".join(f"{i}\n" for i in indices)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csv", default=DEFAULT_CSV)
    ap.add_argument("--out", default=DEFAULT_OUT, help="folder for the .idx files and split.json")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--check", action="store_true", help="compare with the files in --out, write nothing")
    ap.add_argument("--materialize", metavar="DIR",
                    help="also write DIR/{train,valid,test}.csv (columns row,cat,label,review) for training "
                         "runs; DIR must be outside the repository's tracked files (e.g. runs/data)")
    a = ap.parse_args()

    with open(a.csv, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    rows = read_rows(a.csv)
    split, excluded, stats = make_split(rows, a.seed)
    meta = {"source": "chinese-online-shopping-10cats/online_shopping_10_cats.csv", "source_sha256": sha,
            "seed": a.seed, "fractions": {"train": 0.8, "valid": 0.1, "test": 0.1},
            "index": "0-based data-row index (header not counted)", "stratify": "cat x label",
            **stats}
    files = {f"{s}.idx": idx_text(split[s]) for s in SPLITS}
    files["excluded.idx"] = idx_text(excluded)
    files["split.json"] = json.dumps(meta, ensure_ascii=False, indent=1) + "\n"

    if a.check:
        bad = []
        for name, text in files.items():
            p = os.path.join(a.out, name)
            if not os.path.exists(p) or open(p, encoding="utf-8").read() != text:
                bad.append(name)
        if bad:
            sys.exit(f"make_split: --check FAILED, differs: {', '.join(bad)}")
        print(f"make_split: --check ok ({', '.join(f'{s} {len(split[s])}' for s in SPLITS)}, "
              f"excluded {len(excluded)})")
    else:
        os.makedirs(a.out, exist_ok=True)
        for name, text in files.items():
            with open(os.path.join(a.out, name), "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
        print(f"make_split: wrote {a.out}: " + ", ".join(f"{s} {len(split[s])}" for s in SPLITS)
              + f", excluded {len(excluded)}")

    if a.materialize:
        os.makedirs(a.materialize, exist_ok=True)
        for s in SPLITS:
            p = os.path.join(a.materialize, f"{s}.csv")
            with open(p, "w", encoding="utf-8", newline="") as f:
                w = csv.writer(f, lineterminator="\n")
                w.writerow(["row", "cat", "label", "review"])
                for i in split[s]:
                    w.writerow([i] + rows[i])
            print(f"make_split: wrote {p} ({len(split[s])} rows)")


if __name__ == "__main__":
    main()
