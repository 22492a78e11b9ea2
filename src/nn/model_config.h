// model_config.h — what a HuggingFace / sentence-transformers model directory says about the model.
//
// A model directory (what `make weights` puts in weights/<name>/, or a HuggingFace snapshot) holds:
//   config.json                 the transformers config: model_type "bert" and the sizes below
//   model.safetensors           weights (read by nn/bert.h; a pytorch_model.bin must be converted first)
//   vocab.txt, tokenizer*.json  tokenizer files (read by nn/tokenizer.h, not here)
// and, for a sentence-transformers model:
//   modules.json                the pipeline: Transformer -> Pooling -> (Normalize), each with a sub-path
//   <pooling path>/config.json  pooling_mode_cls_token / _mean_tokens / _max_tokens (exactly one true)
//   sentence_bert_config.json   max_seq_length, do_lower_case
//
// Everything is checked as it is read; errors name the file and the key ("config.json: key
// 'hidden_size': expected an integer"). Keys that define the network's sizes are required; the others
// default to what transformers' BertConfig defaults to (hidden_act "gelu", layer_norm_eps 1e-12,
// pad_token_id 0, position_embedding_type "absolute"). Unsupported pipelines (a Dense module after
// pooling, mean-sqrt-len pooling, several pooling modes at once, another model_type) are rejected
// rather than silently computing something else.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "nn/pooling.h"
#include "tensor/json.h"

namespace tg {

struct BertConfig {
    std::string path;                    // the config.json this came from
    int64_t vocab_size = 0;              // V
    int64_t hidden_size = 0;             // C
    int64_t num_hidden_layers = 0;       // L
    int64_t num_attention_heads = 0;     // NH (C % NH == 0)
    int64_t intermediate_size = 0;       // I
    int64_t max_position_embeddings = 0; // P
    int64_t type_vocab_size = 0;         // TV
    int64_t pad_token_id = 0;
    std::string hidden_act = "gelu";     // gelu (erf) | gelu_new | gelu_pytorch_tanh (tanh form)
    double layer_norm_eps = 1e-12;

    bool gelu_tanh() const { return hidden_act != "gelu"; }
    int64_t head_size() const { return hidden_size / num_attention_heads; }
};

// Parse and check a config.json document; `path` names it in errors.
BertConfig parse_bert_config(const json::Value& v, const std::string& path);
BertConfig load_bert_config(const std::string& path);

struct SentenceTransformersConfig {
    bool present = false;                // modules.json exists
    std::string transformer_path;        // sub-directory of the Transformer module ("" = the model dir)
    std::optional<PoolMode> pooling;     // from the Pooling module, if there is one
    int64_t word_embedding_dimension = 0;// from the pooling config (0 if absent)
    bool normalize = false;              // a Normalize module follows pooling (L2, eps 1e-12)
    int64_t max_seq_length = 0;          // sentence_bert_config.json; 0 = not given
    std::optional<bool> do_lower_case;   // sentence_bert_config.json
};

// Reads modules.json, the pooling config and sentence_bert_config.json under `dir`. A directory
// without modules.json gives present = false (and whatever sentence_bert_config.json says).
SentenceTransformersConfig load_sentence_transformers_config(const std::string& dir);

struct ModelFiles {
    std::string dir;
    std::string transformer_dir;         // dir, or dir/<Transformer module path>
    BertConfig config;
    SentenceTransformersConfig st;
    std::string weights;                 // transformer_dir/model.safetensors (exists)
    std::string vocab;                   // transformer_dir/vocab.txt ("" if absent)
};

// The whole directory, with cross-checks (pooling dimension == hidden_size, max_seq_length <=
// max_position_embeddings). Throws naming the directory when a required file is missing.
ModelFiles load_model_dir(const std::string& dir);

}  // namespace tg
