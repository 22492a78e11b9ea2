// cmd_embed.cpp — `tastegraph embed`: sentence embeddings of a text file with a BERT model, to .npy.
//
// Pipeline per chunk of 4096 texts: tokenize (nn/tokenizer.h, HF-exact, truncation to --max-len) -> sort by
// length -> batches of --batch sequences, packed without padding (nn/bert.h) -> pooling + optional L2
// (nn/pooling.h) -> rows put back in input order -> appended to the .npy (tensor/npy.h, written atomically).
// The input is read twice: a first pass counts (and validates) the records, so a bad row fails before any
// compute and the .npy header can carry the final shape.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "cli.h"
#include "nn/bert.h"
#include "nn/model_config.h"
#include "nn/pooling.h"
#include "nn/tokenizer.h"
#include "tensor/common.h"
#include "tensor/io.h"
#include "tensor/npy.h"
#include "tensor/textio.h"

namespace {

const char* kHelp =
    R"(usage: tastegraph embed -m MODEL_DIR -i FILE [-o OUT.npy] [options]

Embed every text of FILE with a BERT model and write a float32 [N, dim] .npy (numpy.load reads it); row i is
the i-th text of the input.

  -m, --model DIR     model directory: config.json, model.safetensors, vocab.txt (+ sentence-transformers
                      files); e.g. weights/all-MiniLM-L6-v2 from `make weights`
  -i, --input FILE    .txt: one text per line (empty lines are texts too, so rows match lines)
                      .jsonl: one JSON object per line, text in field --column
                      .csv / .tsv: header row, text in column --column
  -o, --output FILE   default: the input path with its extension replaced by .npy
  --column NAME       JSONL field / CSV column holding the text (default "text")
  --pool cls|mean|max pooling (default: the model's sentence-transformers Pooling module, else mean)
  --normalize         L2-normalize each embedding (default: on when the model has a Normalize module)
  --no-normalize      do not normalize
  --batch N           sequences per forward pass (default 32); texts are sorted by length first
  --max-len N         truncate to N tokens incl. [CLS]/[SEP] (default: sentence-transformers max_seq_length,
                      else the model's max positions); truncated texts are counted in a warning
  --dtype f32|bf16    compute precision (bf16: weights converted at load, f32 accumulation)
  --threads N         threads (default: TG_THREADS or all cores)

A progress bar (texts/s, ETA) is drawn on stderr when it is a terminal.

example:
  tastegraph embed -m weights/all-MiniLM-L6-v2 -i reviews.csv --column review -o reviews.npy
)";

enum class Format { txt, jsonl, csv };

Format format_of(const std::string& path) {
    auto ends = [&](const char* e) {
        const std::string s(e);
        return path.size() >= s.size() && path.compare(path.size() - s.size(), s.size(), s) == 0;
    };
    if (ends(".jsonl") || ends(".ndjson")) return Format::jsonl;
    if (ends(".csv") || ends(".tsv") || ends(".tab")) return Format::csv;
    return Format::txt;
}

// Streams the texts of an input file, whatever its format; errors name file:line.
class TextSource {
   public:
    TextSource(const std::string& path, const std::string& column) : path_(path), column_(column), fmt_(format_of(path)) {
        TG_CHECK(path != "-", "-i - (stdin) is not supported: the input is read twice; give a file");
        TG_CHECK(tg::file_exists(path), "input file ", path, " does not exist");
        switch (fmt_) {
            case Format::txt: lines_ = std::make_unique<tg::LineReader>(path); break;
            case Format::jsonl: jsonl_ = std::make_unique<tg::JsonlReader>(path); break;
            case Format::csv:
                csv_ = std::make_unique<tg::CsvReader>(path, tg::csv_separator_for(path));
                col_ = csv_->require_column(column);
                break;
        }
    }
    bool next(std::string& text) {
        switch (fmt_) {
            case Format::txt: return lines_->next(text);
            case Format::jsonl: {
                if (!jsonl_->next(v_)) return false;
                const tg::json::Value* f = v_.find(column_);
                TG_CHECK(f && f->is_string(), path_, ":", jsonl_->line(), ": no string field '", column_,
                         "' (choose the field with --column)");
                text = f->s;
                return true;
            }
            case Format::csv:
                if (!csv_->next(fields_)) return false;
                text = fields_[size_t(col_)];
                return true;
        }
        return false;
    }

   private:
    std::string path_, column_;
    Format fmt_;
    std::unique_ptr<tg::LineReader> lines_;
    std::unique_ptr<tg::JsonlReader> jsonl_;
    std::unique_ptr<tg::CsvReader> csv_;
    int col_ = -1;
    tg::json::Value v_;
    std::vector<std::string> fields_;
};

// "[=====>     ] 1200/5000 texts  340.2 texts/s  ETA 0:11" redrawn in place, only on a terminal.
class Progress {
   public:
    explicit Progress(int64_t total) : total_(total), on_(isatty(2)), t0_(std::chrono::steady_clock::now()) {}
    void update(int64_t done) {
        if (!on_) return;
        const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
        const double rate = el > 0 ? double(done) / el : 0;
        const int64_t eta = rate > 0 ? int64_t(double(total_ - done) / rate) : 0;
        const int W = 30, fill = int(W * done / std::max<int64_t>(total_, 1));
        std::string bar(size_t(fill), '=');
        if (fill < W) bar += '>' + std::string(size_t(W - fill - 1), ' ');
        std::fprintf(stderr, "\r[%s] %lld/%lld texts  %.1f texts/s  ETA %lld:%02lld ", bar.c_str(), (long long)done,
                     (long long)total_, rate, (long long)(eta / 60), (long long)(eta % 60));
        std::fflush(stderr);
    }
    void finish() {
        if (on_) std::fputc('\n', stderr);
    }

   private:
    int64_t total_;
    bool on_;
    std::chrono::steady_clock::time_point t0_;
};

int cmd_embed(tg::cli::Args& a) {
    if (a.help()) {
        std::fputs(kHelp, stdout);
        return 0;
    }
    const std::string model_dir = a.required({"-m", "--model"});
    const std::string input = a.required({"-i", "--input"});
    std::string output = a.value_or({"-o", "--output"}, "");
    const std::string column = a.value_or({"--column"}, "text");
    const auto pool_opt = a.value({"--pool"});
    const bool norm_on = a.flag({"--normalize"}), norm_off = a.flag({"--no-normalize"});
    const int64_t batch = a.int_or({"--batch"}, 32);
    int64_t max_len = a.int_or({"--max-len"}, 0);
    const std::string dtype_s = a.value_or({"--dtype"}, "f32");
    tg::cli::apply_threads(a);
    a.finish();
    TG_CHECK(!(norm_on && norm_off), "--normalize and --no-normalize contradict each other");
    TG_CHECK(batch >= 1, "--batch must be >= 1");
    TG_CHECK(max_len >= 0, "--max-len must be >= 2 (0 = the model's default)");
    TG_CHECK(dtype_s == "f32" || dtype_s == "bf16", "--dtype must be f32 or bf16, got '", dtype_s, "'");
    if (output.empty()) {
        const size_t slash = input.find_last_of('/'), dot = input.find_last_of('.');
        output = (dot != std::string::npos && (slash == std::string::npos || dot > slash) ? input.substr(0, dot) : input) + ".npy";
    }
    TG_CHECK(output != input, "the output would overwrite the input ", input, "; give -o");

    // ---- model, tokenizer and the sentence-transformers defaults
    const tg::ModelFiles mf = tg::load_model_dir(model_dir);
    const tg::PoolMode pool = pool_opt ? tg::pool_mode_parse(*pool_opt) : mf.st.pooling.value_or(tg::PoolMode::mean);
    const bool normalize = norm_on || (!norm_off && mf.st.normalize);
    if (max_len == 0) max_len = mf.st.max_seq_length > 0 ? mf.st.max_seq_length : mf.config.max_position_embeddings;
    TG_CHECK(max_len >= 2 && max_len <= mf.config.max_position_embeddings, "--max-len ", max_len,
             " outside [2, ", mf.config.max_position_embeddings, "] (the model's positions)");
    tg::BertTokenizer tok = tg::BertTokenizer::from_model_dir(mf.transformer_dir);
    TG_CHECK(!tok.lowercase_input() || tok.options().lowercase, model_dir,
             ": sentence_bert_config.json asks for Python-style input lowercasing with a cased tokenizer; not supported");
    tg::BertEncoder bert = tg::BertEncoder::load(model_dir, dtype_s == "bf16" ? tg::DType::bf16 : tg::DType::f32);
    const int64_t C = bert.dims().C;

    // ---- pass 1: count (and validate) the texts
    int64_t N = 0;
    {
        TextSource src(input, column);
        std::string t;
        while (src.next(t)) N++;
    }
    TG_CHECK(N > 0, input, " holds no texts");

    // ---- pass 2: embed chunk by chunk, write rows in input order
    tg::NpyWriter out(output, tg::DType::f32, {N, C});
    TextSource src(input, column);
    Progress progress(N);
    tg::BertWorkspace ws;
    constexpr int64_t kChunk = 4096;
    std::vector<std::string> texts;
    std::vector<float> emb, pooled;
    int64_t done = 0, truncated = 0;
    std::string t;
    bool more = true;
    while (more) {
        texts.clear();
        while (int64_t(texts.size()) < kChunk && (more = src.next(t))) texts.push_back(t);
        if (texts.empty()) break;
        const int64_t n = int64_t(texts.size());
        const tg::Batch enc = tok.encode_batch(texts, max_len);
        truncated += enc.truncated;
        const tg::PackedBatch all = tg::pack(enc);
        // similar lengths together: batches then have even work per sequence
        std::vector<int64_t> order(static_cast<size_t>(n));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
            return all.offsets[size_t(x + 1)] - all.offsets[size_t(x)] < all.offsets[size_t(y + 1)] - all.offsets[size_t(y)];
        });
        emb.assign(size_t(n * C), 0.0f);
        for (int64_t b0 = 0; b0 < n; b0 += batch) {
            const int64_t nb = std::min(batch, n - b0);
            tg::PackedBatch pb;
            for (int64_t k = 0; k < nb; k++) {
                const int64_t i = order[size_t(b0 + k)], s = all.offsets[size_t(i)];
                pb.add(all.ids.data() + s, all.type_ids.data() + s, all.offsets[size_t(i + 1)] - s);
            }
            bert.forward(pb, ws, /*want_pooler=*/false);
            pooled.resize(size_t(nb * C));
            tg::pool_forward(pooled.data(), ws.hidden(), pb.offsets.data(), nb, C, pool);
            if (normalize) tg::l2_normalize_rows(pooled.data(), nb, C);
            for (int64_t k = 0; k < nb; k++)
                std::copy_n(pooled.data() + k * C, C, emb.data() + order[size_t(b0 + k)] * C);
            progress.update(done + b0 + nb);
        }
        out.write(emb.data(), emb.size() * sizeof(float));
        done += n;
    }
    TG_CHECK(done == N, input, " changed while being read (", N, " texts, then ", done, ")");
    out.commit();
    progress.finish();
    if (truncated > 0)
        std::fprintf(stderr, "tastegraph embed: warning: %lld of %lld texts were longer than %lld tokens and were truncated\n",
                     (long long)truncated, (long long)N, (long long)max_len);
    std::fprintf(stderr, "tastegraph embed: %lld x %lld float32 (%s pooling%s, %s) -> %s\n", (long long)N, (long long)C,
                 tg::pool_mode_name(pool), normalize ? ", L2-normalized" : "", dtype_s.c_str(), output.c_str());
    return 0;
}

}  // namespace

TG_COMMAND("embed", "sentence embeddings of a text file with a BERT model (-> .npy)", cmd_embed);
