// cmd_finetune.cpp — `tastegraph finetune`: multi-task fine-tuning of a BERT model (nn/finetune.h).
#include <cstdio>
#include <string>

#include "cli.h"
#include "train_options.h"
#include "nn/finetune.h"

namespace {

const char* kHelp =
    R"(usage: tastegraph finetune -m MODEL_DIR --train FILE --valid FILE --task NAME:KIND:COLUMN[:WEIGHT] ...
                          -o RUN_DIR [options]

Fine-tune one BERT encoder with one head per task; the losses are summed with fixed weights or learned
uncertainty weights. FILE: .csv/.tsv with a header row, or .jsonl.

  -m, --model DIR       model folder (config.json, model.safetensors, vocab.txt)
  --train FILE, --valid FILE
  --text COLUMN         column holding the text (default "text")
  --task NAME:KIND:COLUMN[:WEIGHT]   repeatable; KIND: softmax | multilabel (labels separated by '|') |
                        binary (0/1) | regression | similarity (COLUMN = the paired text; InfoNCE, τ 0.05) |
                        mlm (masked LM on the text column, 15% masked 80/10/10); WEIGHT for --balance fixed
  --limit N             only the first N rows of each file
  --epochs N (3)  --lr X (5e-5)  --batch N (32)  --max-len N (128)  --warmup X (0.1: fraction of the steps
                        if < 1, else steps)  --clip X (1.0, 0 = off)  --wd X (0.01)  --accum N (1: gradient
                        accumulation over N batches)  --seed N (42)
  --balance fixed|uncertainty
  --grad-surgery none|pcgrad   pcgrad: where two tasks' gradients at the pooled vector point against each
                        other, each loses its component along the other before they are summed and sent
                        through the encoder (PCGrad, Yu et al. 2020; softmax/multilabel/binary/regression
                        tasks only); metrics.jsonl gets each epoch's conflict rate and mean cosine
  --freeze-encoder      train the heads only
  --recompute           keep only each encoder layer's input and recompute its activations in backward
                        (activation checkpointing: far less memory for long inputs or big batches, about
                        one more forward per step; same results)
  --metric NAME         selection metric on valid, e.g. category.macro_f1 (default: mean macro-F1);
                        *.rmse and *.loss (masked-LM) are minimized, the others maximized
  --patience N          early stopping after N epochs without improvement (0 = off)
  --resume              continue an interrupted run from RUN_DIR/state.safetensors (saved after every
                        epoch); the result is bit-identical to an uninterrupted run with the same options
  -o, --out DIR         run folder: finetune.json, model.safetensors (best epoch), metrics.jsonl,
                        curves.svg, report.json, state.safetensors
  --threads N

example:
  tastegraph finetune -m weights/zh-small --train train.csv --valid valid.csv --text review \
      --task category:softmax:cat --task sentiment:binary:label -o runs/shop
)";

int cmd_finetune(tg::cli::Args& a) {
    if (a.help()) {
        std::fputs(kHelp, stdout);
        return 0;
    }
    tg::cli::apply_threads(a);
    tg::nn::FinetuneOptions o;
    o.model_dir = a.required({"-m", "--model"});
    tg::cli::read_data_and_schedule(a, o, /*epochs=*/3, /*lr=*/5e-5);
    o.out = a.required({"-o", "--out"});
    for (const std::string& t : a.values({"--task"})) o.tasks.push_back(tg::nn::parse_task_spec(t));
    o.clip = a.double_or({"--clip"}, 1.0);
    o.wd = a.double_or({"--wd"}, 0.01);
    o.accum = a.int_or({"--accum"}, 1);
    o.balance = a.value_or({"--balance"}, "fixed");
    o.surgery = a.value_or({"--grad-surgery"}, "none");
    o.freeze_encoder = a.flag({"--freeze-encoder"});
    o.recompute = a.flag({"--recompute"});
    o.metric = a.value_or({"--metric"}, "");
    o.patience = a.int_or({"--patience"}, 0);
    o.resume = a.flag({"--resume"});
    a.finish();
    tg::nn::run_finetune(o);
    std::fprintf(stderr, "finetune: wrote %s/report.json\n", o.out.c_str());
    return 0;
}

}  // namespace

TG_COMMAND("finetune", "multi-task fine-tuning of a BERT model", cmd_finetune);
