// tokenizer.h — BERT WordPiece tokenizer that agrees exactly with HuggingFace BertTokenizerFast.
//
// The pipeline is the one the Rust `tokenizers` crate runs for a BERT model (normalizers/bert.rs,
// pre_tokenizers/bert.rs, models/wordpiece, added_vocabulary.rs, processors/template.rs):
//
//   1. added (special) tokens are matched on the RAW text, leftmost-longest: "a[MASK]b" -> a | [MASK] | b.
//      With a bare vocab.txt these are [PAD] [UNK] [CLS] [SEP] [MASK] (those present in the vocab).
//   2. BertNormalizer on each remaining piece, in this order:
//        clean_text     drop U+0000, U+FFFD and control / format / private-use characters (Cc, Cf, Co as HF's
//                       Unicode tables have them) except \t \n \r; unassigned code points are KEPT (the Rust
//                       crate's "other" excludes Cn); every White_Space character becomes ' '
//        chinese_chars  put spaces around CJK ideographs (BERT's _is_chinese_char blocks, with the Rust port's
//                       0x2B920 start of the last extension block, so U+2B820..U+2B91F are not split)
//        strip_accents  NFD, then drop nonspacing marks (Mn) — on when strip_accents is true, or when it is
//                       unset and lowercase is on (original BERT behaviour)
//        lowercase      full per-character lowercase (U+0130 'İ' -> "i̇"; 'Σ' -> 'σ' always: no final-sigma rule)
//   3. BertPreTokenizer: split on White_Space (dropped) and on punctuation (kept as its own word): ASCII
//      punctuation plus the Unicode P* categories.
//   4. WordPiece: greedy longest match from the left, continuation pieces carry "##"; a word longer than 100
//      characters, or one with any piece missing from the vocab, becomes a single [UNK].
//   5. encode(): [CLS] A [SEP] (B [SEP]), token_type_ids 0 for A and 1 for B, truncation "longest_first",
//      right padding with [PAD], attention mask 1 on real tokens.
//
// Unicode data: categories, NFD and case mapping come from utf8proc. The Rust crates HF uses ship other Unicode
// versions (categories: nothing assigned after Unicode 8.0, so e.g. newer format characters are kept and newer
// punctuation is not split; case mapping: newer than utf8proc's). tokenizer.cpp carries every difference as an
// explicit table (`tools/ref/tokenizer_reference.py tables` regenerates them) and the test checks all 1,112,064
// code points against HF. Differences from the transformers Python wrapper: a pair whose second text is "" keeps
// its [SEP] (as the tokenizers library and transformers' batch call do; its single call drops the pair).
//
// Thread safety: a BertTokenizer is immutable after construction; every method is const and may be called from
// many threads at once (scratch buffers are thread_local).
//
// Usage:
//     auto tok = tg::BertTokenizer::from_model_dir("weights/all-MiniLM-L6-v2");
//     tg::Batch b = tok.encode_batch({"a first text", "another"}, /*max_len=*/128, /*pad_to_longest=*/true);
//     // b.ids / b.type_ids / b.mask are [B, T] row-major; b.lengths[i] = real tokens of row i.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tg {

struct TokenizerOptions {
    bool lowercase = true;                // do_lower_case
    std::optional<bool> strip_accents;    // unset: follow `lowercase` (HF strip_accents=None)
    bool chinese_chars = true;            // tokenize_chinese_chars
    bool clean_text = true;               // BertNormalizer clean_text (always true for BERT checkpoints)
    int64_t max_input_chars_per_word = 100;  // longer words become [UNK]
    int64_t max_len = 512;                // model_max_length: default for encode()/encode_batch() max_len <= 0
    bool do_strip_accents() const { return strip_accents.value_or(lowercase); }
};

// Byte range [begin, end) of the input text that a token came from (HF's offsets, in bytes instead of Python
// characters). Texts lowercased for sentence-transformers (lowercase_input()) are measured after lowercasing.
struct Offset {
    int64_t begin = 0, end = 0;
};

// One encoded sequence (with [CLS]/[SEP]); all vectors have the same length.
struct Encoding {
    std::vector<int32_t> ids;             // [T]
    std::vector<int32_t> type_ids;        // [T] 0 for [CLS] A [SEP], 1 for B [SEP]
    std::vector<int32_t> attention_mask;  // [T] 1 = real token, 0 = padding
};

// A padded batch, row-major [B, T].
struct Batch {
    int64_t B = 0, T = 0;
    std::vector<int32_t> ids;       // [B, T]
    std::vector<int32_t> type_ids;  // [B, T]
    std::vector<int32_t> mask;      // [B, T] attention mask
    std::vector<int64_t> lengths;   // [B]    real tokens per row (specials included)
    int64_t truncated = 0;          // how many rows lost tokens to truncation
};

// Flat open-addressing hash map from a byte string to a token id (linear probing, power-of-two capacity, load
// <= 1/2). Keys live in the map's own arena, so copies are safe and lookups touch one 16-byte slot plus the key.
class PieceMap {
   public:
    void build(const std::vector<std::pair<std::string_view, int32_t>>& entries);  // later duplicates win
    int32_t find(std::string_view key) const;                                      // -1 when absent
    size_t size() const { return count_; }

   private:
    struct Slot {
        uint32_t check = 0;  // high bits of the hash (0 = empty slot; real values are forced nonzero)
        uint32_t off = 0;    // key = arena_[off, off + len)
        uint32_t len = 0;
        int32_t id = -1;
    };
    std::vector<Slot> slots_;
    std::string arena_;
    size_t count_ = 0;
};

class BertTokenizer {
   public:
    // Read a vocab.txt (one token per line, id = line number).
    static BertTokenizer from_vocab(const std::string& vocab_path, const TokenizerOptions& opts = {});
    // Take the vocabulary and every option from a model directory, with HuggingFace's precedence:
    // vocab.txt (or the WordPiece vocab and added tokens of tokenizer.json), the normalizer of tokenizer.json unless
    // tokenizer_config.json when present (transformers then rebuilds the normalizer from its do_lower_case /
    // strip_accents / tokenize_chinese_chars, with BertTokenizer's defaults for missing keys); model_max_length
    // from tokenizer_config.json. With a sentence_bert_config.json, its max_seq_length becomes max_len and its
    // "do_lower_case": true lowercases every input first (Python str.lower, as sentence-transformers does).
    static BertTokenizer from_model_dir(const std::string& dir);
    // From an in-memory token list (id = index); used by tests.
    static BertTokenizer from_tokens(std::vector<std::string> tokens, const TokenizerOptions& opts = {});

    // Word pieces of `text` without [CLS]/[SEP] (special tokens in the text are kept as themselves).
    std::vector<std::string> tokenize(std::string_view text) const;
    // The BertNormalizer alone (no special-token matching): HF's normalizer.normalize_str.
    std::string normalize(std::string_view text) const;
    // The BertPreTokenizer alone on already-normalized text: words split on White_Space and punctuation.
    std::vector<std::string> pre_tokenize(std::string_view text) const;
    // Ids of the same pieces.
    std::vector<int32_t> ids(std::string_view text) const;
    // Appends the ids of `text` to `out` (no specials). The allocation-free core the others use. With `offsets`,
    // appends each token's byte range in `text` too.
    void append_ids(std::string_view text, std::vector<int32_t>& out, std::vector<Offset>* offsets = nullptr) const;

    // [CLS] a [SEP] (b [SEP]), truncated longest_first to max_len (<= 0: options().max_len); no padding.
    Encoding encode(std::string_view a, std::optional<std::string_view> b = std::nullopt, int64_t max_len = 0) const;
    // Each text encoded as a single sequence, padded to the longest row (pad_to_longest) or to max_len. Rows are
    // tokenized in parallel (tg::num_threads()) for large batches.
    Batch encode_batch(const std::vector<std::string>& texts, int64_t max_len = 0, bool pad_to_longest = true) const;
    // Pairs (a[i], b[i]).
    Batch encode_pair_batch(const std::vector<std::string>& a, const std::vector<std::string>& b, int64_t max_len = 0,
                            bool pad_to_longest = true) const;

    // The same vocabulary with other options (the added tokens are kept).
    BertTokenizer with_options(const TokenizerOptions& opts) const;

    int64_t vocab_size() const { return int64_t(tokens_.size()); }
    const std::string& token(int32_t id) const;
    // Id of a vocab entry, or -1.
    int32_t find(std::string_view token) const;
    const TokenizerOptions& options() const { return opts_; }
    // True when a sentence_bert_config.json asked for Python-style lowercasing of the input (see from_model_dir).
    bool lowercase_input() const { return lowercase_input_; }
    // Special tokens matched on the raw text before normalization.
    const std::vector<std::string>& added_tokens() const { return added_; }

    int32_t cls_id = -1, sep_id = -1, pad_id = -1, unk_id = -1, mask_id = -1;

   private:
    BertTokenizer() = default;
    void init(const TokenizerOptions& opts, const std::vector<std::string>& added);
    Encoding encode_impl(std::string_view a, std::optional<std::string_view> b, int64_t max_len,
                         bool* truncated) const;
    Batch encode_batch_impl(size_t n, const std::string* a, const std::string* b, int64_t max_len,
                            bool pad_to_longest) const;
    void normalize_and_split(std::string_view text, size_t base, std::vector<int32_t>& out,
                             std::vector<Offset>* offsets) const;
    void wordpiece(std::string_view word, int64_t nchars, std::vector<int32_t>& out,
                   std::vector<std::pair<uint32_t, uint32_t>>* pieces) const;

    TokenizerOptions opts_;
    bool lowercase_input_ = false;
    std::vector<std::string> tokens_;                      // id -> token
    PieceMap head_;                                        // word-initial pieces ("abc") and every vocab entry
    PieceMap tail_;                                        // continuation pieces, keyed WITHOUT the "##"
    std::vector<std::string> added_;                       // special tokens matched on raw text
    std::vector<int32_t> added_ids_;
    bool first_byte_[256] = {};                            // bytes that can start an added token
    size_t max_piece_bytes_ = 0;                           // longest vocab entry: bounds the greedy search
};

}  // namespace tg
