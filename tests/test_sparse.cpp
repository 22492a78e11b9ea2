// test_sparse.cpp — sparse kernels vs dense double references, finite differences and thread counts.
//
// Graphs are random with empty rows and one hub row/column that touches everything (very skewed
// degrees). Forwards are checked against a dense double-precision product written independently here;
// backwards against central finite differences of those dense double forwards (eps 1e-6, so the
// difference quotient is accurate to ~1e-9 and the tolerance only has to absorb float rounding).
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "graph/sparse.h"
#include "tensor/cpu_isa.h"
#include "tensor/parallel.h"
#include "test_util.h"

using namespace tg;
using namespace tg::graph;

namespace {

// Random CSR: ~25% empty rows, row 1 and column 2 dense (hubs), other rows sparse. Weighted.
Csr random_csr(int64_t R, int64_t C, uint64_t seed, bool weighted = true) {
    auto u = test::rand_vec(size_t(R * C), seed, 0.f, 1.f);
    auto v = test::rand_vec(size_t(R * C), seed + 7, 0.25f, 1.5f);
    Csr A;
    A.rows = R;
    A.cols = C;
    A.indptr.push_back(0);
    for (int64_t r = 0; r < R; r++) {
        const bool empty = (r % 4 == 3);
        for (int64_t c = 0; c < C; c++) {
            bool on = !empty && (r == 1 || (c == 2 && r % 2 == 0) || u[size_t(r * C + c)] < 0.15f);
            if (on) {
                A.indices.push_back(int32_t(c));
                if (weighted) A.values.push_back(v[size_t(r * C + c)]);
            }
        }
        A.indptr.push_back(A.nnz());
    }
    return A;
}

// Row of each edge.
std::vector<int64_t> edge_rows(const Csr& A) {
    std::vector<int64_t> row(size_t(A.nnz()));
    for (int64_t r = 0; r < A.rows; r++)
        for (int64_t e = A.row_begin(r); e < A.row_end(r); e++) row[size_t(e)] = r;
    return row;
}

std::vector<double> to_d(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

// Dense double SpMM written from the definition, for arbitrary per-edge weights w [E, H].
std::vector<double> dense_spmm(const Csr& A, const std::vector<double>& w, int H, const std::vector<double>& X,
                               int64_t D) {
    const int64_t Dh = D / H;
    std::vector<double> out(size_t(A.rows * D), 0.0);
    auto row = edge_rows(A);
    for (int64_t e = 0; e < A.nnz(); e++) {
        const int64_t r = row[size_t(e)], c = A.indices[size_t(e)];
        for (int64_t d = 0; d < D; d++) out[size_t(r * D + d)] += w[size_t(e * H + d / Dh)] * X[size_t(c * D + d)];
    }
    return out;
}

// Central finite difference of f at x[i].
double fd(const std::function<double(const std::vector<double>&)>& f, std::vector<double> x, size_t i) {
    const double eps = 1e-6, x0 = x[i];
    x[i] = x0 + eps;
    double fp = f(x);
    x[i] = x0 - eps;
    double fm = f(x);
    return (fp - fm) / (2 * eps);
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); i++) s += a[i] * b[i];
    return s;
}

void check_close(const std::vector<float>& got, const std::vector<double>& want, double tol, const char* what) {
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); i++) {
        INFO(std::string(what), " element ", i);
        REQUIRE(std::fabs(double(got[i]) - want[i]) <= tol * std::max(1.0, std::fabs(want[i])));
    }
}

}  // namespace

TEST_CASE("sparse: transpose keeps entries, sorted columns and the permutation") {
    Csr A = random_csr(9, 7, 1);
    CsrT T = transpose_csr(A);
    CHECK(T.t.rows == 7);
    CHECK(T.t.cols == 9);
    auto row = edge_rows(A);
    for (int64_t c = 0; c < T.t.rows; c++)
        for (int64_t p = T.t.row_begin(c); p < T.t.row_end(c); p++) {
            const int64_t e = T.perm[size_t(p)];
            CHECK(A.indices[size_t(e)] == c);
            CHECK(row[size_t(e)] == T.t.indices[size_t(p)]);
            CHECK(T.t.values[size_t(p)] == A.values[size_t(e)]);
            if (p > T.t.row_begin(c)) CHECK(T.t.indices[size_t(p)] > T.t.indices[size_t(p - 1)]);
        }
}

TEST_CASE("sparse: SpMM forward/backward vs dense double and finite differences") {
    for (int H : {1, 2}) {
        const int64_t R = 13, C = 11, D = 6;
        Csr A = random_csr(R, C, 3 + uint64_t(H));
        CsrT AT = transpose_csr(A);
        const int64_t E = A.nnz();
        auto X = test::rand_vec(size_t(C * D), 11);
        auto dout = test::rand_vec(size_t(R * D), 12);
        std::vector<float> w;
        if (H > 1) w = test::rand_vec(size_t(E * H), 13, 0.1f, 1.f);
        const float* wp = H > 1 ? w.data() : nullptr;
        std::vector<double> wd = H > 1 ? to_d(w) : to_d(A.values);

        std::vector<float> out(size_t(R * D)), out_ref(size_t(R * D));
        spmm_forward(A, wp, H, X.data(), D, out.data());
        spmm_forward_ref(A, wp, H, X.data(), D, out_ref.data());
        auto want = dense_spmm(A, wd, H, to_d(X), D);
        check_close(out, want, 1e-5, "spmm out");
        check_close(out_ref, want, 1e-6, "spmm_ref out");

        // L = <dout, A·X>; dL/dX and dL/dw by finite differences of the dense double forward.
        auto doutd = to_d(dout);
        std::vector<float> dX(size_t(C * D), 0.f), dw(size_t(E * H), 0.f), dX_ref(dX), dw_ref(dw);
        spmm_backward(A, AT, wp, H, X.data(), D, dout.data(), dX.data(), H > 1 ? dw.data() : nullptr);
        spmm_backward_ref(A, wp, H, X.data(), D, dout.data(), dX_ref.data(), H > 1 ? dw_ref.data() : nullptr);
        std::vector<double> fdX(size_t(C * D));
        for (size_t i = 0; i < fdX.size(); i++)
            fdX[i] = fd([&](const std::vector<double>& x) { return dot(doutd, dense_spmm(A, wd, H, x, D)); }, to_d(X), i);
        check_close(dX, fdX, 1e-4, "spmm dX");
        check_close(dX_ref, fdX, 1e-4, "spmm_ref dX");
        if (H > 1) {
            std::vector<double> fdw(size_t(E * H));
            for (size_t i = 0; i < fdw.size(); i++)
                fdw[i] = fd([&](const std::vector<double>& ww) { return dot(doutd, dense_spmm(A, ww, H, to_d(X), D)); }, wd, i);
            check_close(dw, fdw, 1e-4, "spmm dw");
            check_close(dw_ref, fdw, 1e-4, "spmm_ref dw");
        }
    }
}

TEST_CASE("sparse: SDDMM forward/backward vs dense double and finite differences") {
    const int64_t R = 10, C = 12, D = 8;
    const int H = 2, Dh = 4;
    Csr A = random_csr(R, C, 21, false);
    CsrT AT = transpose_csr(A);
    const int64_t E = A.nnz();
    auto Y = test::rand_vec(size_t(R * D), 22), Z = test::rand_vec(size_t(C * D), 23);
    auto dout = test::rand_vec(size_t(E * H), 24);
    auto row = edge_rows(A);
    auto dense = [&](const std::vector<double>& y, const std::vector<double>& z) {
        std::vector<double> o(size_t(E * H), 0.0);
        for (int64_t e = 0; e < E; e++)
            for (int64_t d = 0; d < D; d++)
                o[size_t(e * H + d / Dh)] += y[size_t(row[size_t(e)] * D + d)] * z[size_t(A.indices[size_t(e)] * D + d)];
        return o;
    };
    std::vector<float> out(size_t(E * H)), out_ref(size_t(E * H));
    sddmm_forward(A, H, Y.data(), Z.data(), D, out.data());
    sddmm_forward_ref(A, H, Y.data(), Z.data(), D, out_ref.data());
    check_close(out, dense(to_d(Y), to_d(Z)), 1e-5, "sddmm");
    check_close(out_ref, dense(to_d(Y), to_d(Z)), 1e-6, "sddmm_ref");

    std::vector<float> dY(size_t(R * D), 0.f), dZ(size_t(C * D), 0.f), dY_ref(dY), dZ_ref(dZ);
    sddmm_backward(A, AT, H, Y.data(), Z.data(), D, dout.data(), dY.data(), dZ.data());
    sddmm_backward_ref(A, H, Y.data(), Z.data(), D, dout.data(), dY_ref.data(), dZ_ref.data());
    auto doutd = to_d(dout);
    std::vector<double> fY(dY.size()), fZ(dZ.size());
    for (size_t i = 0; i < fY.size(); i++)
        fY[i] = fd([&](const std::vector<double>& y) { return dot(doutd, dense(y, to_d(Z))); }, to_d(Y), i);
    for (size_t i = 0; i < fZ.size(); i++)
        fZ[i] = fd([&](const std::vector<double>& z) { return dot(doutd, dense(to_d(Y), z)); }, to_d(Z), i);
    check_close(dY, fY, 1e-4, "sddmm dY");
    check_close(dZ, fZ, 1e-4, "sddmm dZ");
    check_close(dY_ref, fY, 1e-4, "sddmm_ref dY");
    check_close(dZ_ref, fZ, 1e-4, "sddmm_ref dZ");
}

TEST_CASE("sparse: edge softmax forward/backward, including empty rows and a hub row") {
    const int H = 3;
    Csr A = random_csr(12, 30, 31, false);
    const int64_t E = A.nnz();
    auto s = test::rand_vec(size_t(E * H), 32, -4.f, 4.f);
    s[0] = 60.f;  // large score: the row max subtraction must keep exp finite
    auto da = test::rand_vec(size_t(E * H), 33);
    auto dense = [&](const std::vector<double>& sc) {
        std::vector<double> a(size_t(E * H));
        for (int64_t r = 0; r < A.rows; r++)
            for (int h = 0; h < H; h++) {
                double z = 0;
                for (int64_t e = A.row_begin(r); e < A.row_end(r); e++) z += std::exp(sc[size_t(e * H + h)] - 60.0);
                for (int64_t e = A.row_begin(r); e < A.row_end(r); e++)
                    a[size_t(e * H + h)] = std::exp(sc[size_t(e * H + h)] - 60.0) / z;
            }
        return a;
    };
    std::vector<float> a(size_t(E * H)), a_ref(a.size());
    edge_softmax_forward(A, H, s.data(), a.data());
    edge_softmax_forward_ref(A, H, s.data(), a_ref.data());
    check_close(a, dense(to_d(s)), 1e-5, "softmax");
    check_close(a_ref, dense(to_d(s)), 1e-6, "softmax_ref");
    std::vector<float> ds(a.size(), 0.f), ds_ref(a.size(), 0.f);
    edge_softmax_backward(A, H, a.data(), da.data(), ds.data());
    edge_softmax_backward_ref(A, H, a.data(), da.data(), ds_ref.data());
    auto dad = to_d(da);
    std::vector<double> f(ds.size());
    for (size_t i = 0; i < f.size(); i++)
        f[i] = fd([&](const std::vector<double>& sc) { return dot(dad, dense(sc)); }, to_d(s), i);
    check_close(ds, f, 1e-4, "softmax ds");
    check_close(ds_ref, f, 1e-4, "softmax_ref ds");
}

TEST_CASE("sparse: segment sum/mean/max forward and backward") {
    const int64_t D = 3;
    std::vector<int64_t> off = {0, 2, 2, 7, 8, 8, 20};  // includes empty segments and a long one
    const int64_t S = int64_t(off.size()) - 1, N = off.back();
    auto x = test::rand_vec(size_t(N * D), 41);
    auto dout = test::rand_vec(size_t(S * D), 42);
    auto dense = [&](const std::vector<double>& xx, int kind) {  // 0 sum, 1 mean, 2 max
        std::vector<double> o(size_t(S * D), 0.0);
        for (int64_t s = 0; s < S; s++)
            for (int64_t d = 0; d < D; d++) {
                double acc = kind == 2 ? -1e300 : 0.0;
                for (int64_t i = off[size_t(s)]; i < off[size_t(s + 1)]; i++)
                    acc = kind == 2 ? std::max(acc, xx[size_t(i * D + d)]) : acc + xx[size_t(i * D + d)];
                const int64_t n = off[size_t(s + 1)] - off[size_t(s)];
                o[size_t(s * D + d)] = n == 0 ? 0.0 : kind == 1 ? acc / double(n) : acc;
            }
        return o;
    };
    auto doutd = to_d(dout);
    for (int kind = 0; kind < 3; kind++) {
        std::vector<float> out(size_t(S * D)), out_ref(out.size()), dx(size_t(N * D), 0.f);
        std::vector<int64_t> am(size_t(S * D)), am_ref(am.size());
        if (kind == 0) {
            segment_sum_forward(off.data(), S, x.data(), D, out.data());
            segment_sum_forward_ref(off.data(), S, x.data(), D, out_ref.data());
            segment_sum_backward(off.data(), S, D, dout.data(), dx.data());
        } else if (kind == 1) {
            segment_mean_forward(off.data(), S, x.data(), D, out.data());
            segment_mean_forward_ref(off.data(), S, x.data(), D, out_ref.data());
            segment_mean_backward(off.data(), S, D, dout.data(), dx.data());
        } else {
            segment_max_forward(off.data(), S, x.data(), D, out.data(), am.data());
            segment_max_forward_ref(off.data(), S, x.data(), D, out_ref.data(), am_ref.data());
            CHECK(am == am_ref);
            CHECK(am[size_t(1 * D)] == -1);
            segment_max_backward(S, D, am.data(), dout.data(), dx.data());
        }
        INFO("kind ", kind);
        check_close(out, dense(to_d(x), kind), 1e-5, "segment out");
        check_close(out_ref, dense(to_d(x), kind), 1e-6, "segment ref out");
        std::vector<double> f(dx.size());
        for (size_t i = 0; i < f.size(); i++)
            f[i] = fd([&](const std::vector<double>& xx) { return dot(doutd, dense(xx, kind)); }, to_d(x), i);
        check_close(dx, f, 1e-4, "segment dx");
    }
}

TEST_CASE("sparse: results are bit-identical for 1 and 3 threads on a skewed graph") {
    Csr A = random_csr(300, 200, 51);
    CsrT AT = transpose_csr(A);
    const int64_t D = 16, E = A.nnz();
    auto X = test::rand_vec(size_t(200 * D), 52), G = test::rand_vec(size_t(300 * D), 53);
    auto run = [&](int threads) {
        set_num_threads(threads);
        std::vector<float> out(size_t(300 * D)), dX(size_t(200 * D), 0.f), s(static_cast<size_t>(E)), a(static_cast<size_t>(E)), ds(static_cast<size_t>(E), 0.f);
        spmm_forward(A, nullptr, 1, X.data(), D, out.data());
        spmm_backward(A, AT, nullptr, 1, X.data(), D, G.data(), dX.data(), nullptr);
        sddmm_forward(A, 1, G.data(), X.data(), D, s.data());
        edge_softmax_forward(A, 1, s.data(), a.data());
        edge_softmax_backward(A, 1, a.data(), s.data(), ds.data());
        out.insert(out.end(), dX.begin(), dX.end());
        out.insert(out.end(), a.begin(), a.end());
        out.insert(out.end(), ds.begin(), ds.end());
        return out;
    };
    auto one = run(1), three = run(3);
    set_num_threads(0);
    CHECK(one == three);
}

TEST_CASE("sparse: bipartite normalized adjacency on a hand example") {
    // R = [[1,1,0],[0,1,1]]  (2 users, 3 items). Degrees: u0=2,u1=2,i0=1,i1=2,i2=1.
    Csr R;
    R.rows = 2;
    R.cols = 3;
    R.indptr = {0, 2, 4};
    R.indices = {0, 1, 1, 2};
    Csr A = bipartite_norm_adj(R);
    REQUIRE(A.rows == 5);
    REQUIRE(A.nnz() == 8);
    CHECK(A.indices == std::vector<int32_t>{2, 3, 3, 4, 0, 0, 1, 1});
    const double h = 1 / std::sqrt(2.0), q = 0.5;
    std::vector<double> want = {h, q, q, h, h, q, q, h};
    for (size_t e = 0; e < 8; e++) CHECK(A.values[e] == doctest::Approx(want[e]).epsilon(1e-6));
}

TEST_CASE("sparse: SpMM and SDDMM kernels of every ISA path match the scalar references (head sizes 16/32/64/other)") {
    // Rows 1 (dense), c == 2 (a hub column), every fourth row empty: skewed degrees, as in real graphs.
    const int64_t R = 37, C = 29;
    Csr A = random_csr(R, C, 91);
    CsrT AT = transpose_csr(A);
    const int64_t E = A.nnz();
    const Isa saved = cpu_isa();
    for (auto [D, H] : {std::pair<int64_t, int>{64, 1}, {64, 2}, {64, 4}, {12, 3}}) {
        CAPTURE(D);
        CAPTURE(H);
        auto X = test::rand_vec(size_t(C * D), 92), Y = test::rand_vec(size_t(R * D), 93);
        auto dout = test::rand_vec(size_t(R * D), 94), dedge = test::rand_vec(size_t(E * H), 95);
        auto w = test::rand_vec(size_t(E * H), 96, 0.1f, 1.f);
        const float* wp = H > 1 ? w.data() : nullptr;
        // double-accumulated references, computed once
        std::vector<float> out_r(size_t(R * D)), dX_r(size_t(C * D), 0.f), dw_r(size_t(E * H), 0.f), s_r(size_t(E * H));
        std::vector<float> dY_r(size_t(R * D), 0.f), dZ_r(size_t(C * D), 0.f);
        spmm_forward_ref(A, wp, H, X.data(), D, out_r.data());
        spmm_backward_ref(A, wp, H, X.data(), D, dout.data(), dX_r.data(), H > 1 ? dw_r.data() : nullptr);
        sddmm_forward_ref(A, H, Y.data(), X.data(), D, s_r.data());
        sddmm_backward_ref(A, H, Y.data(), X.data(), D, dedge.data(), dY_r.data(), dZ_r.data());
        for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512}) {
            if (int(isa) > int(cpu_isa_max())) continue;
            CAPTURE(isa_name(isa));
            set_cpu_isa(isa);
            std::vector<float> out(out_r.size()), dX(dX_r.size(), 0.f), dw(dw_r.size(), 0.f), s(s_r.size());
            std::vector<float> dY(dY_r.size(), 0.f), dZ(dZ_r.size(), 0.f);
            spmm_forward(A, wp, H, X.data(), D, out.data());
            spmm_backward(A, AT, wp, H, X.data(), D, dout.data(), dX.data(), H > 1 ? dw.data() : nullptr);
            sddmm_forward(A, H, Y.data(), X.data(), D, s.data());
            sddmm_backward(A, AT, H, Y.data(), X.data(), D, dedge.data(), dY.data(), dZ.data());
            auto close = [](const std::vector<float>& a, const std::vector<float>& b, const char* what) {
                for (size_t i = 0; i < a.size(); i++) {
                    INFO(std::string(what), " element ", i);
                    REQUIRE(std::fabs(a[i] - b[i]) <= 1e-5f * std::max(1.f, std::fabs(b[i])));
                }
            };
            close(out, out_r, "spmm out");
            close(dX, dX_r, "spmm dX");
            close(dw, dw_r, "spmm dw");
            close(s, s_r, "sddmm out");
            close(dY, dY_r, "sddmm dY");
            close(dZ, dZ_r, "sddmm dZ");
        }
        set_cpu_isa(saved);
    }
}
