// train_options.h — the data and schedule options shared by `finetune` and `pretrain`.
#pragma once
#include "cli.h"
#include "nn/finetune.h"

namespace tg::cli {

// --train, --valid (required), --text, --limit, --epochs, --lr, --batch, --max-len, --warmup, --seed.
// Each command passes its own defaults for epochs and learning rate.
inline void read_data_and_schedule(Args& a, tg::nn::FinetuneOptions& o, int64_t epochs, double lr) {
    o.train = a.required({"--train"});
    o.valid = a.required({"--valid"});
    o.text_col = a.value_or({"--text"}, "text");
    o.limit = a.int_or({"--limit"}, 0);
    o.epochs = a.int_or({"--epochs"}, epochs);
    o.lr = a.double_or({"--lr"}, lr);
    o.batch = a.int_or({"--batch"}, 32);
    o.max_len = a.int_or({"--max-len"}, 128);
    o.warmup = a.double_or({"--warmup"}, 0.1);
    o.seed = uint64_t(a.int_or({"--seed"}, 42));
}

}  // namespace tg::cli
