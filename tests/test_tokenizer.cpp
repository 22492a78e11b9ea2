// test_tokenizer.cpp — the BERT tokenizer (src/nn/tokenizer.h) against HuggingFace BertTokenizerFast.
//
// Expected ids come from tools/ref/tokenizer_reference.py (HF transformers BertTokenizer, cross-checked with
// the `tokenizers` package) and live in tests/fixtures/tokenizer/:
//   cases.jsonl  line 1: the option combinations ("configs": vocab file under ../shared + flags); then hand-written
//                hard cases (text stored verbatim, ids per config), encode() cases (pairs, truncation, a padded
//                batch), and real sentences from ../shared/data stored as (file, row, field, FNV-1a hash of the
//                text) because the data may not be copied: the test re-reads the text and checks the hash.
//   unicode.txt  per code point, what HF's normalizer steps and pre-tokenizer do (exceptions only).
//   offsets.jsonl  HF offset_mapping, converted to UTF-8 byte ranges.
//   models/      tiny model directories (our own vocabulary): which of tokenizer.json / tokenizer_config.json /
//                sentence_bert_config.json wins, as transformers' AutoTokenizer decides.
// The CLI test runs the tastegraph binary that sits next to tg_tests.
// Agreement must be 100%; the first mismatch prints the text and both token sequences around the difference.
// Everything that needs ../shared skips with a message when it is absent.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <unistd.h>

#include "nn/tokenizer.h"
#include "tensor/common.h"
#include "tensor/io.h"
#include "tensor/json.h"
#include "test_util.h"

using tg::BertTokenizer;
using tg::TokenizerOptions;

namespace {

std::vector<std::string> split_lines(const std::string& s) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < s.size()) {
        size_t nl = s.find('\n', pos);
        if (nl == std::string::npos) nl = s.size();
        out.push_back(s.substr(pos, nl - pos));
        pos = nl + 1;
    }
    return out;
}

uint64_t fnv1a64(std::string_view s) {
    uint64_t h = 0xCBF29CE484222325ULL;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ULL;
    return h;
}

// base64 of LEB128 varints -> ids (the packed form tokenizer_reference.py writes for real sentences)
std::vector<int32_t> unpack_ids(const std::string& b64) {
    auto val = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    std::vector<uint8_t> bytes;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : b64) {
        int v = val(c);
        if (v < 0) continue;  // '=' padding
        acc = (acc << 6) | uint32_t(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            bytes.push_back(uint8_t(acc >> bits));
        }
    }
    std::vector<int32_t> ids;
    uint32_t v = 0;
    int shift = 0;
    for (uint8_t b : bytes) {
        v |= uint32_t(b & 0x7F) << shift;
        shift += 7;
        if (!(b & 0x80)) {
            ids.push_back(int32_t(v));
            v = 0;
            shift = 0;
        }
    }
    return ids;
}

std::vector<int32_t> int_array(const tg::json::Value& v) {
    std::vector<int32_t> out;
    for (auto& x : v.arr) out.push_back(int32_t(x.as_int("id")));
    return out;
}

// RFC 4180 CSV (quoted fields, "" escapes, \r\n or \n) -> rows of fields.
std::vector<std::vector<std::string>> parse_csv(const std::string& s) {
    std::vector<std::vector<std::string>> rows(1);
    std::string field;
    bool quoted = false, in_quotes = false;
    for (size_t i = 0; i < s.size(); i++) {
        char c = s[i];
        if (in_quotes) {
            if (c == '"' && i + 1 < s.size() && s[i + 1] == '"') {
                field.push_back('"');
                i++;
            } else if (c == '"') {
                in_quotes = false;
            } else {
                field.push_back(c);
            }
        } else if (c == '"' && field.empty() && !quoted) {
            in_quotes = quoted = true;
        } else if (c == ',') {
            rows.back().push_back(field);
            field.clear();
            quoted = false;
        } else if (c == '\n' || c == '\r') {
            if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') i++;
            rows.back().push_back(field);
            field.clear();
            quoted = false;
            rows.emplace_back();
        } else {
            field.push_back(c);
        }
    }
    if (!field.empty() || !rows.back().empty()) rows.back().push_back(field);
    if (rows.back().empty()) rows.pop_back();
    return rows;
}

// The text of a real sentence: JSONL line `row` field `field`, or CSV data row `row` column `field`.
class SharedText {
   public:
    explicit SharedText(std::string root) : root_(std::move(root)) {}
    std::string get(const std::string& rel, int64_t row, const std::string& field) {
        const std::string path = root_ + "/" + rel;
        if (rel.size() > 4 && rel.compare(rel.size() - 4, 4, ".csv") == 0) {
            auto& rows = csv_[rel];
            if (rows.empty()) rows = parse_csv(tg::read_file(path));
            size_t col = 0;
            while (col < rows[0].size() && rows[0][col] != field) col++;
            REQUIRE_MESSAGE(col < rows[0].size(), path, ": no column ", field);
            REQUIRE_MESSAGE(size_t(row) + 1 < rows.size(), path, ": no data row ", row);
            return rows[size_t(row) + 1][col];
        }
        auto& lines = lines_[rel];
        if (lines.empty()) lines = split_lines(tg::read_file(path));
        REQUIRE_MESSAGE(size_t(row) < lines.size(), path, ": no line ", row);
        tg::json::Value v = tg::json::parse(lines[size_t(row)], path);
        return v.get_string(field, "");
    }

   private:
    std::string root_;
    std::map<std::string, std::vector<std::vector<std::string>>> csv_;
    std::map<std::string, std::vector<std::string>> lines_;
};

std::string show(const BertTokenizer& tok, const std::vector<int32_t>& ids, size_t from, size_t to) {
    std::string s;
    for (size_t i = from; i < std::min(to, ids.size()); i++) {
        int32_t id = ids[i];
        s += (id >= 0 && id < tok.vocab_size()) ? tok.token(id) : std::string("<bad id>");
        s += '(';
        s += std::to_string(id);
        s += ") ";
    }
    return s;
}

// Compare, and on mismatch describe the first difference with some context.
bool same_ids(const BertTokenizer& tok, const std::string& what, const std::string& text,
              const std::vector<int32_t>& expect, const std::vector<int32_t>& got) {
    if (expect == got) return true;
    size_t i = 0;
    while (i < expect.size() && i < got.size() && expect[i] == got[i]) i++;
    size_t from = i > 3 ? i - 3 : 0;
    std::string shown = text.size() > 300 ? text.substr(0, 300) + "..." : text;
    MESSAGE("tokenizer mismatch in ", what, "\n  text: ", shown, "\n  lengths: expected ", expect.size(), ", got ",
            got.size(), "; first difference at token ", i, "\n  expected: ... ", show(tok, expect, from, i + 6),
            "\n  got:      ... ", show(tok, got, from, i + 6));
    return false;
}

struct Config {
    std::string name;
    std::unique_ptr<BertTokenizer> tok;
};

// The option combinations of cases.jsonl's first line, each with its vocab from ../shared; empty (after a
// message) when the vocab files are absent.
std::map<std::string, Config> load_configs(const std::string& header_line, const std::string& shared) {
    tg::json::Value header = tg::json::parse(header_line, "cases.jsonl line 1");
    std::map<std::string, Config> configs;
    for (auto& [name, c] : header.find("configs")->obj) {
        const std::string vocab = shared + "/" + c.get_string("vocab", "");
        if (!tg::file_exists(vocab)) {
            MESSAGE("skipping: ", vocab, " not found (set TG_SHARED_DIR)");
            return {};
        }
        TokenizerOptions o;
        o.lowercase = c.find("lowercase")->as_bool();
        if (c.find("strip_accents")->is_bool()) o.strip_accents = c.find("strip_accents")->b;
        o.chinese_chars = c.find("chinese_chars")->as_bool();
        configs[name] = {name, std::make_unique<BertTokenizer>(BertTokenizer::from_vocab(vocab, o))};
    }
    return configs;
}

}  // namespace

TEST_CASE("tokenizer: agrees with HuggingFace on hard cases, encode() and real sentences") {
    const std::string shared = tg::test::shared_dir();
    const auto lines = split_lines(tg::read_file(tg::test::fixture("tokenizer/cases.jsonl")));
    REQUIRE(lines.size() > 100);
    std::map<std::string, Config> configs = load_configs(lines[0], shared);
    if (configs.empty()) return;
    SharedText texts(shared);
    std::map<std::string, int64_t> agree, total;
    int64_t hard = 0, real = 0, encodes = 0;
    bool ok = true;
    for (size_t ln = 1; ln < lines.size() && ok; ln++) {
        tg::json::Value c = tg::json::parse(lines[ln], tg::str("cases.jsonl line ", ln + 1));
        if (const tg::json::Value* enc = c.find("encode")) {
            const BertTokenizer& tok = *configs.at(c.get_string("config", "")).tok;
            encodes++;
            if (const tg::json::Value* batch = c.find("batch")) {
                std::vector<std::string> bt;
                for (auto& s : batch->arr) bt.push_back(s.s);
                tg::Batch b = tok.encode_batch(bt, 512, true);
                for (size_t r = 0; r < bt.size() && ok; r++) {
                    auto slice = [&](const std::vector<int32_t>& v) {
                        return std::vector<int32_t>(v.begin() + int64_t(r) * b.T, v.begin() + int64_t(r + 1) * b.T);
                    };
                    std::string what = tg::str("encode_batch row ", r);
                    ok = same_ids(tok, what + " ids", bt[r], int_array(enc->arr[r]), slice(b.ids)) &&
                         same_ids(tok, what + " type_ids", bt[r], int_array(c.find("type_ids")->arr[r]),
                                  slice(b.type_ids)) &&
                         same_ids(tok, what + " mask", bt[r], int_array(c.find("mask")->arr[r]), slice(b.mask));
                }
                continue;
            }
            std::string a = c.get_string("text", "");
            const tg::json::Value* pair = c.find("pair");
            std::optional<std::string_view> b;
            if (pair->is_string()) b = pair->s;
            tg::Encoding e = tok.encode(a, b, c.get_int("max_len", 512));
            std::string what = tg::str("encode(max_len=", c.get_int("max_len", 512), ") line ", ln + 1);
            ok = same_ids(tok, what, a + " ||| " + (b ? std::string(*b) : ""), int_array(*enc), e.ids) &&
                 same_ids(tok, what + " type_ids", a, int_array(*c.find("type_ids")), e.type_ids);
            CHECK(e.attention_mask == std::vector<int32_t>(e.ids.size(), 1));
            continue;
        }
        if (c.find("model_dir")) continue;  // its own test case below (needs nothing from ../shared)
        std::string text;
        if (const tg::json::Value* t = c.find("text")) {
            text = t->s;
            hard++;
        } else {
            text = texts.get(c.get_string("src", ""), c.get_int("row", -1), c.get_string("field", ""));
            char hex[17];
            std::snprintf(hex, sizeof hex, "%016llx", (unsigned long long)fnv1a64(text));
            REQUIRE_MESSAGE(c.get_string("fnv", "") == hex, "the text of ", c.get_string("src", ""), " row ",
                            c.get_int("row", -1), " changed (hash ", hex, " != fixture's ", c.get_string("fnv", ""),
                            "): regenerate with tools/ref/tokenizer_reference.py fixture");
            real++;
        }
        std::map<std::string, std::vector<int32_t>> expected;
        for (auto& [name, v] : c.find("ids")->obj) {
            if (v.is_array()) expected[name] = int_array(v);
            else if (expected.count(v.s)) expected[name] = expected[v.s];  // "same as config X"
            else expected[name] = unpack_ids(v.s);
            const BertTokenizer& tok = *configs.at(name).tok;
            total[name]++;
            if (same_ids(tok, tg::str("config ", name, ", cases.jsonl line ", ln + 1), text, expected[name],
                         tok.ids(text)))
                agree[name]++;
            else
                ok = false;
        }
    }
    CHECK(ok);
    std::string summary;
    for (auto& [name, n] : total) summary += tg::str("  ", name, ": ", agree[name], "/", n, "\n");
    MESSAGE("HF agreement (", hard, " hard cases, ", real, " real sentences, ", encodes, " encode cases):\n",
            summary);
    CHECK(hard >= 80);
    CHECK(real >= 2000);
}

TEST_CASE("tokenizer: from_model_dir() picks the options transformers' AutoTokenizer picks") {
    // Tiny model directories with our own vocabulary: which of tokenizer.json / tokenizer_config.json /
    // sentence_bert_config.json wins; ids and max_len from HF.
    int64_t n = 0;
    for (const std::string& line : split_lines(tg::read_file(tg::test::fixture("tokenizer/cases.jsonl")))) {
        if (line.find("\"model_dir\"") == std::string::npos) continue;
        tg::json::Value c = tg::json::parse(line, "cases.jsonl");
        const std::string dir = c.find("model_dir")->s;
        BertTokenizer tok = BertTokenizer::from_model_dir(tg::test::fixture("tokenizer/" + dir));
        const std::string text = c.get_string("text", "");
        REQUIRE(same_ids(tok, "model dir " + dir, text, int_array(*c.find("ids")), tok.ids(text)));
        CHECK_MESSAGE(tok.options().max_len == c.get_int("max_len", 0), dir);
        n++;
    }
    CHECK(n >= 35);
}

TEST_CASE("tokenizer: token offsets agree with HuggingFace's offset_mapping (as byte ranges)") {
    const std::string shared = tg::test::shared_dir();
    const auto header = split_lines(tg::read_file(tg::test::fixture("tokenizer/cases.jsonl")))[0];
    std::map<std::string, Config> configs = load_configs(header, shared);
    if (configs.empty()) return;
    SharedText texts(shared);
    int64_t checked = 0, bad = 0;
    for (const std::string& line : split_lines(tg::read_file(tg::test::fixture("tokenizer/offsets.jsonl")))) {
        tg::json::Value c = tg::json::parse(line, "offsets.jsonl");
        std::string text = c.find("text") ? c.find("text")->s
                                          : texts.get(c.get_string("src", ""), c.get_int("row", -1),
                                                      c.get_string("field", ""));
        for (auto& [name, v] : c.find("offsets")->obj) {
            std::vector<int32_t> expect = v.is_array() ? int_array(v) : unpack_ids(v.s);
            std::vector<int32_t> ids, got;
            std::vector<tg::Offset> offs;
            configs.at(name).tok->append_ids(text, ids, &offs);
            REQUIRE(offs.size() == ids.size());
            for (auto& o : offs) {
                got.push_back(int32_t(o.begin));
                got.push_back(int32_t(o.end));
            }
            checked++;
            if (got != expect && bad++ == 0) {
                size_t i = 0;
                while (i < got.size() && i < expect.size() && got[i] == expect[i]) i++;
                MESSAGE("offsets differ (config ", name, ") at token ", i / 2, " of: ", text.substr(0, 200),
                        "\n  expected [", expect.size() > i ? expect[i & ~size_t(1)] : -1, ", ",
                        expect.size() > (i | 1) ? expect[i | 1] : -1, ")  got [",
                        got.size() > i ? got[i & ~size_t(1)] : -1, ", ", got.size() > (i | 1) ? got[i | 1] : -1, ")");
            }
        }
    }
    CHECK(bad == 0);
    CHECK(checked >= 900);
    MESSAGE("offsets: ", checked - bad, "/", checked, " tokenizations agree");
}

TEST_CASE("tokenizer: every code point normalizes and splits as in HuggingFace") {
    // HF's per-code-point behaviour, rebuilt from the exception list (see tokenizer_reference.py).
    const uint32_t N = 0x110000;
    std::vector<uint8_t> cls(N, 0);  // bit 0 R(emove), 1 W(hite->space), 2 V (split: space), 3 P(unct), 4 Z
    std::map<uint32_t, std::u32string> strip, lower;
    std::istringstream in(tg::read_file(tg::test::fixture("tokenizer/unicode.txt")));
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string tag, a, b;
        ls >> tag >> a;
        uint32_t lo = uint32_t(std::stoul(a, nullptr, 16));
        if (tag == "S" || tag == "L") {
            std::u32string out;
            while (ls >> b)
                if (b != "-") out.push_back(char32_t(std::stoul(b, nullptr, 16)));
            (tag == "S" ? strip : lower)[lo] = out;
            continue;
        }
        ls >> b;
        uint32_t hi = uint32_t(std::stoul(b, nullptr, 16));
        int bit = std::string("RWVPZ").find(tag[0]);
        for (uint32_t c = lo; c <= hi; c++) cls[c] |= uint8_t(1 << bit);
    }
    auto utf8 = [](const std::u32string& s) {
        std::string o;
        for (char32_t c : s) {
            if (c < 0x80) o += char(c);
            else if (c < 0x800) o += {char(0xC0 | (c >> 6)), char(0x80 | (c & 0x3F))};
            else if (c < 0x10000) o += {char(0xE0 | (c >> 12)), char(0x80 | ((c >> 6) & 0x3F)), char(0x80 | (c & 0x3F))};
            else
                o += {char(0xF0 | (c >> 18)), char(0x80 | ((c >> 12) & 0x3F)), char(0x80 | ((c >> 6) & 0x3F)),
                      char(0x80 | (c & 0x3F))};
        }
        return o;
    };
    auto one_step = [](bool clean, bool chinese, bool strip_accents, bool lowercase) {
        TokenizerOptions o;
        o.clean_text = clean;
        o.chinese_chars = chinese;
        o.strip_accents = strip_accents;
        o.lowercase = lowercase;
        return BertTokenizer::from_tokens({"[UNK]"}, o);
    };
    BertTokenizer t_clean = one_step(true, false, false, false), t_chinese = one_step(false, true, false, false),
                  t_strip = one_step(false, false, true, false), t_lower = one_step(false, false, false, true);
    int64_t bad = 0, checked = 0;
    for (uint32_t c = 0; c < N; c++) {
        if (c >= 0xD800 && c < 0xE000) continue;
        const std::string ch = utf8(std::u32string(1, char32_t(c)));
        std::string e_clean = (cls[c] & 1) ? "" : (cls[c] & 2) ? " " : ch;
        std::string e_chinese = (cls[c] & 16) ? " " + ch + " " : ch;
        std::string e_strip = strip.count(c) ? utf8(strip[c]) : ch;
        std::string e_lower = lower.count(c) ? utf8(lower[c]) : ch;
        size_t e_words = (cls[c] & 4) ? 2 : (cls[c] & 8) ? 3 : 1;
        std::string g_clean = t_clean.normalize(ch), g_chinese = t_chinese.normalize(ch),
                    g_strip = t_strip.normalize(ch), g_lower = t_lower.normalize(ch);
        size_t g_words = t_clean.pre_tokenize("a" + ch + "a").size();
        checked++;
        if (g_clean != e_clean || g_chinese != e_chinese || g_strip != e_strip || g_lower != e_lower ||
            g_words != e_words) {
            if (bad++ < 10)
                MESSAGE("U+", std::hex, c, std::dec, ": clean ", g_clean == e_clean, " chinese ",
                        g_chinese == e_chinese, " strip ", g_strip == e_strip, " lower ", g_lower == e_lower,
                        " pre-tokenizer words ", g_words, " (HF ", e_words, ")");
        }
    }
    CHECK(bad == 0);
    CHECK(checked == 0x110000 - 0x800);
}

TEST_CASE("tokenizer: WordPiece, specials and truncation on a tiny vocabulary") {
    // Hand-checked expectations (independent of HF): greedy longest match, "##", [UNK] for a whole word.
    BertTokenizer t = BertTokenizer::from_tokens(
        {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "aff", "##a", "!", "x", "##x"});
    CHECK(t.pad_id == 0);
    CHECK(t.mask_id == 4);
    CHECK(t.tokenize("unaffable!") == std::vector<std::string>{"un", "##aff", "##able", "!"});
    CHECK(t.tokenize("UNAFFABLE") == std::vector<std::string>{"un", "##aff", "##able"});  // lowercase default
    CHECK(t.tokenize("unaffy aff") == std::vector<std::string>{"[UNK]", "aff"});            // 'y' missing: [UNK]
    CHECK(t.tokenize("x[MASK]x") == std::vector<std::string>{"x", "[MASK]", "x"});
    CHECK(t.tokenize(std::string(100, 'x')).size() == 100);
    CHECK(t.tokenize(std::string(101, 'x')) == std::vector<std::string>{"[UNK]"});
    // longest_first: budget 7 - 3 = 4 for lengths 5 and 1 -> 3 + 1
    tg::Encoding e = t.encode("x x x x x", std::string_view("aff"), 7);
    CHECK(e.ids == std::vector<int32_t>{2, 11, 11, 11, 3, 8, 3});
    CHECK(e.type_ids == std::vector<int32_t>{0, 0, 0, 0, 0, 1, 1});
    tg::Batch b = t.encode_batch({"x", "x x x x x x"}, 5, false);
    CHECK(b.T == 5);
    CHECK(b.ids == std::vector<int32_t>{2, 11, 3, 0, 0, 2, 11, 11, 11, 3});
    CHECK(b.mask == std::vector<int32_t>{1, 1, 1, 0, 0, 1, 1, 1, 1, 1});
    CHECK(b.truncated == 1);
    CHECK_THROWS_AS(t.encode("x", std::nullopt, 1), tg::Error);
}

// ---- the `tastegraph tokenize` command line ----------------------------------------------------------------
namespace {

// The tastegraph binary sits next to tg_tests in the build directory.
// Run `tastegraph tokenize <args>` on `input`; returns stdout, sets *rc.
std::string run_cli(const std::string& args, const std::string& input, int* rc) {
    const std::string base = "/tmp/tg_test_tokenize_" + std::to_string(getpid());
    std::ofstream(base + ".in", std::ios::binary) << input;
    std::string cmd = tg::test::cli_binary() + " tokenize " + args + " < " + base + ".in > " + base + ".out 2> " + base + ".err";
    *rc = std::system(cmd.c_str());
    std::string out = tg::file_exists(base + ".out") ? tg::read_file(base + ".out") : "";
    std::remove((base + ".in").c_str());
    std::remove((base + ".out").c_str());
    std::remove((base + ".err").c_str());
    return out;
}

}  // namespace

TEST_CASE("tokenizer: tastegraph tokenize command line") {
    if (!tg::file_exists(tg::test::cli_binary())) {
        MESSAGE("skipping: ", tg::test::cli_binary(), " not built");
        return;
    }
    const std::string shared = tg::test::shared_dir();
    const std::string uncased = shared + "/models/bert-base-uncased/vocab.txt";
    const std::string cased = shared + "/models/bert-base-cased/vocab.txt";
    if (!tg::file_exists(uncased) || !tg::file_exists(cased)) {
        MESSAGE("skipping: vocab files not found under ", shared);
        return;
    }
    // Expected values from the HF fixture: hard cases under "uncased" and "cased", and the tiny model dirs.
    const auto lines = split_lines(tg::read_file(tg::test::fixture("tokenizer/cases.jsonl")));
    std::vector<std::string> texts;
    std::vector<std::vector<int32_t>> want_uncased, want_cased;
    std::map<std::string, std::vector<std::pair<std::string, std::vector<int32_t>>>> dirs;
    for (size_t ln = 1; ln < lines.size(); ln++) {
        tg::json::Value c = tg::json::parse(lines[ln], "cases.jsonl");
        if (const tg::json::Value* md = c.find("model_dir")) {
            dirs[md->s].emplace_back(c.get_string("text", ""), int_array(*c.find("ids")));
            continue;
        }
        const tg::json::Value* t = c.find("text");
        if (!t || !c.find("ids")) continue;
        std::map<std::string, std::vector<int32_t>> resolved;  // a name instead of ids: "same as that config"
        for (auto& [name, v] : c.find("ids")->obj) resolved[name] = v.is_array() ? int_array(v) : resolved.at(v.s);
        texts.push_back(t->s);
        want_uncased.push_back(resolved.at("uncased"));
        want_cased.push_back(resolved.at("cased"));
    }
    REQUIRE(texts.size() >= 80);

    SUBCASE("--jsonl --ids --specials: one JSON array of ids per JSON string") {
        std::string in, expect;
        for (size_t i = 0; i < texts.size(); i++) {
            tg::json::write_string(in, texts[i]);
            in += "\n";
            expect += "[101";
            for (int32_t id : want_uncased[i]) {
                expect += ',';
                expect += std::to_string(id);
            }
            expect += ",102]\n";
        }
        int rc = 0;
        std::string out = run_cli("--vocab " + uncased + " --jsonl --ids --specials", in, &rc);
        CHECK(rc == 0);
        CHECK(out == expect);
    }
    SUBCASE("plain text in, space-separated tokens out; --lowercase 0 with the cased vocab") {
        BertTokenizer tok = BertTokenizer::from_vocab(cased);
        std::string in, expect;
        for (size_t i = 0; i < texts.size(); i++) {
            if (texts[i].find_first_of("\n\r") != std::string::npos) continue;  // one input per line
            in += texts[i] + "\n";
            for (size_t k = 0; k < want_cased[i].size(); k++) expect += (k ? " " : "") + tok.token(want_cased[i][k]);
            expect += "\n";
        }
        int rc = 0;
        std::string out = run_cli("--vocab " + cased + " --lowercase 0", in, &rc);
        CHECK(rc == 0);
        CHECK(out == expect);
    }
    SUBCASE("-m MODEL_DIR takes the options from the model's files") {
        for (auto& entry : dirs) {
            const std::string dir = entry.first;
            const auto& cases = entry.second;
            std::string in, expect;
            for (auto& [text, ids] : cases) {
                tg::json::write_string(in, text);
                in += "\n";
                std::string row = "[";
                for (size_t k = 0; k < ids.size(); k++) {
                    if (k) row += ',';
                    row += std::to_string(ids[k]);
                }
                expect += row + "]\n";
            }
            int rc = 0;
            std::string out = run_cli("-m " + tg::test::fixture("tokenizer/" + dir) + " --jsonl --ids", in, &rc);
            CHECK_MESSAGE(rc == 0, dir);
            CHECK_MESSAGE(out == expect, dir);
        }
    }
    SUBCASE("errors: no vocabulary, a bad flag value, a line that is not a JSON string") {
        int rc = 0;
        run_cli("", "x\n", &rc);
        CHECK(rc != 0);
        run_cli("--vocab " + uncased + " --lowercase 2", "x\n", &rc);
        CHECK(rc != 0);
        run_cli("--vocab " + uncased + " --jsonl", "not json\n", &rc);
        CHECK(rc != 0);
    }
}

TEST_CASE("tokenizer: a real model directory (weights/all-MiniLM-L6-v2) matches the uncased HF expectations") {
    // all-MiniLM-L6-v2 ships tokenizer.json + tokenizer_config.json (BertTokenizer, do_lower_case) + the
    // bert-base-uncased vocabulary, so its ids must equal the fixture's "uncased" ones. Skips without `make weights`.
    const std::string dir = tg::test::source_dir() + "/weights/all-MiniLM-L6-v2";
    if (!tg::file_exists(dir + "/tokenizer.json") && !tg::file_exists(dir + "/vocab.txt")) {
        MESSAGE("skipping: ", dir, " not found (make weights)");
        return;
    }
    BertTokenizer tok = BertTokenizer::from_model_dir(dir);
    CHECK(tok.vocab_size() == 30522);
    CHECK(tok.options().lowercase);
    CHECK(tok.options().max_len == 256);  // sentence_bert_config.json max_seq_length
    CHECK(tok.cls_id == 101);
    CHECK(tok.sep_id == 102);
    const auto lines = split_lines(tg::read_file(tg::test::fixture("tokenizer/cases.jsonl")));
    int64_t n = 0;
    for (size_t ln = 1; ln < lines.size(); ln++) {
        tg::json::Value c = tg::json::parse(lines[ln], "cases.jsonl");
        const tg::json::Value* t = c.find("text");
        const tg::json::Value* ids = c.find("ids");
        if (!t || !ids || !ids->find("uncased")) continue;
        REQUIRE(same_ids(tok, "all-MiniLM-L6-v2", t->s, int_array(*ids->find("uncased")), tok.ids(t->s)));
        n++;
    }
    CHECK(n >= 80);
}
