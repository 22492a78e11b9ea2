// cmd_predict.cpp — `tastegraph predict`: a fine-tuned run's task predictions and text embeddings (JSONL).
#include <cstdio>
#include <string>

#include "cli.h"
#include "nn/finetune.h"

namespace {

const char* kHelp =
    R"(usage: tastegraph predict -m RUN_DIR -i FILE [-o OUT.jsonl] [--text COLUMN] [--limit N]

One JSON line per input row: {"row": i, "<task>": prediction, ..., "embedding": [...]}. Predictions:
softmax -> the class label, binary -> P(label 1), regression -> the value, multilabel -> the labels with
a positive logit. The embedding is the pooled vector the heads read.

  -m, --model DIR     a run folder written by `tastegraph finetune`
  -i, --input FILE    .csv/.tsv (header row) or .jsonl
  -o, --output FILE   default: stdout
  --text COLUMN       default: the run's text column
)";

int cmd_predict(tg::cli::Args& a) {
    if (a.help()) {
        std::fputs(kHelp, stdout);
        return 0;
    }
    tg::cli::apply_threads(a);
    const std::string run = a.required({"-m", "--model"}), in = a.required({"-i", "--input"});
    const std::string out = a.value_or({"-o", "--output"}, ""), text = a.value_or({"--text"}, "");
    const int64_t limit = a.int_or({"--limit"}, 0);
    a.finish();
    tg::nn::run_predict(run, in, out, text, limit);
    return 0;
}

}  // namespace

TG_COMMAND("predict", "predictions and embeddings of a fine-tuned run", cmd_predict);
