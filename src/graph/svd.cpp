// svd.cpp — block Krylov and randomized truncated SVD, one-sided Jacobi SVD, symmetric eigensolver and
// PureSVD (see svd.h). The 8-wide block kernels of krylov_svd have AVX2 / AVX-512 twins
// (svd_kernels_impl.h, compiled as svd_avx2.cpp and svd_avx512.cpp).
#include "graph/svd.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "graph/sparse.h"
#include "tensor/common.h"
#include "tensor/cpu_isa.h"
#include "tensor/parallel.h"
#include "tensor/rng.h"

namespace tg::graph {

namespace svd_detail {
// Loops with fewer multiply-adds than this run on one thread: a parallel region costs microseconds
// (and much more on a loaded machine), which small matrices cannot win back.
constexpr int64_t kParallelWork = int64_t(1) << 20;
}  // namespace svd_detail
using svd_detail::kParallelWork;

namespace {

// Y [A.rows, l] = A · X [A.cols, l], row-major, double; one output row per thread at a time.
void spmm_d(const Csr& A, const double* X, int64_t l, double* Y) {
#pragma omp parallel for schedule(dynamic, 64) num_threads(tg::num_threads()) if (A.nnz() * l >= kParallelWork)
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
#pragma omp parallel for schedule(static) num_threads(tg::num_threads()) if (m * k * l >= kParallelWork)
    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < k; j++) {
            double s = 0;
            for (int64_t t = 0; t < l; t++) s += Q[size_t(t * m + r)] * small.U[size_t(t * l + j)];
            res.U[size_t(r * k + j)] = s;
        }
#pragma omp parallel for schedule(static) num_threads(tg::num_threads()) if (n * k * l >= kParallelWork)
    for (int64_t r = 0; r < n; r++)
        for (int64_t j = 0; j < k; j++) {
            double s = 0;
            for (int64_t t = 0; t < l; t++) s += Q2[size_t(t * n + r)] * small.V[size_t(t * l + j)];
            res.V[size_t(r * k + j)] = s;
        }
    return res;
}

// ---- symmetric eigensolver ------------------------------------------------------------------------
// EISPACK tred2 + tql2 as written in the public-domain JAMA library. V starts as A (row-major) and ends
// holding the eigenvectors in its COLUMNS; d the eigenvalues, e the off-diagonal scratch.
namespace {

// Householder reduction of the symmetric V to tridiagonal form (diagonal d, sub-diagonal e[1..n-1]),
// V accumulating the orthogonal transformation when `accumulate` (else V is left as scratch).
void tred2(std::vector<double>& Vm, int64_t n, std::vector<double>& d, std::vector<double>& e, bool accumulate) {
    auto V = [&](int64_t i, int64_t j) -> double& { return Vm[size_t(i * n + j)]; };
    for (int64_t j = 0; j < n; j++) d[size_t(j)] = V(n - 1, j);
    for (int64_t i = n - 1; i > 0; i--) {
        double scale = 0, h = 0;
        for (int64_t k = 0; k < i; k++) scale += std::fabs(d[size_t(k)]);
        if (scale == 0) {
            e[size_t(i)] = d[size_t(i - 1)];
            for (int64_t j = 0; j < i; j++) {
                d[size_t(j)] = V(i - 1, j);
                V(i, j) = 0;
                V(j, i) = 0;
            }
        } else {
            // Householder vector from row i's part left of the diagonal (scaled to avoid under/overflow)
            for (int64_t k = 0; k < i; k++) {
                d[size_t(k)] /= scale;
                h += d[size_t(k)] * d[size_t(k)];
            }
            double f = d[size_t(i - 1)];
            double g = std::sqrt(h);
            if (f > 0) g = -g;
            e[size_t(i)] = scale * g;
            h -= f * g;
            d[size_t(i - 1)] = f - g;
            for (int64_t j = 0; j < i; j++) e[size_t(j)] = 0;
            // p = A u / h into e, then the rank-2 update A -= u qᵀ + q uᵀ
            for (int64_t j = 0; j < i; j++) {
                f = d[size_t(j)];
                V(j, i) = f;
                g = e[size_t(j)] + V(j, j) * f;
                for (int64_t k = j + 1; k <= i - 1; k++) {
                    g += V(k, j) * d[size_t(k)];
                    e[size_t(k)] += V(k, j) * f;
                }
                e[size_t(j)] = g;
            }
            f = 0;
            for (int64_t j = 0; j < i; j++) {
                e[size_t(j)] /= h;
                f += e[size_t(j)] * d[size_t(j)];
            }
            const double hh = f / (h + h);
            for (int64_t j = 0; j < i; j++) e[size_t(j)] -= hh * d[size_t(j)];
            for (int64_t j = 0; j < i; j++) {
                f = d[size_t(j)];
                g = e[size_t(j)];
                for (int64_t k = j; k <= i - 1; k++) V(k, j) -= (f * e[size_t(k)] + g * d[size_t(k)]);
                d[size_t(j)] = V(i - 1, j);
                V(i, j) = 0;
            }
        }
        d[size_t(i)] = h;
    }
    if (!accumulate) {  // the tridiagonal's diagonal is V's diagonal now
        for (int64_t j = 0; j < n; j++) d[size_t(j)] = V(j, j);
        e[0] = 0;
        return;
    }
    // Accumulate the transformations.
    for (int64_t i = 0; i < n - 1; i++) {
        V(n - 1, i) = V(i, i);
        V(i, i) = 1;
        const double h = d[size_t(i + 1)];
        if (h != 0) {
            for (int64_t k = 0; k <= i; k++) d[size_t(k)] = V(k, i + 1) / h;
            for (int64_t j = 0; j <= i; j++) {
                double g = 0;
                for (int64_t k = 0; k <= i; k++) g += V(k, i + 1) * V(k, j);
                for (int64_t k = 0; k <= i; k++) V(k, j) -= g * d[size_t(k)];
            }
        }
        for (int64_t k = 0; k <= i; k++) V(k, i + 1) = 0;
    }
    for (int64_t j = 0; j < n; j++) {
        d[size_t(j)] = V(n - 1, j);
        V(n - 1, j) = 0;
    }
    V(n - 1, n - 1) = 1;
    e[0] = 0;
}

// Implicit QL on the tridiagonal (d, e); Zt [n, n] holds the accumulated vectors TRANSPOSED (row j =
// column j of V), so each plane rotation updates two contiguous rows. Zt == nullptr: values only.
void tql2(int64_t n, std::vector<double>& d, std::vector<double>& e, double* Zt) {
    for (int64_t i = 1; i < n; i++) e[size_t(i - 1)] = e[size_t(i)];
    e[size_t(n - 1)] = 0;
    double f = 0, tst1 = 0;
    const double eps = std::ldexp(1.0, -52);
    for (int64_t l = 0; l < n; l++) {
        // Find a small sub-diagonal element (the matrix splits there).
        tst1 = std::max(tst1, std::fabs(d[size_t(l)]) + std::fabs(e[size_t(l)]));
        int64_t m = l;
        while (m < n - 1 && std::fabs(e[size_t(m)]) > eps * tst1) m++;
        if (m > l) {
            int iter = 0;
            do {
                TG_CHECK(++iter <= 60, "symmetric_eigen: QL iteration did not converge");
                // Shift from the leading 2x2 block.
                double g = d[size_t(l)];
                double p = (d[size_t(l + 1)] - g) / (2.0 * e[size_t(l)]);
                double r = std::hypot(p, 1.0);
                if (p < 0) r = -r;
                d[size_t(l)] = e[size_t(l)] / (p + r);
                d[size_t(l + 1)] = e[size_t(l)] * (p + r);
                const double dl1 = d[size_t(l + 1)];
                double h = g - d[size_t(l)];
                for (int64_t i = l + 2; i < n; i++) d[size_t(i)] -= h;
                f += h;
                // Implicit QL transformation (plane rotations from m-1 down to l).
                p = d[size_t(m)];
                double c = 1, c2 = c, c3 = c, s = 0, s2 = 0;
                const double el1 = e[size_t(l + 1)];
                for (int64_t i = m - 1; i >= l; i--) {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    g = c * e[size_t(i)];
                    h = c * p;
                    r = std::hypot(p, e[size_t(i)]);
                    e[size_t(i + 1)] = s * r;
                    s = e[size_t(i)] / r;
                    c = p / r;
                    p = c * d[size_t(i)] - s * g;
                    d[size_t(i + 1)] = h + s * (c * g + s * d[size_t(i)]);
                    if (Zt) {
                        double* zi = Zt + i * n;
                        double* zj = Zt + (i + 1) * n;
                        for (int64_t k = 0; k < n; k++) {
                            const double hk = zj[k];
                            zj[k] = s * zi[k] + c * hk;
                            zi[k] = c * zi[k] - s * hk;
                        }
                    }
                }
                p = -s * s2 * c3 * el1 * e[size_t(l)] / dl1;
                e[size_t(l)] = s * p;
                d[size_t(l)] = c * p;
            } while (std::fabs(e[size_t(l)]) > eps * tst1);
        }
        d[size_t(l)] += f;
        e[size_t(l)] = 0;
    }
}

}  // namespace

void symmetric_eigen(const std::vector<double>& A, int64_t n, std::vector<double>& w, std::vector<double>* Z) {
    TG_CHECK(n > 0 && int64_t(A.size()) == n * n, "symmetric_eigen: ", A.size(), " values for ", n, "x", n);
    std::vector<double> V = A, d(static_cast<size_t>(n)), e(static_cast<size_t>(n));
    if (Z) {
        tred2(V, n, d, e, true);
        std::vector<double> Zt = to_colmajor(V, n, n);  // row j = eigenvector j
        tql2(n, d, e, Zt.data());
        std::vector<int64_t> order(static_cast<size_t>(n));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return d[size_t(a)] < d[size_t(b)]; });
        w.resize(size_t(n));
        Z->resize(size_t(n * n));
        for (int64_t j = 0; j < n; j++) {
            w[size_t(j)] = d[size_t(order[size_t(j)])];
            std::copy_n(Zt.data() + order[size_t(j)] * n, n, Z->data() + j * n);
        }
    } else {
        tred2(V, n, d, e, false);
        tql2(n, d, e, nullptr);
        std::sort(d.begin(), d.end());
        w = d;
    }
}

// ---- block Krylov SVD -----------------------------------------------------------------------------
namespace svd_detail {
constexpr int64_t kB = 8;         // Krylov block width: 8 doubles = one zmm, one cache line per row
constexpr int64_t kChunk = 1024;  // rows per partial sum of a projection (fixed: thread-count independent)
// AVX-512 and AVX2 twins (svd_kernels_impl.h), same fma order as the loops below.
void spmm8_avx512(const Csr& A, const double* X, double* Y);
void project8_avx512(const double* const* U, int64_t nb, const double* Z, int64_t p, double* part);
void subtract8_avx512(const double* const* U, int64_t nb, const double* P, double* Z, int64_t p);
void combine_avx512(const double* const* U, int64_t nb, const double* Y, int64_t L, double* O, int64_t p);
void spmm8_avx2(const Csr& A, const double* X, double* Y);
void project8_avx2(const double* const* U, int64_t nb, const double* Z, int64_t p, double* part);
void subtract8_avx2(const double* const* U, int64_t nb, const double* P, double* Z, int64_t p);
void combine_avx2(const double* const* U, int64_t nb, const double* Y, int64_t L, double* O, int64_t p);
}  // namespace svd_detail

namespace {
using namespace svd_detail;

// Y [A.rows, 8] = A · X [A.cols, 8]
void spmm8(const Csr& A, const double* X, double* Y) {
    if (cpu_isa() == Isa::avx512) return spmm8_avx512(A, X, Y);
    if (cpu_isa() == Isa::avx2) return spmm8_avx2(A, X, Y);
#pragma omp parallel for schedule(dynamic, 256) num_threads(tg::num_threads()) if (A.nnz() * kB >= kParallelWork)
    for (int64_t r = 0; r < A.rows; r++) {
        double y[kB] = {};
        for (int64_t e = A.row_begin(r); e < A.row_end(r); e++) {
            const double w = A.value(e);
            const double* x = X + int64_t(A.indices[size_t(e)]) * kB;
            for (int64_t j = 0; j < kB; j++) y[j] = std::fma(w, x[j], y[j]);
        }
        std::copy_n(y, kB, Y + r * kB);
    }
}

// P [nb*8, 8] = Uᵀ Z for the basis U = [U_0 … U_{nb-1}] (blocks [p, 8]) and Z [p, 8]. Each
// (block, row chunk) partial is summed in row order, then the chunks in chunk order.
void project8(const std::vector<const double*>& U, const double* Z, int64_t p, double* P) {
    const int64_t nb = int64_t(U.size()), nc = (p + kChunk - 1) / kChunk;
    std::vector<double> part(static_cast<size_t>(nb * nc * 64));
    if (cpu_isa() == Isa::avx512) {
        project8_avx512(U.data(), nb, Z, p, part.data());
    } else if (cpu_isa() == Isa::avx2) {
        project8_avx2(U.data(), nb, Z, p, part.data());
    } else {
#pragma omp parallel for collapse(2) schedule(dynamic, 4) num_threads(tg::num_threads()) if (nb * p * 64 >= kParallelWork)
        for (int64_t i = 0; i < nb; i++)
            for (int64_t c = 0; c < nc; c++) {
                double acc[64] = {};
                for (int64_t r = c * kChunk, end = std::min(p, (c + 1) * kChunk); r < end; r++)
                    for (int64_t a = 0; a < kB; a++)
                        for (int64_t b = 0; b < kB; b++)
                            acc[a * kB + b] = std::fma(U[size_t(i)][r * kB + a], Z[r * kB + b], acc[a * kB + b]);
                std::copy_n(acc, 64, part.data() + (i * nc + c) * 64);
            }
    }
    for (int64_t i = 0; i < nb; i++)
        for (int64_t t = 0; t < 64; t++) {
            double s = 0;
            for (int64_t c = 0; c < nc; c++) s += part[size_t((i * nc + c) * 64 + t)];
            P[i * 64 + t] = s;
        }
}

// Z [p, 8] -= U P
void subtract8(const std::vector<const double*>& U, const double* P, double* Z, int64_t p) {
    const int64_t nb = int64_t(U.size());
    if (cpu_isa() == Isa::avx512) return subtract8_avx512(U.data(), nb, P, Z, p);
    if (cpu_isa() == Isa::avx2) return subtract8_avx2(U.data(), nb, P, Z, p);
#pragma omp parallel for schedule(dynamic, 512) num_threads(tg::num_threads()) if (nb * p * 64 >= kParallelWork)
    for (int64_t r = 0; r < p; r++) {
        double acc[kB] = {};
        for (int64_t i = 0; i < nb; i++)
            for (int64_t a = 0; a < kB; a++)
                for (int64_t b = 0; b < kB; b++) acc[b] = std::fma(U[size_t(i)][r * kB + a], P[i * 64 + a * kB + b], acc[b]);
        for (int64_t b = 0; b < kB; b++) Z[r * kB + b] -= acc[b];
    }
}

// O [p, L] = U [p, nb*8] · Y [nb*8, L], L a multiple of 8.
void combine(const std::vector<const double*>& U, const double* Y, int64_t L, double* O, int64_t p) {
    const int64_t nb = int64_t(U.size());
    if (cpu_isa() == Isa::avx512) return combine_avx512(U.data(), nb, Y, L, O, p);
    if (cpu_isa() == Isa::avx2) return combine_avx2(U.data(), nb, Y, L, O, p);
#pragma omp parallel for schedule(static) num_threads(tg::num_threads()) if (p * nb * kB * L >= kParallelWork)
    for (int64_t r = 0; r < p; r++) {
        double* o = O + r * L;
        std::fill(o, o + L, 0.0);
        for (int64_t i = 0; i < nb; i++)
            for (int64_t a = 0; a < kB; a++) {
                const double u = U[size_t(i)][r * kB + a];
                const double* y = Y + (i * kB + a) * L;
                for (int64_t j = 0; j < L; j++) o[j] = std::fma(u, y[j], o[j]);
            }
    }
}

// Y [rows, cols] (row-major) = Q R, QᵀQ = I, by Cholesky QR twice (CholeskyQR2, Fukaya et al. 2014):
// G = YᵀY = LLᵀ, Y <- Y L⁻ᵀ, and once more; R = R₂ R₁ ([cols, cols] row-major, upper) when wanted.
// Accurate (orthogonality ~ eps) for cond(Y) up to ~1e5..1e7; returns false, Y untouched, when a
// Cholesky pivot shows a column is nearly dependent on the earlier ones (then use MGS).
// The Gram matrix is summed in fixed row chunks, then the chunks in order (thread-count independent).
bool cholesky_qr2(double* Y, int64_t rows, int64_t cols, std::vector<double>* Rout) {
    const int64_t nc = (rows + kChunk - 1) / kChunk, cc = cols * cols;
    std::vector<double> part(static_cast<size_t>(nc * cc)), G(static_cast<size_t>(cc)), R(static_cast<size_t>(cc));
    std::vector<double> Rtot;
    std::vector<double> Y0;
    for (int pass = 0; pass < 2; pass++) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(tg::num_threads()) if (rows * cols * cols >= kParallelWork)
        for (int64_t c = 0; c < nc; c++) {
            double* acc = part.data() + c * cc;
            std::fill(acc, acc + cc, 0.0);
            for (int64_t r = c * kChunk, end = std::min(rows, (c + 1) * kChunk); r < end; r++) {
                const double* y = Y + r * cols;
                for (int64_t a = 0; a < cols; a++) {
                    const double ya = y[a];
                    double* g = acc + a * cols;
                    for (int64_t b = a; b < cols; b++) g[b] += ya * y[b];
                }
            }
        }
        for (int64_t t = 0; t < cc; t++) {
            double sum = 0;
            for (int64_t c = 0; c < nc; c++) sum += part[size_t(c * cc + t)];
            G[size_t(t)] = sum;
        }
        // G = Rᵀ R, R upper triangular (row-major)
        std::fill(R.begin(), R.end(), 0.0);
        for (int64_t j = 0; j < cols; j++) {
            double d = G[size_t(j * cols + j)];
            for (int64_t t = 0; t < j; t++) d -= R[size_t(t * cols + j)] * R[size_t(t * cols + j)];
            if (!(d > 1e-10 * G[size_t(j * cols + j)]) || !(G[size_t(j * cols + j)] > 0)) {
                if (pass == 1) std::copy(Y0.begin(), Y0.end(), Y);
                return false;
            }
            const double rjj = std::sqrt(d);
            R[size_t(j * cols + j)] = rjj;
            for (int64_t b = j + 1; b < cols; b++) {
                double v = G[size_t(j * cols + b)];
                for (int64_t t = 0; t < j; t++) v -= R[size_t(t * cols + j)] * R[size_t(t * cols + b)];
                R[size_t(j * cols + b)] = v / rjj;
            }
        }
        if (pass == 0) Y0.assign(Y, Y + rows * cols);
        // Y <- Y R⁻¹, row by row (forward substitution with the upper-triangular R)
#pragma omp parallel for schedule(static) num_threads(tg::num_threads()) if (rows * cols * cols >= kParallelWork)
        for (int64_t r = 0; r < rows; r++) {
            double* y = Y + r * cols;
            for (int64_t j = 0; j < cols; j++) {
                double v = y[j];
                for (int64_t t = 0; t < j; t++) v -= y[t] * R[size_t(t * cols + j)];
                y[j] = v / R[size_t(j * cols + j)];
            }
        }
        if (pass == 0) {
            Rtot = R;
        } else if (Rout) {  // R₂ R₁
            Rout->assign(size_t(cc), 0.0);
            for (int64_t i = 0; i < cols; i++)
                for (int64_t j = i; j < cols; j++) {
                    double v = 0;
                    for (int64_t t = i; t <= j; t++) v += R[size_t(i * cols + t)] * Rtot[size_t(t * cols + j)];
                    (*Rout)[size_t(i * cols + j)] = v;
                }
        }
    }
    return true;
}

// Orthonormalize the 8 columns of the block Z [p, 8] (row-major) against each other, MGS twice:
// Z_in = Z_out R (R [8, 8] upper triangular, row-major). Z is already orthogonal to the basis U. A
// column whose remainder is below 1e-12 of its size before the block Gram–Schmidt (pre_norm) has no
// new direction (the Krylov space is nearly invariant): it is replaced by a random vector orthogonal
// to U and to the earlier columns, or zeroed when U plus the block already span everything.
// Returns the number of non-zero columns.
int64_t orth_block(double* Z, int64_t p, const double* pre_norm, const std::vector<const double*>& U, double* R,
                   uint64_t seed, uint64_t& draws) {
    auto col_dot = [&](const double* x, int64_t a, const double* y, int64_t b) {
        double s = 0;
        for (int64_t r = 0; r < p; r++) s += x[r * kB + a] * y[r * kB + b];
        return s;
    };
    std::fill(R, R + 64, 0.0);
    int64_t live = 0;
    for (int64_t c = 0; c < kB; c++) {
        for (int pass = 0; pass < 2; pass++)
            for (int64_t a = 0; a < c; a++) {
                const double r = col_dot(Z, a, Z, c);
                for (int64_t t = 0; t < p; t++) Z[t * kB + c] -= r * Z[t * kB + a];
                R[a * kB + c] += r;
            }
        double nv = std::sqrt(col_dot(Z, c, Z, c));
        if (nv > 1e-12 * pre_norm[c] && nv > 0) {
            R[c * kB + c] = nv;
            for (int64_t t = 0; t < p; t++) Z[t * kB + c] /= nv;
            live++;
            continue;
        }
        // No new direction: a fresh random one, orthogonalized (twice) against U and the block so far.
        for (int64_t t = 0; t < p; t++) Z[t * kB + c] = philox_normal(seed ^ 0x4b52594c4f560000ull, draws++);
        const double n0 = std::sqrt(col_dot(Z, c, Z, c));
        for (int pass = 0; pass < 2; pass++) {
            for (const double* u : U)
                for (int64_t a = 0; a < kB; a++) {
                    const double r = col_dot(u, a, Z, c);
                    for (int64_t t = 0; t < p; t++) Z[t * kB + c] -= r * u[t * kB + a];
                }
            for (int64_t a = 0; a < c; a++) {
                const double r = col_dot(Z, a, Z, c);
                for (int64_t t = 0; t < p; t++) Z[t * kB + c] -= r * Z[t * kB + a];
            }
        }
        nv = std::sqrt(col_dot(Z, c, Z, c));
        const bool fresh = nv > 1e-8 * n0;  // else U and the block already span R^p
        for (int64_t t = 0; t < p; t++) Z[t * kB + c] = fresh ? Z[t * kB + c] / nv : 0.0;
        live += fresh;
    }
    return live;
}

// QR of the block: CholeskyQR2 when every column kept at least 1e-6 of its size through the
// Gram–Schmidt against U (the common case: cheap, parallel), else the careful MGS of orth_block.
int64_t qr_block(double* Z, int64_t p, const double* pre_norm, const std::vector<const double*>& U, double* R,
                 uint64_t seed, uint64_t& draws) {
    bool ok = true;
    for (int64_t c = 0; c < kB && ok; c++) {
        double s = 0;
        for (int64_t r = 0; r < p; r++) s += Z[r * kB + c] * Z[r * kB + c];
        ok = std::sqrt(s) > 1e-6 * pre_norm[c];
    }
    if (ok && cholesky_qr2(Z, p, kB, nullptr)) return kB;
    return orth_block(Z, p, pre_norm, U, R, seed, draws);
}

}  // namespace

SvdResult krylov_svd(const Csr& A, int64_t k, const KrylovSvdOptions& opt) {
    TG_CHECK(k > 0 && k <= std::min(A.rows, A.cols), "krylov_svd: rank ", k, " is not in 1..", std::min(A.rows, A.cols),
             " for a ", A.rows, "x", A.cols, " matrix");
    TG_CHECK(opt.oversample >= 0 && opt.max_iters >= 0 && opt.tol >= 0, "krylov_svd: negative oversample, max_iters or tol");
    // M = the orientation with fewer rows p (the basis lives in R^p), Mt its transpose, q = M's columns.
    CsrT AT = transpose_csr(A);
    const bool flip = A.rows > A.cols;
    const Csr& M = flip ? AT.t : A;
    const Csr& Mt = flip ? A : AT.t;
    const int64_t p = M.rows, q = M.cols;
    const int64_t want = std::min(k + opt.oversample, p);  // Ritz vectors kept for the final Rayleigh–Ritz

    // U₀ = orth(M Ω), Ω [q, 8] ~ N(0, 1)
    std::vector<std::vector<double>> blocks;
    std::vector<const double*> U;
    std::vector<std::vector<double>> Tcols;  // Tcols[j] [(j+1)*8, 8]: Uᵀ S U_j (block column j of T)
    std::vector<double> W(static_cast<size_t>(q * kB)), Z(static_cast<size_t>(p * kB));
    std::vector<double> P1(64), P2(64), R(64);
    uint64_t draws = 0;
    int64_t live = 0;  // non-zero basis columns
    {
        for (int64_t t = 0; t < q * kB; t++) W[size_t(t)] = philox_normal(opt.seed ^ 0x5356440000000000ull, uint64_t(t));
        spmm8(M, W.data(), Z.data());
        std::vector<double> pre(kB);
        for (int64_t c = 0; c < kB; c++) {
            double s = 0;
            for (int64_t r = 0; r < p; r++) s += Z[size_t(r * kB + c)] * Z[size_t(r * kB + c)];
            pre[size_t(c)] = std::sqrt(s);
        }
        live += qr_block(Z.data(), p, pre.data(), U, R.data(), opt.seed, draws);
        blocks.push_back(Z);
        U.push_back(blocks.back().data());
    }

    // Assemble T [D, D] (D = 8 * block columns known) from the block columns, symmetrized.
    auto assemble_T = [&](int64_t nbk) {
        const int64_t D = nbk * kB;
        std::vector<double> T(static_cast<size_t>(D * D), 0.0);
        for (int64_t j = 0; j < nbk; j++)
            for (int64_t i = 0; i < (j + 1) * kB; i++)
                for (int64_t b = 0; b < kB; b++) {
                    const double v = Tcols[size_t(j)][size_t(i * kB + b)];
                    const int64_t col = j * kB + b;
                    if (i < j * kB) {  // off-diagonal block: both mirror positions
                        T[size_t(i * D + col)] = v;
                        T[size_t(col * D + i)] = v;
                    } else {  // diagonal block: average with its transpose
                        T[size_t(i * D + col)] += 0.5 * v;
                        T[size_t(col * D + i)] += 0.5 * v;
                    }
                }
        return T;
    };

    std::vector<double> prev_sigma;
    int64_t steps = 0;
    for (int64_t j = 0;; j++) {
        // Z = M Mᵀ U_j, then two block Gram–Schmidt passes against the whole basis.
        spmm8(Mt, U.back(), W.data());
        spmm8(M, W.data(), Z.data());
        std::vector<double> pre(kB);
        for (int64_t c = 0; c < kB; c++) {
            double s = 0;
            for (int64_t r = 0; r < p; r++) s += Z[size_t(r * kB + c)] * Z[size_t(r * kB + c)];
            pre[size_t(c)] = std::sqrt(s);
        }
        const int64_t nb = int64_t(U.size());
        P1.resize(size_t(nb * 64));
        P2.resize(size_t(nb * 64));
        // Pass 1, local: against U_{j-1} and U_j only, where S U_j's big components are (in exact
        // arithmetic the block three-term recurrence). Pass 2, full: against every block, removing
        // what rounding left along the older ones and re-cleaning the local ones ("twice is enough").
        const int64_t lo = std::max<int64_t>(0, nb - 2);
        const std::vector<const double*> Ul(U.begin() + lo, U.end());
        project8(Ul, Z.data(), p, P1.data());
        subtract8(Ul, P1.data(), Z.data(), p);
        project8(U, Z.data(), p, P2.data());
        subtract8(U, P2.data(), Z.data(), p);
        Tcols.emplace_back(P2.begin(), P2.begin() + nb * 64);  // column block j of T = both passes' coefficients
        for (int64_t t = 0; t < (nb - lo) * 64; t++) Tcols.back()[size_t(lo * 64 + t)] += P1[size_t(t)];
        steps = j + 1;

        // Converged? (T for blocks 0..j is complete now.)
        const int64_t D = nb * kB;
        bool stop = live >= p || (opt.max_iters > 0 && steps >= opt.max_iters && D >= k);  // never fewer than k Ritz vectors
        if (!stop && D >= k + opt.oversample && (j % 2 == 1 || D + kB > p)) {
            std::vector<double> theta;
            symmetric_eigen(assemble_T(nb), D, theta, nullptr);
            std::vector<double> sig(static_cast<size_t>(k));
            for (int64_t i = 0; i < k; i++) sig[size_t(i)] = std::sqrt(std::max(0.0, theta[size_t(D - 1 - i)]));
            // Ritz values of T carry rounding noise of about eps·θ₁/θ_k (relative): tol no finer than that.
            const double noise = 4 * 2.220446049250313e-16 * sig[0] * sig[0] /
                                 std::max(sig[size_t(k - 1)] * sig[size_t(k - 1)], 1e-300);
            if (!prev_sigma.empty()) {
                double change = 0;
                for (int64_t i = 0; i < k; i++)
                    if (sig[size_t(i)] > 0)
                        change = std::max(change, std::fabs(sig[size_t(i)] - prev_sigma[size_t(i)]) / sig[size_t(i)]);
                stop = change <= std::max(opt.tol, noise);
            }
            prev_sigma = sig;
        }
        if (stop) break;
        live += qr_block(Z.data(), p, pre.data(), U, R.data(), opt.seed, draws);
        blocks.push_back(Z);
        U.push_back(blocks.back().data());
    }
    // Rayleigh–Ritz: T = Y Θ Yᵀ; Ũ = U Y[:, top l] [p, l] (padded to L columns of zeros).
    const int64_t nb = int64_t(U.size()), D = nb * kB;
    std::vector<double> theta, Yr;
    symmetric_eigen(assemble_T(nb), D, theta, &Yr);  // row i of Yr = eigenvector i, ascending
    const int64_t l = std::min(want, D), L = (l + kB - 1) / kB * kB;
    std::vector<double> Yc(static_cast<size_t>(D * L), 0.0);
    for (int64_t c = 0; c < l; c++)
        for (int64_t d = 0; d < D; d++) Yc[size_t(d * L + c)] = Yr[size_t((D - 1 - c) * D + d)];
    std::vector<double> Ut(static_cast<size_t>(p * L));
    combine(U, Yc.data(), L, Ut.data(), p);
    blocks.clear();
    // Ũ's columns are orthonormal only as far as the basis is (~1e-14 after the local + full passes);
    // the Ritz values below are exact for an exactly orthonormal Ũ, so make it one (CholeskyQR2, or MGS
    // when Ũ has zero columns — a basis that ran out of directions).
    {
        std::vector<double> Uc(static_cast<size_t>(p * l));
        for (int64_t r = 0; r < p; r++) std::copy_n(Ut.data() + r * L, l, Uc.data() + r * l);
        if (!cholesky_qr2(Uc.data(), p, l, nullptr)) {
            Uc = to_colmajor(Uc, p, l);
            orthonormalize_columns(Uc, p, l);
            Uc = to_rowmajor(Uc, p, l);
        }
        for (int64_t r = 0; r < p; r++) std::copy_n(Uc.data() + r * l, l, Ut.data() + r * L);
    }
    // Mᵀ Ũ [q, L] = Q Tq (QR of the first l columns), Tq = Us Σ Vsᵀ (Jacobi)  ->  M ≈ (Ũ Vs) Σ (Q Us)ᵀ
    std::vector<double> Y2(static_cast<size_t>(q * L)), Tq;
    spmm_d(Mt, Ut.data(), L, Y2.data());
    std::vector<double> Q(static_cast<size_t>(q * l));  // row-major [q, l]
    for (int64_t r = 0; r < q; r++)
        for (int64_t c = 0; c < l; c++) Q[size_t(r * l + c)] = Y2[size_t(r * L + c)];
    if (!cholesky_qr2(Q.data(), q, l, &Tq)) {  // (nearly) rank-deficient: MGS, column-major
        Q = to_colmajor(Q, q, l);
        orthonormalize_columns(Q, q, l, &Tq);
        Q = to_rowmajor(Q, q, l);
    }
    SvdResult small = jacobi_svd(Tq, l, l);
    std::vector<double> pside(static_cast<size_t>(p * k)), qside(static_cast<size_t>(q * k));
#pragma omp parallel for schedule(static) num_threads(tg::num_threads()) if (p * k * l >= kParallelWork)
    for (int64_t r = 0; r < p; r++)
        for (int64_t j = 0; j < k; j++) {
            double s = 0;
            for (int64_t t = 0; t < l; t++) s += Ut[size_t(r * L + t)] * small.V[size_t(t * l + j)];
            pside[size_t(r * k + j)] = s;
        }
#pragma omp parallel for schedule(static) num_threads(tg::num_threads()) if (q * k * l >= kParallelWork)
    for (int64_t r = 0; r < q; r++)
        for (int64_t j = 0; j < k; j++) {
            double s = 0;
            for (int64_t t = 0; t < l; t++) s += Q[size_t(r * l + t)] * small.U[size_t(t * l + j)];
            qside[size_t(r * k + j)] = s;
        }
    SvdResult res;
    res.k = k;
    res.s.assign(small.s.begin(), small.s.begin() + k);
    res.U = flip ? std::move(qside) : std::move(pside);
    res.V = flip ? std::move(pside) : std::move(qside);
    res.iters = steps;
    res.krylov_dim = D;
    return res;
}

void puresvd_factors(const Csr& R, int64_t k, int64_t oversample, int power_iters, uint64_t seed,
                     std::vector<float>& user_emb, std::vector<float>& item_emb, std::vector<double>* sigma,
                     double tol) {
    Csr B = R;  // binary: PureSVD factorizes the 0/1 interaction matrix
    B.values.clear();
    KrylovSvdOptions opt;
    opt.oversample = oversample;
    opt.max_iters = power_iters;
    opt.tol = tol;
    opt.seed = seed;
    SvdResult s = krylov_svd(B, k, opt);
    // user factor r_u V_k (computed from R itself, as the scoring rule is written), item factor V_k
    std::vector<double> UV(static_cast<size_t>(R.rows * k));
    spmm_d(B, s.V.data(), k, UV.data());
    user_emb.assign(UV.begin(), UV.end());
    item_emb.assign(s.V.begin(), s.V.end());
    if (sigma) *sigma = s.s;
}

}  // namespace tg::graph
