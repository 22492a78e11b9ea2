// cmd_tokenize.cpp — `tastegraph tokenize`: BERT WordPiece tokens (or ids) of each stdin line.
//
// The output agrees exactly with HuggingFace BertTokenizerFast built with the same vocab and options (see
// src/nn/tokenizer.h). Other checks depend on this contract; keep it stable.
#include <cstdio>
#include <iostream>
#include <string>

#include "cli.h"
#include "nn/tokenizer.h"
#include "tensor/common.h"
#include "tensor/json.h"

namespace {

const char* kHelp =
    R"(usage: tastegraph tokenize (--vocab PATH | -m MODEL_DIR) [options] < input

Split each line of stdin into BERT WordPiece tokens, exactly as HuggingFace BertTokenizerFast does, and print
one output line per input line.

  --vocab PATH          vocab.txt (one token per line). Options default to HF BertTokenizer's:
                        lowercase on, strip accents following lowercase, Chinese characters split.
  -m, --model DIR       take the vocabulary and every option from the model's files (tokenizer.json,
                        vocab.txt, tokenizer_config.json, sentence_bert_config.json), with HF's precedence.
  --lowercase 0|1       do_lower_case (overrides the model's)
  --strip-accents 0|1   strip_accents (unset: follows --lowercase)
  --chinese-chars 0|1   put spaces around CJK ideographs (tokenize_chinese_chars)
  --ids                 print token ids instead of token strings
  --specials            add [CLS] at the start and [SEP] at the end
  --jsonl               each input line is a JSON string; each output line is a JSON array of token
                        strings (of ids with --ids). Without it, output is space-separated.

Special tokens ([PAD] [UNK] [CLS] [SEP] [MASK], or a tokenizer.json's added tokens) are recognised in the
raw text. Nothing is truncated. Lines are split on '\n' only; a '\r' before it is whitespace and changes
nothing. Invalid UTF-8 bytes are read as U+FFFD, which the BERT normalizer drops.

examples:
  echo "Héllo, wörld!" | tastegraph tokenize --vocab ../shared/models/bert-base-uncased/vocab.txt
      hello , world !
  echo '"我爱北京 [MASK]"' | tastegraph tokenize -m weights/all-MiniLM-L6-v2 --jsonl --ids --specials
      [101,1855,100,1781,1755,103,102]
)";

bool parse_bool01(const std::string& opt, const std::string& v) {
    if (v == "0") return false;
    if (v == "1") return true;
    TG_FAIL("option ", opt, ": expected 0 or 1, got '", v, "'");
}

int cmd_tokenize(tg::cli::Args& a) {
    if (a.help()) {
        std::fputs(kHelp, stdout);
        return 0;
    }
    auto vocab = a.value({"--vocab"});
    auto model = a.value({"-m", "--model"});
    auto lower = a.value({"--lowercase"});
    auto strip = a.value({"--strip-accents"});
    auto chinese = a.value({"--chinese-chars"});
    bool want_ids = a.flag({"--ids"});
    bool specials = a.flag({"--specials"});
    bool jsonl = a.flag({"--jsonl"});
    a.finish();
    TG_CHECK(vocab.has_value() != model.has_value(), "give exactly one of --vocab PATH or -m MODEL_DIR (see --help)");

    tg::BertTokenizer tok = model ? tg::BertTokenizer::from_model_dir(*model) : tg::BertTokenizer::from_vocab(*vocab);
    if (lower || strip || chinese) {  // explicit flags override the defaults / the model's files
        tg::TokenizerOptions o = tok.options();
        if (lower) o.lowercase = parse_bool01("--lowercase", *lower);
        if (strip) o.strip_accents = parse_bool01("--strip-accents", *strip);
        if (chinese) o.chinese_chars = parse_bool01("--chinese-chars", *chinese);
        tok = tok.with_options(o);
    }
    TG_CHECK(!specials || (tok.cls_id >= 0 && tok.sep_id >= 0), "--specials: the vocabulary has no [CLS] or [SEP]");

    std::ios::sync_with_stdio(false);
    std::string line, text, out;
    std::vector<int32_t> ids;
    int64_t lineno = 0;
    while (std::getline(std::cin, line)) {
        lineno++;
        std::string_view input = line;
        if (jsonl) {
            tg::json::Value v = tg::json::parse(line, tg::str("stdin line ", lineno));
            TG_CHECK(v.is_string(), "stdin line ", lineno, ": expected a JSON string");
            text = std::move(v.s);
            input = text;
        }
        ids.clear();
        if (specials) ids.push_back(tok.cls_id);
        tok.append_ids(input, ids);
        if (specials) ids.push_back(tok.sep_id);
        out.clear();
        if (jsonl) out.push_back('[');
        for (size_t i = 0; i < ids.size(); i++) {
            if (i) out.push_back(jsonl ? ',' : ' ');
            if (want_ids) out += std::to_string(ids[i]);
            else if (jsonl) tg::json::write_string(out, tok.token(ids[i]));
            else out += tok.token(ids[i]);
        }
        if (jsonl) out.push_back(']');
        out.push_back('\n');
        std::fwrite(out.data(), 1, out.size(), stdout);
    }
    TG_CHECK(!std::ferror(stdout), "write error on stdout");
    return 0;
}

}  // namespace

TG_COMMAND("tokenize", "split text into BERT WordPiece tokens or ids (HuggingFace-exact)", cmd_tokenize);
