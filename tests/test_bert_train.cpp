// test_bert_train.cpp — the trainable BERT (nn/bert_train.h) against independent references:
//   1. finite differences through every kind of layer of the tiny model (f32, central differences);
//   2. one whole multi-task training step against PyTorch (tests/fixtures/finetune/step*.safetensors,
//      written by tools/ref/finetune_reference.py --dump-step in float64, dropout off): loss, every
//      parameter's gradient, every parameter after clipping + one AdamW step.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <map>

#include "nn/bert_train.h"
#include "nn/heads.h"
#include "nn/optim.h"
#include "tensor/allocator.h"
#include "tensor/rng.h"
#include "tensor/safetensors.h"
#include "test_util.h"

using namespace tg;

namespace {

Tensor read(const SafeTensorsFile& f, const std::string& name) {
    const SafeTensor& st = f.get(name);
    Tensor t = Tensor::empty(st.shape, st.dtype);
    std::memcpy(t.raw_data(), st.data, st.nbytes);
    return t;
}

double norm(const std::vector<float>& v) {
    double s = 0;
    for (float x : v) s += double(x) * x;
    return std::sqrt(s);
}

// The fixture's two heads on the pooled vector z [B, C]: category = softmax over 10 classes (CE), sentiment =
// one logit (BCE). balance fixed: L = L_cat + L_sent; uncertainty: Σ exp(-s_t) L_t + s_t.
struct StepCase {
    const char* file;
    PoolMode pool;
    bool pooler, uncertainty;
    float clip;
};

void check_step(const StepCase& sc) {
    const SafeTensorsFile fx(test::fixture(std::string("finetune/") + sc.file));
    auto bert = nn::BertTrainable::load(test::fixture("bert/tiny"));
    bert->hidden_dropout = bert->attention_dropout = 0.0f;
    Tensor ids = read(fx, "input_ids"), mask = read(fx, "attention_mask"), tt = read(fx, "token_type_ids");
    Tensor y_cat = read(fx, "labels.category").to(DType::i64), y_sent = read(fx, "labels.sentiment").to(DType::f32);

    std::vector<std::pair<std::string, Tensor>> params;  // fixture names
    for (auto& [n, p] : bert->named_parameters()) params.emplace_back("bert." + n, p);
    // the heads and the balancer from nn/heads.h, with the fixture's initial head weights
    nn::LinearHead cat(nn::TaskKind::softmax, bert->config().hidden_size, 10, 1);
    nn::LinearHead sent(nn::TaskKind::binary, bert->config().hidden_size, 1, 2);
    for (auto [head, n] : {std::pair{&cat, "category"}, std::pair{&sent, "sentiment"}})
        for (auto& [pn, p] : head->named_parameters()) {
            p.copy_(read(fx, std::string("param.head.") + n + "." + pn));
            params.emplace_back(std::string("head.") + n + "." + pn, p);
        }
    nn::LossBalancer bal(sc.uncertainty ? nn::LossBalancer::Mode::uncertainty : nn::LossBalancer::Mode::fixed,
                         {"category", "sentiment"}, {});
    for (auto& [n, p] : bal.named_parameters()) params.emplace_back("balance." + n, p);

    Tensor h = bert->forward(ids, mask, tt);
    Tensor z = sc.pooler ? bert->pooler(h) : bert->pool(h, mask, sc.pool);
    Tensor l_cat = cat.loss(cat.forward(z), y_cat);
    Tensor l_sent = sent.loss(sent.forward(z), y_sent);
    Tensor loss = bal.combine({l_cat, l_sent});
    const double ref_loss = read(fx, "loss").item();
    MESSAGE(std::string(sc.file), ": loss ", loss.item(), " vs PyTorch ", ref_loss);
    CHECK(std::abs(loss.item() - ref_loss) <= 1e-5 * std::abs(ref_loss));
    CHECK(std::abs(l_cat.item() - read(fx, "loss.category").item()) <= 1e-5 * read(fx, "loss.category").item());
    loss.backward();

    // gradients: max |ours - ref| / ||ref|| per parameter (a parameter PyTorch leaves without gradient must have
    // none here either, and vice versa)
    double worst = 0;
    std::string worst_name;
    int n_checked = 0;
    std::map<std::string, std::vector<float>> gref_of;
    for (auto& [n, p] : params) {
        const std::vector<float> gref = read(fx, "grad." + n).to_vector();
        gref_of[n] = gref;
        const double gn = norm(gref);
        if (gn == 0) {
            CHECK_MESSAGE(!p.grad().defined(), n, " has a gradient, PyTorch none");
            continue;
        }
        REQUIRE_MESSAGE(p.grad().defined(), n, " got no gradient");
        const std::vector<float> g = p.grad().to_vector();
        REQUIRE(g.size() == gref.size());
        double e = 0;
        for (size_t i = 0; i < g.size(); ++i) e = std::max(e, std::abs(double(g[i]) - gref[i]));
        // The key biases' gradient is exactly zero in exact arithmetic (softmax over keys ignores a per-query
        // constant q·b_k), so PyTorch's float64 gives ~1e-21 and our float32 ~1e-12: both are roundoff. The
        // norm in the criterion is therefore floored at 1e-6 (the whole gradient's norm is ~3).
        CHECK_MESSAGE(e <= 1e-3 * std::max(gn, 1e-6), n, ": max error ", e, " vs norm ", gn);
        if (gn > 1e-6 && e / gn > worst) worst = e / gn, worst_name = n;
        ++n_checked;
    }
    MESSAGE(std::string(sc.file), ": ", n_checked, " gradients, worst max|Δg|/‖g‖ = ", worst, " (", worst_name, ")");

    // clipping + one AdamW step (decay on ndim >= 2 only, as the reference's param groups)
    std::vector<Tensor> all, decay, no_decay;
    for (auto& [n, p] : params) {
        all.push_back(p);
        (p.dim() >= 2 ? decay : no_decay).push_back(p);
    }
    if (sc.clip > 0) nn::clip_grad_norm(all, sc.clip);
    const float lr = read(fx, "lr").item();
    nn::AdamW(decay, lr, 0.9f, 0.999f, 1e-8f, 0.01f).step();
    nn::AdamW(no_decay, lr, 0.9f, 0.999f, 1e-8f, 0.0f).step();
    // Adam's first step moves each weight by ≈ lr·sign(g): an element whose gradient is nonzero but tiny
    // (|g| < 1e-6 of the whole gradient's norm, e.g. the key biases above) may legitimately flip sign between a
    // float64 and a float32 computation, so those are skipped (counted). Exact zeros (unused embedding rows)
    // are compared: AdamW must only decay them.
    double gall = 0;
    for (auto& [n, g] : gref_of) gall += std::pow(norm(g), 2);
    gall = std::sqrt(gall);
    double worst_w = 0;
    int64_t skipped = 0, compared = 0;
    for (auto& [n, p] : params) {
        const std::vector<float> after = read(fx, "after." + n).to_vector(), w = p.to_vector();
        const std::vector<float>& gref = gref_of[n];
        for (size_t i = 0; i < w.size(); ++i) {
            if (gref[i] != 0 && std::abs(gref[i]) < 1e-6 * gall) {
                ++skipped;
                continue;
            }
            ++compared;
            worst_w = std::max(worst_w, std::abs(double(w[i]) - after[i]));
        }
    }
    MESSAGE(std::string(sc.file), ": weights after one AdamW step (lr ", lr, "): max |Δw| = ", worst_w, " over ", compared,
            " elements (", skipped, " with 0 < |g| < 1e-6‖g‖ skipped)");
    CHECK(worst_w <= 1e-5);
}

}  // namespace

TEST_CASE("bert_train: one multi-task step (mean pooling, fixed weights) matches PyTorch") {
    check_step({"step.safetensors", PoolMode::mean, false, false, 0.0f});
}

TEST_CASE("bert_train: one multi-task step (pooler, uncertainty weighting, clipping) matches PyTorch") {
    check_step({"step_uncertainty.safetensors", PoolMode::cls, true, true, 1.0f});
}

TEST_CASE("bert_train: finite differences through embeddings, attention, LayerNorm, GELU, pooler") {
    // f32 only (the core's ops compute in f32), so: central differences with eps = 1e-2 on a loss of O(1) built
    // from few terms, compared with a relative tolerance of 2% plus an absolute floor of 2e-3. Roundoff in
    // the loss (~1e-6) contributes ~5e-5 to the difference quotient, truncation O(eps²·f''') ~1e-4.
    auto bert = nn::BertTrainable::load(test::fixture("bert/tiny"));
    bert->hidden_dropout = bert->attention_dropout = 0.0f;
    const int64_t B = 2, T = 6, C = bert->config().hidden_size;
    Tensor ids = Tensor::from_ints({2, 17, 45, 99, 3, 0, 2, 200, 31, 3, 0, 0}, {B, T}, DType::i32);
    Tensor mask = Tensor::from_ints({1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0}, {B, T}, DType::i32);
    Tensor tt = Tensor::from_ints({0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0}, {B, T}, DType::i32);
    Tensor r1 = Tensor::from_vector(test::rand_vec(size_t(B * C), 7), {B, C});
    Tensor r2 = Tensor::from_vector(test::rand_vec(size_t(B * C), 8), {B, C});
    auto f = [&]() {
        Tensor h = bert->forward(ids, mask, tt);
        return sum(bert->pool(h, mask, PoolMode::mean) * r1) + sum(bert->pooler(h) * r2);
    };
    f().backward();
    std::map<std::string, Tensor> P;
    for (auto& [n, p] : bert->named_parameters()) P[n] = p;
    // (parameter, flat element) pairs: word row of token 45, position 3, token type 1, every layer kind
    const std::vector<std::pair<std::string, int64_t>> probes = {
        {"embeddings.word_embeddings.weight", 45 * C + 3},
        {"embeddings.position_embeddings.weight", 3 * C + 5},
        {"embeddings.token_type_embeddings.weight", 1 * C + 7},
        {"embeddings.LayerNorm.weight", 4},
        {"embeddings.LayerNorm.bias", 9},
        {"encoder.layer.0.attention.self.query.weight", 5 * C + 11},
        {"encoder.layer.0.attention.self.key.weight", 2 * C + 1},
        {"encoder.layer.0.attention.self.value.weight", 13},
        {"encoder.layer.1.attention.self.query.bias", 6},
        {"encoder.layer.1.attention.output.dense.weight", 3 * C + 2},
        {"encoder.layer.1.attention.output.LayerNorm.weight", 10},
        {"encoder.layer.0.intermediate.dense.weight", 40 * C + 8},
        {"encoder.layer.1.intermediate.dense.bias", 33},
        {"encoder.layer.1.output.dense.weight", 12 * 64 + 50},
        {"encoder.layer.1.output.LayerNorm.bias", 21},
        {"pooler.dense.weight", 7 * C + 19},
        {"pooler.dense.bias", 2},
    };
    const float eps = 1e-2f;
    double worst = 0;
    for (auto& [n, i] : probes) {
        Tensor p = P.at(n);
        REQUIRE_MESSAGE(p.grad().defined(), n);
        const double an = p.grad().to_vector()[size_t(i)];
        float* w = p.data<float>();
        const float w0 = w[i];
        double fp, fm;
        {
            NoGradGuard ng;
            w[i] = w0 + eps;
            fp = f().item();
            w[i] = w0 - eps;
            fm = f().item();
            w[i] = w0;
        }
        const double fd = (fp - fm) / (2.0 * eps);
        const double err = std::abs(fd - an);
        CHECK_MESSAGE(err <= 2e-2 * std::abs(fd) + 2e-3, n, "[", i, "]: analytic ", an, ", finite difference ", fd);
        worst = std::max(worst, err / std::max(std::abs(fd), 1e-2));
    }
    MESSAGE("finite differences: ", probes.size(), " probes, worst |Δ|/max(|fd|, 1e-2) = ", worst);
}

TEST_CASE("bert_train: recompute (activation checkpointing) gives the stored-activation gradients, in less memory") {
    // Dropout ON: the recomputed layers must reuse the first pass's masks (seeds are drawn outside the layer).
    // The reference is the ordinary path (all activations stored), run from the same generator state.
    BertConfig cfg;
    cfg.vocab_size = 300, cfg.hidden_size = 64, cfg.num_hidden_layers = 4, cfg.num_attention_heads = 4;
    cfg.intermediate_size = 256, cfg.max_position_embeddings = 64, cfg.type_vocab_size = 2;
    nn::BertTrainable bert(cfg, 5);
    bert.train();
    const int64_t B = 4, T = 48, C = cfg.hidden_size;
    std::vector<int64_t> idv(size_t(B * T)), mv(size_t(B * T)), ttv(size_t(B * T));
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++) {
            const size_t k = size_t(b * T + t);
            idv[k] = (b * 37 + t * 11) % 300, mv[k] = t < T - 7 * b ? 1 : 0, ttv[k] = t >= T / 2;
        }
    Tensor ids = Tensor::from_ints(idv, {B, T}, DType::i32), mask = Tensor::from_ints(mv, {B, T}, DType::i32),
           tt = Tensor::from_ints(ttv, {B, T}, DType::i32);
    Tensor r = Tensor::from_vector(test::rand_vec(size_t(B * C), 9), {B, C});
    auto run = [&](bool recompute, size_t* peak) {
        bert.recompute = recompute;
        for (auto& [n, p] : bert.named_parameters()) p.zero_grad();
        default_generator().reseed(77);
        cpu_allocator_reset_peak();
        const size_t base = cpu_allocator_stats().bytes_in_use;
        Tensor h = bert.forward(ids, mask, tt);
        Tensor loss = sum(bert.pool(h, mask, PoolMode::mean) * r) + sum(bert.pooler(h) * r);
        const float value = loss.to_vector()[0];
        loss.backward();
        *peak = cpu_allocator_stats().peak_in_use - base;
        std::map<std::string, std::vector<float>> g;
        for (auto& [n, p] : bert.named_parameters()) {
            REQUIRE_MESSAGE(p.grad().defined(), n);
            g[n] = p.grad().to_vector();
        }
        return std::make_pair(value, g);
    };
    size_t peak_stored = 0, peak_recompute = 0;
    const auto [l0, g0] = run(false, &peak_stored);
    const auto [l1, g1] = run(true, &peak_recompute);
    CHECK(l1 == l0);  // the forward is the same computation
    double worst = 0;
    for (auto& [n, a] : g0) {
        const auto& b = g1.at(n);
        REQUIRE(a.size() == b.size());
        double d = 0;
        for (size_t i = 0; i < a.size(); i++) d = std::max(d, double(std::fabs(a[i] - b[i])));
        worst = std::max(worst, d / std::max(norm(a), 1e-6));
    }
    INFO("worst max|dg|/|g| = " << worst << ", peak bytes stored " << peak_stored << ", recompute " << peak_recompute);
    CHECK(worst < 1e-5);
    CHECK(double(peak_recompute) < 0.6 * double(peak_stored));  // 4 layers: one layer's activations at a time
    // no gradient recording: recompute changes nothing
    bert.recompute = true;
    NoGradGuard ng;
    CHECK(!bert.forward(ids, mask, tt).requires_grad());
}

TEST_CASE("bert_train: padding-free (packed) encoder equals the padded computation on every real token") {
    // pack_padding = false is the HuggingFace computation (every row of [B, T, C], -1e9 mask on padded keys);
    // the packed path runs on the real tokens only. Same loss, same real rows, same gradient for every parameter
    // (dropout off: the two paths index their masks differently). Masks: right padding of different lengths, a
    // sequence with no padding, one with a hole in the middle (positions keep their ids) and one with none real.
    BertConfig cfg;
    cfg.vocab_size = 300, cfg.hidden_size = 64, cfg.num_hidden_layers = 2, cfg.num_attention_heads = 4;
    cfg.intermediate_size = 128, cfg.max_position_embeddings = 64, cfg.type_vocab_size = 2;
    nn::BertTrainable bert(cfg, 9);
    bert.hidden_dropout = bert.attention_dropout = 0.0f;
    const int64_t B = 5, T = 19, C = cfg.hidden_size;
    std::vector<int64_t> idv(size_t(B * T)), mv(size_t(B * T)), ttv(size_t(B * T));
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++) {
            const size_t k = size_t(b * T + t);
            idv[k] = (b * 53 + t * 7 + 1) % 300, ttv[k] = t >= 9;
            mv[k] = b == 0 ? 1 : b == 1 ? t < 4 : b == 2 ? t < 12 : b == 3 ? (t < 6 || (t >= 9 && t < 15)) : 0;
        }
    Tensor ids = Tensor::from_ints(idv, {B, T}, DType::i32), mask = Tensor::from_ints(mv, {B, T}, DType::i32),
           tt = Tensor::from_ints(ttv, {B, T}, DType::i32);
    Tensor r = Tensor::from_vector(test::rand_vec(size_t(B * T * C), 21), {B, T, C});
    Tensor mf = nn::mask_to_f32(mask).reshape({B, T, 1});
    auto run = [&](bool pack) {
        bert.pack_padding = pack;
        for (auto& [n, p] : bert.named_parameters()) p.zero_grad();
        Tensor h = bert.forward(ids, mask, tt);
        // a loss on every real token (not only pooled): sum(h · r · mask) + the mean-pooled vector
        Tensor loss = sum(h * r * mf) + sum(bert.pool(h, mask, PoolMode::mean));
        loss.backward();
        std::map<std::string, std::vector<float>> g;
        for (auto& [n, p] : bert.named_parameters())
            if (p.grad().defined()) g[n] = p.grad().to_vector();
        return std::make_tuple(loss.item(), h.detach().to_vector(), g);
    };
    const auto [l0, h0, g0] = run(false);
    const auto [l1, h1, g1] = run(true);
    CHECK(std::abs(l1 - l0) <= 1e-5 * std::abs(l0));
    double dh = 0;
    int64_t nonzero_pad = 0;
    for (int64_t i = 0; i < B * T; i++)
        for (int64_t c = 0; c < C; c++) {
            const size_t k = size_t(i * C + c);
            if (mv[size_t(i)]) dh = std::max(dh, double(std::fabs(h0[k] - h1[k])));
            else nonzero_pad += h1[k] != 0.0f;
        }
    CHECK(dh <= 1e-5);
    CHECK(nonzero_pad == 0);  // padded rows of the packed result are zeros
    REQUIRE(g0.size() == g1.size());
    double gmax = 0;
    for (auto& [n, a] : g0) gmax = std::max(gmax, norm(a));
    double worst = 0;
    std::string worst_name;
    for (auto& [n, a] : g0) {
        const auto& b = g1.at(n);
        REQUIRE(a.size() == b.size());
        double d = 0;
        for (size_t i = 0; i < a.size(); i++) d = std::max(d, double(std::fabs(a[i] - b[i])));
        // The key biases' gradient is exactly zero in exact arithmetic (softmax ignores a per-query constant
        // q·b_k): both paths give roundoff there, summed in different orders. Measured against the largest norm.
        const bool key_bias = n.find("attention.self.key.bias") != std::string::npos;
        const double rel = d / (key_bias ? gmax : std::max(norm(a), 1e-6));
        if (rel > worst) worst = rel, worst_name = n;
    }
    MESSAGE("packed vs padded: worst max|dg|/|g| = ", worst, " (", worst_name, "), max |dh| = ", dh);
    CHECK(worst < 1e-5);
}
