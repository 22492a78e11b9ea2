// bert_train.cpp — the trainable BERT encoder (see bert_train.h): parameters under HuggingFace names,
// forward written with autograd ops so the backward comes from the ops' recorded closures.
#include "nn/bert_train.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "tensor/rng.h"
#include "tensor/safetensors.h"

namespace tg::nn {

namespace {
std::string layer_name(int64_t l, const char* rest) { return "encoder.layer." + std::to_string(l) + "." + rest; }
}  // namespace

BertTrainable::BertTrainable(const BertConfig& cfg, uint64_t seed, bool with_pooler) : cfg_(cfg) {
    const int64_t V = cfg.vocab_size, C = cfg.hidden_size, I = cfg.intermediate_size, P = cfg.max_position_embeddings,
                  TV = cfg.type_vocab_size;
    TG_CHECK(V > 0 && C > 0 && I > 0 && P > 0 && TV > 0 && cfg.num_attention_heads > 0 &&
                 C % cfg.num_attention_heads == 0,
             "BertTrainable: bad config ", cfg.path, " (V ", V, ", C ", C, ", NH ", cfg.num_attention_heads, ")");
    uint64_t s = seed * 1000;
    auto mat = [&](const std::string& n, Shape shape) {
        return register_parameter(n, Tensor::randn(shape, ++s, 0.02f));
    };
    auto zeros = [&](const std::string& n, int64_t k) { return register_parameter(n, Tensor::zeros({k})); };
    auto ones = [&](const std::string& n, int64_t k) { return register_parameter(n, Tensor::ones({k})); };
    word_ = mat("embeddings.word_embeddings.weight", {V, C});
    pos_ = mat("embeddings.position_embeddings.weight", {P, C});
    type_ = mat("embeddings.token_type_embeddings.weight", {TV, C});
    ln_emb_w_ = ones("embeddings.LayerNorm.weight", C);
    ln_emb_b_ = zeros("embeddings.LayerNorm.bias", C);
    for (int64_t l = 0; l < cfg.num_hidden_layers; ++l) {
        Layer y;
        auto n = [&](const char* r) { return layer_name(l, r); };
        y.wq = mat(n("attention.self.query.weight"), {C, C});
        y.bq = zeros(n("attention.self.query.bias"), C);
        y.wk = mat(n("attention.self.key.weight"), {C, C});
        y.bk = zeros(n("attention.self.key.bias"), C);
        y.wv = mat(n("attention.self.value.weight"), {C, C});
        y.bv = zeros(n("attention.self.value.bias"), C);
        y.wo = mat(n("attention.output.dense.weight"), {C, C});
        y.bo = zeros(n("attention.output.dense.bias"), C);
        y.ln1_w = ones(n("attention.output.LayerNorm.weight"), C);
        y.ln1_b = zeros(n("attention.output.LayerNorm.bias"), C);
        y.w1 = mat(n("intermediate.dense.weight"), {I, C});
        y.b1 = zeros(n("intermediate.dense.bias"), I);
        y.w2 = mat(n("output.dense.weight"), {C, I});
        y.b2 = zeros(n("output.dense.bias"), C);
        y.ln2_w = ones(n("output.LayerNorm.weight"), C);
        y.ln2_b = zeros(n("output.LayerNorm.bias"), C);
        layers_.push_back(y);
    }
    if (with_pooler) {
        pool_w_ = mat("pooler.dense.weight", {C, C});
        pool_b_ = zeros("pooler.dense.bias", C);
    }
}

std::unique_ptr<BertTrainable> BertTrainable::load(const std::string& model_dir) {
    const ModelFiles mf = load_model_dir(model_dir);
    auto m = std::make_unique<BertTrainable>(mf.config, 0, true);  // dropout 0.1/0.1, BERT's default
    m->load_weights(mf.weights, false);
    return m;
}

int64_t BertTrainable::load_weights(const std::string& path, bool require_pooler) {
    const SafeTensorsFile f(path);
    std::string prefix;
    if (f.find("bert.embeddings.word_embeddings.weight")) prefix = "bert.";
    int64_t n = 0;
    for (auto& [name, p] : named_parameters()) {
        const SafeTensor* st = f.find(prefix + name);
        if (!st && name.rfind("pooler.", 0) == 0 && !require_pooler) continue;  // keeps its random init
        TG_CHECK(st, path, ": no tensor '", prefix + name, "'");
        TG_CHECK(st->shape == p.shape(), path, ": tensor '", st->name, "': shape ", shape_str(st->shape), ", expected ",
                 shape_str(p.shape()));
        TG_CHECK(st->dtype == DType::f32 || st->dtype == DType::bf16 || st->dtype == DType::f16, path, ": tensor '",
                 st->name, "': dtype ", dtype_name(st->dtype), " is not a float type");
        Tensor tmp = Tensor::empty(st->shape, st->dtype);  // aligned copy (the mapping may be unaligned)
        std::memcpy(tmp.raw_data(), st->data, st->nbytes);
        p.copy_(tmp);
        ++n;
    }
    return n;
}

std::vector<std::pair<std::string, Tensor>> BertTrainable::hf_tensors(bool bert_prefix) const {
    std::vector<std::pair<std::string, Tensor>> out;
    for (auto& [name, p] : named_parameters()) out.emplace_back((bert_prefix ? "bert." : "") + name, p.detach());
    return out;
}

Tensor BertTrainable::drop(const Tensor& x, float p) const {
    if (!training() || p == 0.0f) return x;
    return dropout(x, p, true, default_generator().next_seed());
}

namespace {

// What one encoder layer needs besides its input and weights; the dropout seeds are drawn before the layer
// runs, so a recomputation (checkpoint) applies the very same masks.
struct LayerCtx {
    Tensor madd;        // additive padding mask [B, T] (padded layout)
    std::shared_ptr<const std::vector<int64_t>> offsets;  // packed layout: sequence b = rows off[b] .. off[b+1]
    int64_t NH;
    float scale, eps, p_att, p_hid;
    uint64_t s_att, s_out, s_ffn;  // dropout seeds: attention probabilities, attention output, FFN output
    bool bf16, gelu_tanh;
};

// in = {x, wq, bq, wk, bk, wv, bv, wo, bo, ln1_w, ln1_b, w1, b1, w2, b2, ln2_w, ln2_b} (Layer's order)
Tensor layer_forward(const std::vector<Tensor>& in, const LayerCtx& c) {
    auto lin = [&c](const Tensor& x, const Tensor& w, const Tensor& b) {
        return c.bf16 ? linear_bf16(x, w, b) : linear(x, w, b);
    };
    auto drop = [&c](const Tensor& x, uint64_t seed) { return c.p_hid > 0.0f ? dropout(x, c.p_hid, true, seed) : x; };
    const Tensor& x0 = in[0];
    Tensor q = lin(x0, in[1], in[2]), k = lin(x0, in[3], in[4]), v = lin(x0, in[5], in[6]);  // [B, T, C]
    // the heads are column blocks of q, k, v: [B, T, C] -> [B, T, C], or [N, C] -> [N, C] packed (ops.h attention)
    Tensor ctx = c.offsets ? attention_varlen(q, k, v, *c.offsets, c.NH, c.scale, c.p_att, c.s_att)
                           : attention(q, k, v, c.madd, c.NH, c.scale, c.p_att, c.s_att);
    Tensor x = layer_norm(drop(lin(ctx, in[7], in[8]), c.s_out) + x0, in[9], in[10], c.eps);
    Tensor f = gelu(lin(x, in[11], in[12]), c.gelu_tanh);
    return layer_norm(drop(lin(f, in[13], in[14]), c.s_ffn) + x, in[15], in[16], c.eps);
}

}  // namespace

Tensor mask_to_f32(const Tensor& mask) {
    Tensor m = mask.to(DType::f32);
    return m.is_contiguous() ? m : m.contiguous();
}

Tensor BertTrainable::forward(const Tensor& ids, const Tensor& mask, const Tensor& type_ids) const {
    TG_CHECK(ids.dim() == 2 && mask.shape() == ids.shape() && type_ids.shape() == ids.shape(),
             "BertTrainable::forward: ids ", ids.str(), ", mask ", mask.str(), ", type_ids ", type_ids.str(),
             " must all be [B, T]");
    const int64_t B = ids.size(0), T = ids.size(1), C = cfg_.hidden_size, NH = cfg_.num_attention_heads, D = C / NH;
    TG_CHECK(T <= cfg_.max_position_embeddings, "BertTrainable::forward: length ", T, " > max_position_embeddings ",
             cfg_.max_position_embeddings);
    const float eps = float(cfg_.layer_norm_eps);
    const Tensor mf = mask_to_f32(mask);

    // The real tokens, in order: flat index b·T + t of each, and where each sequence's run starts.
    std::vector<int64_t> real;
    auto offsets = std::make_shared<std::vector<int64_t>>(size_t(B) + 1, 0);
    {
        const float* pm = mf.data<float>();
        for (int64_t b = 0; b < B; b++) {
            for (int64_t t = 0; t < T; t++)
                if (pm[b * T + t] != 0.0f) real.push_back(b * T + t);
            (*offsets)[size_t(b) + 1] = int64_t(real.size());
        }
    }
    const int64_t N = int64_t(real.size());
    const bool packed = pack_padding && N < B * T;

    Tensor x, madd;
    if (packed) {
        // Padding-free: the encoder runs on the N real tokens only, [N, C], sequence b in rows off[b] .. off[b+1].
        // Each token keeps its position id t (as HuggingFace, which numbers positions 0..T-1 whatever the mask).
        const Tensor id64 = ids.to(DType::i64).contiguous(), tt64 = type_ids.to(DType::i64).contiguous();
        const int64_t *pi = id64.data<int64_t>(), *pt = tt64.data<int64_t>();
        const size_t n = static_cast<size_t>(N);
        std::vector<int64_t> w(n), pos(n), ty(n);
        for (int64_t j = 0; j < N; j++) {
            const int64_t r = real[size_t(j)];
            w[size_t(j)] = pi[r], pos[size_t(j)] = r % T, ty[size_t(j)] = pt[r];
        }
        x = embedding(word_, Tensor::from_ints(w, {N})) + embedding(pos_, Tensor::from_ints(pos, {N})) +
            embedding(type_, Tensor::from_ints(ty, {N}));
    } else {
        // embeddings: [B,T,C] + [T,C] (broadcast over B) + [B,T,C]
        Tensor pos_ids = Tensor::arange(T, DType::i64);
        x = embedding(word_, ids) + embedding(pos_, pos_ids) + embedding(type_, type_ids);
        // additive padding mask [B, T]: 0 for real keys, -1e9 for padding (exp underflows to exactly 0)
        madd = ((mf - 1.0f) * 1e9f).detach();
    }
    x = drop(layer_norm(x, ln_emb_w_, ln_emb_b_, eps), hidden_dropout);

    const float scale = 1.0f / std::sqrt(float(D));
    const float p_att = training() ? attention_dropout : 0.0f;

    for (const Layer& y : layers_) {
        LayerCtx c{madd, packed ? offsets : nullptr, NH, scale, eps, p_att, training() ? hidden_dropout : 0.0f, 0, 0, 0,
                   bf16_matmul, cfg_.gelu_tanh()};
        // seeds in the order the ops use them (attention, then the two hidden-state dropouts)
        if (c.p_att > 0.0f) c.s_att = default_generator().next_seed();
        if (c.p_hid > 0.0f) c.s_out = default_generator().next_seed(), c.s_ffn = default_generator().next_seed();
        std::vector<Tensor> in{x,       y.wq, y.bq, y.wk, y.bk, y.wv, y.bv, y.wo, y.bo, y.ln1_w, y.ln1_b,
                               y.w1, y.b1, y.w2, y.b2, y.ln2_w, y.ln2_b};
        if (recompute && grad_enabled())
            x = checkpoint([c](const std::vector<Tensor>& v) { return layer_forward(v, c); }, std::move(in));
        else
            x = layer_forward(in, c);
    }
    if (!packed) return x;
    // Back to [B, T, C]: row b·T + t reads packed row j for a real token, else a zero row appended after the N
    // real ones (index_select's backward scatters the gradient of the real rows back; the zero row's is dropped).
    std::vector<int64_t> src(size_t(B * T), N);
    for (int64_t j = 0; j < N; j++) src[size_t(real[size_t(j)])] = j;
    return index_select(concat({x, Tensor::zeros({1, C})}, 0), 0, Tensor::from_ints(src, {B * T})).reshape({B, T, C});
}

Tensor BertTrainable::pooler(const Tensor& hidden) const {
    TG_CHECK(has_pooler(), "BertTrainable::pooler: the model has no pooler");
    return tanh(linear(hidden.select(1, 0), pool_w_, pool_b_));
}

Tensor BertTrainable::pool(const Tensor& hidden, const Tensor& mask, PoolMode mode) const {
    if (mode == PoolMode::cls) return hidden.select(1, 0);
    const int64_t B = hidden.size(0), T = hidden.size(1);
    Tensor m = mask_to_f32(mask).reshape({B, T, 1});
    if (mode == PoolMode::mean) {
        Tensor cnt = clamp_min(sum(m, {1}), 1.0f);                  // [B, 1]
        return sum(hidden * m, {1}) / cnt;                           // [B, C]
    }
    // max: padding pushed to -1e9 so it never wins (every sequence has at least [CLS])
    return max(hidden + (m - 1.0f) * 1e9f, 1);
}

}  // namespace tg::nn
