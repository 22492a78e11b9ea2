// test_svd.cpp — Jacobi and randomized SVD vs numpy's LAPACK singular values (fixture), orthogonality
// and reconstruction; PureSVD factors and popularity counts from their definitions.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "graph/popularity.h"
#include "graph/svd.h"
#include "tensor/io.h"
#include "tensor/json.h"
#include "tensor/parallel.h"
#include "test_util.h"

using namespace tg;
using namespace tg::graph;

namespace {

struct Case {
    int64_t rows, cols;
    Csr R;
    std::vector<double> dense, sv;
};

// Rebuild the fixture's matrices (same generator as tools/ref/svd_fixture.py).
std::vector<Case> load_cases() {
    auto doc = json::parse(read_file(test::fixture("svd_small.json")), "svd_small.json");
    std::vector<Case> out;
    for (const auto& c : doc.find("cases")->arr) {
        Case k;
        k.rows = c.find("rows")->as_int();
        k.cols = c.find("cols")->as_int();
        const float dens = float(c.find("density")->as_number());
        auto u = test::rand_vec(size_t(k.rows * k.cols), uint64_t(c.find("seed")->as_int()), 0.f, 1.f);
        k.R.rows = k.rows;
        k.R.cols = k.cols;
        k.R.indptr.push_back(0);
        k.dense.assign(size_t(k.rows * k.cols), 0.0);
        for (int64_t r = 0; r < k.rows; r++) {
            for (int64_t j = 0; j < k.cols; j++)
                if (u[size_t(r * k.cols + j)] < dens) k.R.indices.push_back(int32_t(j)), k.dense[size_t(r * k.cols + j)] = 1;
            k.R.indptr.push_back(k.R.nnz());
        }
        REQUIRE(k.R.nnz() == c.find("nnz")->as_int());
        for (const auto& s : c.find("singular_values")->arr) k.sv.push_back(s.as_number());
        out.push_back(std::move(k));
    }
    return out;
}

}  // namespace

TEST_CASE("svd: Jacobi SVD matches numpy and reconstructs the matrix") {
    for (const Case& c : load_cases()) {
        SvdResult s = jacobi_svd(c.dense, c.rows, c.cols);
        const int64_t r = std::min(c.rows, c.cols);
        REQUIRE(int64_t(s.s.size()) == r);
        for (int64_t j = 0; j < r; j++) CHECK(s.s[size_t(j)] == doctest::Approx(c.sv[size_t(j)]).epsilon(1e-10).scale(1e-12));
        double err = 0;
        for (int64_t a = 0; a < c.rows; a++)
            for (int64_t b = 0; b < c.cols; b++) {
                double v = 0;
                for (int64_t j = 0; j < r; j++) v += s.U[size_t(a * r + j)] * s.s[size_t(j)] * s.V[size_t(b * r + j)];
                err = std::max(err, std::fabs(v - c.dense[size_t(a * c.cols + b)]));
            }
        CHECK(err < 1e-10);
    }
}

TEST_CASE("svd: randomized SVD leading singular values within 1e-4 of numpy; orthonormal factors") {
    for (const Case& c : load_cases()) {
        const int64_t k = 8;
        SvdResult s = randomized_svd(c.R, k, 20, 12, 42);  // flat spectra: a few more iterations
        for (int64_t j = 0; j < k; j++) {
            INFO("case ", c.rows, "x", c.cols, " sigma ", j);
            CHECK(std::fabs(s.s[size_t(j)] - c.sv[size_t(j)]) <= 1e-4 * c.sv[size_t(j)]);
        }
        // VᵀV = I and A V = U Σ (the factors are singular vectors, not just the values)
        for (int64_t a = 0; a < k; a++)
            for (int64_t b = 0; b < k; b++) {
                double vv = 0;
                for (int64_t t = 0; t < c.cols; t++) vv += s.V[size_t(t * k + a)] * s.V[size_t(t * k + b)];
                CHECK(vv == doctest::Approx(a == b ? 1.0 : 0.0).scale(1).epsilon(1e-8));
            }
        double err = 0;
        for (int64_t r = 0; r < c.rows; r++)
            for (int64_t j = 0; j < 3; j++) {  // the top singular triplets are the well-converged ones
                double av = 0;
                for (int64_t t = 0; t < c.cols; t++) av += c.dense[size_t(r * c.cols + t)] * s.V[size_t(t * k + j)];
                err = std::max(err, std::fabs(av - s.U[size_t(r * k + j)] * s.s[size_t(j)]));
            }
        CHECK(err < 1e-3);
    }
}

TEST_CASE("svd: orthonormalize_columns gives QᵀQ = I and Q T = A, dropping dependent columns") {
    const int64_t m = 20, n = 5;
    auto a = test::rand_vec(size_t(m * n), 7);
    std::vector<double> A(a.begin(), a.end());
    for (int64_t t = 0; t < m; t++) A[size_t(3 * m + t)] = 2 * A[size_t(1 * m + t)];  // column 3 = 2 x column 1
    std::vector<double> Q = A, T;
    orthonormalize_columns(Q, m, n, &T);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double d = 0;
            for (int64_t t = 0; t < m; t++) d += Q[size_t(i * m + t)] * Q[size_t(j * m + t)];
            const double want = (i == j && i != 3) ? 1.0 : 0.0;
            CHECK(d == doctest::Approx(want).scale(1).epsilon(1e-12));
        }
    for (int64_t t = 0; t < m; t++)
        for (int64_t j = 0; j < n; j++) {
            double v = 0;
            for (int64_t i = 0; i < n; i++) v += Q[size_t(i * m + t)] * T[size_t(i * n + j)];
            CHECK(v == doctest::Approx(A[size_t(j * m + t)]).epsilon(1e-10));
        }
}

TEST_CASE("svd: PureSVD factors score r_u V Vᵀ; popularity counts training users") {
    Case c = load_cases()[0];
    std::vector<float> ue, ie;
    std::vector<double> sig;
    puresvd_factors(c.R, 6, 20, 30, 1, ue, ie, &sig);
    SvdResult ex = jacobi_svd(c.dense, c.rows, c.cols);  // exact V for the reference scores
    const int64_t r = std::min(c.rows, c.cols);
    for (int64_t u = 0; u < c.rows; u += 7)
        for (int64_t i = 0; i < c.cols; i += 3) {
            double want = 0, got = 0;
            for (int64_t t = 0; t < c.cols; t++)
                for (int64_t j = 0; j < 6; j++)
                    want += c.dense[size_t(u * c.cols + t)] * ex.V[size_t(t * r + j)] * ex.V[size_t(i * r + j)];
            for (int64_t j = 0; j < 6; j++) got += double(ue[size_t(u * 6 + j)]) * ie[size_t(i * 6 + j)];
            CHECK(got == doctest::Approx(want).scale(1).epsilon(1e-4));
        }
    std::vector<float> pu, pi;
    popularity_factors(c.R, pu, pi);
    for (int64_t i = 0; i < c.cols; i++) {
        double cnt = 0;
        for (int64_t u = 0; u < c.rows; u++) cnt += c.dense[size_t(u * c.cols + i)];
        CHECK(pi[size_t(i)] == float(cnt));
    }
    CHECK(pu[0] == 1.f);
}
