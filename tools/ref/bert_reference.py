#!/usr/bin/env python3
"""bert_reference.py — PyTorch/transformers reference outputs for the C++ BERT encoder tests.

Writes two fixtures (re-run this script to regenerate them; the output is deterministic):

  tests/fixtures/bert/tiny/       a tiny random-init BERT (2 layers, hidden 32, 4 heads, ~300-token vocab),
                                  saved as a complete model directory (config.json, vocab.txt,
                                  model.safetensors with "bert."-prefixed names, sentence-transformers files)
                                  plus reference.safetensors: inputs and the outputs of every layer.
                                  Lets the test suite run the whole path without any download.
  tests/fixtures/bert/minilm/     reference.safetensors + sentences.json for the real all-MiniLM-L6-v2
                                  (weights/all-MiniLM-L6-v2, fetched by `make weights`): 64 real English and
                                  Chinese sentences from ../shared/data (mixed lengths, some truncated at 256
                                  tokens). The data licences forbid copying the text, so sentences.json keeps
                                  only row references (file, 1-based line, field) and the fixture stores the
                                  token ids (derived data) and the outputs.

All references are computed in float64 (model.double()), then stored as float32: they are the exact values
the f32 engine approximates, so the tolerance measures only our error, not PyTorch's f32 rounding.

Stored tensors (packed layout: the sequences' tokens concatenated, `lengths` says where each ends):
  input_ids [T] i32, token_type_ids [T] i32, lengths [B] i32
  hidden [T, H]            last hidden state (all tokens)            -- tiny: all; minilm: subset (below)
  layer_<l> [T, H]         tiny only: output of embeddings (l=0) and of every encoder layer l=1..L
  pooler [B, H]            tanh(dense(hidden[CLS]))
  cls [B, H], mean [B, H], max [B, H]   pooled last hidden state (mean/max over the real tokens)
  minilm: hidden_seqs [S] i32 = which sequences' tokens are in `hidden`; tei_ids/tei_lengths = ids of the
          sentences in ../shared/models/all-MiniLM-L6-v2-reference-outputs (parity check (a)).

usage: python3 tools/ref/bert_reference.py [--tiny] [--minilm]   (both when no flag is given)
"""
import argparse
import csv
import json
import os
import sys

import numpy as np
import torch
from safetensors.numpy import save_file
from transformers import BertConfig, BertModel, BertTokenizerFast

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(ROOT, "..", "shared")
FIX = os.path.join(ROOT, "tests", "fixtures", "bert")


def run_model(model, seqs):
    """seqs: list of (input_ids, token_type_ids). Returns per-sequence hidden states of every layer,
    pooler outputs; each sequence is run alone (no padding) so the reference cannot depend on masking."""
    layers, pooled = [], []
    with torch.no_grad():
        for ids, tt in seqs:
            out = model(input_ids=torch.tensor([ids]), token_type_ids=torch.tensor([tt]),
                        attention_mask=torch.ones(1, len(ids), dtype=torch.long), output_hidden_states=True)
            layers.append([h[0].numpy() for h in out.hidden_states])  # L+1 x [t, H]
            pooled.append(out.pooler_output[0].numpy())
    return layers, np.stack(pooled)


def pack(seqs):
    ids = np.concatenate([np.array(s[0], dtype=np.int32) for s in seqs])
    tt = np.concatenate([np.array(s[1], dtype=np.int32) for s in seqs])
    lengths = np.array([len(s[0]) for s in seqs], dtype=np.int32)
    return ids, tt, lengths


def pools(last):
    cls = np.stack([h[0] for h in last])
    mean = np.stack([h.mean(axis=0) for h in last])
    mx = np.stack([h.max(axis=0) for h in last])
    return cls, mean, mx


def f32(x):
    return np.ascontiguousarray(np.asarray(x, dtype=np.float32))


# ---------------------------------------------------------------------------------------------------
# Tiny random BERT
# ---------------------------------------------------------------------------------------------------
TINY_TEXTS = [
    "the cat sat on the mat.",
    "A quick brown fox jumps over the lazy dog!",
    "shampoo works great, my hair feels soft",
    "这个手机很好用",
    "hotel room was clean and quiet; staff friendly",
    "I love it",
    "价格便宜，质量不错！",
    "unbelievably overpriced moisturizer",
]
TINY_PAIR = ("is it good?", "yes, it is good.")


def tiny_vocab():
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    digits = [str(d) for d in range(10)]
    punct = list(".,!?;:'\"()-")
    words = ("the cat sat on mat a quick brown fox jump over lazy dog shampoo work great my hair feel soft "
             "hotel room was clean and quiet staff friendly i love it is good yes no not very un over price "
             "moist ur izer believ ably s ed ing er ly").split()
    zh = list("这个手机很好用价格便宜质量不错你我他的是了")
    toks = specials + letters + digits + punct + zh
    toks += [w for w in dict.fromkeys(words) if w not in toks]
    toks += ["##" + c for c in letters] + ["##" + w for w in ["s", "ed", "ing", "er", "ly", "able", "izer"]]
    toks = list(dict.fromkeys(toks))
    while len(toks) < 256:  # pad to a round size with unused slots, as BERT vocabs do
        toks.append(f"[unused{len(toks)}]")
    return toks


def write_tiny():
    out = os.path.join(FIX, "tiny")
    os.makedirs(os.path.join(out, "1_Pooling"), exist_ok=True)
    vocab = tiny_vocab()
    with open(os.path.join(out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=160, type_vocab_size=2, hidden_act="gelu",
                     layer_norm_eps=1e-12, pad_token_id=0)
    torch.manual_seed(1234)
    model = BertModel(cfg).eval()
    # Random init has LayerNorm = identity and zero biases; perturb them so the test sees every parameter.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
    cfg_json = cfg.to_dict()
    cfg_json["architectures"] = ["BertModel"]
    keep = ["architectures", "attention_probs_dropout_prob", "hidden_act", "hidden_dropout_prob", "hidden_size",
            "initializer_range", "intermediate_size", "layer_norm_eps", "max_position_embeddings", "model_type",
            "num_attention_heads", "num_hidden_layers", "pad_token_id", "position_embedding_type",
            "type_vocab_size", "vocab_size"]
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump({k: cfg_json.get(k, "absolute" if k == "position_embedding_type" else None) for k in keep}, f, indent=2)
    # Names with the "bert." prefix (as BertForMaskedLM etc. save them): the real MiniLM has none, so the
    # two fixtures together test both spellings of the name map.
    sd = {"bert." + k: f32(v.numpy()) for k, v in model.state_dict().items() if "position_ids" not in k}
    save_file(sd, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    # sentence-transformers files: mean pooling + Normalize, max_seq_length 128.
    with open(os.path.join(out, "modules.json"), "w") as f:
        json.dump([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                   {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                   {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}],
                  f, indent=2)
    with open(os.path.join(out, "1_Pooling", "config.json"), "w") as f:
        json.dump({"word_embedding_dimension": 32, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
                   "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}, f, indent=2)
    with open(os.path.join(out, "sentence_bert_config.json"), "w") as f:
        json.dump({"max_seq_length": 128, "do_lower_case": False}, f, indent=2)
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "tokenize_chinese_chars": True, "strip_accents": None,
                   "tokenizer_class": "BertTokenizer", "model_max_length": 160}, f, indent=2)

    tok = BertTokenizerFast(os.path.join(out, "vocab.txt"), do_lower_case=True)
    seqs = []
    for t in TINY_TEXTS:
        e = tok(t)
        seqs.append((e["input_ids"], e["token_type_ids"]))
    e = tok(*TINY_PAIR)
    seqs.append((e["input_ids"], e["token_type_ids"]))
    # One long sequence (150 tokens, > 2 attention tiles) of deterministic pseudo-random ids.
    rng = np.random.default_rng(7)
    long_ids = [2] + rng.integers(5, len(vocab), size=148).tolist() + [3]
    seqs.append((long_ids, [0] * 75 + [1] * 75))

    model = model.double()
    layers, pooler = run_model(model, seqs)
    ids, tt, lengths = pack(seqs)
    last = [l[-1] for l in layers]
    cls, mean, mx = pools(last)
    ref = {"input_ids": ids, "token_type_ids": tt, "lengths": lengths, "hidden": f32(np.concatenate(last)),
           "pooler": f32(pooler), "cls": f32(cls), "mean": f32(mean), "max": f32(mx)}
    for l in range(len(layers[0])):
        ref[f"layer_{l}"] = f32(np.concatenate([s[l] for s in layers]))
    save_file(ref, os.path.join(out, "reference.safetensors"))
    with open(os.path.join(out, "texts.json"), "w", encoding="utf-8") as f:
        json.dump({"texts": TINY_TEXTS, "pair": list(TINY_PAIR),
                   "note": "sequence i of reference.safetensors = tokenizer(texts[i]); then the pair; then "
                           "a 150-token sequence of random ids (token_type 0 then 1)"}, f, ensure_ascii=False,
                  indent=1)
    print(f"tiny: {len(seqs)} sequences, {len(ids)} tokens -> {out}")


# ---------------------------------------------------------------------------------------------------
# Real all-MiniLM-L6-v2
# ---------------------------------------------------------------------------------------------------
EN_FILE = "data/amazon2018-all-beauty-5core/All_Beauty_5.json"
ZH_FILE = "data/chinese-online-shopping-10cats/online_shopping_10_cats.csv"
# character-length buckets: 8 sentences from each, first distinct rows in file order
EN_BUCKETS = [(1, 40), (40, 150), (150, 600), (1500, 10**9)]
ZH_BUCKETS = [(1, 15), (15, 50), (50, 150), (400, 10**9)]


def pick_sentences():
    """Returns [(file, line, field, text)]: 32 English reviews, then 32 Chinese reviews."""
    picked = []
    en = []
    with open(os.path.join(SHARED, EN_FILE), encoding="utf-8") as f:
        for ln, line in enumerate(f, 1):
            t = json.loads(line).get("reviewText", "")
            if t:
                en.append((ln, t))
    zh = []
    with open(os.path.join(SHARED, ZH_FILE), encoding="utf-8", newline="") as f:
        r = csv.reader(f)
        next(r)
        for row in r:  # no embedded newlines in this file (SOURCE.md): line = data row + 1
            zh.append((r.line_num, row[2]))
    for rows, buckets, src, field in [(en, EN_BUCKETS, EN_FILE, "reviewText"), (zh, ZH_BUCKETS, ZH_FILE, "review")]:
        for lo, hi in buckets:
            seen, n = set(), 0
            # stride 7 first to spread picks over the file (and over categories for zh), then every row
            for ln, t in rows[::7] + rows:
                if lo <= len(t) < hi and t not in seen:
                    seen.add(t)
                    picked.append((src, ln, field, t))
                    n += 1
                    if n == 8:
                        break
            assert n == 8, (src, lo, hi)
    return picked


def write_minilm():
    mdir = os.path.join(ROOT, "weights", "all-MiniLM-L6-v2")
    if not os.path.exists(os.path.join(mdir, "model.safetensors")):
        sys.exit(f"{mdir} missing: run `make weights` first")
    out = os.path.join(FIX, "minilm")
    os.makedirs(out, exist_ok=True)
    tok = BertTokenizerFast(os.path.join(mdir, "vocab.txt"), do_lower_case=True)
    model = BertModel.from_pretrained(mdir, attn_implementation="eager").eval().double()

    picked = pick_sentences()
    seqs = []
    for _, _, _, t in picked:
        e = tok(t, truncation=True, max_length=256)
        seqs.append((e["input_ids"], e["token_type_ids"]))
    layers, pooler = run_model(model, seqs)
    last = [l[-1] for l in layers]
    cls, mean, mx = pools(last)
    ids, tt, lengths = pack(seqs)
    # per-token states for a subset: 3 English + 3 Chinese of various lengths (incl. one truncated at 256)
    subset = [0, 9, 17, 24, 33, 45]
    tei = ["What is Deep Learning?", "Deep Learning is...", "What is Deep Learning?"]
    tei_ids = [tok(t)["input_ids"] for t in tei]
    ref = {"input_ids": ids, "token_type_ids": tt, "lengths": lengths,
           "hidden": f32(np.concatenate([last[i] for i in subset])), "hidden_seqs": np.array(subset, np.int32),
           "pooler": f32(pooler), "cls": f32(cls), "mean": f32(mean), "max": f32(mx),
           "tei_ids": np.concatenate([np.array(x, np.int32) for x in tei_ids]),
           "tei_lengths": np.array([len(x) for x in tei_ids], np.int32)}
    save_file(ref, os.path.join(out, "reference.safetensors"))
    with open(os.path.join(out, "sentences.json"), "w") as f:
        json.dump({"note": "row references into ../shared (text not copied: data licence); sequence i of "
                           "reference.safetensors = BertTokenizerFast(vocab.txt, lowercase)(text, truncation=True, "
                           "max_length=256)",
                   "max_length": 256,
                   "rows": [{"file": s, "line": ln, "field": fld} for s, ln, fld, _ in picked]}, f, indent=1)
    print(f"minilm: {len(seqs)} sequences, {len(ids)} tokens, lengths {lengths.min()}..{lengths.max()}, "
          f"hidden subset {sum(lengths[i] for i in subset)} tokens -> {out}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--minilm", action="store_true")
    a = ap.parse_args()
    both = not a.tiny and not a.minilm
    torch.set_num_threads(1)
    if a.tiny or both:
        write_tiny()
    if a.minilm or both:
        write_minilm()
