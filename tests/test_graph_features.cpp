// test_graph_features.cpp — node features for LightGCN/GCN/GAT (graph/node_features.h): the projection
// kernels vs their scalar references, the gradients of E0 = E + X W (dW and dE) vs finite differences,
// X = 0 reproducing the featureless models bit for bit, thread-count independence, the feature/ids file
// loader (alignment, counts, errors naming file and row), and a trainer run with features resumed
// bit-identically.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <vector>

#include "graph/gnn.h"
#include "graph/lightgcn.h"
#include "graph/model_io.h"
#include "graph/node_features.h"
#include "graph/trainer.h"
#include "tensor/npy.h"
#include "tensor/parallel.h"
#include "test_check.h"
#include "test_util.h"

using namespace tg;
using namespace tg::graph;
namespace fs = std::filesystem;

namespace {

// Every user has item u % I and misses item (u + 1) % I; others with probability p.
Csr small_interactions(int64_t U, int64_t I, uint64_t seed, float p) {
    auto r = test::rand_vec(size_t(U * I), seed, 0.f, 1.f);
    Csr R;
    R.rows = U;
    R.cols = I;
    R.indptr.push_back(0);
    for (int64_t u = 0; u < U; u++) {
        for (int64_t i = 0; i < I; i++)
            if (i != (u + 1) % I && (i == u % I || r[size_t(u * I + i)] < p)) R.indices.push_back(int32_t(i));
        R.indptr.push_back(R.nnz());
    }
    return R;
}

// Random features for n nodes of width F; row `zero_row` (if >= 0) stays zero, as for a node the
// features file does not name.
NodeFeatures random_features(int64_t n, int64_t F, uint64_t seed, int64_t zero_row = -1) {
    NodeFeatures f;
    f.n = n;
    f.F = F;
    f.X = test::rand_vec(size_t(n * F), seed, -1.f, 1.f);
    if (zero_row >= 0) std::fill_n(f.X.begin() + zero_row * F, F, 0.f);
    f.rows = f.matched = n;
    f.checksum = feature_checksum(f.X);
    return f;
}

struct TempDir {
    fs::path p;
    TempDir() : p(fs::temp_directory_path() / ("tg_features_test_" + std::to_string(::getpid()))) {
        fs::create_directories(p);
    }
    ~TempDir() { fs::remove_all(p); }
    std::string file(const std::string& name, const std::string& text = "") const {
        const std::string path = (p / name).string();
        if (!text.empty()) std::ofstream(path) << text;
        return path;
    }
};

}  // namespace

TEST_CASE("features: projection forward and backward equal the scalar references") {
    const int64_t n = 37, F = 19, D = 24;
    auto X = test::rand_vec(size_t(n * F), 1), W = test::rand_vec(size_t(F * D), 2), E = test::rand_vec(size_t(n * D), 3);
    auto dE = test::rand_vec(size_t(n * D), 4);
    std::vector<float> a = E, b = E, dWa(size_t(F * D), 7.f), dWb(size_t(F * D));
    feature_proj_forward(X.data(), n, F, W.data(), D, a.data());
    feature_proj_forward_ref(X.data(), n, F, W.data(), D, b.data());
    for (size_t q = 0; q < a.size(); q++) REQUIRE(a[q] == doctest::Approx(b[q]).epsilon(1e-5).scale(1));
    feature_proj_backward(X.data(), n, F, dE.data(), D, dWa.data());
    feature_proj_backward_ref(X.data(), n, F, dE.data(), D, dWb.data());
    for (size_t q = 0; q < dWa.size(); q++) REQUIRE(dWa[q] == doctest::Approx(dWb[q]).epsilon(1e-5).scale(1));
}

TEST_CASE("features: LightGCN gradients of E and W match finite differences") {
    const int64_t U = 6, I = 5, D = 3;
    Csr R = small_interactions(U, I, 5, 0.35f);
    set_num_threads(1);  // hundreds of tiny evaluations: no thread start-up per kernel
    LightGcn m;
    LightGcnConfig cfg;
    cfg.dim = int(D);
    cfg.layers = 2;
    cfg.reg = 0.05f;        // large enough that the L2 term's path into W is visible
    cfg.init_std = 0.5f;    // O(1) scores: the BPR term's gradient is not tiny
    m.init(R, cfg);
    m.set_features(random_features(U, 2, 7), random_features(I, 4, 8, /*zero_row=*/3));
    REQUIRE(m.feat.W.size() == size_t((2 + 4) * D));
    std::vector<Triple> batch(8);
    sample_bpr(m.R, m.active, 9, 0, 0, 8, batch.data());
    std::vector<float> gE(m.E0.size()), scratch(m.E0.size());
    m.loss_and_grad(batch.data(), 8, gE.data());
    const std::vector<float> gW = m.feat.dW;
    // Central differences of the loss in float (eps 1e-3: truncation ~1e-6, rounding ~1e-4).
    auto fd = [&](float& x) {
        const float x0 = x;
        x = x0 + 1e-3f;
        const double lp = m.loss_and_grad(batch.data(), 8, scratch.data());
        x = x0 - 1e-3f;
        const double lm = m.loss_and_grad(batch.data(), 8, scratch.data());
        x = x0;
        return (lp - lm) / 2e-3;
    };
    // Per entry, and for the whole vector (a 1% error in every entry must not hide under the
    // per-entry absolute slack): |g - fd| / |fd| below 0.2% (FD noise is ~1e-4 of it).
    double err = 0, norm = 0;
    for (size_t q = 0; q < gW.size(); q++) {
        const double f = fd(m.feat.W[q]);
        INFO("W entry ", q, " analytic ", gW[q], " fd ", f);
        CHECK(std::fabs(gW[q] - f) <= 2e-4 + 1e-2 * std::fabs(f));
        err += (gW[q] - f) * (gW[q] - f), norm += f * f;
    }
    MESSAGE("LightGCN dW: |fd| = ", std::sqrt(norm), ", relative error ", std::sqrt(err / norm));
    CHECK(std::sqrt(norm) > 1e-2);  // the check is not vacuous
    CHECK(std::sqrt(err / norm) < 2e-3);
    err = norm = 0;
    for (size_t q = 0; q < gE.size(); q++) {
        const double f = fd(m.E0[q]);
        INFO("E entry ", q, " analytic ", gE[q], " fd ", f);
        CHECK(std::fabs(gE[q] - f) <= 2e-4 + 1e-2 * std::fabs(f));
        err += (gE[q] - f) * (gE[q] - f), norm += f * f;
    }
    MESSAGE("LightGCN dE: |fd| = ", std::sqrt(norm), ", relative error ", std::sqrt(err / norm));
    CHECK(std::sqrt(err / norm) < 2e-3);
    set_num_threads(0);
}

TEST_CASE("features: GCN and GAT input-layer gradients (E and W) match finite differences") {
    Csr R = small_interactions(6, 5, 11, 0.35f);
    set_num_threads(1);
    for (bool attention : {false, true}) {
        GnnConfig cfg;
        cfg.base.dim = 4;
        cfg.base.layers = 2;
        cfg.base.reg = 0.05f;
        cfg.base.init_std = 0.5f;
        cfg.attention = attention;
        cfg.heads = 2;
        Gnn g;
        g.init(R, cfg);
        g.set_features(NodeFeatures{}, random_features(5, 3, 12, /*zero_row=*/1));
        std::vector<Triple> batch(8);
        sample_bpr(g.R, g.active, 5, 0, 0, 8, batch.data());
        std::vector<float> grad(size_t(g.n_params())), scratch(grad.size());
        g.loss_and_grad(batch.data(), 8, grad.data());
        const std::vector<float> gW = g.feat.dW;
        auto fd = [&](float& x) {
            const float x0 = x;
            x = x0 + 1e-3f;
            const double lp = g.loss_and_grad(batch.data(), 8, scratch.data());
            x = x0 - 1e-3f;
            const double lm = g.loss_and_grad(batch.data(), 8, scratch.data());
            x = x0;
            return (lp - lm) / 2e-3;
        };
        const std::string name = attention ? "GAT" : "GCN";
        double err = 0, norm = 0;
        for (size_t q = 0; q < gW.size(); q++) {
            const double f = fd(g.feat.W[q]);
            INFO(name, " W entry ", q, " analytic ", gW[q], " fd ", f);
            CHECK(std::fabs(gW[q] - f) <= 5e-4 + 2e-2 * std::fabs(f));
            err += (gW[q] - f) * (gW[q] - f), norm += f * f;
        }
        MESSAGE(name, " dW: |fd| = ", std::sqrt(norm), ", relative error ", std::sqrt(err / norm));
        CHECK(std::sqrt(norm) > 1e-2);
        CHECK(std::sqrt(err / norm) < 2e-3);
        err = norm = 0;
        const size_t NE = size_t((g.U + g.I) * 4);  // the ego embeddings (layer weights: gnn tests)
        for (size_t q = 0; q < NE; q++) {
            const double f = fd(g.params[q]);
            INFO(name, " E entry ", q, " analytic ", grad[q], " fd ", f);
            CHECK(std::fabs(grad[q] - f) <= 5e-4 + 2e-2 * std::fabs(f));
            err += (grad[q] - f) * (grad[q] - f), norm += f * f;
        }
        MESSAGE(name, " dE: |fd| = ", std::sqrt(norm), ", relative error ", std::sqrt(err / norm));
        CHECK(std::sqrt(err / norm) < 2e-3);
    }
    set_num_threads(0);
}

TEST_CASE("features: with X = 0 LightGCN and GAT train exactly as without features") {
    Csr R = small_interactions(30, 20, 13, 0.2f);
    const NodeFeatures zu = [] { NodeFeatures f = random_features(30, 5, 1); std::fill(f.X.begin(), f.X.end(), 0.f); return f; }();
    const NodeFeatures zi = [] { NodeFeatures f = random_features(20, 7, 2); std::fill(f.X.begin(), f.X.end(), 0.f); return f; }();
    auto run_lightgcn = [&](bool features) {
        LightGcnConfig cfg;
        cfg.dim = 8;
        cfg.batch = 64;
        cfg.lr = 0.01f;
        LightGcn m;
        m.init(R, cfg);
        if (features) m.set_features(zu, zi);
        for (int ep = 0; ep < 2; ep++, m.epoch++)
            for (int64_t b = 0; b < m.batches_per_epoch(); b++) m.train_batch(b);
        CHECK(m.feat.enabled() == features);
        return std::pair{m.E0, m.final_embeddings()};
    };
    auto a = run_lightgcn(false), b = run_lightgcn(true);
    CHECK(a.first == b.first);
    CHECK(a.second == b.second);
    auto run_gat = [&](bool features) {
        GnnConfig cfg;
        cfg.base.dim = 8;
        cfg.base.layers = 2;
        cfg.base.batch = 64;
        cfg.base.lr = 0.01f;
        cfg.attention = true;
        cfg.heads = 2;
        Gnn g;
        g.init(R, cfg);
        if (features) g.set_features(zu, zi);
        for (int64_t b = 0; b < g.batches_per_epoch(); b++) g.train_batch(b);
        return std::pair{g.params, g.final_embeddings()};
    };
    auto c = run_gat(false), d = run_gat(true);
    CHECK(c.first == d.first);
    CHECK(c.second == d.second);
}

TEST_CASE("features: LightGCN training with features is bit-identical for 1 and 2 threads") {
    Csr R = small_interactions(30, 20, 17, 0.2f);
    auto run = [&](int threads) {
        set_num_threads(threads);
        LightGcnConfig cfg;
        cfg.dim = 8;
        cfg.batch = 64;
        cfg.lr = 0.01f;
        LightGcn m;
        m.init(R, cfg);
        m.set_features(random_features(30, 5, 3), random_features(20, 7, 4, /*zero_row=*/2));
        for (int64_t b = 0; b < m.batches_per_epoch(); b++) m.train_batch(b);
        return std::pair{m.E0, m.feat.W};
    };
    auto a = run(1), b = run(2);
    set_num_threads(0);
    CHECK(a.first == b.first);
    CHECK(a.second == b.second);
}

TEST_CASE("features: files are aligned to the graph's ids; unknown and missing ids are counted") {
    TempDir t;
    IdMap items;
    for (const char* s : {"apple", "pear", "fig", "kiwi"}) items.get_or_add(s);
    // 3 rows: fig, plum (not in the graph), apple; pear and kiwi have no row.
    const std::vector<float> X = {1, 2, 3, 4, 5, 6};
    save_npy(t.file("f.npy"), X.data(), {3, 2});
    for (const auto& [ids, col] : {std::pair{t.file("ids.txt", "fig\nplum\napple\n"), ""},
                                   std::pair{t.file("items.csv", "title,item_id\n\"a, b\",fig\nc,plum\nd,apple\n"), "item_id"},
                                   std::pair{t.file("items.jsonl", "{\"id\":\"fig\"}\n{\"id\":\"plum\"}\n{\"id\":\"apple\"}\n"), "id"}}) {
        INFO(ids);
        NodeFeatures f = load_node_features({t.file("f.npy"), ids, col}, items, "item");
        CHECK(f.n == 4);
        CHECK(f.F == 2);
        CHECK(f.rows == 3);
        CHECK(f.matched == 2);
        CHECK(f.unknown == 1);
        CHECK(f.missing == 2);
        CHECK(f.X == std::vector<float>{5, 6, 0, 0, 1, 2, 0, 0});  // apple, pear, fig, kiwi
        CHECK(f.summary("item").find("1 ids not in the graph") != std::string::npos);
    }
    // Integer ids in JSONL name items "7", "8".
    IdMap num;
    num.get_or_add("8");
    NodeFeatures g = load_node_features({t.file("f.npy"), t.file("n.jsonl", "{\"i\":7}\n{\"i\":8}\n{\"i\":9}\n"), "i"}, num, "item");
    CHECK(g.X == std::vector<float>{3, 4});
}

TEST_CASE("features: bad feature and id files give errors naming the file and the row") {
    TempDir t;
    IdMap items;
    for (const char* s : {"a", "b", "c"}) items.get_or_add(s);
    const std::vector<float> X = {1, 2, 3, 4, 5, 6};
    const std::string npy = t.file("f.npy");
    save_npy(npy, X.data(), {3, 2});
    auto load = [&](const std::string& f, const std::string& ids, const std::string& col = "") {
        return [=, &items] { load_node_features({f, ids, col}, items, "item"); };
    };
    // A missing id: the .npy has a row more than the ids file names.
    test::check_error(load(npy, t.file("short.txt", "a\nb\n")), {"short.txt", "names 2 item ids", "3 rows", "row 2 of"});
    // An extra id: one more id than rows.
    test::check_error(load(npy, t.file("long.txt", "a\nb\nc\nd\n")), {"long.txt", "names 4", "'d' (row 3)"});
    test::check_error(load(npy, t.file("dup.txt", "a\nb\na\n")), {"dup.txt", "row 2", "'a' already named row 0"});
    test::check_error(load(npy, t.file("empty.txt", "a\n\nc\n")), {"empty.txt:2", "empty id", "row 1"});
    // Ragged CSV (a record with a missing field) and a missing id column.
    test::check_error(load(npy, t.file("rag.csv", "item_id,title\na,x\nb\nc,z\n"), "item_id"), {"rag.csv:3"});
    test::check_error(load(npy, t.file("col.csv", "id,title\na,x\n"), "item_id"), {"col.csv", "item_id"});
    test::check_error(load(npy, t.file("j.jsonl", "{\"id\":\"a\"}\n{\"name\":\"b\"}\n{\"id\":\"c\"}\n"), "id"),
                      {"j.jsonl:2", "field 'id'", "row 1"});
    // Wrong width / shape / dtype of the .npy.
    const std::string one_d = t.file("1d.npy"), three_d = t.file("3d.npy"), ints = t.file("i.npy");
    save_npy(one_d, X.data(), {6});
    save_npy(three_d, X.data(), {3, 1, 2});
    const std::vector<int64_t> I = {1, 2, 3, 4, 5, 6};
    save_npy(ints, I.data(), {3, 2});
    const std::string ok_ids = t.file("ok.txt", "a\nb\nc\n");
    test::check_error(load(one_d, ok_ids), {"1d.npy", "2-D float32", "[6]"});
    test::check_error(load(three_d, ok_ids), {"3d.npy", "2-D float32", "3 dimension"});
    test::check_error(load(ints, ok_ids), {"i.npy", "2-D float32", "i64"});
    // A non-finite value names its row and column.
    std::vector<float> bad = X;
    bad[3] = NAN;
    save_npy(t.file("nan.npy"), bad.data(), {3, 2});
    test::check_error(load(t.file("nan.npy"), ok_ids), {"nan.npy", "row 1", "'b'", "column 1"});
    test::check_error(load(npy, t.file("none.txt")), {"none.txt", "does not exist"});
}

TEST_CASE("features: a trainer run with item features resumes bit-identically and checks its files") {
    TempDir t;
    Dataset ds;
    ds.train = small_interactions(40, 25, 21, 0.2f);
    ds.n_users = 40;
    ds.n_items = 25;
    ds.test.assign(40, {});
    for (int32_t u = 0; u < 40; u++) ds.test[size_t(u)].push_back(int32_t((u + 1) % 25));
    for (int32_t u = 0; u < 40; u++) ds.users.get_or_add("u" + std::to_string(u));
    for (int32_t i = 0; i < 25; i++) ds.items.get_or_add("i" + std::to_string(i));
    ds.source = "test";
    // Features for items i0..i22 plus one unknown id; i23 and i24 get zero rows.
    std::string ids;
    for (int i = 0; i < 23; i++) ids += "i" + std::to_string(i) + "\n";
    ids += "nope\n";
    const auto X = test::rand_vec(24 * 6, 31);
    save_npy(t.file("items.npy"), X.data(), {24, 6});
    const FeatureSpec spec{t.file("items.npy"), t.file("ids.txt", ids), ""};
    for (const char* kind : {"lightgcn", "gcn"}) {
        INFO(kind);
        TrainOptions o;
        o.model = kind;
        o.cfg.dim = 8;
        o.cfg.layers = 2;
        o.cfg.batch = 100;
        o.cfg.lr = 0.01f;
        o.quiet = true;
        o.item_features = spec;
        o.epochs = 3;
        o.out = t.file(std::string(kind) + "_full.model");
        train_model(ds, o);
        o.out = t.file(std::string(kind) + "_resumed.model");
        o.epochs = 1;
        train_model(ds, o);
        o.epochs = 3;
        o.resume = true;
        train_model(ds, o);
        RecModel a = load_model(t.file(std::string(kind) + "_full.model"));
        RecModel b = load_model(o.out);
        CHECK(a.state.at("feat_W").size() == 6 * 8);
        CHECK(a.state.at("feat_W") == b.state.at("feat_W"));
        CHECK(a.state.at("feat_adam_v") == b.state.at("feat_adam_v"));
        CHECK(a.state.at("params") == b.state.at("params"));
        CHECK(a.item_emb == b.item_emb);
        CHECK(a.config_json.find("\"item_features\":{\"F\":6") != std::string::npos);
        // Resuming without the features, or with different ones, is refused.
        TrainOptions r = o;
        r.epochs = 4;
        r.item_features = {};
        test::check_error([&] { train_model(ds, r); }, {"trained with --item-features", "items.npy", "width 6"});
        auto Y = X;
        Y[0] += 1;
        save_npy(t.file("other.npy"), Y.data(), {24, 6});
        r.item_features = {t.file("other.npy"), spec.ids, ""};
        test::check_error([&] { train_model(ds, r); }, {"other.npy", "differ"});
        save_npy(t.file("wide.npy"), X.data(), {24 / 2, 12});
        r.item_features = {t.file("wide.npy"), t.file("ids12.txt", "i0\ni1\ni2\ni3\ni4\ni5\ni6\ni7\ni8\ni9\ni10\ni11\n"), ""};
        test::check_error([&] { train_model(ds, r); }, {"wide.npy", "width 12", "width 6"});
    }
    TrainOptions s;
    s.model = "svd";
    s.out = t.file("svd.model");
    s.item_features = spec;
    test::check_error([&] { train_model(ds, s); }, {"svd does not use them"});
}
