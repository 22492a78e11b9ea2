// test_svd.cpp — Jacobi, block Krylov and randomized SVD vs numpy's LAPACK singular values (fixture),
// orthogonality and reconstruction; the Krylov SVD vs the dense Jacobi reference on random sparse
// matrices (both orientations, a converged stop before the basis is full, ISA paths and thread counts
// bitwise equal); the symmetric eigensolver vs Jacobi; PureSVD factors and popularity counts from their
// definitions.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "graph/popularity.h"
#include "graph/svd.h"
#include "tensor/cpu_isa.h"
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

// A random sparse [rows, cols] matrix with weights: entry (r, c) present with probability dens, value
// in (0, 1]; plus, when lowrank > 0, a dense rank-`lowrank` part with geometrically decaying strengths
// (so the leading singular values are separated and a Krylov run converges before its basis is full).
Case random_case(int64_t rows, int64_t cols, float dens, uint64_t seed, int lowrank = 0) {
    Case k;
    k.rows = rows;
    k.cols = cols;
    auto u = test::rand_vec(size_t(rows * cols), seed, 0.f, 1.f);
    auto w = test::rand_vec(size_t(rows * cols), seed + 1, 0.f, 1.f);
    auto x = test::rand_vec(size_t(rows * lowrank), seed + 2);
    auto y = test::rand_vec(size_t(cols * lowrank), seed + 3);
    k.dense.assign(size_t(rows * cols), 0.0);
    k.R.rows = rows;
    k.R.cols = cols;
    k.R.indptr.push_back(0);
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++) {
            double v = u[size_t(r * cols + c)] < dens ? 1.0 - w[size_t(r * cols + c)] : 0.0;
            for (int t = 0; t < lowrank; t++) v += 3.0 * std::pow(0.7, t) * x[size_t(r * lowrank + t)] * y[size_t(c * lowrank + t)];
            if (v == 0) continue;
            k.R.indices.push_back(int32_t(c));
            k.R.values.push_back(float(v));
            k.dense[size_t(r * cols + c)] = double(float(v));
        }
        k.R.indptr.push_back(k.R.nnz());
    }
    return k;
}

// max over the k leading triplets of |A v_j - s_j u_j| and |Aᵀ u_j - s_j v_j|, and of |VᵀV - I|, |UᵀU - I|
void check_triplets(const Case& c, const SvdResult& s, int64_t k, double tol) {
    double res = 0, orth = 0;
    for (int64_t j = 0; j < k; j++) {
        for (int64_t r = 0; r < c.rows; r++) {
            double av = 0;
            for (int64_t t = 0; t < c.cols; t++) av += c.dense[size_t(r * c.cols + t)] * s.V[size_t(t * k + j)];
            res = std::max(res, std::fabs(av - s.s[size_t(j)] * s.U[size_t(r * k + j)]));
        }
        for (int64_t t = 0; t < c.cols; t++) {
            double au = 0;
            for (int64_t r = 0; r < c.rows; r++) au += c.dense[size_t(r * c.cols + t)] * s.U[size_t(r * k + j)];
            res = std::max(res, std::fabs(au - s.s[size_t(j)] * s.V[size_t(t * k + j)]));
        }
        for (int64_t i = 0; i <= j; i++) {
            double uu = 0, vv = 0;
            for (int64_t r = 0; r < c.rows; r++) uu += s.U[size_t(r * k + i)] * s.U[size_t(r * k + j)];
            for (int64_t t = 0; t < c.cols; t++) vv += s.V[size_t(t * k + i)] * s.V[size_t(t * k + j)];
            orth = std::max({orth, std::fabs(uu - (i == j)), std::fabs(vv - (i == j))});
        }
    }
    CHECK(res < tol * s.s[0]);
    CHECK(orth < tol);
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

TEST_CASE("svd: symmetric_eigen matches Jacobi on a symmetric positive definite matrix; A z = λ z") {
    for (int64_t n : {1, 2, 7, 40}) {
        auto g = test::rand_vec(size_t(n * n), 11 + uint64_t(n));
        std::vector<double> A(size_t(n * n), 0.0);  // A = G Gᵀ + I/2 (its eigenvalues = its singular values)
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) {
                for (int64_t t = 0; t < n; t++) A[size_t(i * n + j)] += double(g[size_t(i * n + t)]) * g[size_t(j * n + t)];
                if (i == j) A[size_t(i * n + j)] += 0.5;
            }
        std::vector<double> w, Z, w2;
        symmetric_eigen(A, n, w, &Z);
        symmetric_eigen(A, n, w2, nullptr);
        SvdResult ref = jacobi_svd(A, n, n);
        for (int64_t j = 0; j < n; j++) {
            CHECK(w[size_t(j)] == doctest::Approx(ref.s[size_t(n - 1 - j)]).epsilon(1e-12));
            CHECK(w2[size_t(j)] == doctest::Approx(w[size_t(j)]).epsilon(1e-13));
        }
        double res = 0, orth = 0;
        for (int64_t j = 0; j < n; j++) {
            for (int64_t i = 0; i < n; i++) {
                double az = 0;
                for (int64_t t = 0; t < n; t++) az += A[size_t(i * n + t)] * Z[size_t(j * n + t)];
                res = std::max(res, std::fabs(az - w[size_t(j)] * Z[size_t(j * n + i)]));
            }
            for (int64_t i = 0; i < n; i++) {
                double zz = 0;
                for (int64_t t = 0; t < n; t++) zz += Z[size_t(i * n + t)] * Z[size_t(j * n + t)];
                orth = std::max(orth, std::fabs(zz - (i == j)));
            }
        }
        CHECK(res < 1e-12 * w.back());
        CHECK(orth < 1e-12);
    }
}

TEST_CASE("svd: block Krylov SVD matches numpy on the fixture matrices to 1e-12") {
    for (const Case& c : load_cases()) {
        const int64_t k = 8;
        SvdResult s = krylov_svd(c.R, k, {16, 0, 1e-14, 42});
        for (int64_t j = 0; j < k; j++) {
            INFO("case ", c.rows, "x", c.cols, " sigma ", j);
            CHECK(std::fabs(s.s[size_t(j)] - c.sv[size_t(j)]) <= 1e-12 * c.sv[size_t(j)]);
        }
        check_triplets(c, s, k, 1e-10);
    }
}

TEST_CASE("svd: block Krylov SVD agrees with the dense Jacobi reference on random sparse matrices") {
    // tall and wide (the basis lives on the shorter side), flat-spectrum sparse and low-rank-plus-sparse
    struct Shape { int64_t rows, cols; float dens; int lowrank; int64_t k; };
    for (const Shape sh : {Shape{130, 90, 0.06f, 0, 12}, Shape{70, 150, 0.05f, 0, 9}, Shape{260, 200, 0.02f, 12, 10}}) {
        Case c = random_case(sh.rows, sh.cols, sh.dens, 100 + uint64_t(sh.rows), sh.lowrank);
        SvdResult ref = jacobi_svd(c.dense, c.rows, c.cols);
        SvdResult s = krylov_svd(c.R, sh.k, {8, 0, 1e-14, 3});
        INFO("shape ", sh.rows, "x", sh.cols, ": ", s.iters, " steps, basis ", s.krylov_dim);
        for (int64_t j = 0; j < sh.k; j++) CHECK(std::fabs(s.s[size_t(j)] - ref.s[size_t(j)]) <= 1e-12 * ref.s[size_t(j)]);
        check_triplets(c, s, sh.k, 1e-10);
        if (sh.lowrank) CHECK(s.krylov_dim < std::min(c.rows, c.cols));  // stopped by the Ritz-value test
    }
}

TEST_CASE("svd: block Krylov SVD — max_iters caps the steps (not below k); same result for any thread count and ISA path") {
    Case c = random_case(150, 110, 0.05f, 77);
    SvdResult capped = krylov_svd(c.R, 6, {4, 3, 1e-14, 5});
    CHECK(capped.iters == 3);
    CHECK(capped.krylov_dim == 24);
    CHECK(krylov_svd(c.R, 20, {4, 1, 1e-14, 5}).krylov_dim == 24);  // a cap below k: runs on until dim >= k
    // large enough that the projections and products run multi-threaded (kParallelWork)
    c = random_case(1600, 1200, 0.005f, 78);
    const int saved = num_threads();
    set_num_threads(1);
    SvdResult one = krylov_svd(c.R, 6, {4, 0, 1e-14, 5});
    set_num_threads(2);
    SvdResult two = krylov_svd(c.R, 6, {4, 0, 1e-14, 5});
    const Isa isa = cpu_isa();
    set_cpu_isa(Isa::scalar);
    SvdResult scalar = krylov_svd(c.R, 6, {4, 0, 1e-14, 5});
    set_cpu_isa(Isa::avx2);  // clamped to what the CPU has
    SvdResult avx2 = krylov_svd(c.R, 6, {4, 0, 1e-14, 5});
    set_cpu_isa(isa);
    set_num_threads(saved);
    CHECK(one.s == two.s);
    CHECK(one.V == two.V);
    CHECK(one.s == scalar.s);
    CHECK(one.U == scalar.U);
    CHECK(avx2.s == scalar.s);
    CHECK(avx2.U == scalar.U);
}
