// test_heads.cpp — task heads and loss balancing (nn/heads.h) against hand-written double-precision
// formulas and finite differences.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <vector>

#include "nn/finetune.h"
#include "nn/heads.h"
#include "nn/checkpoint.h"
#include "nn/optim.h"
#include "tensor/report.h"
#include "tensor/io.h"
#include "tensor/json.h"
#include "tensor/textio.h"
#include "test_util.h"

using namespace tg;

namespace {

// Central difference of f() w.r.t. element i of t (f32 data, eps chosen for O(1) losses of few terms).
double fd(const Tensor& t, int64_t i, const std::function<double()>& f, float eps = 1e-2f) {
    float* w = t.data<float>();
    const float w0 = w[i];
    NoGradGuard ng;
    w[i] = w0 + eps;
    const double fp = f();
    w[i] = w0 - eps;
    const double fm = f();
    w[i] = w0;
    return (fp - fm) / (2.0 * eps);
}

}  // namespace

TEST_CASE("heads: InfoNCE matches the double-precision formula and finite differences") {
    const int64_t B = 4, C = 5;
    const float tau = 0.1f;
    Tensor a = Tensor::from_vector(test::rand_vec(B * C, 1), {B, C}).set_requires_grad(true);
    Tensor b = Tensor::from_vector(test::rand_vec(B * C, 2), {B, C}).set_requires_grad(true);
    // reference: L = mean_i [ -S_ii + log Σ_j exp S_ij ],  S_ij = cos(a_i, b_j) / τ
    auto ref = [&]() {
        const std::vector<float> av = a.to_vector(), bv = b.to_vector();
        double L = 0;
        for (int64_t i = 0; i < B; ++i) {
            std::vector<double> S(B);
            for (int64_t j = 0; j < B; ++j) {
                double d = 0, na = 0, nb = 0;
                for (int64_t c = 0; c < C; ++c) {
                    d += double(av[i * C + c]) * bv[j * C + c];
                    na += double(av[i * C + c]) * av[i * C + c];
                    nb += double(bv[j * C + c]) * bv[j * C + c];
                }
                S[j] = d / std::sqrt(na * nb) / tau;
            }
            double lse = 0;
            for (double x : S) lse += std::exp(x);
            L += std::log(lse) - S[i];
        }
        return L / B;
    };
    Tensor L = nn::info_nce(a, b, tau);
    CHECK(L.item() == doctest::Approx(ref()).epsilon(1e-5));
    L.backward();
    for (int64_t i : {0, 7, 13, 19}) {
        const double fa = fd(a, i, [&] { return nn::info_nce(a, b, tau).item(); });
        const double fb = fd(b, i, [&] { return nn::info_nce(a, b, tau).item(); });
        CHECK(a.grad().to_vector()[i] == doctest::Approx(fa).epsilon(2e-2).scale(0.1));
        CHECK(b.grad().to_vector()[i] == doctest::Approx(fb).epsilon(2e-2).scale(0.1));
    }
}

TEST_CASE("heads: uncertainty weighting value and gradients (Kendall et al. 2018)") {
    nn::LossBalancer bal(nn::LossBalancer::Mode::uncertainty, {"x", "y"}, {});
    bal.s[0].fill_(0.5f);
    bal.s[1].fill_(-0.3f);
    Tensor lx = Tensor::scalar(2.0f).set_requires_grad(true), ly = Tensor::scalar(0.7f).set_requires_grad(true);
    Tensor L = bal.combine({lx, ly});
    // L = e^{-0.5}·2 + 0.5 + e^{0.3}·0.7 − 0.3
    CHECK(L.item() == doctest::Approx(std::exp(-0.5) * 2 + 0.5 + std::exp(0.3) * 0.7 - 0.3).epsilon(1e-6));
    L.backward();
    CHECK(bal.s[0].grad().item() == doctest::Approx(1 - std::exp(-0.5) * 2).epsilon(1e-6));  // ∂L/∂s = 1 − e^{−s} L_t
    CHECK(bal.s[1].grad().item() == doctest::Approx(1 - std::exp(0.3) * 0.7).epsilon(1e-6));
    CHECK(lx.grad().item() == doctest::Approx(std::exp(-0.5)).epsilon(1e-6));
    nn::LossBalancer fixed(nn::LossBalancer::Mode::fixed, {"x", "y"}, {1.0f, 0.25f});
    CHECK(fixed.combine({Tensor::scalar(2.0f), Tensor::scalar(0.8f)}).item() == doctest::Approx(2.2));
    CHECK(fixed.named_parameters().empty());
}

TEST_CASE("heads: PCGrad (gradient surgery) matches hand-projected gradients") {
    auto vec = [](std::vector<float> v) { return Tensor::from_vector(v, {int64_t(v.size())}); };
    SUBCASE("two conflicting tasks: each loses its component along the other") {
        // g1·g2 = −1: p1 = g1 − (−1/2) g2 = (0.5, 0.5), p2 = g2 − (−1/1) g1 = (0, 1); sum (0.5, 1.5)
        nn::SurgeryStats st;
        const auto out = nn::pcgrad({vec({1, 0}), vec({-1, 1})}, 7, &st).to_vector();
        CHECK(out[0] == doctest::Approx(0.5));
        CHECK(out[1] == doctest::Approx(1.5));
        CHECK(st.pairs == 1);
        CHECK(st.conflicts == 1);
        CHECK(st.cos_sum == doctest::Approx(-1 / std::sqrt(2.0)));
    }
    SUBCASE("no conflict: the plain sum, bit for bit") {
        nn::SurgeryStats st;
        const auto out = nn::pcgrad({vec({0.3f, -0.2f, 1.1f}), vec({0.7f, 0.1f, 0.4f})}, 7, &st).to_vector();
        CHECK(out[0] == 0.3f + 0.7f);
        CHECK(out[1] == -0.2f + 0.1f);
        CHECK(out[2] == 1.1f + 0.4f);
        CHECK(st.conflicts == 0);
    }
    SUBCASE("three tasks, one conflicting pair (the visiting order cannot matter)") {
        // g3 is orthogonal to g1 and g2: only the (g1, g2) projections happen
        nn::SurgeryStats st;
        const auto out = nn::pcgrad({vec({1, 0, 0}), vec({-1, 1, 0}), vec({0, 0, 2})}, 3, &st).to_vector();
        CHECK(out[0] == doctest::Approx(0.5));
        CHECK(out[1] == doctest::Approx(1.5));
        CHECK(out[2] == doctest::Approx(2.0));
        CHECK(st.pairs == 3);
        CHECK(st.conflicts == 1);
    }
    SUBCASE("a random pair in 64 dimensions: the projected gradient is orthogonal to the other task's") {
        std::vector<float> a = test::rand_vec(64, 5), b = test::rand_vec(64, 6);
        double d = 0, nb = 0;
        for (size_t i = 0; i < 64; ++i) d += double(a[i]) * b[i], nb += double(b[i]) * b[i];
        if (d > 0)
            for (float& x : b) x = -x;  // make them conflict
        d = -std::abs(d);
        const auto out = nn::pcgrad({vec(a), vec(b)}, 1).to_vector();
        // p1 = a − (a·b/|b|²) b and p2 = b − (a·b/|a|²) a, computed here in double
        double na = 0;
        for (float x : a) na += double(x) * x;
        for (size_t i = 0; i < 64; ++i) {
            const double p1 = a[i] - d / nb * b[i], p2 = b[i] - d / na * a[i];
            CHECK(out[i] == doctest::Approx(p1 + p2).epsilon(1e-5));
        }
    }
    CHECK_THROWS_WITH(nn::pcgrad({vec({1, 2}), vec({1, 2, 3})}, 1), doctest::Contains("shape"));
}

TEST_CASE("heads: linear-head losses (multilabel, binary, regression) match hand formulas") {
    const int64_t B = 3, C = 4, K = 2;
    Tensor z = Tensor::from_vector(test::rand_vec(B * C, 3), {B, C});
    nn::LinearHead ml(nn::TaskKind::multilabel, C, K, 5), bin(nn::TaskKind::binary, C, 1, 6),
        reg(nn::TaskKind::regression, C, 1, 7);
    for (auto* h : {&ml, &bin, &reg}) h->weight.copy_(Tensor::from_vector(test::rand_vec(h->weight.numel(), 9),
                                                                           h->weight.shape()));
    auto out = [&](nn::LinearHead& h, int64_t b, int64_t k) {  // z_b · W_k (bias 0)
        const auto zv = z.to_vector(), wv = h.weight.to_vector();
        double s = 0;
        for (int64_t c = 0; c < C; ++c) s += double(zv[b * C + c]) * wv[k * C + c];
        return s;
    };
    auto bce = [](double x, double t) { return std::log1p(std::exp(-x)) + (1 - t) * x; };
    const std::vector<float> tml = {1, 0, 0, 0, 1, 1}, tb = {1, 0, 1}, tr = {0.5f, -1.0f, 2.0f};
    double e_ml = 0, e_b = 0, e_r = 0;
    for (int64_t b = 0; b < B; ++b) {
        for (int64_t k = 0; k < K; ++k) e_ml += bce(out(ml, b, k), tml[b * K + k]) / (B * K);
        e_b += bce(out(bin, b, 0), tb[b]) / B;
        e_r += std::pow(out(reg, b, 0) - tr[b], 2) / B;
    }
    CHECK(ml.loss(ml.forward(z), Tensor::from_vector(tml, {B, K})).item() == doctest::Approx(e_ml).epsilon(1e-5));
    CHECK(bin.loss(bin.forward(z), Tensor::from_vector(tb, {B})).item() == doctest::Approx(e_b).epsilon(1e-5));
    CHECK(reg.loss(reg.forward(z), Tensor::from_vector(tr, {B})).item() == doctest::Approx(e_r).epsilon(1e-5));
    CHECK_THROWS(nn::task_kind_parse("ranking"));
    CHECK(nn::task_kind_parse("similarity") == nn::TaskKind::similarity);
}

TEST_CASE("heads: MLM head (transform + tied decoder) gradients by finite differences") {
    const int64_t B = 2, T = 3, C = 4, V = 7;
    Tensor word = Tensor::from_vector(test::rand_vec(V * C, 11), {V, C}).set_requires_grad(true);
    nn::MLMHead head(C, V, word, 1e-12f, false, 3);
    Tensor h = Tensor::from_vector(test::rand_vec(B * T * C, 12), {B, T, C}).set_requires_grad(true);
    Tensor labels = Tensor::from_ints({-100, 3, -100, 6, -100, 0}, {B, T});
    auto f = [&]() { return double(head.loss(h, labels).item()); };
    head.loss(h, labels).backward();
    // hidden rows that are not masked (labels -100) must get exactly zero gradient
    const auto gh = h.grad().to_vector();
    for (int64_t c = 0; c < C; ++c) CHECK(gh[0 * C + c] == 0.0f);
    for (auto [t, i] : {std::pair{word, int64_t(3 * C + 1)}, std::pair{word, int64_t(5 * C + 2)},
                        std::pair{head.dense_w, int64_t(6)}, std::pair{head.bias, int64_t(6)},
                        std::pair{h, int64_t(1 * C + 2)}, std::pair{h, int64_t(3 * C + 0)}})
        CHECK(t.grad().to_vector()[size_t(i)] == doctest::Approx(fd(t, i, f)).epsilon(2e-2).scale(0.05));
}

TEST_CASE("finetune: macro-F1 and ROC AUC match hand-computed values") {
    // y = [0 0 1 1 2], p = [0 1 1 1 0]: F1_0 = 2·1/(2+1+1) = 0.5, F1_1 = 2·2/(4+1+0) = 0.8, F1_2 = 0 -> 0.4333
    CHECK(nn::macro_f1({0, 0, 1, 1, 2}, {0, 1, 1, 1, 0}, 4) == doctest::Approx(1.3 / 3));
    // scores with a tie between a positive and a negative: pairs (pos > neg) = 3 + 0.5 of 4 -> 0.875
    CHECK(nn::roc_auc({0, 1, 0, 1}, {0.1, 0.5, 0.5, 0.9}) == doctest::Approx(0.875));
    CHECK(std::isnan(nn::roc_auc({1, 1}, {0.1, 0.2})));
    CHECK(nn::parse_task_spec("cat:softmax:category:0.5").weight == 0.5f);
    CHECK_THROWS(nn::parse_task_spec("cat:softmax"));
}

TEST_CASE("finetune: end to end on the tiny model (train, report, checkpoint, predict)") {
    // 24 rows of a separable toy problem: texts about cats vs hotels, category + sentiment + a score
    const std::string dir = std::filesystem::temp_directory_path() / "tg_test_finetune";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    std::string csv = "text,topic,good,score,tags\n";
    const char* pos[] = {"the cat sat on the mat", "hotel room was clean and quiet", "my hair feel soft"};
    const char* neg[] = {"the cat is not good", "hotel staff not friendly", "my hair not soft"};
    const char* topic[] = {"cat", "hotel", "hair"};
    for (int i = 0; i < 24; ++i) {
        const int k = i % 3;
        const bool g = (i / 3) % 2 == 0;
        csv += std::string(g ? pos[k] : neg[k]) + "," + topic[k] + "," + (g ? "1" : "0") + "," +
               std::to_string(g ? 1.5 : -0.5) + "," + (g ? "nice|" : "") + topic[k] + "\n";
    }
    {
        std::FILE* f = std::fopen((dir + "/data.csv").c_str(), "w");
        REQUIRE(f);
        std::fputs(csv.c_str(), f);
        std::fclose(f);
    }
    nn::FinetuneOptions o;
    o.model_dir = test::fixture("bert/tiny");
    o.train = o.valid = dir + "/data.csv";
    o.out = dir + "/run";
    for (const char* t : {"topic:softmax:topic", "good:binary:good", "score:regression:score", "tags:multilabel:tags",
                          "pair:similarity:text", "lm:mlm:text:0.1"})
        o.tasks.push_back(nn::parse_task_spec(t));
    o.epochs = 2;
    o.batch = 8;
    o.lr = 3e-3;
    o.warmup = 1;
    o.balance = "uncertainty";
    nn::run_finetune(o);
    for (const char* f : {"finetune.json", "model.safetensors", "metrics.jsonl", "curves.svg", "report.json"})
        CHECK_MESSAGE(std::filesystem::exists(o.out + "/" + f), f);
    const json::Value rep = json::parse(read_file(o.out + "/report.json"), "report.json");
    for (const char* k : {"topic.accuracy", "topic.macro_f1", "good.auc", "score.rmse", "tags.macro_f1"})
        CHECK_MESSAGE(rep.find(k), k);
    MESSAGE("tiny end-to-end: topic.accuracy ", rep.get_number("topic.accuracy", -1), ", good.auc ",
            rep.get_number("good.auc", -1), ", train_loss ", rep.get_number("train_loss", -1));
    nn::run_predict(o.out, dir + "/data.csv", dir + "/pred.jsonl", "", 5);
    JsonlReader in(dir + "/pred.jsonl");
    json::Value v;
    int rows = 0;
    while (in.next(v)) {
        ++rows;
        CHECK(v.find("topic")->is_string());
        CHECK(v.find("embedding")->arr.size() == 32);
    }
    CHECK(rows == 5);
    std::filesystem::remove_all(dir);
}

TEST_CASE("finetune: the resumable AdamW matches nn::AdamW step for step") {
    Tensor a = Tensor::from_vector(test::rand_vec(6, 21), {2, 3}).set_requires_grad(true);
    Tensor b = a.detach().clone().set_requires_grad(true);
    nn::AdamWState mine({{"a", a}}, 0.01f);
    nn::AdamW ref({b}, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f);
    for (int s = 0; s < 4; ++s) {
        Tensor g = Tensor::from_vector(test::rand_vec(6, 30 + s), {2, 3});
        a.set_grad(g);
        b.set_grad(g.clone());
        mine.step(1e-2f);
        ref.step();
    }
    const auto va = a.to_vector(), vb = b.to_vector();
    for (size_t i = 0; i < va.size(); ++i) CHECK(va[i] == doctest::Approx(vb[i]).epsilon(1e-6));
}

TEST_CASE("finetune: --resume continues bit-identically (dropout and MLM masks included)") {
    const std::string dir = std::filesystem::temp_directory_path() / "tg_test_resume";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    {
        std::FILE* f = std::fopen((dir + "/d.csv").c_str(), "w");
        REQUIRE(f);
        std::fputs("text,y\n", f);
        for (int i = 0; i < 12; ++i) std::fputs(i % 2 ? "the cat sat on the mat,a\n" : "hotel room was quiet,b\n", f);
        std::fclose(f);
    }
    nn::FinetuneOptions o;
    o.model_dir = test::fixture("bert/tiny");
    o.train = o.valid = dir + "/d.csv";
    o.tasks = {nn::parse_task_spec("y:softmax:y"), nn::parse_task_spec("lm:mlm:text")};
    o.epochs = 2;
    o.batch = 4;
    o.lr = 1e-3;
    o.out = dir + "/straight";
    nn::run_finetune(o);
    o.out = dir + "/resumed";
    o.stop_after = 1;
    nn::run_finetune(o);
    o.stop_after = 0;
    o.resume = true;
    nn::run_finetune(o);
    auto s1 = nn::load_checkpoint(dir + "/straight/state.safetensors");
    auto s2 = nn::load_checkpoint(dir + "/resumed/state.safetensors");
    REQUIRE(s1.size() == s2.size());
    int64_t differing = 0;
    for (auto& [n, t] : s1) {
        if (n == "state.json") continue;
        const auto x = t.to_vector(), y = s2.at(n).to_vector();
        for (size_t i = 0; i < x.size(); ++i) differing += std::memcmp(&x[i], &y[i], sizeof(float)) != 0;
    }
    CHECK(differing == 0);
    CHECK(MetricsLog::read_lines(dir + "/resumed/metrics.jsonl").size() == 2);
    std::filesystem::remove_all(dir);
}

TEST_CASE("finetune: --grad-surgery pcgrad (one task = plain training; two tasks log their conflicts)") {
    const std::string dir = std::filesystem::temp_directory_path() / "tg_test_pcgrad";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    std::string csv = "text,y,g\n";
    for (int i = 0; i < 16; ++i)
        csv += std::string(i % 2 ? "the cat sat on the mat" : "hotel room was quiet") + (i % 4 < 2 ? " not good" : "") +
               "," + (i % 2 ? "a" : "b") + "," + (i % 4 < 2 ? "0" : "1") + "\n";
    write_file_atomic(dir + "/d.csv", csv);
    nn::FinetuneOptions o;
    o.model_dir = test::fixture("bert/tiny");
    o.train = o.valid = dir + "/d.csv";
    o.epochs = 2;
    o.batch = 4;
    o.lr = 1e-3;
    o.balance = "uncertainty";  // s_t get their gradients through the per-task terms too
    SUBCASE("one task: the surgery path computes what plain backward does") {
        // PCGrad of a single gradient is that gradient: the detached-leaf path (heads backward into a leaf
        // copy of z, then z.backward(∂L/∂z) through the encoder) must give the ordinary run's parameters
        o.tasks = {nn::parse_task_spec("y:softmax:y")};
        o.out = dir + "/plain";
        nn::run_finetune(o);
        o.surgery = "pcgrad";
        o.out = dir + "/surgery";
        nn::run_finetune(o);
        auto s1 = nn::load_checkpoint(dir + "/plain/state.safetensors");
        auto s2 = nn::load_checkpoint(dir + "/surgery/state.safetensors");
        double worst = 0;
        for (auto& [n, t] : s1) {
            if (n.rfind("param.", 0) != 0) continue;
            const auto x = t.to_vector(), y = s2.at(n).to_vector();
            for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, double(std::abs(x[i] - y[i])));
        }
        MESSAGE("pcgrad, one task: worst parameter difference to plain training ", worst);
        CHECK(worst <= 1e-6);
    }
    SUBCASE("two tasks: trains, and each epoch logs the conflict rate and mean cosine") {
        o.tasks = {nn::parse_task_spec("y:softmax:y"), nn::parse_task_spec("g:binary:g")};
        o.surgery = "pcgrad";
        o.out = dir + "/two";
        nn::run_finetune(o);
        const auto lines = MetricsLog::read_lines(o.out + "/metrics.jsonl");
        REQUIRE(lines.size() == 2);
        for (const std::string& l : lines) {
            const json::Value v = json::parse(l, "metrics.jsonl");
            const double rate = v.get_number("pcgrad.conflict_rate", -1), cos = v.get_number("pcgrad.mean_cos", -2);
            CHECK(rate >= 0);
            CHECK(rate <= 1);
            CHECK(cos >= -1);
            CHECK(cos <= 1);
            CHECK(std::isfinite(v.get_number("train_loss", NAN)));
        }
    }
    SUBCASE("rejected: tasks that do not read the pooled vector, a frozen encoder, an unknown name") {
        o.tasks = {nn::parse_task_spec("y:softmax:y"), nn::parse_task_spec("lm:mlm:text")};
        o.surgery = "pcgrad";
        o.out = dir + "/bad";
        CHECK_THROWS_WITH(nn::run_finetune(o), doctest::Contains("task lm is mlm"));
        o.tasks.pop_back();
        o.freeze_encoder = true;
        CHECK_THROWS_WITH(nn::run_finetune(o), doctest::Contains("--freeze-encoder"));
        o.freeze_encoder = false;
        o.surgery = "gradnorm";
        CHECK_THROWS_WITH(nn::run_finetune(o), doctest::Contains("--grad-surgery must be none or pcgrad"));
    }
    std::filesystem::remove_all(dir);
}

TEST_CASE("finetune: masked-LM validation (pre-training) — loss at init, selection, empty texts, bad --metric") {
    const std::string dir = std::filesystem::temp_directory_path() / "tg_test_mlm_valid";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    std::string csv = "text\n";
    for (int i = 0; i < 40; ++i) csv += "\"\"\n";  // empty texts: after the length sort, batches with nothing to mask
    for (int i = 0; i < 48; ++i) csv += i % 2 ? "the cat sat on the mat\n" : "hotel room was clean and quiet\n";
    write_file_atomic(dir + "/d.csv", csv);
    nn::FinetuneOptions o;
    o.model_dir = test::fixture("bert/tiny");
    o.train = o.valid = dir + "/d.csv";
    o.tasks = {nn::parse_task_spec("lm:mlm:text")};
    o.batch = 8;
    // train into dir/name; the metrics.jsonl lines
    auto run = [&](const std::string& name) {
        o.out = dir + "/" + name;
        nn::run_finetune(o);
        std::vector<json::Value> v;
        for (const std::string& l : MetricsLog::read_lines(o.out + "/metrics.jsonl")) v.push_back(json::parse(l, "line"));
        return v;
    };
    SUBCASE("untrained: the loss is ln V") {
        // logits = LN(...)·Eᵀ with E ~ N(0, 0.02²) over 32 dims: spread ~0.11, so the cross-entropy over the
        // 256-token vocabulary is ln 256 = 5.545 to within ~0.01 (an independent figure, not our own output)
        o.lr = 0;
        o.epochs = 1;
        const auto v = run("init");
        REQUIRE(v.size() == 1);
        CHECK(v[0].get_number("valid.lm.loss", -1) == doctest::Approx(std::log(256.0)).epsilon(0.01));
        const double acc = v[0].get_number("valid.lm.accuracy", -1);
        CHECK(acc >= 0.0);
        CHECK(acc < 0.05);
    }
    SUBCASE("trained: the valid loss falls and the best epoch is the lowest") {
        o.lr = 3e-3;
        o.warmup = 1;
        o.epochs = 4;
        const auto v = run("train");
        REQUIRE(v.size() == 4);
        int64_t argmin = 0;
        for (size_t e = 0; e < v.size(); ++e)
            if (v[e].get_number("valid.lm.loss", 1e9) < v[size_t(argmin)].get_number("valid.lm.loss", 1e9))
                argmin = int64_t(e);
        CHECK(v[3].get_number("valid.lm.loss", 1e9) < v[0].get_number("valid.lm.loss", -1) - 0.5);
        CHECK(v[3].get_number("valid.lm.accuracy", -1) > v[0].get_number("valid.lm.accuracy", 2));
        const json::Value rep = json::parse(read_file(o.out + "/report.json"), "report.json");
        CHECK(rep.get_int("best_epoch", -1) == argmin + 1);
    }
    SUBCASE("a --metric that no task reports is an error naming the metrics there are") {
        o.epochs = 1;
        o.metric = "lm.macro_f1";
        CHECK_THROWS_WITH(run("bad"), doctest::Contains("lm.loss"));
    }
    std::filesystem::remove_all(dir);
}
