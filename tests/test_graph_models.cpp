// test_graph_models.cpp — LightGCN pieces vs independent references: propagation vs the scalar
// SpMM reference, the whole loss gradient vs finite differences of a dense double model, sampling
// invariants and thread independence, Adam vs hand-computed steps, and a tiny end-to-end fit.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <vector>

#include "graph/gnn.h"
#include "graph/lightgcn.h"
#include "graph/metrics.h"
#include "graph/model_io.h"
#include "graph/trainer.h"
#include "graph/sparse.h"
#include "tensor/cpu_isa.h"
#include "tensor/json.h"
#include "tensor/parallel.h"
#include "tensor/report.h"
#include "test_util.h"

using namespace tg;
using namespace tg::graph;

namespace {

// Random user–item matrix: every user has >= 1 item and misses >= 1 item; skewed (user 0 has many).
Csr random_interactions(int64_t U, int64_t I, uint64_t seed, float p = 0.2f) {
    auto r = test::rand_vec(size_t(U * I), seed, 0.f, 1.f);
    Csr R;
    R.rows = U;
    R.cols = I;
    R.indptr.push_back(0);
    for (int64_t u = 0; u < U; u++) {
        const int64_t never = u == 0 ? I - 1 : (u + 1) % I;  // an item the user surely misses
        for (int64_t i = 0; i < I; i++)
            if (i != never && (i == u % I || u == 0 || r[size_t(u * I + i)] < p)) R.indices.push_back(int32_t(i));
        R.indptr.push_back(R.nnz());
    }
    return R;
}

// 40 users x 25 items with one held-out item per user (one the user does not have), and id maps.
Dataset small_dataset() {
    Dataset ds;
    ds.train = random_interactions(40, 25, 21);
    ds.n_users = 40;
    ds.n_items = 25;
    ds.test.assign(40, {});
    for (int32_t u = 0; u < 40; u++) {  // one held-out item per user: one the user does not have
        const int32_t* b = ds.train.indices.data() + ds.train.row_begin(u);
        const int32_t* e = ds.train.indices.data() + ds.train.row_end(u);
        for (int32_t i = 0; i < 25; i++)
            if (!std::binary_search(b, e, i)) {
                ds.test[size_t(u)].push_back(i);
                break;
            }
    }
    for (int32_t u = 0; u < 40; u++) ds.users.get_or_add("user_" + std::to_string(u));
    for (int32_t i = 0; i < 25; i++) ds.items.get_or_add("item," + std::to_string(i));  // a comma, on purpose
    ds.source = "test";
    return ds;
}

// Quiet training options for small_dataset(): dim 8, batch 100, lr 0.01, 2 GAT heads.
TrainOptions small_train_options(const char* kind) {
    TrainOptions o;
    o.model = kind;
    o.cfg.dim = 8;
    o.cfg.batch = 100;
    o.cfg.lr = 0.01f;
    o.heads = 2;
    o.quiet = true;
    return o;
}

}  // namespace

TEST_CASE("lightgcn: fused propagation equals the scalar reference; every ISA path bit-identical") {
    Csr R = random_interactions(40, 30, 1);
    Csr A = bipartite_norm_adj(R);
    const int64_t N = A.rows;
    const Isa saved = cpu_isa();
    // 64: AVX-512 and AVX2 kernels; 24: AVX2 only (not a multiple of 16); 128: the widest row; 6: portable
    for (int64_t D : {64, 24, 128, 6}) {
        CAPTURE(D);
        auto X = test::rand_vec(size_t(N * D), 2);
        std::vector<float> out(size_t(N * D)), ref(size_t(N * D)), work(size_t(2 * N * D));
        set_cpu_isa(Isa::scalar);
        lightgcn_propagate(A, X.data(), D, 3, out.data(), work.data());
        lightgcn_propagate_ref(A, X.data(), D, 3, ref.data());
        for (size_t q = 0; q < out.size(); q++) REQUIRE(out[q] == doctest::Approx(ref[q]).epsilon(1e-5).scale(1));
        // The portable, AVX2 and AVX-512 paths compute the same FMA chain per element: bit-identical.
        for (Isa isa : {Isa::avx2, Isa::avx512}) {
            if (int(isa) > int(cpu_isa_max())) continue;
            CAPTURE(isa_name(isa));
            set_cpu_isa(isa);
            std::vector<float> out2(out.size());
            lightgcn_propagate(A, X.data(), D, 3, out2.data(), work.data());
            CHECK(out == out2);
        }
        set_cpu_isa(saved);
    }
}

TEST_CASE("lightgcn: loss gradient matches finite differences of a dense double model") {
    const int64_t U = 7, I = 6, D = 3, N = U + I;
    const int K = 2;
    Csr R = random_interactions(U, I, 5, 0.3f);
    LightGcn m;
    LightGcnConfig cfg;
    cfg.dim = int(D);
    cfg.layers = K;
    cfg.reg = 0.05f;  // large enough that the L2 term's gradient is visible
    m.init(R, cfg);
    std::vector<Triple> batch(6);
    sample_bpr(m.R, m.active, 9, 0, 0, 6, batch.data());
    std::vector<float> grad(size_t(N * D));
    const double loss = m.loss_and_grad(batch.data(), 6, grad.data());

    // Dense double model written from the definitions: Â = D^-1/2 A D^-1/2, F = mean_k Â^k E0.
    std::vector<double> Ad(size_t(N * N), 0.0), deg(size_t(N), 0.0);
    for (int64_t u = 0; u < U; u++)
        for (int64_t e = R.row_begin(u); e < R.row_end(u); e++) {
            const int64_t i = U + R.indices[size_t(e)];
            Ad[size_t(u * N + i)] = Ad[size_t(i * N + u)] = 1;
            deg[size_t(u)]++, deg[size_t(i)]++;
        }
    for (int64_t a = 0; a < N; a++)
        for (int64_t b = 0; b < N; b++)
            if (Ad[size_t(a * N + b)] != 0) Ad[size_t(a * N + b)] /= std::sqrt(deg[size_t(a)] * deg[size_t(b)]);
    auto dense_loss = [&](const std::vector<double>& E) {
        std::vector<double> cur = E, F = E;
        for (int k = 1; k <= K; k++) {
            std::vector<double> nx(size_t(N * D), 0.0);
            for (int64_t a = 0; a < N; a++)
                for (int64_t b = 0; b < N; b++)
                    for (int64_t d = 0; d < D; d++) nx[size_t(a * D + d)] += Ad[size_t(a * N + b)] * cur[size_t(b * D + d)];
            for (size_t q = 0; q < F.size(); q++) F[q] += nx[q];
            cur = nx;
        }
        for (auto& f : F) f /= K + 1;
        double L = 0, reg = 0;
        for (auto& t : batch) {
            double x = 0;
            for (int64_t d = 0; d < D; d++)
                x += F[size_t(t.u * D + d)] * (F[size_t((U + t.i) * D + d)] - F[size_t((U + t.j) * D + d)]);
            L += std::log1p(std::exp(-x));
            for (int64_t r : {int64_t(t.u), U + t.i, U + t.j})
                for (int64_t d = 0; d < D; d++) reg += E[size_t(r * D + d)] * E[size_t(r * D + d)];
        }
        return L / double(batch.size()) + cfg.reg * reg / 2 / double(batch.size());
    };
    std::vector<double> E(m.E0.begin(), m.E0.end());
    CHECK(loss == doctest::Approx(dense_loss(E)).epsilon(1e-5));
    for (size_t q = 0; q < E.size(); q++) {
        auto Ep = E, Em = E;
        Ep[q] += 1e-6;
        Em[q] -= 1e-6;
        const double fd = (dense_loss(Ep) - dense_loss(Em)) / 2e-6;
        INFO("entry ", q);
        CHECK(grad[q] == doctest::Approx(fd).epsilon(1e-3).scale(1e-3));
    }
}

TEST_CASE("lightgcn: BPR sampling is valid and independent of the thread count") {
    Csr R = random_interactions(50, 40, 7);
    LightGcn m;
    m.init(R, LightGcnConfig{});
    std::vector<Triple> a(500), b(500);
    set_num_threads(1);
    sample_bpr(m.R, m.active, 3, 4, 1000, 500, a.data());
    set_num_threads(3);
    sample_bpr(m.R, m.active, 3, 4, 1000, 500, b.data());
    set_num_threads(0);
    for (size_t k = 0; k < a.size(); k++) {
        REQUIRE(a[k].u == b[k].u);
        REQUIRE(a[k].i == b[k].i);
        REQUIRE(a[k].j == b[k].j);
        const int32_t* beg = R.indices.data() + R.row_begin(a[k].u);
        const int32_t* end = R.indices.data() + R.row_end(a[k].u);
        CHECK(std::binary_search(beg, end, a[k].i));
        CHECK(!std::binary_search(beg, end, a[k].j));
    }
    // A different epoch gives different samples.
    sample_bpr(m.R, m.active, 3, 5, 1000, 500, b.data());
    int same = 0;
    for (size_t k = 0; k < a.size(); k++) same += (a[k].u == b[k].u && a[k].i == b[k].i && a[k].j == b[k].j);
    CHECK(same < 50);
}

TEST_CASE("lightgcn: Adam matches hand-computed steps") {
    Adam opt;
    opt.lr = 0.1f;
    opt.init(1);
    float p = 1.f;
    const float g1 = 0.5f, g2 = -1.f;
    opt.step(&p, &g1, 1);
    // t=1: m = 0.05, v = 0.00025, m̂ = 0.5, v̂ = 0.25 -> p = 1 - 0.1 * 0.5 / (0.5 + 1e-8)
    CHECK(p == doctest::Approx(0.9).epsilon(1e-6));
    opt.step(&p, &g2, 1);
    // t=2: m = 0.045 - 0.1 = -0.055, v = 0.00024975 + 0.001 = 0.00124975
    const double m = -0.055 / (1 - 0.81), v = 0.00124975 / (1 - 0.998001);
    CHECK(p == doctest::Approx(0.9 - 0.1 * m / (std::sqrt(v) + 1e-8)).epsilon(1e-6));
}

TEST_CASE("lightgcn: Adam over many entries (vector lanes + tail, several chunks) == the scalar formula") {
    // 9,003 entries: two full 4,096 chunks and a ragged one, whose last 3 entries take the scalar tail.
    const size_t n = 9003;
    Adam opt;
    opt.lr = 0.01f;
    opt.init(n);
    std::vector<float> p(n), m(n, 0.f), v(n, 0.f), pr(n);
    for (size_t k = 0; k < n; k++) p[k] = pr[k] = float(std::sin(double(k))) * 0.1f;
    for (int t = 1; t <= 3; t++) {
        std::vector<float> g(n);
        for (size_t k = 0; k < n; k++) g[k] = float(std::cos(double(k) * 0.37 + t)) * (k % 7 == 0 ? 0.f : 1e-3f);
        opt.step(p.data(), g.data(), n);
        // the reference: torch's update in float, one entry at a time
        const float bc1 = 1.f - std::pow(0.9f, float(t)), bc2 = 1.f - std::pow(0.999f, float(t));
        for (size_t k = 0; k < n; k++) {
            m[k] = 0.9f * m[k] + (1.f - 0.9f) * g[k];
            v[k] = 0.999f * v[k] + (1.f - 0.999f) * g[k] * g[k];
            pr[k] -= (0.01f / bc1) * m[k] / (std::sqrt(v[k]) * (1.f / std::sqrt(bc2)) + 1e-8f);
        }
    }
    size_t bad = 0;
    for (size_t k = 0; k < n; k++) bad += std::fabs(p[k] - pr[k]) > 1e-6f * (1.f + std::fabs(pr[k]));
    CHECK(bad == 0);
}

TEST_CASE("lightgcn: a small planted data set is learned far above chance, deterministically") {
    // 60 users in 3 taste groups, 45 items in 3 matching groups; each user saw 6 of their group's 15
    // items in training and 3 others in test.
    const int64_t U = 60, I = 45;
    Csr R;
    R.rows = U;
    R.cols = I;
    R.indptr.push_back(0);
    std::vector<std::vector<int32_t>> test(static_cast<size_t>(U));
    for (int64_t u = 0; u < U; u++) {
        const int64_t g = u % 3;
        std::vector<int32_t> items;
        for (int64_t k = 0; k < 9; k++) items.push_back(int32_t(g * 15 + (u * 7 + k * 4) % 15));
        std::sort(items.begin(), items.end());
        items.erase(std::unique(items.begin(), items.end()), items.end());
        for (size_t k = 0; k < items.size(); k++)
            (k % 3 == 2 ? test[size_t(u)] : R.indices).push_back(items[k]);
        R.indptr.push_back(R.nnz());
    }
    auto run = [&](int threads) {
        set_num_threads(threads);
        LightGcnConfig cfg;
        cfg.dim = 16;
        cfg.lr = 0.05f;
        cfg.batch = 64;
        LightGcn m;
        m.init(R, cfg);
        for (int ep = 0; ep < 15; ep++, m.epoch++)
            for (int64_t b = 0; b < m.batches_per_epoch(); b++) m.train_batch(b);
        return m.E0;
    };
    auto E1 = run(1), E2 = run(2);
    set_num_threads(0);
    CHECK(E1 == E2);
    LightGcn m;
    LightGcnConfig cfg;
    cfg.dim = 16;
    cfg.layers = 3;
    m.init(R, cfg);
    m.E0 = E1;
    auto F = m.final_embeddings();
    Metrics M = evaluate_embeddings(F.data(), F.data() + U * 16, U, I, 16, R, test, {10});
    // Chance: 10 of the 39 unseen items -> recall ~0.26; the groups make ~1.0 reachable.
    CHECK(M.recall[0] > 0.6);
}

TEST_CASE("gnn: GCN and GAT gradients (ego embeddings and layer weights) match finite differences") {
    Csr R = random_interactions(6, 5, 11, 0.35f);
    for (bool attention : {false, true}) {
        GnnConfig cfg;
        cfg.base.dim = 4;
        cfg.base.layers = 2;
        cfg.base.reg = 0.05f;
        cfg.base.init_std = 0.5f;  // O(1) activations so the non-linearity and attention matter
        cfg.attention = attention;
        cfg.heads = 2;
        Gnn g;
        g.init(R, cfg);
        std::vector<Triple> batch(8);
        sample_bpr(g.R, g.active, 5, 0, 0, 8, batch.data());
        std::vector<float> grad(size_t(g.n_params())), scratch(grad.size());
        g.loss_and_grad(batch.data(), 8, grad.data());
        // Central differences of the float loss (eps 1e-3: truncation ~1e-6, rounding ~1e-4).
        int checked = 0;
        for (size_t q = 0; q < grad.size(); q++) {
            const float x0 = g.params[q];
            g.params[q] = x0 + 1e-3f;
            const double lp = g.loss_and_grad(batch.data(), 8, scratch.data());
            g.params[q] = x0 - 1e-3f;
            const double lm = g.loss_and_grad(batch.data(), 8, scratch.data());
            g.params[q] = x0;
            const double fd = (lp - lm) / 2e-3;
            INFO((attention ? "GAT" : "GCN"), " parameter ", q, " analytic ", grad[q], " fd ", fd);
            CHECK(std::fabs(grad[q] - fd) <= 3e-3 + 3e-2 * std::fabs(fd));
            checked++;
        }
        CHECK(checked == g.n_params());
    }
}

TEST_CASE("gnn: GAT training is bit-identical for 1 and 2 threads") {
    Csr R = random_interactions(30, 20, 13);
    auto run = [&](int threads) {
        set_num_threads(threads);
        GnnConfig cfg;
        cfg.base.dim = 8;
        cfg.base.layers = 2;
        cfg.base.batch = 64;
        cfg.base.lr = 0.01f;
        cfg.attention = true;
        cfg.heads = 2;
        Gnn g;
        g.init(R, cfg);
        for (int64_t b = 0; b < g.batches_per_epoch(); b++) g.train_batch(b);
        return g.params;
    };
    auto a = run(1), b = run(2);
    set_num_threads(0);
    CHECK(a == b);
}

TEST_CASE("trainer: a resumed run is bit-identical to an uninterrupted one; model files round-trip") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("tg_trainer_test_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const Dataset ds = small_dataset();
    for (const char* kind : {"lightgcn", "gat"}) {
        TrainOptions o = small_train_options(kind);
        o.epochs = 4;
        o.out = (dir / (std::string(kind) + "_full.model")).string();
        train_model(ds, o);
        o.out = (dir / (std::string(kind) + "_resumed.model")).string();
        o.epochs = 2;
        train_model(ds, o);
        o.epochs = 4;
        o.resume = true;
        Metrics m = train_model(ds, o);
        RecModel a = load_model((dir / (std::string(kind) + "_full.model")).string());
        RecModel b = load_model(o.out);
        INFO(kind);
        CHECK(a.kind == kind);
        CHECK(a.state.at("params") == b.state.at("params"));
        CHECK(a.state.at("adam_m") == b.state.at("adam_m"));
        CHECK(a.user_emb == b.user_emb);
        CHECK(a.item_emb == b.item_emb);
        CHECK(b.users.name(7) == "user_7");
        CHECK(b.items.find("item,3") == 3);
        CHECK(b.train.indptr == ds.train.indptr);
        CHECK(b.train.indices == ds.train.indices);
        // The metrics log has one line per epoch across both sittings.
        CHECK(MetricsLog::read_lines(o.out + ".metrics.jsonl").size() == 4);
        CHECK(fs::file_size(o.out + ".curve.svg") > 500);
        Metrics again = evaluate_model_file(o.out, ds.test);
        CHECK(again.recall == m.recall);
    }
    fs::remove_all(dir);
}

TEST_CASE("lightgcn: batch-restricted propagation gives the full propagation's loss and gradient") {
    // loss_and_grad computes each layer only where the batch needs it (balls around the batch nodes, grown
    // by pushing from a small ball or pulling into a large one) and keeps its scratch rows between batches.
    // Every batch, including later ones on the same model (stale scratch rows must not leak in), must give
    // the full propagation's loss and gradient.
    const auto check = [](const Csr& R, int64_t B, bool want_partial) {
        // every kernel path: the portable SpMM loop, AVX2 and AVX-512 (layers that only write their output)
        const Isa saved = cpu_isa();
        for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512}) {
            if (isa > cpu_isa_max()) continue;
            set_cpu_isa(isa);
            INFO("isa " << std::string(isa_name(isa)));
            LightGcn m;
            LightGcnConfig cfg;
            cfg.dim = 16;
            m.init(R, cfg);
            const int64_t N = m.U + m.I, D = 16;
            for (int64_t call = 0; call < 3; call++) {
                INFO("batch ", call);
                std::vector<Triple> batch(static_cast<size_t>(B));
                sample_bpr(m.R, m.active, 1, call, 0, B, batch.data());
                std::vector<float> grad(size_t(N * D), 7.f);  // not zero: every entry must be written
                const double loss = m.loss_and_grad(batch.data(), B, grad.data());
                // Full reference: F = P E0 everywhere, dE0 = P dF everywhere (+ L2), with the plain kernels.
                std::vector<float> F(size_t(N * D)), dF(size_t(N * D), 0.f), G(size_t(N * D));
                lightgcn_propagate_ref(m.Ahat, m.E0.data(), D, 3, F.data());
                double want = bpr_forward_backward(F.data(), m.U, D, batch.data(), B, dF.data());
                lightgcn_propagate_ref(m.Ahat, dF.data(), D, 3, G.data());
                double reg = 0;
                for (auto& t : batch)
                    for (int64_t r : {int64_t(t.u), m.U + t.i, m.U + t.j})
                        for (int64_t d = 0; d < D; d++) {
                            reg += double(m.E0[size_t(r * D + d)]) * m.E0[size_t(r * D + d)];
                            G[size_t(r * D + d)] += cfg.reg / float(B) * m.E0[size_t(r * D + d)];
                        }
                want += cfg.reg * reg / 2 / double(B);
                CHECK(loss == doctest::Approx(want).epsilon(1e-6));
                int64_t nonzero = 0;
                double gmax = 0;
                for (float g : G) gmax = std::max(gmax, double(std::fabs(g)));
                for (size_t q = 0; q < G.size(); q++) {
                    INFO("entry ", q, ": ", grad[q], " vs ", G[q]);
                    REQUIRE(std::fabs(double(grad[q]) - G[q]) <= 1e-5 * gmax);
                    nonzero += G[q] != 0;
                }
                CHECK(nonzero > 0);
                if (want_partial) CHECK(nonzero < int64_t(G.size()));  // the test really exercises partial balls
                // a step between batches, so that the next batch sees other embeddings
                m.adam.step(m.E0.data(), grad.data(), grad.size());
            }
        }
        set_cpu_isa(saved);
    };
    // R [users x cols] from each user's items (sorted and made unique here)
    const auto make_R = [](int32_t users, int32_t cols, auto items_of) {
        Csr R;
        R.rows = users;
        R.cols = cols;
        R.indptr.push_back(0);
        for (int32_t u = 0; u < users; u++) {
            std::vector<int32_t> items = items_of(u);
            std::sort(items.begin(), items.end());
            items.erase(std::unique(items.begin(), items.end()), items.end());
            R.indices.insert(R.indices.end(), items.begin(), items.end());
            R.indptr.push_back(R.nnz());
        }
        return R;
    };
    SUBCASE("sparse graph, small batch: small balls, grown by pushing") {
        // two items per user, no hub: the 3-hop balls around the batch cover only part of the graph
        check(make_R(300, 200, [](int32_t u) { return std::vector<int32_t>{u % 200, (u * 37 + 11) % 200}; }), 4, true);
    }
    SUBCASE("denser graph, larger batch: the outer balls grow by pulling") {
        // six items per user out of 120: ball_1 of a 24-triple batch already holds most edges' endpoints
        check(make_R(200, 120,
                     [](int32_t u) {
                         std::vector<int32_t> items;
                         for (int32_t k = 0; k < 6; k++) items.push_back((u * 7 + k * k * 13 + k) % 120);
                         return items;
                     }),
              24, false);
    }
}

TEST_CASE("trainer: --keep-best keeps the checkpoint of the best Recall@20 evaluation, across --resume") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("tg_best_test_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    // Random interactions over 150 items and 3 held-out items per user that the user does not have: no signal to
    // learn, so Recall@20 wanders from epoch to epoch and the best evaluation is not simply the last one.
    Dataset ds;
    ds.n_users = 60, ds.n_items = 150;
    ds.train = random_interactions(ds.n_users, ds.n_items, 5, 0.1f);
    ds.test.assign(size_t(ds.n_users), {});
    for (int32_t u = 0; u < ds.n_users; u++) {
        const int32_t* b = ds.train.indices.data() + ds.train.row_begin(u);
        const int32_t* e = ds.train.indices.data() + ds.train.row_end(u);
        for (int32_t i = (u * 37) % 150, tries = 0; ds.test[size_t(u)].size() < 3 && tries < 150; i = (i + 53) % 150, tries++)
            if (!std::binary_search(b, e, i)) ds.test[size_t(u)].push_back(i);
    }
    for (int32_t u = 0; u < ds.n_users; u++) ds.users.get_or_add("u" + std::to_string(u));
    for (int32_t i = 0; i < ds.n_items; i++) ds.items.get_or_add("i" + std::to_string(i));
    TrainOptions o = small_train_options("lightgcn");
    o.eval_every = 1;
    o.cfg.lr = 0.05f;
    // The plain run's parameters after each epoch (resumed epoch by epoch: bit-identical to one sitting).
    std::vector<std::vector<float>> p(9);
    o.out = (dir / "plain.model").string();
    for (int64_t e = 1; e <= 8; e++) {
        o.epochs = e;
        o.resume = e > 1;
        train_model(ds, o);
        p[size_t(e)] = load_model(o.out).state.at("params");
    }
    // The best evaluation so far, from the run's metrics log: (epoch, Recall@20), first of equals.
    const auto best_logged = [](const std::string& log) {
        std::ifstream f(log);
        std::string line;
        int64_t be = 0;
        double br = -1;
        while (std::getline(f, line)) {
            const auto v = json::parse(line, log);
            const double r = v.get_number("recall@20", -1);
            if (r > br) br = r, be = v.get_int("epoch", 0);
        }
        return std::make_pair(be, br);
    };
    o.out = (dir / "run.model").string();
    const std::string best = o.out + ".best";
    o.keep_best = true;
    // (This data's best evaluations: epoch 1 after 5 and 6 epochs, epoch 7 after 8; the sitting that ends at 6 fails
    // if a resumed run forgot the file's bar.)
    for (const auto& [epochs, resume] : {std::make_pair(int64_t(5), false), std::make_pair(int64_t(6), true),
                                         std::make_pair(int64_t(8), true)}) {
        o.epochs = epochs, o.resume = resume;
        train_model(ds, o);
        const auto [be, br] = best_logged(o.out + ".metrics.jsonl");
        INFO("after epoch " << epochs << ": best logged at epoch " << be << ", recall@20 " << br);
        REQUIRE(be >= 1);
        RecModel b = load_model(best);
        CHECK(b.state.at("params") == p[size_t(be)]);  // that epoch's checkpoint, whole
        CHECK(json::parse(b.config_json, best).get_int("epoch", 0) == be);
        // scored again from the file: the logged figure (to the log's 6 decimals)
        const Metrics m = evaluate_model_file(best, ds.test);
        CHECK(std::abs(m.get("recall", 20) - br) < 1e-6);
    }
    // A fresh run (no --resume) starts a new best: after one epoch the file is that epoch's.
    o.epochs = 1, o.resume = false;
    train_model(ds, o);
    CHECK(load_model(best).state.at("params") == p[1]);
    // Closed-form models have no evaluations to choose from: a clear error.
    TrainOptions svd = small_train_options("svd");
    svd.keep_best = true;
    svd.out = (dir / "svd.model").string();
    CHECK_THROWS_WITH(train_model(ds, svd), doctest::Contains("--keep-best"));
    fs::remove_all(dir);
}

TEST_CASE("trainer: weight averaging keeps the mean of the per-epoch parameters; resumes bit-identically") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("tg_swa_test_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const Dataset ds = small_dataset();
    for (const char* kind : {"lightgcn", "gat"}) {
        INFO(kind);
        TrainOptions o = small_train_options(kind);
        o.eval_every = 0;
        const auto path = [&](const char* name) { return (dir / (std::string(kind) + name)).string(); };
        // The plain run's parameters after each of epochs 1..5 (resumed epoch by epoch: bit-identical).
        std::vector<std::vector<float>> p(6);
        o.out = path("_plain.model");
        for (int64_t e = 1; e <= 5; e++) {
            o.epochs = e;
            o.resume = e > 1;
            train_model(ds, o);
            p[size_t(e)] = load_model(o.out).state.at("params");
        }
        // Averaging from epoch 3, in one sitting.
        o.out = path("_avg.model");
        o.resume = false;
        o.average_from = 3;
        o.epochs = 5;
        train_model(ds, o);
        RecModel a = load_model(o.out);
        CHECK(a.state.at("params") == p[5]);  // averaging does not touch the training itself
        const auto& avg = a.state.at("average_params");
        REQUIRE(avg.size() == p[5].size());
        std::vector<float> mean(avg.size());
        double worst = 0;
        for (size_t k = 0; k < avg.size(); k++) {
            const double m = (double(p[3][k]) + double(p[4][k]) + double(p[5][k])) / 3.0;
            mean[k] = float(m);
            worst = std::max(worst, std::abs(double(avg[k]) - m));
        }
        CHECK(worst < 1e-6);
        // The scoring embeddings are the averaged model's.
        std::vector<float> F;
        if (std::string(kind) == "lightgcn") {
            F.resize(size_t((ds.n_users + ds.n_items) * 8));
            lightgcn_propagate_ref(bipartite_norm_adj(ds.train), mean.data(), 8, 3, F.data());
        } else {
            Gnn g;
            GnnConfig gc;
            gc.base = o.cfg;
            gc.attention = true;
            gc.heads = 2;
            g.init(ds.train, gc);
            g.params.assign(mean.begin(), mean.end());
            F = g.final_embeddings();
        }
        double femb = 0;
        for (size_t k = 0; k < a.user_emb.size(); k++) femb = std::max(femb, double(std::abs(a.user_emb[k] - F[k])));
        for (size_t k = 0; k < a.item_emb.size(); k++)
            femb = std::max(femb, double(std::abs(a.item_emb[k] - F[a.user_emb.size() + k])));
        CHECK(femb < 1e-5);
        // Two sittings: averaging from epoch 3 to epoch 4, then resumed to 5 with --average-from
        // `second` (nullopt: not given, the checkpoint's averaging continues).
        const auto two_sittings = [&](const char* name, std::optional<int64_t> second) {
            o.out = path(name);
            o.resume = false;
            o.override_average = false;
            o.average_from = 3;
            o.epochs = 4;
            train_model(ds, o);
            o.resume = true;
            o.override_average = second.has_value();
            o.average_from = second.value_or(0);
            o.epochs = 5;
            train_model(ds, o);
            return load_model(o.out);
        };
        RecModel b = two_sittings("_avg2.model", std::nullopt);  // the same bits as one sitting
        CHECK(b.state.at("average_params") == avg);
        CHECK(b.user_emb == a.user_emb);
        CHECK(b.item_emb == a.item_emb);
        // A different start restarts the mean: from epoch 5 it is epoch 5's parameters.
        CHECK(two_sittings("_avg3.model", 5).state.at("average_params") == p[5]);
        // Turned off (0): no averaged state, scoring embeddings of the iterate (as the plain run).
        RecModel c = two_sittings("_avg4.model", 0);
        CHECK(c.state.count("average_params") == 0);
        CHECK(c.user_emb == load_model(path("_plain.model")).user_emb);
    }
    TrainOptions svd;  // closed-form models have no epochs to average: a clear error, not a silent no-op
    svd.model = "svd";
    svd.cfg.dim = 4;
    svd.average_from = 1;
    svd.out = (dir / "svd.model").string();
    CHECK_THROWS_WITH(train_model(ds, svd), doctest::Contains("--average-from"));
    fs::remove_all(dir);
}
