// test_metrics.cpp — ranking metrics vs hand-computed values and a brute-force full-sort reference.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "graph/metrics.h"
#include "tensor/common.h"
#include "tensor/parallel.h"
#include "test_util.h"

using namespace tg;
using namespace tg::graph;

TEST_CASE("metrics: one user, hand-computed Recall/Precision/NDCG/HR") {
    // Ranked list: hits at positions 0 and 3 (items 7 and 2); test = {2, 5, 7} (item 5 missed).
    std::vector<int32_t> ranked = {7, 1, 9, 2, 4};
    std::vector<int32_t> test = {2, 5, 7};
    std::vector<int> ks = {1, 3, 5};
    double rec[3] = {}, nd[3] = {}, pr[3] = {}, hr[3] = {};
    accumulate_user(ranked.data(), 5, test, ks, rec, nd, pr, hr);
    // K=1: 1 hit. recall 1/3, precision 1, ndcg = 1/1 (idcg over min(3,1)=1 position), hr 1.
    CHECK(rec[0] == doctest::Approx(1.0 / 3));
    CHECK(pr[0] == doctest::Approx(1.0));
    CHECK(nd[0] == doctest::Approx(1.0));
    CHECK(hr[0] == 1.0);
    // K=3: 1 hit (pos 0). idcg = 1 + 1/log2(3) + 1/2.
    const double idcg3 = 1 + 1 / std::log2(3.0) + 0.5;
    CHECK(rec[1] == doctest::Approx(1.0 / 3));
    CHECK(pr[1] == doctest::Approx(1.0 / 3));
    CHECK(nd[1] == doctest::Approx(1.0 / idcg3));
    // K=5: hits at 0 and 3: dcg = 1 + 1/log2(5); idcg still over 3 positions.
    CHECK(rec[2] == doctest::Approx(2.0 / 3));
    CHECK(pr[2] == doctest::Approx(2.0 / 5));
    CHECK(nd[2] == doctest::Approx((1 + 1 / std::log2(5.0)) / idcg3));
    CHECK(hr[2] == 1.0);
}

TEST_CASE("metrics: top-K selection masks training items and breaks ties by index") {
    std::vector<float> s = {0.5f, 0.9f, 0.9f, 0.1f, 0.7f, 0.9f};
    std::vector<int32_t> mask = {2};
    std::vector<int32_t> out(4);
    int64_t n = topk_row(s.data(), 6, mask.data(), 1, 4, out.data());
    CHECK(n == 4);
    CHECK(out == std::vector<int32_t>{1, 5, 4, 0});
    // Fewer candidates than K.
    std::vector<int32_t> all = {0, 1, 2, 3, 4};
    n = topk_row(s.data(), 6, all.data(), 5, 4, out.data());
    CHECK(n == 1);
    CHECK(out[0] == 5);
}

TEST_CASE("metrics: evaluate_embeddings equals the brute-force reference") {
    const int64_t U = 150, I = 90, D = 8;
    auto Ue = test::rand_vec(size_t(U * D), 1), Ve = test::rand_vec(size_t(I * D), 2);
    auto r = test::rand_vec(size_t(U * I), 3, 0.f, 1.f);
    Csr train;
    train.rows = U;
    train.cols = I;
    train.indptr.push_back(0);
    std::vector<std::vector<int32_t>> test(static_cast<size_t>(U));
    for (int64_t u = 0; u < U; u++) {
        for (int64_t i = 0; i < I; i++) {
            const float x = r[size_t(u * I + i)];
            if (u % 7 == 0 && x < 0.95f) train.indices.push_back(int32_t(i));  // heavy users: few candidates
            else if (x < 0.10f) train.indices.push_back(int32_t(i));
            else if (x < 0.16f && u % 5 != 0) test[size_t(u)].push_back(int32_t(i));  // every 5th user: no test
        }
        train.indptr.push_back(train.nnz());
    }
    std::vector<int> ks = {5, 10, 20};
    Metrics ref = evaluate_embeddings_ref(Ue.data(), Ve.data(), U, I, D, train, test, ks);
    for (int th : {1, 2}) {
        set_num_threads(th);
        Metrics got = evaluate_embeddings(Ue.data(), Ve.data(), U, I, D, train, test, ks);
        CHECK(got.n_users == ref.n_users);
        for (size_t q = 0; q < ks.size(); q++) {
            CHECK(got.recall[q] == doctest::Approx(ref.recall[q]).epsilon(1e-12));
            CHECK(got.ndcg[q] == doctest::Approx(ref.ndcg[q]).epsilon(1e-12));
            CHECK(got.precision[q] == doctest::Approx(ref.precision[q]).epsilon(1e-12));
            CHECK(got.hr[q] == doctest::Approx(ref.hr[q]).epsilon(1e-12));
        }
    }
    set_num_threads(0);
    CHECK(ref.n_users > 50);
    CHECK(ref.recall[2] > 0.0);
    Metrics m = evaluate_embeddings(Ue.data(), Ve.data(), U, I, D, train, test, ks);
    CHECK(m.to_json().find("\"recall@20\":") != std::string::npos);
    CHECK_THROWS_AS(m.get("recall", 50), tg::Error);
}
