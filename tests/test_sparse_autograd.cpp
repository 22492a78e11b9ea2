// test_sparse_autograd.cpp — the differentiable sparse ops (graph/sparse_ops.h) on the autograd tape.
//
// Graphs are random with ~25% empty rows, one hub row that touches every column and one hub column
// (very skewed degrees). For every op:
//   forward  vs a dense reference built from existing dense tensor ops (dense adjacency · X through
//            tg::matmul, Y·Zᵀ sampled at the edges, softmax with a -inf mask off the edges) or, for
//            segments, a double-precision loop;
//   backward (loss = sum(out * R), random R, gradients from loss.backward()) vs central finite
//            differences of the same loss computed in double by loops written here from the
//            definitions (eps 1e-6: truncation and rounding ~1e-9, so the tolerance only absorbs
//            the f32 rounding of the op under test).
// A 2-layer GAT-like chain (matmul -> sddmm -> edge_softmax -> spmm -> tanh, twice, then
// segment_mean and spmm_t readouts) checks composition: its gradients match finite differences of a
// double re-implementation and the gradients of the same model written with dense tensor ops.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <vector>

#include "graph/sparse_ops.h"
#include "tensor/ops/ops.h"
#include "test_check.h"
#include "test_util.h"

using namespace tg;
using namespace tg::graph;

namespace {

using Vec = std::vector<double>;

// Random R x C CSR, weighted in [0.25, 1.5): rows r % 4 == 3 empty, row 1 full (hub), column 2 hit by
// every even row (hub column), ~15% elsewhere.
Csr skewed_csr(int64_t R, int64_t C, uint64_t seed) {
    auto u = test::rand_vec(size_t(R * C), seed, 0.f, 1.f);
    auto v = test::rand_vec(size_t(R * C), seed + 7, 0.25f, 1.5f);
    Csr A;
    A.rows = R;
    A.cols = C;
    A.indptr.push_back(0);
    for (int64_t r = 0; r < R; r++) {
        for (int64_t c = 0; c < C && r % 4 != 3; c++) {
            if (r == 1 || (c == 2 && r % 2 == 0) || u[size_t(r * C + c)] < 0.15f) {
                A.indices.push_back(int32_t(c));
                A.values.push_back(v[size_t(r * C + c)]);
            }
        }
        A.indptr.push_back(A.nnz());
    }
    return A;
}

std::vector<int64_t> edge_rows(const Csr& A) {
    std::vector<int64_t> row(size_t(A.nnz()));
    for (int64_t r = 0; r < A.rows; r++)
        for (int64_t e = A.row_begin(r); e < A.row_end(r); e++) row[size_t(e)] = r;
    return row;
}

Tensor rand_t(const Shape& s, uint64_t seed, float lo = -1.f, float hi = 1.f) {
    return Tensor::from_vector(test::rand_vec(size_t(shape_numel(s)), seed, lo, hi), s);
}
Vec to_d(const Tensor& t) {
    auto v = t.to_vector();
    return Vec(v.begin(), v.end());
}
double dot(const Vec& a, const Vec& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); i++) s += a[i] * b[i];
    return s;
}
double max_abs_diff(const Tensor& a, const Vec& b) {
    auto v = a.to_vector();
    REQUIRE(v.size() == b.size());
    double m = 0;
    for (size_t i = 0; i < v.size(); i++) m = std::max(m, std::abs(double(v[i]) - b[i]));
    return m;
}
double max_abs_diff(const Tensor& a, const Tensor& b) {
    REQUIRE(a.shape() == b.shape());
    return max_abs_diff(a, to_d(b));
}

// Head h of the per-edge weights w [E, H] (A's values when w is empty) as a dense [R, C] tensor.
Tensor dense_adj(const Csr& A, const Vec& w, int64_t H, int64_t h) {
    Tensor M = Tensor::zeros({A.rows, A.cols});
    float* p = M.data<float>();
    auto row = edge_rows(A);
    for (int64_t e = 0; e < A.nnz(); e++)
        p[row[size_t(e)] * A.cols + A.indices[size_t(e)]] = w.empty() ? A.value(e) : float(w[size_t(e * H + h)]);
    return M;
}

// ---- double-precision references, straight from the definitions in sparse_ops.h ----

// transpose = false: out [R, D] = A · X (X [C, D]);  true: out [C, D] = Aᵀ · X (X [R, D]).
Vec spmm_d(const Csr& A, const Vec& w, int64_t H, const Vec& X, int64_t D, bool transpose) {
    const int64_t Dh = D / H;
    Vec out(size_t((transpose ? A.cols : A.rows) * D), 0.0);
    auto row = edge_rows(A);
    for (int64_t e = 0; e < A.nnz(); e++) {
        const int64_t r = row[size_t(e)], c = A.indices[size_t(e)];
        const int64_t dst = transpose ? c : r, src = transpose ? r : c;
        for (int64_t d = 0; d < D; d++) {
            const double we = w.empty() ? A.value(e) : w[size_t(e * H + d / Dh)];
            out[size_t(dst * D + d)] += we * X[size_t(src * D + d)];
        }
    }
    return out;
}

// out [E, H]: out[e, h] = Y[row(e), h-block] · Z[col(e), h-block]
Vec sddmm_d(const Csr& A, int64_t H, const Vec& Y, const Vec& Z, int64_t D) {
    const int64_t Dh = D / H;
    Vec out(size_t(A.nnz() * H), 0.0);
    auto row = edge_rows(A);
    for (int64_t e = 0; e < A.nnz(); e++)
        for (int64_t d = 0; d < D; d++)
            out[size_t(e * H + d / Dh)] += Y[size_t(row[size_t(e)] * D + d)] * Z[size_t(A.indices[size_t(e)] * D + d)];
    return out;
}

// softmax over each row's edges, per head (plain exp / sum: inputs are small)
Vec edge_softmax_d(const Csr& A, int64_t H, const Vec& s) {
    Vec a(s.size());
    for (int64_t r = 0; r < A.rows; r++)
        for (int64_t h = 0; h < H; h++) {
            double z = 0;
            for (int64_t e = A.row_begin(r); e < A.row_end(r); e++) z += std::exp(s[size_t(e * H + h)]);
            for (int64_t e = A.row_begin(r); e < A.row_end(r); e++) a[size_t(e * H + h)] = std::exp(s[size_t(e * H + h)]) / z;
        }
    return a;
}

enum class Seg { sum, mean, max };
// out [S, D] over row ranges off[s] .. off[s+1] of x [N, D]; empty segments give 0
Vec segment_d(Seg kind, const std::vector<int64_t>& off, const Vec& x, int64_t D) {
    const int64_t S = int64_t(off.size()) - 1;
    Vec out(size_t(S * D), 0.0);
    for (int64_t s = 0; s < S; s++)
        for (int64_t d = 0; d < D; d++) {
            const int64_t b = off[size_t(s)], en = off[size_t(s + 1)];
            double acc = kind == Seg::max ? -std::numeric_limits<double>::infinity() : 0.0;
            for (int64_t i = b; i < en; i++)
                acc = kind == Seg::max ? std::max(acc, x[size_t(i * D + d)]) : acc + x[size_t(i * D + d)];
            if (b == en) acc = 0;
            if (kind == Seg::mean && en > b) acc /= double(en - b);
            out[size_t(s * D + d)] = acc;
        }
    return out;
}

// [M, K] · [K, N]
Vec matmul_d(const Vec& a, const Vec& b, int64_t M, int64_t K, int64_t N) {
    Vec out(size_t(M * N), 0.0);
    for (int64_t i = 0; i < M; i++)
        for (int64_t k = 0; k < K; k++)
            for (int64_t j = 0; j < N; j++) out[size_t(i * N + j)] += a[size_t(i * K + k)] * b[size_t(k * N + j)];
    return out;
}

// Compare the tape gradient `grad` of a scalar loss with central differences of L (the same loss in
// double) around x0. Returns the largest |grad - fd| / (1 + |fd|); each element must be within tol.
double fd_check(const char* what, const Tensor& grad, const Vec& x0, const std::function<double(const Vec&)>& L,
                double tol = 1e-5) {
    REQUIRE_MESSAGE(grad.defined(), what, ": no gradient reached the input");
    REQUIRE(size_t(grad.numel()) == x0.size());
    const auto g = grad.to_vector();
    const double eps = 1e-6;
    Vec x = x0;
    double worst = 0;
    for (size_t i = 0; i < x.size(); i++) {
        x[i] = x0[i] + eps;
        const double lp = L(x);
        x[i] = x0[i] - eps;
        const double lm = L(x);
        x[i] = x0[i];
        const double fd = (lp - lm) / (2 * eps), err = std::abs(double(g[i]) - fd) / (1 + std::abs(fd));
        CHECK_MESSAGE(err <= tol, what, "[", i, "]: backward ", g[i], ", finite difference ", fd);
        worst = std::max(worst, err);
    }
    return worst;
}

}  // namespace

TEST_CASE("sparse autograd: spmm and spmm_t vs dense matmul, gradients vs finite differences") {
    const Csr csr = skewed_csr(13, 11, 1);
    const AdjPtr A = make_adj(csr);
    const int64_t R = csr.rows, C = csr.cols, E = csr.nnz(), D = 6;
    double fwd = 0, grad = 0;
    // Two heads with explicit edge weights, then A's stored values (H = 1, no weight gradient).
    for (int64_t H : {int64_t(2), int64_t(0)}) {
        const bool weighted = H > 0;
        const int64_t Hh = weighted ? H : 1, Dh = D / Hh;
        Tensor w = weighted ? rand_t({E, H}, 2, 0.2f, 1.5f).set_requires_grad() : Tensor();
        const Vec wv = weighted ? to_d(w) : Vec();
        for (bool transpose : {false, true}) {
            CAPTURE(H);
            CAPTURE(transpose);
            const int64_t In = transpose ? R : C, Out = transpose ? C : R;
            Tensor X = rand_t({In, D}, 3 + uint64_t(transpose)).set_requires_grad();
            Tensor out = transpose ? spmm_t(A, w, X) : spmm(A, w, X);
            REQUIRE(out.shape() == Shape{Out, D});
            {   // dense reference: per head, dense (A_h or A_hᵀ) · X[:, h-block], concatenated
                NoGradGuard no_grad;
                std::vector<Tensor> heads;
                for (int64_t h = 0; h < Hh; h++) {
                    Tensor Ad = dense_adj(csr, wv, Hh, h);
                    heads.push_back(matmul(transpose ? Ad.transpose(0, 1) : Ad, X.slice(1, h * Dh, (h + 1) * Dh)));
                }
                const double f = max_abs_diff(out, concat(heads, 1));
                CHECK(f < 1e-5);
                fwd = std::max(fwd, f);
            }
            Tensor Rt = rand_t({Out, D}, 5);
            const Vec Rv = to_d(Rt), Xv = to_d(X);
            if (weighted) w.zero_grad();
            sum(out * Rt).backward();
            grad = std::max(grad, fd_check("dX", X.grad(), Xv, [&](const Vec& x) {
                                return dot(spmm_d(csr, wv, Hh, x, D, transpose), Rv);
                            }));
            if (weighted)
                grad = std::max(grad, fd_check("dw", w.grad(), wv, [&](const Vec& ww) {
                                    return dot(spmm_d(csr, ww, Hh, Xv, D, transpose), Rv);
                                }));
        }
    }
    MESSAGE("spmm/spmm_t (", R, "x", C, ", E=", E, "): forward vs dense matmul max abs ", fwd,
            "; gradients vs FD max |Δ|/(1+|fd|) ", grad);
}

TEST_CASE("sparse autograd: sddmm vs Y·Zᵀ sampled at the edges, gradients vs finite differences") {
    const Csr csr = skewed_csr(13, 11, 11);
    const AdjPtr A = make_adj(csr);
    const int64_t R = csr.rows, C = csr.cols, E = csr.nnz(), D = 6, H = 2, Dh = D / H;
    Tensor Y = rand_t({R, D}, 12).set_requires_grad(), Z = rand_t({C, D}, 13).set_requires_grad();
    Tensor out = sddmm(A, Y, Z, H);
    REQUIRE(out.shape() == Shape{E, H});
    double fwd = 0, grad = 0;
    {
        NoGradGuard no_grad;
        auto row = edge_rows(csr);
        for (int64_t h = 0; h < H; h++) {
            Tensor full = matmul(Y.slice(1, h * Dh, (h + 1) * Dh), Z.slice(1, h * Dh, (h + 1) * Dh).transpose(0, 1));
            for (int64_t e = 0; e < E; e++)
                fwd = std::max(fwd, std::abs(get_element(out, e * H + h) -
                                             get_element(full, row[size_t(e)] * C + csr.indices[size_t(e)])));
        }
        CHECK(fwd < 1e-5);
    }
    Tensor Rt = rand_t({E, H}, 14);
    const Vec Rv = to_d(Rt), Yv = to_d(Y), Zv = to_d(Z);
    sum(out * Rt).backward();
    grad = std::max(grad, fd_check("dY", Y.grad(), Yv, [&](const Vec& y) { return dot(sddmm_d(csr, H, y, Zv, D), Rv); }));
    grad = std::max(grad, fd_check("dZ", Z.grad(), Zv, [&](const Vec& z) { return dot(sddmm_d(csr, H, Yv, z, D), Rv); }));

    // Self-attention form: the same tensor on both sides gets the sum of both gradients.
    const Csr sq = skewed_csr(14, 14, 15);
    const AdjPtr S = make_adj(sq);
    Tensor Q = rand_t({14, D}, 16).set_requires_grad();
    Tensor Rq = rand_t({sq.nnz(), H}, 17);
    const Vec Qv = to_d(Q), Rqv = to_d(Rq);
    sum(sddmm(S, Q, Q, H) * Rq).backward();
    grad = std::max(grad, fd_check("dQ (Y = Z = Q)", Q.grad(), Qv, [&](const Vec& q) { return dot(sddmm_d(sq, H, q, q, D), Rqv); }));
    MESSAGE("sddmm (E=", E, ", H=", H, "): forward vs dense Y·Zᵀ max abs ", fwd, "; gradients vs FD max |Δ|/(1+|fd|) ", grad);
}

TEST_CASE("sparse autograd: edge softmax vs dense masked softmax, gradient vs finite differences") {
    const Csr csr = skewed_csr(13, 11, 21);
    const AdjPtr A = make_adj(csr);
    const int64_t R = csr.rows, C = csr.cols, E = csr.nnz(), H = 3;
    Tensor s = rand_t({E, H}, 22, -3.f, 3.f).set_requires_grad();
    Tensor a = edge_softmax(A, s);
    REQUIRE(a.shape() == Shape{E, H});
    double fwd = 0;
    {   // dense scores at the edges, -inf elsewhere: tg::softmax over each row (empty rows give zeros)
        NoGradGuard no_grad;
        auto row = edge_rows(csr);
        Tensor mask = Tensor::full({R, C}, -std::numeric_limits<float>::infinity());
        for (int64_t e = 0; e < E; e++) mask.data<float>()[row[size_t(e)] * C + csr.indices[size_t(e)]] = 0.f;
        for (int64_t h = 0; h < H; h++) {
            Tensor Sd = Tensor::zeros({R, C});
            for (int64_t e = 0; e < E; e++)
                Sd.data<float>()[row[size_t(e)] * C + csr.indices[size_t(e)]] = float(get_element(s, e * H + h));
            Tensor P = softmax(Sd, mask);
            for (int64_t e = 0; e < E; e++)
                fwd = std::max(fwd, std::abs(get_element(a, e * H + h) -
                                             get_element(P, row[size_t(e)] * C + csr.indices[size_t(e)])));
        }
        CHECK(fwd < 1e-6);
    }
    Tensor Rt = rand_t({E, H}, 23);
    const Vec Rv = to_d(Rt), sv = to_d(s);
    sum(a * Rt).backward();
    const double grad = fd_check("ds", s.grad(), sv, [&](const Vec& x) { return dot(edge_softmax_d(csr, H, x), Rv); });
    MESSAGE("edge_softmax (E=", E, ", H=", H, "): forward vs masked dense softmax max abs ", fwd,
            "; gradient vs FD max |Δ|/(1+|fd|) ", grad);
}

TEST_CASE("sparse autograd: segment sum/mean/max vs double loops, gradients vs finite differences") {
    // 20 rows [20, 3, 2] (trailing dims flatten to D = 6) in segments of 0, 1, 14 (skewed), 0, 3, 2 rows.
    const std::vector<int64_t> off{0, 0, 1, 15, 15, 18, 20};
    const int64_t N = 20, D = 6, S = int64_t(off.size()) - 1;
    Tensor x = rand_t({N, 3, 2}, 31).set_requires_grad();
    const Vec xv = to_d(x);
    double fwd = 0, grad = 0;
    for (Seg kind : {Seg::sum, Seg::mean, Seg::max}) {
        CAPTURE(int(kind));
        // offsets as i64, and as i32 for mean (both are accepted)
        Tensor offsets = Tensor::from_ints(off, {S + 1}, kind == Seg::mean ? DType::i32 : DType::i64);
        Tensor out = kind == Seg::sum ? segment_sum(offsets, x) : kind == Seg::mean ? segment_mean(offsets, x)
                                                                                       : segment_max(offsets, x);
        REQUIRE(out.shape() == Shape{S, 3, 2});
        const double f = max_abs_diff(out, segment_d(kind, off, xv, D));
        CHECK(f < 1e-6);
        fwd = std::max(fwd, f);
        Tensor Rt = rand_t({S, 3, 2}, 32);
        const Vec Rv = to_d(Rt);
        x.zero_grad();
        sum(out * Rt).backward();
        grad = std::max(grad, fd_check("dx", x.grad(), xv, [&](const Vec& xx) { return dot(segment_d(kind, off, xx, D), Rv); }));
    }
    // Per-edge rows reduced per destination node through row_offsets(A) (empty rows give 0).
    const Csr csr = skewed_csr(13, 11, 33);
    const AdjPtr A = make_adj(csr);
    Tensor s = rand_t({csr.nnz(), 2}, 34).set_requires_grad();
    Tensor m = segment_max(row_offsets(A), s);
    const double f = max_abs_diff(m, segment_d(Seg::max, csr.indptr, to_d(s), 2));
    CHECK(f < 1e-6);
    fwd = std::max(fwd, f);
    Tensor Rt = rand_t({csr.rows, 2}, 35);
    const Vec Rv = to_d(Rt), sv = to_d(s);
    sum(m * Rt).backward();
    grad = std::max(grad, fd_check("ds (per-node max)", s.grad(), sv,
                                   [&](const Vec& ss) { return dot(segment_d(Seg::max, csr.indptr, ss, 2), Rv); }));
    MESSAGE("segment sum/mean/max: forward vs double max abs ", fwd, "; gradients vs FD max |Δ|/(1+|fd|) ", grad);
}

TEST_CASE("sparse autograd: a 2-layer GAT-like chain matches finite differences and a dense-op model") {
    // Layer k (H_0 = X [N, F]):  Q = H_{k-1} W_k [N, Dk];  s = sddmm(A, Q, Q, heads) / sqrt(Dh);
    //                            α = edge_softmax(A, s);   H_k = tanh(spmm(A, α, Q)).
    // Readouts: g = segment_mean(groups, H_2) [3, D2] and r = spmm_t(A, A's values, H_2) [N, D2].
    // loss = sum(g * R1) + sum(r * R2).
    const Csr csr = skewed_csr(14, 14, 41);
    const AdjPtr A = make_adj(csr);
    const int64_t N = 14, F = 5, D1 = 8, H1 = 2, D2 = 4, H2 = 1;
    const std::vector<int64_t> groups{0, 5, 5, 14};  // three "graphs", the middle one empty
    Tensor X = rand_t({N, F}, 42).set_requires_grad();
    Tensor W1 = rand_t({F, D1}, 43, -0.8f, 0.8f).set_requires_grad();
    Tensor W2 = rand_t({D1, D2}, 44, -0.8f, 0.8f).set_requires_grad();
    Tensor R1 = rand_t({3, D2}, 45), R2 = rand_t({N, D2}, 46);
    const Vec Xv = to_d(X), W1v = to_d(W1), W2v = to_d(W2), R1v = to_d(R1), R2v = to_d(R2);

    auto layer = [&](const Tensor& Hin, const Tensor& W, int64_t heads) {
        Tensor Q = matmul(Hin, W);
        const float scale = 1.f / std::sqrt(float(W.size(1) / heads));
        Tensor alpha = edge_softmax(A, sddmm(A, Q, Q, heads) * scale);
        return tanh(spmm(A, alpha, Q));
    };
    Tensor H2t = layer(layer(X, W1, H1), W2, H2);
    Tensor loss = sum(segment_mean(Tensor::from_ints(groups, {4}), H2t) * R1) + sum(spmm_t(A, Tensor(), H2t) * R2);
    loss.backward();

    // The same model in double, from the reference loops above.
    auto loss_d = [&](const Vec& x, const Vec& w1, const Vec& w2) {
        auto layer_d = [&](const Vec& Hin, int64_t Din, const Vec& W, int64_t Dout, int64_t heads) {
            Vec Q = matmul_d(Hin, W, N, Din, Dout);
            Vec s = sddmm_d(csr, heads, Q, Q, Dout);
            for (double& v : s) v /= std::sqrt(double(Dout / heads));
            Vec Hout = spmm_d(csr, edge_softmax_d(csr, heads, s), heads, Q, Dout, false);
            for (double& v : Hout) v = std::tanh(v);
            return Hout;
        };
        Vec h2 = layer_d(layer_d(x, F, w1, D1, H1), D1, w2, D2, H2);
        return dot(segment_d(Seg::mean, groups, h2, D2), R1v) + dot(spmm_d(csr, Vec(), 1, h2, D2, true), R2v);
    };
    const double l_ref = loss_d(Xv, W1v, W2v);
    CHECK(std::abs(loss.item() - l_ref) < 1e-5 * (1 + std::abs(l_ref)));
    double grad = 0;
    grad = std::max(grad, fd_check("dX", X.grad(), Xv, [&](const Vec& v) { return loss_d(v, W1v, W2v); }));
    grad = std::max(grad, fd_check("dW1", W1.grad(), W1v, [&](const Vec& v) { return loss_d(Xv, v, W2v); }));
    grad = std::max(grad, fd_check("dW2", W2.grad(), W2v, [&](const Vec& v) { return loss_d(Xv, W1v, v); }));

    // The same model with dense ops only: Q Qᵀ per head, softmax under a -inf mask off the edges,
    // dense α · Q; readouts as dense matrices. Its tape must give the same loss and gradients.
    Tensor Xd = X.detach().set_requires_grad(), W1d = W1.detach().set_requires_grad(), W2d = W2.detach().set_requires_grad();
    Tensor mask = Tensor::full({N, N}, -std::numeric_limits<float>::infinity());
    auto row = edge_rows(csr);
    for (int64_t e = 0; e < csr.nnz(); e++) mask.data<float>()[row[size_t(e)] * N + csr.indices[size_t(e)]] = 0.f;
    auto dense_layer = [&](const Tensor& Hin, const Tensor& W, int64_t heads) {
        Tensor Q = matmul(Hin, W);
        const int64_t Dh = W.size(1) / heads;
        std::vector<Tensor> parts;
        for (int64_t h = 0; h < heads; h++) {
            Tensor Qh = Q.slice(1, h * Dh, (h + 1) * Dh);
            Tensor alpha = softmax(matmul(Qh, Qh.transpose(0, 1)) * (1.f / std::sqrt(float(Dh))), mask);
            parts.push_back(matmul(alpha, Qh));
        }
        return tanh(concat(parts, 1));
    };
    Tensor Gmean = Tensor::zeros({3, N});  // row g averages the nodes of group g
    for (int64_t g = 0; g < 3; g++)
        for (int64_t i = groups[size_t(g)]; i < groups[size_t(g + 1)]; i++)
            Gmean.data<float>()[g * N + i] = 1.f / float(groups[size_t(g + 1)] - groups[size_t(g)]);
    Tensor H2d = dense_layer(dense_layer(Xd, W1d, H1), W2d, H2);
    Tensor loss_dense = sum(matmul(Gmean, H2d) * R1) + sum(matmul(dense_adj(csr, Vec(), 1, 0).transpose(0, 1), H2d) * R2);
    loss_dense.backward();
    const double dl = std::abs(loss.item() - loss_dense.item());
    CHECK(dl < 1e-5);
    double dg = 0;
    dg = std::max(dg, max_abs_diff(X.grad(), Xd.grad()));
    dg = std::max(dg, max_abs_diff(W1.grad(), W1d.grad()));
    dg = std::max(dg, max_abs_diff(W2.grad(), W2d.grad()));
    CHECK(dg < 1e-5);
    MESSAGE("2-layer GAT chain (N=", N, ", E=", csr.nnz(), "): loss ", loss.item(), " vs double ", l_ref,
            "; gradients vs FD max |Δ|/(1+|fd|) ", grad, "; vs dense-op tape: loss Δ ", dl, ", max |Δgrad| ", dg);
}

TEST_CASE("sparse autograd: no-grad mode, CSR lifetime, empty graph, strided input, errors") {
    const Csr csr = skewed_csr(13, 11, 51);
    std::weak_ptr<const SparseAdj> weak;
    Tensor X = rand_t({11, 4}, 52).set_requires_grad();
    Tensor out;
    {
        AdjPtr A = make_adj(csr);
        weak = A;
        {
            NoGradGuard no_grad;
            Tensor y = spmm(A, Tensor(), X);
            CHECK(!y.requires_grad());
            CHECK(!y.grad_fn());
        }
        out = spmm(A, Tensor(), X);
    }
    // Only the recorded closure holds the CSR now; backward runs after the caller dropped its handle
    // and releases it.
    CHECK(!weak.expired());
    CHECK(out.grad_fn());
    sum(out).backward();
    REQUIRE(X.grad().defined());
    out = Tensor();
    CHECK(weak.expired());

    // A graph with no edges at all: zero outputs, zero gradients, [0, H] per-edge tensors.
    Csr none;
    none.rows = 3;
    none.cols = 2;
    none.indptr.assign(4, 0);
    AdjPtr A0 = make_adj(none);
    Tensor X0 = rand_t({2, 4}, 53).set_requires_grad();
    Tensor s0 = Tensor::zeros({0, 2}).set_requires_grad();
    Tensor y0 = spmm(A0, edge_softmax(A0, s0), X0);
    CHECK(y0.shape() == Shape{3, 4});
    for (float v : y0.to_vector()) CHECK(v == 0.f);
    sum(y0).backward();
    for (float v : X0.grad().to_vector()) CHECK(v == 0.f);
    CHECK(s0.grad().shape() == Shape{0, 2});

    // A transposed (non-contiguous) view as input: the gradient reaches the original tensor.
    AdjPtr A = make_adj(csr);
    Tensor Xt = rand_t({4, 11}, 54).set_requires_grad();
    sum(spmm(A, Tensor(), Xt.transpose(0, 1))).backward();
    REQUIRE(Xt.grad().defined());
    {
        NoGradGuard no_grad;
        Tensor ones = Tensor::ones({13, 4});
        CHECK(max_abs_diff(Xt.grad(), spmm_t(A, Tensor(), ones).transpose(0, 1).contiguous()) < 1e-6);
    }

    // Errors name the op and the shapes.
    using test::check_error;
    check_error([&] { spmm(A, Tensor(), rand_t({13, 4}, 1)); }, {"spmm", "f32[13, 4]", "[C=11, D]"});
    check_error([&] { spmm_t(A, Tensor(), rand_t({11, 4}, 1)); }, {"spmm_t", "f32[11, 4]", "[R=13, D]"});
    check_error([&] { spmm(A, rand_t({5, 1}, 1), X); }, {"spmm", "edge weights", "f32[5, 1]", "[E="});
    check_error([&] { spmm(A, rand_t({csr.nnz(), 3}, 1), X); }, {"spmm", "D=4", "H=3"});
    check_error([&] { spmm(A, Tensor(), Tensor::from_ints(std::vector<int64_t>(44, 1), {11, 4})); },
                {"spmm", "want f32"});
    check_error([&] { sddmm(A, rand_t({13, 6}, 1), rand_t({11, 6}, 2), 4); }, {"sddmm", "D=6", "heads=4"});
    check_error([&] { sddmm(A, rand_t({13, 6}, 1), rand_t({11, 5}, 2)); }, {"sddmm", "f32[13, 6]", "f32[11, 5]"});
    check_error([&] { edge_softmax(A, rand_t({csr.nnz() + 1, 1}, 1)); }, {"edge_softmax", "scores", "[E="});
    check_error([&] { segment_sum(Tensor::from_ints({0, 2, 5}, {3}), rand_t({6, 2}, 1)); },
                {"segment_sum", "offsets run from 0 to 5", "N=6"});
    check_error([&] { segment_max(Tensor::from_ints({0, 4, 3, 6}, {4}), rand_t({6, 2}, 1)); },
                {"segment_max", "decrease at segment 1"});
    check_error([&] { segment_mean(Tensor::from_vector({0, 6}, {2}), rand_t({6, 2}, 1)); },
                {"segment_mean", "i32/i64"});
    Csr bad = csr;
    bad.indices[3] = 11;
    check_error([&] { make_adj(bad); }, {"SparseAdj", "column 11", "[0, 11)"});
}
