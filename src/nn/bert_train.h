// bert_train.h — a TRAINABLE BERT encoder (HuggingFace BertModel) built from the core's autograd ops.
//
// nn/bert.h is the fast inference encoder (raw kernels, packed batches, no autograd). This file is its
// training twin: the same network written with tg:: ops (tensor/ops/ops.h), so every operation records
// its backward closure and loss.backward() reaches every parameter — word/position/token-type
// embeddings, the embedding LayerNorm, query/key/value, the masked attention softmax, the attention
// output, both LayerNorms, the GELU FFN and the pooler. Saved activations live in the ops' closures and
// are released as soon as each closure has run (autograd.h), so peak memory is one forward's worth.
//
// Dimension letters: B sequences, T padded length, C hidden, NH heads, D = C/NH, I intermediate, L layers.
//
// Forward (dropout p_h on hidden states, p_a on attention probabilities, both off in eval()):
//   x   = dropout(LayerNorm(word[ids] + pos[0..T) + type[tt]))                               [B, T, C]
//   per layer:
//     q,k,v = x Wqᵀ + bq, ...  viewed as [B, NH, T, D]
//     s     = q kᵀ / sqrt(D) + mask_add          mask_add[b,t] = 0 (real) or -1e9 (padding)  [B, NH, T, T]
//     a     = dropout(softmax(s)) v              back to [B, T, C]
//             (one fused op, tg::attention: heads read in place from [B, T, C], no permuted copies)
//     x     = LayerNorm(dropout(a Woᵀ + bo) + x)
//     x     = LayerNorm(dropout(gelu(x W1ᵀ + b1) W2ᵀ + b2) + x)
//   pooler(x) = tanh(x[:, 0] Wpᵀ + bp)                                                        [B, C]
// Padding-free by default (pack_padding): when the mask has padding, the encoder runs on the real tokens only,
// packed as [N, C] (N = number of real tokens; attention per sequence with tg::attention_varlen), and the
// result is scattered back to [B, T, C] with zero rows at the padding. That equals the padded computation on
// every real row (softmax over the real keys is what the -1e9 mask computes) at N/(B·T) of the Linear work and
// Σ T_b² / (B·T²) of the attention work. Padded rows are zero; HuggingFace computes values there (padded
// queries attend to the real keys) that nothing downstream reads: pooling masks them out (pool()).
//
// Parameter names ARE the HuggingFace names without the "bert." prefix ("embeddings.word_embeddings.weight",
// "encoder.layer.3.attention.self.query.weight", "pooler.dense.weight", ... — the table in
// BertEncoder::name_map(), nn/bert.h), so loading and exporting a model.safetensors is a name-for-name copy.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "nn/layers.h"
#include "nn/model_config.h"
#include "nn/pooling.h"

namespace tg::nn {

class BertTrainable : public Module {
   public:
    // Random initialisation as BERT's _init_weights: N(0, 0.02) matrices and embeddings, zero biases,
    // LayerNorm 1/0. Philox-seeded.
    BertTrainable(const BertConfig& cfg, uint64_t seed = 0, bool with_pooler = true);

    // config.json + model.safetensors of a model folder (tensors with or without "bert."; extra tensors such
    // as an MLM head or position_ids are ignored; a missing pooler leaves the pooler randomly initialised).
    static std::unique_ptr<BertTrainable> load(const std::string& model_dir);
    // Copy weights from a safetensors file (HF names, optional "bert." prefix). Every encoder tensor must be
    // present with the right shape (f32/bf16/f16 converted); returns the number of tensors copied.
    int64_t load_weights(const std::string& path, bool require_pooler = false);
    // HF-named tensors ("bert." + our names when `bert_prefix`), for export as model.safetensors.
    std::vector<std::pair<std::string, Tensor>> hf_tensors(bool bert_prefix = false) const;

    // ids, type_ids: [B, T] i32/i64; mask: [B, T] (1 real, 0 padding; any int/float dtype).
    // Returns the last hidden state [B, T, C].
    Tensor forward(const Tensor& ids, const Tensor& mask, const Tensor& type_ids) const;
    // tanh(h[:, 0] Wpᵀ + bp): [B, C]
    Tensor pooler(const Tensor& hidden) const;
    // Sentence vector [B, C]: cls = h[:, 0]; mean over the real tokens; max over the real tokens.
    Tensor pool(const Tensor& hidden, const Tensor& mask, PoolMode mode) const;

    const BertConfig& config() const { return cfg_; }
    bool has_pooler() const { return pool_w_.defined(); }
    const Tensor& word_embeddings() const { return word_; }  // [V, C], tied to the MLM decoder (heads.h)
    float hidden_dropout = 0.1f, attention_dropout = 0.1f;  // set to 0 for deterministic training
    // Run the encoder's Linear layers on bf16 GEMM operands with f32 accumulation (tg::linear_bf16, autocast
    // style; the attention products, norms, activations, parameters and gradients stay f32). Off: exact f32.
    bool bf16_matmul = false;
    // Activation checkpointing per layer (tg::checkpoint): the forward keeps only each layer's input, and
    // backward runs the layer again to get its activations. Peak memory then holds one layer's activations
    // instead of all of them (long inputs, big batches), for about one extra forward per step. Gradients
    // equal the stored-activation path's up to summation order; dropout masks are the same.
    bool recompute = false;
    // Skip the padding (above). Off: every row of [B, T, C] is computed, as HuggingFace does. Hidden-state dropout
    // masks are indexed by the layout, so with dropout on the two paths draw different (equally valid) masks.
    bool pack_padding = true;

   private:
    struct Layer {
        Tensor wq, bq, wk, bk, wv, bv, wo, bo, ln1_w, ln1_b, w1, b1, w2, b2, ln2_w, ln2_b;
    };
    Tensor drop(const Tensor& x, float p) const;

    BertConfig cfg_;
    Tensor word_, pos_, type_, ln_emb_w_, ln_emb_b_;
    std::vector<Layer> layers_;
    Tensor pool_w_, pool_b_;
};

// Mask [B, T] (1 real, 0 pad) -> f32 [B, T] with 1/0 values.
Tensor mask_to_f32(const Tensor& mask);

}  // namespace tg::nn
