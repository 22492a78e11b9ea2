#!/usr/bin/env python3
"""tokenizer_reference.py — HuggingFace reference data for the C++ BERT tokenizer (src/nn/tokenizer.cpp).

Two jobs:

  python3 tools/ref/tokenizer_reference.py fixture [--shared ../shared]
      Writes tests/fixtures/tokenizer/{cases.jsonl, unicode.txt, offsets.jsonl, models/}: the expected
      output of HuggingFace's BERT tokenizer (transformers BertTokenizer = the `tokenizers` Rust backend, i.e.
      BertTokenizerFast) for hand-written hard cases and for real sentences read from ../shared/data, under
      the uncased / cased / chinese vocabularies and several option combinations, plus a per-code-point sweep
      of the normalizer and pre-tokenizer, token offsets (as UTF-8 byte ranges), and tiny model directories
      that check which tokenizer file wins. The data's licence forbids copying its text, so a real sentence is
      stored as a reference (file, line, field) plus a hash of its text; tests/test_tokenizer.cpp re-reads it.

  python3 tools/ref/tokenizer_reference.py tables
      Prints the C++ exception tables of tokenizer.cpp: where HuggingFace's Rust crates (unicode_categories
      with Unicode 8 data, Rust std case mapping) disagree with the installed utf8proc. It compiles a tiny C
      helper against utf8proc to dump utf8proc's view of every code point.
"""
import argparse
import collections
import hashlib
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAMES = "Cn Lu Ll Lt Lm Lo Mn Mc Me Nd Nl No Pc Pd Ps Pe Pi Pf Po Sm Sc Sk So Zs Zl Zp Cc Cf Cs Co".split()
WHITE_SPACE = set([9, 10, 11, 12, 13, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000] +
                  list(range(0x2000, 0x200B)))


def all_code_points():
    return [c for c in range(0x110000) if not 0xD800 <= c < 0xE000]


def hf_char_table():
    """HF's behaviour on every code point, one normalizer step at a time.

    Returns {cp: (clean, split, chinese, strip, lower)} with clean in R(emoved)/W(hitespace)/K(ept), split = the
    number of words BertPreTokenizer makes of "a<c>a" (1 plain, 2 whitespace, 3 punctuation), chinese = True if
    spaces are put around it, strip / lower = the output string of strip_accents / lowercase alone."""
    from tokenizers import normalizers, pre_tokenizers
    N = normalizers.BertNormalizer
    clean = N(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False)
    chin = N(clean_text=False, handle_chinese_chars=True, strip_accents=False, lowercase=False)
    strip = N(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
    lower = N(clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=True)
    pt = pre_tokenizers.BertPreTokenizer()
    out = {}
    for c in all_code_points():
        ch = chr(c)
        n = clean.normalize_str(ch)
        out[c] = ("R" if n == "" else "W" if n == " " else "K", len(pt.pre_tokenize_str("a" + ch + "a")),
                  chin.normalize_str(ch) != ch, strip.normalize_str(ch), lower.normalize_str(ch))
    return out


UTF8PROC_DUMP_C = r"""
#include <utf8proc.h>
#include <stdio.h>
int main(void) {
  for (int c = 0; c < 0x110000; c++) {
    if (c >= 0xD800 && c < 0xE000) continue;
    int32_t buf[32]; int last = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(c, buf, 32, UTF8PROC_DECOMPOSE, &last);
    printf("%x %d %x ", c, (int)utf8proc_category(c), (unsigned)utf8proc_tolower(c));
    for (int i = 0; i < n; i++) printf(i ? ".%x" : "%x", (unsigned)buf[i]);
    printf("\n");
  }
  return 0;
}
"""


def utf8proc_table():
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "dump.c"), os.path.join(d, "dump")
        open(src, "w").write(UTF8PROC_DUMP_C)
        subprocess.check_call(["cc", "-O1", src, "-lutf8proc", "-o", exe])
        text = subprocess.check_output([exe]).decode()
    out = {}
    for line in text.splitlines():
        c, cat, low, dec = line.split(" ")
        out[int(c, 16)] = (NAMES[int(cat)], int(low, 16), [int(x, 16) for x in dec.split(".")])
    return out


def ranges(cps):
    out = []
    for c in sorted(cps):
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def cmd_tables(args):
    hf, u8 = hf_char_table(), utf8proc_table()
    not_control, not_punct, extra_punct, not_mn, extra_mn, no_decomp, lower = [], [], [], [], [], [], []
    for c in all_code_points():
        clean, split, _, strip, low = hf[c]
        cat, u8low, dec = u8[c]
        if c not in (9, 10, 13) and cat in ("Cc", "Cf", "Co") and clean == "K":
            not_control.append(c)
        assert not (clean == "R" and c not in (0, 0xFFFD) and cat not in ("Cc", "Cf", "Co")), hex(c)
        upunct = (33 <= c <= 47 or 58 <= c <= 64 or 91 <= c <= 96 or 123 <= c <= 126 or cat[0] == "P")
        if upunct and split == 1:
            not_punct.append(c)
        if not upunct and split == 3:
            extra_punct.append(c)
        # strip_accents = NFD then drop Mn. Reproduce with utf8proc and the HF Mn set, then list what differs.
        if len(dec) > 1 or dec[0] != c:
            if "".join(chr(d) for d in dec if u8[d][0] != "Mn") != strip and strip == chr(c):
                no_decomp.append(c)
        if cat == "Mn" and strip == chr(c):
            not_mn.append(c)
        if cat != "Mn" and strip == "":
            extra_mn.append(c)
        mine = "i\u0307" if c == 0x130 else chr(u8low)
        if mine != low:
            assert len(low) == 1, hex(c)
            lower.append((c, ord(low)))

    def emit_ranges(name, cps, why):
        print(f"// {why}")
        print(f"static const CpRange {name}[] = {{")
        rs = ranges(cps)
        for i in range(0, len(rs), 6):
            print("    " + " ".join("{0x%X, 0x%X}," % (a, b) for a, b in rs[i:i + 6]))
        print("};")
    emit_ranges("kNotControl", not_control, "Cf in utf8proc, unassigned for HF: clean_text keeps them")
    emit_ranges("kNotPunct", not_punct, "P* in utf8proc, unassigned for HF: not split off")
    emit_ranges("kExtraPunct", extra_punct, "punctuation for HF (Unicode 8 category), not P* in utf8proc")
    emit_ranges("kNotMn", not_mn, "Mn in utf8proc, not Mn for HF: strip_accents keeps them")
    emit_ranges("kExtraMn", extra_mn, "Mn for HF (Unicode 8), another category in utf8proc: strip_accents drops them")
    emit_ranges("kNoDecomp", no_decomp, "canonical decompositions HF's NFD tables do not have")
    print("// lowercase mappings Rust std has and utf8proc lacks (newer Unicode)")
    print("static const CpMap kExtraLower[] = {")
    for i in range(0, len(lower), 6):
        print("    " + " ".join("{0x%X, 0x%X}," % p for p in lower[i:i + 6]))
    print("};")


# ---- fixture -------------------------------------------------------------------------------------------------
# Option combinations: name -> (vocab dir under models/, do_lower_case, strip_accents, tokenize_chinese_chars).
CONFIGS = {
    "uncased": ("bert-base-uncased", True, None, True),
    "uncased_keep_accents": ("bert-base-uncased", True, False, True),
    "uncased_no_chinese": ("bert-base-uncased", True, None, False),
    "cased": ("bert-base-cased", False, None, True),
    "cased_strip": ("bert-base-cased", False, True, True),
    "cased_lower_strip0": ("bert-base-cased", True, False, False),
    "chinese": ("bert-base-chinese", True, None, True),
    "chinese_cased": ("bert-base-chinese", False, None, True),
    "chinese_no_chinese": ("bert-base-chinese", True, None, False),
}

# Real sentences are checked under the configurations that matter for their language (each config of HARD runs
# every configuration); this keeps the fixture under 2 MB.
REAL_CONFIGS = {
    "en": ["uncased", "uncased_keep_accents", "uncased_no_chinese", "cased", "cased_strip", "chinese"],
    "zh": ["chinese", "chinese_cased", "chinese_no_chinese", "uncased", "uncased_keep_accents", "cased"],
}

# Hand-written hard cases (ours, stored verbatim).
HARD = [
    "", " ", "\t\n", "Hello, world!", "HELLO World hello", "don't stop-believing... (really?!)",
    "Héllo wörld, café naïve résumé Ångström Øre façade coöperate", "Crème brûlée à la française",
    "ÀÁÂÃÄÅàáâãäå ÈÉÊËèéêë ÌÍÎÏìíîï ÒÓÔÕÖòóôõö ÙÚÛÜùúûü Ññ Çç Ÿÿ",
    "e\u0301 a\u0308 o\u0302\u0323 combining: n\u0303 i\u0307 x\u20dd q\u0327\u0301",
    "ΣΙΣΥΦΟΣ σίσυφος ΟΔΟΣ Σ ΑΣ ΑΣ. ΑΣ1 Σ'",
    "İstanbul İİ ıi DİYARBAKIR", "Straße STRASSE ẞ ß", "ǅemal ǈ ǋ Ǳ ﬁ ﬂ ﬀ ﬃ ﬅ",
    "full-width：，。！？（）【】「」『』、；“”‘’《》〈〉…—～", "ＡＢＣ ａｂｃ １２３ ＦＵＬＬ－ＷＩＤＴＨ",
    "我爱北京天安门。今天天气很好！价格￥99.9元，质量不错～", "這是繁體中文，還有「引號」。", "𠀀𠀁𪜀𫝀𫠠𬺰 𮯠 丽 﨎",
    "日本語のテキスト、カタカナとひらがな。ｶﾀｶﾅ半角", "한국어 텍스트입니다. 안녕하세요! ᄀᄁ ㄱㄴ",
    "emoji 😀 👍🏽 ❤️ 🥰 🫠 🧑‍🤝‍🧑 👨‍👩‍👧‍👦 🏳️‍🌈 🇺🇸 #️⃣ 1️⃣", "smile☺️ heart♥ star★ ✓✔ ☃",
    "ctrl\x00null\x01soh\x07bel\x1bEsc\x7fdel\x85nel\x9fapc end", "zero\u200bwidth\u200cjoin\u200dnon\u2060wj\ufeffbom",
    "soft\u00adhyphen bidi\u202eoverride\u202c lrm\u200e rlm\u200f", "replace\ufffdchar \ufffd\ufffd",
    "tabs\tand\nnewlines\r\nand\x0bvt\x0cff", "spaces\u00a0nbsp\u2002en\u3000ideo\u2028ls\u2029ps\u202fnnbsp\u1680ogham",
    "private\ue000use \U000f0000 \U0010fffd unassigned\u0378\U0001fffe",
    "[MASK] is here", "the [MASK] sat on the [MASK].", "x[MASK]y[SEP]z[CLS][PAD][UNK]", "[mask] [Mask] [ MASK ] [MASK",
    "[[MASK]] [[SEP]]", "[CLS] already [SEP] there [SEP]", "[unused1] [unused99]",
    "a" * 99, "b" * 100, "c" * 101, "x" * 250 + " tail", "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "pneumonoultramicroscopicsilicovolcanoconiosis " * 3, "é" * 101, "日" * 150,
    "http://example.com/path?q=1&r=2#frag user@mail.com", "C++ C# .NET node.js 3.14159 1,000,000 $5.99 50% 24/7",
    "mixed中文English日本語한국어Русский العربية עברית ไทย हिन्दी", "Привет, мир! ПРИВЕТ Ёжик ёжик",
    "مرحبا بالعالم، كيف حالك؟", "שלום עולם!", "สวัสดีครับ ภาษาไทย", "नमस्ते दुनिया। हिन्दी",
    "math ∑∫∂√∞≠≤≥ ± × ÷ ° ℃ № ™ © ® § ¶ † ‡ • ‰ ′ ″", "currency $ € £ ¥ ₩ ₹ ₽ ¢ ₿",
    "arrows ← → ↑ ↓ ⇒ ⇔ and dashes ‐ ‑ ‒ – — ― and quotes « » ‹ › „ ‚",
    "superscripts x² y³ ¹ ½ ¼ ¾ ⅓ ⅔ ⁄ Ⅻ ⅻ ① ⑩ ㊀", "ligatures œ Œ æ Æ ĳ Ĳ ŉ",
    "Vietnamese: Tiếng Việt có dấu, Nguyễn Ấ ẩ ặ ờ", "Polish: Zażółć gęślą jaźń ZAŻÓŁĆ",
    "Turkish: ıI İi ğĞ şŞ çÇ öÖ üÜ", "Greek tonos: άέήίόύώ ΐΰ ϊϋ ΆΈΉΊΌΎΏ",
    "Hangul jamo composed 각 decomposed \u1100\u1161\u11a8 compat ㄱㅏㄱ", "kana voiced が ぱ か\u3099 は\u309a ｶﾞ ﾊﾟ",
    "U+2B820 \U0002b820\U0002b91f U+2B920 \U0002b920 CJK ext \u4dbf\u4e00\u9fff\ua000",
    "musical \U0001d15e \U0001d165\U0001d16d", "tamil நன்றி", "new scripts \u08e2 \U000110cd \U00011938 \u1734 \u166d \U000111c9",
    "  leading and trailing spaces   ", "multiple    internal     spaces", "a\u0300\u0300\u0300\u0300\u0300b",
    "ABC\u0301DEF", "\u0301 leading combining mark", "O'Neil's rock'n'roll l'été", "e.g. i.e. U.S.A. Ph.D.",
    "the_snake_case and kebab-case and CamelCaseWord", "\\backslash/slash|pipe^caret`tick~tilde",
    "¿Qué? ¡Sí! ¿¡Ay!?", "«Bonjour» — dit-il.", "…ellipsis… and ‥ two-dot", "·middle dot· ・katakana dot・",
    "ａ[MASK]ｂ", "Ⅰ Ⅱ Ⅲ ⅰ ⅱ", "Ω Ω K K Å Å", "ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ", "⁰¹²³ ₀₁₂",
    "very long Chinese review " + "这个商品非常好用，物流也很快，推荐购买。" * 20,
]

# (first, second or None, max_len) for encode(): pairs, truncation longest_first, specials.
ENCODE = [
    ("Hello world", None, 512), ("Hello world", "How are you?", 512), ("one two three four five six", None, 5),
    ("one two three four five six", None, 2), ("short", "a much longer second sentence with many words", 8),
    ("a much longer first sentence with many words", "short", 8), ("equal length a b", "equal length c d", 9),
    ("equal length a b", "equal length c d", 10), ("x y z", "p q r s t u v w", 7), ("p q r s t u v w", "x y z", 7),
    ("", "", 512), ("", "second only", 512), ("first only", "", 4), ("我爱北京天安门", "今天天气很好", 10),
    ("[MASK] fills [MASK]", "the [SEP] is here", 12), ("a b c d e f g h i j", "k l m n o p q r s t", 11),
    ("a b c d e f g h i j", "k l m n o p q r s t", 12), ("a b c", "d e f g h i j k l m n o", 3),
    ("a b c d e f g h", "i", 6), ("i", "a b c d e f g h", 6),
]


# Tiny model directories (our own synthetic vocabulary) for from_model_dir() and `tokenize -m`: which file wins.
TINY_VOCAB = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<extra>"] + [chr(c) for c in range(97, 123)] +
              ["##" + chr(c) for c in range(97, 123)] + [chr(c) for c in range(65, 91)] +
              ["##" + chr(c) for c in range(65, 91)] +
              ["hello", "world", "Hello", "World", "##ing", "cafe", "café", "é", "##é", "##\u0301", "\u0301",
               "北", "京", "##京", ",", "!", ".", "σ", "ς", "##σ", "##ς", "Σ", "ο", "##ο", "δ", "##δ", "Ο", "Δ",
               "##Ο", "##Δ", "##\u0307", "İ"])
TINY_TEXTS = ["Hello World", "hello, world!", "café CAFÉ cafe\u0301", "北京 北京!", "ΟΔΟΣ οδοσ Σ", "İi [MASK] <extra>x",
              "helloing worlding xyz"]
TINY_MODELS = {
    # tokenizer.json alone: its normalizer (no lowercase, keep accents) and its added tokens rule
    "json_only": dict(json=dict(lowercase=False, strip_accents=False), config=None),
    # tokenizer_config.json present: transformers' BertTokenizer rebuilds the normalizer from its keys, with
    # BertTokenizer's defaults (do_lower_case=True, strip_accents=None) for keys it lacks
    "json_config": dict(json=dict(lowercase=False, strip_accents=False),
                        config={"tokenizer_class": "BertTokenizer", "model_max_length": 16}),
    # a non-BERT tokenizer class: transformers keeps tokenizer.json's normalizer
    "json_generic_class": dict(json=dict(lowercase=False, strip_accents=False),
                               config={"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 64}),
    "vocab_config": dict(json=None, config={"tokenizer_class": "BertTokenizer", "do_lower_case": False,
                                            "strip_accents": True, "model_max_length": 1000000000000000019884624838656}),
    # sentence-transformers lowercases the text itself (Python str.lower, with the final-sigma rule)
    "st_lower": dict(json=None, config={"tokenizer_class": "BertTokenizer", "do_lower_case": False},
                     st={"do_lower_case": True, "max_seq_length": 12}),
}


def write_tiny_models(outdir):
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece
    from transformers import AutoTokenizer
    rows = []
    for name, spec in TINY_MODELS.items():
        d = os.path.join(outdir, "models", name)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            os.remove(os.path.join(d, f))
        vocab = {t: i for i, t in enumerate(TINY_VOCAB)}
        if spec["json"] is not None:
            tk = Tokenizer(WordPiece(vocab, unk_token="[UNK]"))
            tk.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, **spec["json"])
            tk.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
            tk.post_processor = processors.TemplateProcessing(
                single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
            tk.add_special_tokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<extra>"])
            tk.save(os.path.join(d, "tokenizer.json"))
        else:
            with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
                f.write("\n".join(TINY_VOCAB) + "\n")
        if spec["config"] is not None:
            with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
                json.dump(spec["config"], f, indent=1)
        if spec.get("st"):
            with open(os.path.join(d, "sentence_bert_config.json"), "w") as f:
                json.dump(spec["st"], f, indent=1)
        hf = AutoTokenizer.from_pretrained(d)
        lower_input = spec.get("st", {}).get("do_lower_case", False)
        max_len = hf.model_max_length if hf.model_max_length < 1e9 else 512
        if spec.get("st"):  # sentence-transformers truncates to its own max_seq_length
            max_len = spec["st"]["max_seq_length"]
        for text in TINY_TEXTS:
            t = text.lower() if lower_input else text  # what sentence_transformers.models.Transformer does
            rows.append({"model_dir": "models/" + name, "text": text, "ids": hf(t, add_special_tokens=False)
                         ["input_ids"], "max_len": max_len})
    return rows


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def pack_ids(ids):
    """Token ids as unsigned LEB128 varints (7 bits per byte, high bit = more), then base64."""
    import base64
    out = bytearray()
    for v in ids:
        while True:
            b = v & 0x7F
            v >>= 7
            out.append(b | (0x80 if v else 0))
            if not v:
                break
    return base64.b64encode(bytes(out)).decode()


def make_tokenizer(shared, cfg):
    from tokenizers import BertWordPieceTokenizer
    from tokenizers.models import WordPiece
    from transformers import BertTokenizer
    vocab_dir, lower, strip, chinese = CONFIGS[cfg]
    path = os.path.join(shared, "models", vocab_dir, "vocab.txt")
    hf = BertTokenizer(vocab=WordPiece.read_file(path), do_lower_case=lower, strip_accents=strip,
                       tokenize_chinese_chars=chinese)
    # Independent second opinion: the tokenizers package's own BERT pipeline.
    tk = BertWordPieceTokenizer(path, clean_text=True, handle_chinese_chars=chinese, strip_accents=strip,
                                lowercase=lower)
    return hf, tk


def real_sentences(shared, seed=20261123):
    """(source file, line or row index, field, text): a fixed random sample of each data set."""
    import csv
    import random
    rng = random.Random(seed)
    out = []

    def jsonl(rel, field, n):
        rows = []
        with open(os.path.join(shared, rel), encoding="utf-8") as f:
            for i, line in enumerate(f):
                v = json.loads(line).get(field)
                if isinstance(v, str) and v:
                    try:
                        v.encode("utf-8")
                    except UnicodeEncodeError:  # lone surrogates in the JSON: not representable in UTF-8
                        continue
                    rows.append((rel, i, field, v))
        rows.sort(key=lambda r: -len(r[3]))
        picked = rows[:3] + rng.sample(rows[3:], n - 3)  # the longest reviews plus a random sample
        out.extend(sorted(picked, key=lambda r: r[1]))

    jsonl("data/amazon2018-all-beauty-5core/All_Beauty_5.json", "reviewText", 600)
    jsonl("data/amazon2018-gift-cards-5core/Gift_Cards_5.json", "reviewText", 200)
    jsonl("data/amazon2018-gift-cards-5core/Gift_Cards_5.json", "summary", 100)
    jsonl("data/amazon2018-gift-cards-5core/meta_Gift_Cards.json", "title", 100)
    rel = "data/chinese-online-shopping-10cats/online_shopping_10_cats.csv"
    with open(os.path.join(shared, rel), encoding="utf-8", newline="") as f:
        rows = [(rel, i, "review", r["review"]) for i, r in enumerate(csv.DictReader(f)) if r["review"]]
    rows_sorted = sorted(rows, key=lambda r: -len(r[3]))
    picked = rows_sorted[:3] + rng.sample(rows, 1000)
    seen, uniq = set(), []
    for r in picked:
        if r[1] not in seen:
            seen.add(r[1])
            uniq.append(r)
    out.extend(sorted(uniq, key=lambda r: r[1]))
    return out


def cmd_fixture(args):
    shared = os.path.abspath(args.shared)
    outdir = os.path.join(ROOT, "tests", "fixtures", "tokenizer")
    os.makedirs(outdir, exist_ok=True)
    toks = {c: make_tokenizer(shared, c) for c in CONFIGS}
    checked = collections.Counter()

    def ids_of(cfg, text):
        hf, tk = toks[cfg]
        a = hf(text, add_special_tokens=False)["input_ids"]
        b = tk.encode(text, add_special_tokens=False).ids
        assert a == b, (cfg, text, a, b)
        checked[cfg] += 1
        return a

    def all_configs(text, configs=CONFIGS, pack=False):
        # A config whose ids equal those of an earlier config stores that config's name (most sentences: the
        # accent and Chinese flags rarely matter), others store the ids: a JSON array, or with pack=True a
        # base64 string of LEB128 varints (see pack_ids), which keeps the fixture small.
        res, full = {}, {}
        for cfg in configs:
            ids = ids_of(cfg, text)
            same = next((c for c, v in full.items() if v == ids), None)
            if same is None:
                full[cfg] = ids
            res[cfg] = same if same is not None else (pack_ids(ids) if pack else ids)
        return res

    lines = [json.dumps({"configs": {c: {"vocab": "models/%s/vocab.txt" % v, "lowercase": l, "strip_accents": s,
                                         "chinese_chars": z} for c, (v, l, s, z) in CONFIGS.items()}})]
    for text in HARD:
        lines.append(json.dumps({"text": text, "ids": all_configs(text)}, ensure_ascii=False))
    for a, b, max_len in ENCODE:
        for cfg in ("uncased", "chinese"):
            hf, _ = toks[cfg]
            # Batch form on purpose: transformers' single-text call drops an empty text_pair (a Python
            # truthiness test), while its batch call and the tokenizers library keep it as "[SEP]".
            e = hf([a], [b], truncation=True, max_length=max_len) if b is not None else hf([a], truncation=True,
                                                                                           max_length=max_len)
            e = {k: v[0] for k, v in e.items()}
            lines.append(json.dumps({"config": cfg, "text": a, "pair": b, "max_len": max_len, "encode":
                                     e["input_ids"], "type_ids": e["token_type_ids"]}, ensure_ascii=False))
    # a padded batch (pad to longest) to check attention masks and [PAD]
    batch = ["short one", "a somewhat longer sentence in the batch", "", "我爱北京"]
    hf, _ = toks["uncased"]
    e = hf(batch, padding=True, truncation=True, max_length=512)
    lines.append(json.dumps({"config": "uncased", "batch": batch, "encode": e["input_ids"], "type_ids":
                             e["token_type_ids"], "mask": e["attention_mask"]}, ensure_ascii=False))
    for row in write_tiny_models(outdir):
        lines.append(json.dumps(row, ensure_ascii=False))
    n_real = 0
    for rel, idx, field, text in real_sentences(shared):
        lang = "zh" if "chinese" in rel else "en"
        lines.append(json.dumps({"src": rel, "row": idx, "field": field, "fnv": fnv1a64(text.encode("utf-8")),
                                 "ids": all_configs(text, REAL_CONFIGS[lang], pack=True)}))
        n_real += 1
    with open(os.path.join(outdir, "cases.jsonl"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("cases.jsonl: %d hard cases, %d encode cases, %d real sentences; %d KB" %
          (len(HARD), 2 * len(ENCODE), n_real, os.path.getsize(os.path.join(outdir, "cases.jsonl")) // 1024))
    print("tokenizations checked per config (HF BertTokenizer == tokenizers BertWordPieceTokenizer):", dict(checked))
    write_unicode_sweep(os.path.join(outdir, "unicode.txt"))
    write_offsets(shared, toks, os.path.join(outdir, "offsets.jsonl"))


def byte_offsets(text, offsets):
    """HF offset_mapping (Python character indices) -> UTF-8 byte offsets, flattened [b0, e0, b1, e1, ...]."""
    pos = [0]
    for ch in text:
        pos.append(pos[-1] + len(ch.encode("utf-8")))
    return [pos[x] for pair in offsets for x in pair]


def write_offsets(shared, toks, path):
    """Token offsets: hard cases under four configs, and the first 300 real sentences of each language."""
    lines = []
    for text in HARD:
        row = {"text": text, "offsets": {}}
        for cfg in ("uncased", "uncased_keep_accents", "cased", "chinese"):
            e = toks[cfg][0](text, add_special_tokens=False, return_offsets_mapping=True)
            row["offsets"][cfg] = byte_offsets(text, e["offset_mapping"])
        lines.append(json.dumps(row, ensure_ascii=False))
    count = collections.Counter()
    for rel, idx, field, text in real_sentences(shared):
        lang = "zh" if "chinese" in rel else "en"
        if count[lang] >= 300:
            continue
        count[lang] += 1
        cfg = "chinese" if lang == "zh" else "uncased"
        e = toks[cfg][0](text, add_special_tokens=False, return_offsets_mapping=True)
        lines.append(json.dumps({"src": rel, "row": idx, "field": field, "fnv": fnv1a64(text.encode("utf-8")),
                                 "offsets": {cfg: pack_ids(byte_offsets(text, e["offset_mapping"]))}}))
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("offsets.jsonl: %d lines, %d KB" % (len(lines), os.path.getsize(path) // 1024))


def write_unicode_sweep(path):
    """Per code point, what each normalizer step and the pre-tokenizer do, in HF. Only the exceptions to
    "kept, unchanged, not split" are listed, as ranges or mappings (hex):
        R lo hi      clean_text removes          W lo hi   clean_text turns it into ' '
        V lo hi      pre-tokenizer splits on it as whitespace (dropped)
        P lo hi      pre-tokenizer splits it off as punctuation
        Z lo hi      chinese_chars puts spaces around it
        S cp out...  strip_accents alone maps cp to the code points out ('-' = removed)
        L cp out...  lowercase alone maps cp to out"""
    hf = hf_char_table()
    rows = []
    for tag, pred in (("R", lambda v: v[0] == "R"), ("W", lambda v: v[0] == "W"), ("V", lambda v: v[1] == 2), ("P", lambda v: v[1] == 3),
                      ("Z", lambda v: v[2])):
        for a, b in ranges([c for c in all_code_points() if pred(hf[c])]):
            rows.append("%s %x %x" % (tag, a, b))
    for c in all_code_points():
        s, l = hf[c][3], hf[c][4]
        if s != chr(c):
            rows.append("S %x %s" % (c, " ".join("%x" % ord(x) for x in s) or "-"))
        if l != chr(c):
            rows.append("L %x %s" % (c, " ".join("%x" % ord(x) for x in l)))
    with open(path, "w") as f:
        f.write("\n".join(rows) + "\n")
    print("unicode.txt: %d rows, %d KB" % (len(rows), os.path.getsize(path) // 1024))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("tables")
    f = sub.add_parser("fixture")
    f.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    args = ap.parse_args()
    {"tables": cmd_tables, "fixture": cmd_fixture}[args.cmd](args)


if __name__ == "__main__":
    main()
