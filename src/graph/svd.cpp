// svd.cpp — randomized truncated SVD, one-sided Jacobi SVD and PureSVD (see svd.h).
#include "graph/svd.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "graph/sparse.h"
#include "tensor/common.h"
#include "tensor/parallel.h"
#include "tensor/rng.h"

namespace tg::graph {

namespace {

// Y [A.rows, l] = A · X [A.cols, l], row-major, double; one output row per thread at a time.
void spmm_d(const Csr& A, const double* X, int64_t l, double* Y) {
#pragma omp parallel for schedule(dynamic, 64) num_threads(tg::num_threads())
    for (int64_t r = 0; r < A.rows; r++) {
        double* y = Y + r * l;
        std::fill(y, y + l, 0.0);
        for (int64_t e = A.row_begin(r); e < A.row_end(r); e++) {
            const double w = A.value(e);
            const double* x = X + int64_t(A.indices[size_t(e)]) * l;
            for (int64_t j = 0; j < l; j++) y[j] += w * x[j];
        }
    }
}

// row-major [rows, cols] <-> column-major [rows, cols]
std::vector<double> to_colmajor(const std::vector<double>& a, int64_t rows, int64_t cols) {
    std::vector<double> o(a.size());
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) o[size_t(c * rows + r)] = a[size_t(r * cols + c)];
    return o;
}
std::vector<double> to_rowmajor(const std::vector<double>& a, int64_t rows, int64_t cols) {
    std::vector<double> o(a.size());
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) o[size_t(r * cols + c)] = a[size_t(c * rows + r)];
    return o;
}

double dot(const double* a, const double* b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

}  // namespace

void orthonormalize_columns(std::vector<double>& A, int64_t rows, int64_t cols, std::vector<double>* T) {
    TG_CHECK(int64_t(A.size()) == rows * cols, "orthonormalize_columns: ", A.size(), " values for ", rows, "x", cols);
    if (T) T->assign(size_t(cols * cols), 0.0);
    for (int64_t j = 0; j < cols; j++) {
        double* v = A.data() + j * rows;
        const double norm0 = std::sqrt(dot(v, v, rows));
        // Two MGS passes against the earlier (already orthonormal) columns.
        for (int pass = 0; pass < 2; pass++)
            for (int64_t i = 0; i < j; i++) {
                const double* q = A.data() + i * rows;
                const double r = dot(q, v, rows);
                for (int64_t t = 0; t < rows; t++) v[t] -= r * q[t];
                if (T) (*T)[size_t(i * cols + j)] += r;
            }
        const double nv = std::sqrt(dot(v, v, rows));
        if (nv <= 1e-12 * std::max(norm0, 1e-300)) {  // dependent column: drop it
            std::fill(v, v + rows, 0.0);
            continue;
        }
        for (int64_t t = 0; t < rows; t++) v[t] /= nv;
        if (T) (*T)[size_t(j * cols + j)] = nv;
    }
}

SvdResult jacobi_svd(const std::vector<double>& A, int64_t m, int64_t n) {
    TG_CHECK(int64_t(A.size()) == m * n && m > 0 && n > 0, "jacobi_svd: ", A.size(), " values for ", m, "x", n);
    // One-sided Jacobi works on the columns of a tall matrix; a wide one is done as its transpose.
    const bool tr = m < n;
    const int64_t M = tr ? n : m, Nn = tr ? m : n;
    std::vector<double> W(static_cast<size_t>(M * Nn)), V(static_cast<size_t>(Nn * Nn), 0.0);  // both column-major
    for (int64_t r = 0; r < m; r++)
        for (int64_t c = 0; c < n; c++) {
            const double a = A[size_t(r * n + c)];
            if (tr) W[size_t(r * M + c)] = a;  // Aᵀ[c, r], column r
            else W[size_t(c * M + r)] = a;
        }
    for (int64_t j = 0; j < Nn; j++) V[size_t(j * Nn + j)] = 1.0;
    // Rotate column pairs (p, q) until all are orthogonal: W Vᵀ stays equal to the input, and at the
    // end W's column norms are the singular values.
    for (int sweep = 0; sweep < 80; sweep++) {
        double off = 0;
        for (int64_t p = 0; p < Nn; p++)
            for (int64_t q = p + 1; q < Nn; q++) {
                double* wp = W.data() + p * M;
                double* wq = W.data() + q * M;
                const double alpha = dot(wp, wp, M), beta = dot(wq, wq, M), gamma = dot(wp, wq, M);
                if (alpha == 0 || beta == 0) continue;
                const double rel = std::fabs(gamma) / std::sqrt(alpha * beta);
                if (rel < 1e-15) continue;
                off = std::max(off, rel);
                const double zeta = (beta - alpha) / (2 * gamma);
                const double t = (zeta >= 0 ? 1.0 : -1.0) / (std::fabs(zeta) + std::sqrt(1 + zeta * zeta));
                const double c = 1 / std::sqrt(1 + t * t), s = c * t;
                for (int64_t i = 0; i < M; i++) {
                    const double a = wp[i], b = wq[i];
                    wp[i] = c * a - s * b;
                    wq[i] = s * a + c * b;
                }
                double* vp = V.data() + p * Nn;
                double* vq = V.data() + q * Nn;
                for (int64_t i = 0; i < Nn; i++) {
                    const double a = vp[i], b = vq[i];
                    vp[i] = c * a - s * b;
                    vq[i] = s * a + c * b;
                }
            }
        if (off < 1e-15) break;
    }
    std::vector<double> sig(static_cast<size_t>(Nn));
    for (int64_t j = 0; j < Nn; j++) sig[size_t(j)] = std::sqrt(dot(W.data() + j * M, W.data() + j * M, M));
    std::vector<int64_t> order(static_cast<size_t>(Nn));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return sig[size_t(a)] > sig[size_t(b)]; });
    SvdResult res;
    res.k = Nn;
    std::vector<double> Uo(static_cast<size_t>(M * Nn)), Vo(static_cast<size_t>(Nn * Nn));  // row-major [M, Nn], [Nn, Nn]
    for (int64_t jj = 0; jj < Nn; jj++) {
        const int64_t j = order[size_t(jj)];
        const double s = sig[size_t(j)];
        res.s.push_back(s);
        for (int64_t i = 0; i < M; i++) Uo[size_t(i * Nn + jj)] = s > 0 ? W[size_t(j * M + i)] / s : 0.0;
        for (int64_t i = 0; i < Nn; i++) Vo[size_t(i * Nn + jj)] = V[size_t(j * Nn + i)];
    }
    // A = Uo Σ Voᵀ for the tall matrix; for a transposed input swap the roles back.
    res.U = tr ? Vo : Uo;
    res.V = tr ? Uo : Vo;
    return res;
}

SvdResult randomized_svd(const Csr& A, int64_t k, int64_t oversample, int power_iters, uint64_t seed) {
    const int64_t m = A.rows, n = A.cols;
    TG_CHECK(k > 0 && k <= std::min(m, n), "randomized_svd: rank ", k, " is not in 1..", std::min(m, n), " for a ",
             m, "x", n, " matrix");
    TG_CHECK(oversample >= 0 && power_iters >= 0, "randomized_svd: negative oversampling or power iterations");
    const int64_t l = std::min(k + oversample, std::min(m, n));
    CsrT AT = transpose_csr(A);
    // Ω [n, l] ~ N(0, 1)
    std::vector<double> Om(static_cast<size_t>(n * l));
    for (int64_t t = 0; t < n * l; t++) Om[size_t(t)] = philox_normal(seed ^ 0x5356440000000000ull, uint64_t(t));
    std::vector<double> Y(static_cast<size_t>(m * l)), Z(static_cast<size_t>(n * l));
    spmm_d(A, Om.data(), l, Y.data());
    std::vector<double> Q = to_colmajor(Y, m, l);
    orthonormalize_columns(Q, m, l);
    for (int it = 0; it < power_iters; it++) {
        spmm_d(AT.t, to_rowmajor(Q, m, l).data(), l, Z.data());  // Z = Aᵀ Q
        std::vector<double> Qz = to_colmajor(Z, n, l);
        orthonormalize_columns(Qz, n, l);
        spmm_d(A, to_rowmajor(Qz, n, l).data(), l, Y.data());   // Y = A Qz
        Q = to_colmajor(Y, m, l);
        orthonormalize_columns(Q, m, l);
    }
    // Bᵀ = Aᵀ Q = Q₂ T
    spmm_d(AT.t, to_rowmajor(Q, m, l).data(), l, Z.data());
    std::vector<double> Q2 = to_colmajor(Z, n, l), T;
    orthonormalize_columns(Q2, n, l, &T);
    // B = Tᵀ Q₂ᵀ; SVD of the small Tᵀ = W Σ Zsᵀ  ->  A ≈ (Q W) Σ (Q₂ Zs)ᵀ
    std::vector<double> Tt(static_cast<size_t>(l * l));
    for (int64_t i = 0; i < l; i++)
        for (int64_t j = 0; j < l; j++) Tt[size_t(i * l + j)] = T[size_t(j * l + i)];
    SvdResult small = jacobi_svd(Tt, l, l);
    SvdResult res;
    res.k = k;
    res.s.assign(small.s.begin(), small.s.begin() + k);
    res.U.assign(size_t(m * k), 0.0);
    res.V.assign(size_t(n * k), 0.0);
#pragma omp parallel for schedule(static) num_threads(tg::num_threads())
    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < k; j++) {
            double s = 0;
            for (int64_t t = 0; t < l; t++) s += Q[size_t(t * m + r)] * small.U[size_t(t * l + j)];
            res.U[size_t(r * k + j)] = s;
        }
#pragma omp parallel for schedule(static) num_threads(tg::num_threads())
    for (int64_t r = 0; r < n; r++)
        for (int64_t j = 0; j < k; j++) {
            double s = 0;
            for (int64_t t = 0; t < l; t++) s += Q2[size_t(t * n + r)] * small.V[size_t(t * l + j)];
            res.V[size_t(r * k + j)] = s;
        }
    return res;
}

void puresvd_factors(const Csr& R, int64_t k, int64_t oversample, int power_iters, uint64_t seed,
                     std::vector<float>& user_emb, std::vector<float>& item_emb, std::vector<double>* sigma) {
    Csr B = R;  // binary: PureSVD factorizes the 0/1 interaction matrix
    B.values.clear();
    SvdResult s = randomized_svd(B, k, oversample, power_iters, seed);
    // user factor r_u V_k (computed from R itself, as the scoring rule is written), item factor V_k
    std::vector<double> UV(static_cast<size_t>(R.rows * k));
    spmm_d(B, s.V.data(), k, UV.data());
    user_emb.assign(UV.begin(), UV.end());
    item_emb.assign(s.V.begin(), s.V.end());
    if (sigma) *sigma = s.s;
}

}  // namespace tg::graph
