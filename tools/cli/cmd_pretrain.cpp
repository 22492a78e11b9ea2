// cmd_pretrain.cpp — `tastegraph pretrain`: masked-LM pre-training of a small BERT from scratch, exported as a
// HuggingFace-style model folder (config.json, vocab.txt, tokenizer_config.json, model.safetensors with
// BertForMaskedLM names: "bert.*" and "cls.predictions.*", the decoder tied to the word embeddings).
//
// Steps: write OUT/config.json + vocab.txt, a randomly initialised OUT/model.safetensors (BERT's init,
// N(0, 0.02)); then the fine-tuning loop (nn/finetune.h) with the single task "mlm" (15% of the tokens
// masked, 80/10/10), its run folder in OUT/run; after every epoch the masked-LM loss and top-1 accuracy on the
// valid file (fixed masks); the epoch with the lowest valid loss becomes OUT/model.safetensors.
#include <cstdio>
#include <filesystem>
#include <string>

#include "cli.h"
#include "train_options.h"
#include "nn/bert_train.h"
#include "nn/checkpoint.h"
#include "nn/finetune.h"
#include "tensor/io.h"

namespace {

const char* kHelp =
    R"(usage: tastegraph pretrain --vocab VOCAB.txt --train FILE --valid FILE [--text COLUMN] -o MODEL_DIR [options]

Pre-train a BERT with the masked-LM objective on a text column and write a model folder that `tastegraph
finetune` and transformers (AutoModel.from_pretrained) both load. After every epoch the masked-LM loss and
top-1 accuracy on the --valid file (same masks every epoch) go to DIR/run/metrics.jsonl; the epoch with the
lowest valid loss is the one written to DIR/model.safetensors.

  --vocab FILE          WordPiece vocabulary (e.g. ../shared/models/bert-base-chinese/vocab.txt)
  --lowercase 0|1       do_lower_case of the tokenizer (default 1)
  --layers N (4)  --hidden N (256)  --heads N (4)  --intermediate N (1024)  --max-pos N (512)
  --train FILE, --valid FILE, --text COLUMN (text), --limit N, --epochs N (1), --lr X (5e-4),
  --batch N (32), --max-len N (128), --warmup X (0.1), --seed N (42), --threads N
  --recompute           activation checkpointing per layer (less memory, one more forward per step)
  -o, --out DIR         the model folder (the training run's files go to DIR/run)
)";

int cmd_pretrain(tg::cli::Args& a) {
    if (a.help()) {
        std::fputs(kHelp, stdout);
        return 0;
    }
    tg::cli::apply_threads(a);
    const std::string vocab = a.required({"--vocab"}), out = a.required({"-o", "--out"});
    tg::nn::FinetuneOptions o;
    tg::cli::read_data_and_schedule(a, o, /*epochs=*/1, /*lr=*/5e-4);
    const bool lower = a.int_or({"--lowercase"}, 1) != 0;
    const int64_t L = a.int_or({"--layers"}, 4), C = a.int_or({"--hidden"}, 256), NH = a.int_or({"--heads"}, 4),
                  I = a.int_or({"--intermediate"}, 1024), P = a.int_or({"--max-pos"}, 512);
    o.recompute = a.flag({"--recompute"});
    a.finish();

    std::filesystem::create_directories(out);
    const std::string vocab_text = tg::read_file(vocab);
    int64_t V = 0;
    for (char c : vocab_text) V += c == '\n';
    if (!vocab_text.empty() && vocab_text.back() != '\n') ++V;
    tg::write_file_atomic(out + "/vocab.txt", vocab_text);
    const std::string cfg =
        "{\n  \"architectures\": [\"BertForMaskedLM\"],\n  \"model_type\": \"bert\",\n  \"vocab_size\": " +
        std::to_string(V) + ",\n  \"hidden_size\": " + std::to_string(C) + ",\n  \"num_hidden_layers\": " +
        std::to_string(L) + ",\n  \"num_attention_heads\": " + std::to_string(NH) +
        ",\n  \"intermediate_size\": " + std::to_string(I) + ",\n  \"max_position_embeddings\": " +
        std::to_string(P) +
        ",\n  \"type_vocab_size\": 2,\n  \"hidden_act\": \"gelu\",\n  \"layer_norm_eps\": 1e-12,\n"
        "  \"hidden_dropout_prob\": 0.1,\n  \"attention_probs_dropout_prob\": 0.1,\n  \"initializer_range\": 0.02,\n"
        "  \"pad_token_id\": 0,\n  \"position_embedding_type\": \"absolute\",\n  \"tie_word_embeddings\": true\n}\n";
    tg::write_file_atomic(out + "/config.json", cfg);
    tg::write_file_atomic(out + "/tokenizer_config.json",
                          std::string("{\"tokenizer_class\": \"BertTokenizer\", \"do_lower_case\": ") +
                              (lower ? "true" : "false") + ", \"tokenize_chinese_chars\": true, "
                              "\"model_max_length\": " + std::to_string(P) + "}\n");
    {
        tg::nn::BertTrainable init(tg::load_bert_config(out + "/config.json"), o.seed, true);
        tg::nn::save_checkpoint(out + "/model.safetensors", init.hf_tensors(true));
    }
    o.model_dir = out;
    o.out = out + "/run";
    o.tasks.push_back(tg::nn::parse_task_spec("mlm:mlm:" + o.text_col));
    tg::nn::run_finetune(o);
    // the best checkpoint holds bert.* and cls.predictions.* (HF BertForMaskedLM names): it is the model
    tg::write_file_atomic(out + "/model.safetensors", tg::read_file(o.out + "/model.safetensors"));
    std::fprintf(stderr, "pretrain: wrote %s (config.json, vocab.txt, model.safetensors)\n", out.c_str());
    return 0;
}

}  // namespace

TG_COMMAND("pretrain", "masked-LM pre-training of a small BERT, exported as a model folder", cmd_pretrain);
