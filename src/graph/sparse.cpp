// sparse.cpp — SpMM, SDDMM, edge softmax and segment reductions (see sparse.h for the math).
//
// Each fast kernel is the scalar reference with the outer loop over output rows run in parallel
// (schedule(dynamic) balances skewed degrees; it changes which thread does a row, never the order of
// the sums inside it, so results do not depend on the thread count). Reductions that would need a
// scatter go through the transpose (CsrT) so they too become per-row pulls. SpMM and SDDMM, forward and
// backward, all reduce to two loops (sparse_kernels.h) compiled per instruction set.
#define TG_SPARSE_KERNELS sparse_kernels_base
#include "graph/sparse_kernels_impl.h"
#include "graph/sparse.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tensor/common.h"
#include "tensor/cpu_isa.h"
#include "tensor/parallel.h"

namespace tg::graph {

static void check_csr(const Csr& A, const char* op) {
    TG_CHECK(int64_t(A.indptr.size()) == A.rows + 1, op, ": CSR indptr has ", A.indptr.size(),
             " entries for ", A.rows, " rows");
    TG_CHECK(A.values.empty() || A.values.size() == A.indices.size(), op, ": CSR has ", A.values.size(),
             " values for ", A.indices.size(), " entries");
}

static void check_heads(const Csr& A, const float* w, int H, int64_t D, const char* op) {
    check_csr(A, op);
    TG_CHECK(H >= 1 && D % H == 0, op, ": width D=", D, " is not a multiple of heads H=", H);
    TG_CHECK(w != nullptr || H == 1, op, ": H=", H, " heads need per-edge weights w [E, H]");
}

static detail::CsrView view(const Csr& A) {
    return {A.indptr.data(), A.indices.data(), A.values.empty() ? nullptr : A.values.data(), A.rows};
}

static const detail::SparseKernels& kernels() {
    switch (cpu_isa()) {
        case Isa::avx512: return detail::sparse_kernels_avx512();
        case Isa::avx2: return detail::sparse_kernels_avx2();
        default: return detail::sparse_kernels_base();
    }
}

// Weight of edge e for head h: explicit w [E, H], else A's value (1 when A is unweighted).
static inline float edge_w(const Csr& A, const float* w, int H, int64_t e, int h) {
    return w ? w[e * H + h] : A.value(e);
}

// ================================================================================================
// transpose
// ================================================================================================

CsrT transpose_csr(const Csr& A) {
    check_csr(A, "transpose_csr");
    CsrT T;
    Csr& t = T.t;
    t.rows = A.cols;
    t.cols = A.rows;
    const int64_t E = A.nnz();
    t.indptr.assign(size_t(A.cols + 1), 0);
    for (int64_t e = 0; e < E; e++) t.indptr[size_t(A.indices[size_t(e)]) + 1]++;
    for (int64_t c = 0; c < A.cols; c++) t.indptr[size_t(c + 1)] += t.indptr[size_t(c)];
    t.indices.resize(size_t(E));
    T.perm.resize(size_t(E));
    if (!A.values.empty()) t.values.resize(size_t(E));
    std::vector<int64_t> next(t.indptr.begin(), t.indptr.end() - 1);
    // Rows of A in increasing order -> each row of Aᵀ gets its columns sorted ascending.
    for (int64_t r = 0; r < A.rows; r++) {
        for (int64_t e = A.row_begin(r); e < A.row_end(r); e++) {
            int64_t p = next[size_t(A.indices[size_t(e)])]++;
            t.indices[size_t(p)] = int32_t(r);
            T.perm[size_t(p)] = e;
            if (!A.values.empty()) t.values[size_t(p)] = A.values[size_t(e)];
        }
    }
    return T;
}

// ================================================================================================
// SpMM
// ================================================================================================

void spmm_forward_ref(const Csr& A, const float* w, int H, const float* X, int64_t D, float* out) {
    check_heads(A, w, H, D, "spmm_forward_ref");
    const int64_t Dh = D / H;
    std::vector<double> acc(static_cast<size_t>(D));
    for (int64_t r = 0; r < A.rows; r++) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t e = A.row_begin(r); e < A.row_end(r); e++) {
            const float* x = X + int64_t(A.indices[size_t(e)]) * D;
            for (int h = 0; h < H; h++) {
                double we = edge_w(A, w, H, e, h);
                for (int64_t d = h * Dh; d < (h + 1) * Dh; d++) acc[size_t(d)] += we * x[d];
            }
        }
        for (int64_t d = 0; d < D; d++) out[r * D + d] = float(acc[size_t(d)]);
    }
}

void spmm_forward(const Csr& A, const float* w, int H, const float* X, int64_t D, float* out) {
    check_heads(A, w, H, D, "spmm_forward");
    kernels().pull(view(A), nullptr, w, H, X, D, out, false);
}

void spmm_backward_ref(const Csr& A, const float* w, int H, const float* X, int64_t D, const float* dout,
                       float* dX, float* dw) {
    check_heads(A, w, H, D, "spmm_backward_ref");
    const int64_t Dh = D / H;
    // Straight from the forward statement  out[r,d] += w[e,h] * X[c,d]:
    //   dX[c,d] += w[e,h] * dout[r,d]     and     dw[e,h] += dout[r,d] * X[c,d]  (summed over d in h).
    std::vector<double> dXa(dX ? size_t(A.cols * D) : 0, 0.0);
    for (int64_t r = 0; r < A.rows; r++) {
        for (int64_t e = A.row_begin(r); e < A.row_end(r); e++) {
            const int64_t c = A.indices[size_t(e)];
            for (int h = 0; h < H; h++) {
                double we = edge_w(A, w, H, e, h), g = 0;
                for (int64_t d = h * Dh; d < (h + 1) * Dh; d++) {
                    if (dX) dXa[size_t(c * D + d)] += we * dout[r * D + d];
                    g += double(dout[r * D + d]) * X[c * D + d];
                }
                if (dw) dw[e * H + h] += float(g);
            }
        }
    }
    if (dX)
        for (int64_t i = 0; i < A.cols * D; i++) dX[i] += float(dXa[size_t(i)]);
}

void spmm_backward(const Csr& A, const CsrT& AT, const float* w, int H, const float* X, int64_t D,
                   const float* dout, float* dX, float* dw) {
    check_heads(A, w, H, D, "spmm_backward");
    TG_CHECK(AT.t.rows == A.cols && AT.t.nnz() == A.nnz(), "spmm_backward: AT is not the transpose of A (",
             AT.t.rows, "x", AT.t.cols, " vs ", A.rows, "x", A.cols, ")");
    // dX += Aᵀ · dout, pulled row by row of Aᵀ; the weight of Aᵀ's entry p is A's entry perm[p] (AT.t's
    // own values already are A's, permuted).
    if (dX) kernels().pull(view(AT.t), w ? AT.perm.data() : nullptr, w, H, dout, D, dX, true);
    // dw[e,h] += dout[row(e)] · X[col(e)] over the head's block: an SDDMM, one writer per edge.
    if (dw) kernels().edge_dots(view(A), H, dout, X, D, dw, true);
}

// sparse_rows_impl.h compiled as sparse_avx512.cpp / sparse_avx2.cpp (only called when the CPU has the
// instruction set: cpu_isa()); rows of D <= 128 floats, D a multiple of the register width.
void spmm_acc_forward_avx512(const Csr& A, const float* X, int64_t D, float* Y, float* acc, float scale,
                             const int32_t* rows, int64_t n_rows, const uint8_t* src_mask);
void spmm_acc_forward_avx2(const Csr& A, const float* X, int64_t D, float* Y, float* acc, float scale,
                           const int32_t* rows, int64_t n_rows, const uint8_t* src_mask);

void spmm_acc_forward_rows(const Csr& A, const float* X, int64_t D, float* Y, float* acc, float scale,
                           const int32_t* rows, int64_t n_rows, const uint8_t* src_mask) {
    check_csr(A, "spmm_acc_forward");
    if (cpu_isa() == Isa::avx512 && D % 16 == 0 && D <= 128)
        return spmm_acc_forward_avx512(A, X, D, Y, acc, scale, rows, n_rows, src_mask);
    if (cpu_isa() >= Isa::avx2 && D % 8 == 0 && D <= 128)
        return spmm_acc_forward_avx2(A, X, D, Y, acc, scale, rows, n_rows, src_mask);
    // Portable path: accumulate the row in a local buffer (the same per-element FMA chain over edges).
#pragma omp parallel num_threads(tg::num_threads())
    {
        std::vector<float> y(static_cast<size_t>(D));
#pragma omp for schedule(dynamic, 64)
        for (int64_t k = 0; k < n_rows; k++) {
            const int64_t r = rows ? rows[k] : k;
            std::fill(y.begin(), y.end(), 0.f);
            for (int64_t e = A.row_begin(r); e < A.row_end(r); e++) {
                const int64_t c = A.indices[size_t(e)];
                if (src_mask && !src_mask[c]) continue;
                const float we = A.value(e);
                const float* x = X + c * D;
                for (int64_t d = 0; d < D; d++) y[size_t(d)] = std::fma(we, x[d], y[size_t(d)]);
            }
            if (Y) std::copy(y.begin(), y.end(), Y + r * D);
            if (!acc) continue;
            float* a = acc + r * D;
            for (int64_t d = 0; d < D; d++) a[d] = (a[d] + y[size_t(d)]) * scale;
        }
    }
}

void spmm_acc_forward(const Csr& A, const float* X, int64_t D, float* Y, float* acc, float scale) {
    spmm_acc_forward_rows(A, X, D, Y, acc, scale, nullptr, A.rows, nullptr);
}

// ================================================================================================
// SDDMM
// ================================================================================================

void sddmm_forward_ref(const Csr& A, int H, const float* Y, const float* Z, int64_t D, float* out) {
    check_csr(A, "sddmm_forward_ref");
    TG_CHECK(H >= 1 && D % H == 0, "sddmm: D=", D, " not a multiple of H=", H);
    const int64_t Dh = D / H;
    for (int64_t r = 0; r < A.rows; r++)
        for (int64_t e = A.row_begin(r); e < A.row_end(r); e++) {
            const int64_t c = A.indices[size_t(e)];
            for (int h = 0; h < H; h++) {
                double s = 0;
                for (int64_t d = h * Dh; d < (h + 1) * Dh; d++) s += double(Y[r * D + d]) * Z[c * D + d];
                out[e * H + h] = float(s);
            }
        }
}

void sddmm_forward(const Csr& A, int H, const float* Y, const float* Z, int64_t D, float* out) {
    check_csr(A, "sddmm_forward");
    TG_CHECK(H >= 1 && D % H == 0, "sddmm: D=", D, " not a multiple of H=", H);
    kernels().edge_dots(view(A), H, Y, Z, D, out, false);
}

void sddmm_backward_ref(const Csr& A, int H, const float* Y, const float* Z, int64_t D, const float* dout,
                        float* dY, float* dZ) {
    check_csr(A, "sddmm_backward_ref");
    const int64_t Dh = D / H;
    // Forward: out[e,h] = sum_{d in h} Y[r,d] * Z[c,d]  ->  dY[r,d] += dout[e,h] Z[c,d], dZ[c,d] += dout[e,h] Y[r,d].
    std::vector<double> gY(dY ? size_t(A.rows * D) : 0), gZ(dZ ? size_t(A.cols * D) : 0);
    for (int64_t r = 0; r < A.rows; r++)
        for (int64_t e = A.row_begin(r); e < A.row_end(r); e++) {
            const int64_t c = A.indices[size_t(e)];
            for (int h = 0; h < H; h++)
                for (int64_t d = h * Dh; d < (h + 1) * Dh; d++) {
                    if (dY) gY[size_t(r * D + d)] += double(dout[e * H + h]) * Z[c * D + d];
                    if (dZ) gZ[size_t(c * D + d)] += double(dout[e * H + h]) * Y[r * D + d];
                }
        }
    if (dY)
        for (size_t i = 0; i < gY.size(); i++) dY[i] += float(gY[i]);
    if (dZ)
        for (size_t i = 0; i < gZ.size(); i++) dZ[i] += float(gZ[i]);
}

void sddmm_backward(const Csr& A, const CsrT& AT, int H, const float* Y, const float* Z, int64_t D,
                    const float* dout, float* dY, float* dZ) {
    check_csr(A, "sddmm_backward");
    TG_CHECK(H >= 1 && D % H == 0, "sddmm_backward: D=", D, " not a multiple of H=", H);
    TG_CHECK(AT.t.rows == A.cols && AT.t.nnz() == A.nnz(), "sddmm_backward: AT is not the transpose of A");
    // dY[r] += Σ_e dout[e] Z[col(e)] (rows of A); dZ[c] += Σ_p dout[perm(p)] Y[row] (rows of Aᵀ)
    if (dY) kernels().pull(view(A), nullptr, dout, H, Z, D, dY, true);
    if (dZ) kernels().pull(view(AT.t), AT.perm.data(), dout, H, Y, D, dZ, true);
}

// ================================================================================================
// edge softmax
// ================================================================================================

void edge_softmax_forward_ref(const Csr& A, int H, const float* s, float* a) {
    check_csr(A, "edge_softmax_forward_ref");
    for (int64_t r = 0; r < A.rows; r++)
        for (int h = 0; h < H; h++) {
            const int64_t b = A.row_begin(r), en = A.row_end(r);
            if (b == en) continue;
            double m = -std::numeric_limits<double>::infinity(), z = 0;
            for (int64_t e = b; e < en; e++) m = std::max(m, double(s[e * H + h]));
            for (int64_t e = b; e < en; e++) z += std::exp(double(s[e * H + h]) - m);
            for (int64_t e = b; e < en; e++) a[e * H + h] = float(std::exp(double(s[e * H + h]) - m) / z);
        }
}

void edge_softmax_forward(const Csr& A, int H, const float* s, float* a) {
    check_csr(A, "edge_softmax_forward");
#pragma omp parallel for schedule(dynamic, 64) num_threads(tg::num_threads())
    for (int64_t r = 0; r < A.rows; r++)
        for (int h = 0; h < H; h++) {
            const int64_t b = A.row_begin(r), en = A.row_end(r);
            if (b == en) continue;
            float m = -std::numeric_limits<float>::infinity();
            for (int64_t e = b; e < en; e++) m = std::max(m, s[e * H + h]);
            float z = 0.f;
            for (int64_t e = b; e < en; e++) {
                const float x = std::exp(s[e * H + h] - m);
                a[e * H + h] = x;
                z += x;
            }
            const float inv = 1.f / z;
            for (int64_t e = b; e < en; e++) a[e * H + h] *= inv;
        }
}

void edge_softmax_backward_ref(const Csr& A, int H, const float* a, const float* da, float* ds) {
    check_csr(A, "edge_softmax_backward_ref");
    // a_e = exp(s_e) / Z  ->  d a_e / d s_f = a_e (δ_ef - a_f)  ->  ds_f = a_f (da_f - Σ_e a_e da_e).
    for (int64_t r = 0; r < A.rows; r++)
        for (int h = 0; h < H; h++) {
            double dot = 0;
            for (int64_t e = A.row_begin(r); e < A.row_end(r); e++) dot += double(a[e * H + h]) * da[e * H + h];
            for (int64_t e = A.row_begin(r); e < A.row_end(r); e++)
                ds[e * H + h] += float(double(a[e * H + h]) * (double(da[e * H + h]) - dot));
        }
}

void edge_softmax_backward(const Csr& A, int H, const float* a, const float* da, float* ds) {
    check_csr(A, "edge_softmax_backward");
#pragma omp parallel for schedule(dynamic, 64) num_threads(tg::num_threads())
    for (int64_t r = 0; r < A.rows; r++)
        for (int h = 0; h < H; h++) {
            float dot = 0.f;
            for (int64_t e = A.row_begin(r); e < A.row_end(r); e++) dot += a[e * H + h] * da[e * H + h];
            for (int64_t e = A.row_begin(r); e < A.row_end(r); e++) ds[e * H + h] += a[e * H + h] * (da[e * H + h] - dot);
        }
}

// ================================================================================================
// segment reductions
// ================================================================================================

void segment_sum_forward_ref(const int64_t* off, int64_t S, const float* x, int64_t D, float* out) {
    for (int64_t s = 0; s < S; s++)
        for (int64_t d = 0; d < D; d++) {
            double acc = 0;
            for (int64_t i = off[s]; i < off[s + 1]; i++) acc += x[i * D + d];
            out[s * D + d] = float(acc);
        }
}

void segment_sum_forward(const int64_t* off, int64_t S, const float* x, int64_t D, float* out) {
#pragma omp parallel for schedule(dynamic, 64) num_threads(tg::num_threads())
    for (int64_t s = 0; s < S; s++) {
        float* o = out + s * D;
        for (int64_t d = 0; d < D; d++) o[d] = 0.f;
        for (int64_t i = off[s]; i < off[s + 1]; i++)
            for (int64_t d = 0; d < D; d++) o[d] += x[i * D + d];
    }
}

void segment_sum_backward(const int64_t* off, int64_t S, int64_t D, const float* dout, float* dx) {
    // out[s] = Σ_{i in s} x[i]  ->  dx[i] += dout[s]
#pragma omp parallel for schedule(dynamic, 64) num_threads(tg::num_threads())
    for (int64_t s = 0; s < S; s++)
        for (int64_t i = off[s]; i < off[s + 1]; i++)
            for (int64_t d = 0; d < D; d++) dx[i * D + d] += dout[s * D + d];
}

void segment_mean_forward_ref(const int64_t* off, int64_t S, const float* x, int64_t D, float* out) {
    segment_sum_forward_ref(off, S, x, D, out);
    for (int64_t s = 0; s < S; s++) {
        const int64_t n = off[s + 1] - off[s];
        if (n > 0)
            for (int64_t d = 0; d < D; d++) out[s * D + d] = float(double(out[s * D + d]) / double(n));
    }
}

void segment_mean_forward(const int64_t* off, int64_t S, const float* x, int64_t D, float* out) {
    segment_sum_forward(off, S, x, D, out);
#pragma omp parallel for schedule(static) num_threads(tg::num_threads())
    for (int64_t s = 0; s < S; s++) {
        const int64_t n = off[s + 1] - off[s];
        if (n > 0)
            for (int64_t d = 0; d < D; d++) out[s * D + d] /= float(n);
    }
}

void segment_mean_backward(const int64_t* off, int64_t S, int64_t D, const float* dout, float* dx) {
    // out[s] = (1/n_s) Σ_{i in s} x[i]  ->  dx[i] += dout[s] / n_s
#pragma omp parallel for schedule(dynamic, 64) num_threads(tg::num_threads())
    for (int64_t s = 0; s < S; s++) {
        const float inv = 1.f / float(std::max<int64_t>(1, off[s + 1] - off[s]));
        for (int64_t i = off[s]; i < off[s + 1]; i++)
            for (int64_t d = 0; d < D; d++) dx[i * D + d] += dout[s * D + d] * inv;
    }
}

void segment_max_forward_ref(const int64_t* off, int64_t S, const float* x, int64_t D, float* out,
                             int64_t* argmax) {
    for (int64_t s = 0; s < S; s++)
        for (int64_t d = 0; d < D; d++) {
            int64_t best = -1;
            for (int64_t i = off[s]; i < off[s + 1]; i++)
                if (best < 0 || x[i * D + d] > x[best * D + d]) best = i;
            out[s * D + d] = best < 0 ? 0.f : x[best * D + d];
            argmax[s * D + d] = best;
        }
}

void segment_max_forward(const int64_t* off, int64_t S, const float* x, int64_t D, float* out,
                         int64_t* argmax) {
#pragma omp parallel for schedule(dynamic, 64) num_threads(tg::num_threads())
    for (int64_t s = 0; s < S; s++) {
        float* o = out + s * D;
        int64_t* am = argmax + s * D;
        if (off[s] == off[s + 1]) {
            for (int64_t d = 0; d < D; d++) o[d] = 0.f, am[d] = -1;
            continue;
        }
        for (int64_t d = 0; d < D; d++) o[d] = x[off[s] * D + d], am[d] = off[s];
        for (int64_t i = off[s] + 1; i < off[s + 1]; i++)
            for (int64_t d = 0; d < D; d++)
                if (x[i * D + d] > o[d]) o[d] = x[i * D + d], am[d] = i;
    }
}

void segment_max_backward(int64_t S, int64_t D, const int64_t* argmax, const float* dout, float* dx) {
    // out[s,d] = x[argmax[s,d], d]  ->  dx[argmax[s,d], d] += dout[s,d]. Each (i, d) wins at most one
    // segment (segments are disjoint), so the writes never collide.
#pragma omp parallel for schedule(static) num_threads(tg::num_threads())
    for (int64_t s = 0; s < S; s++)
        for (int64_t d = 0; d < D; d++) {
            const int64_t i = argmax[s * D + d];
            if (i >= 0) dx[i * D + d] += dout[s * D + d];
        }
}

// ================================================================================================
// bipartite normalized adjacency
// ================================================================================================

Csr bipartite_norm_adj(const Csr& R) {
    check_csr(R, "bipartite_norm_adj");
    const int64_t U = R.rows, I = R.cols, N = U + I;
    CsrT RT = transpose_csr(R);
    std::vector<double> dinv(static_cast<size_t>(N), 0.0);  // D^-1/2, 0 for isolated nodes
    for (int64_t u = 0; u < U; u++) {
        const int64_t deg = R.row_end(u) - R.row_begin(u);
        if (deg) dinv[size_t(u)] = 1.0 / std::sqrt(double(deg));
    }
    for (int64_t i = 0; i < I; i++) {
        const int64_t deg = RT.t.row_end(i) - RT.t.row_begin(i);
        if (deg) dinv[size_t(U + i)] = 1.0 / std::sqrt(double(deg));
    }
    Csr A;
    A.rows = A.cols = N;
    A.indptr.resize(size_t(N + 1));
    A.indices.resize(size_t(2 * R.nnz()));
    A.values.resize(size_t(2 * R.nnz()));
    int64_t p = 0;
    A.indptr[0] = 0;
    for (int64_t u = 0; u < U; u++) {  // user rows: their items, columns offset by U
        for (int64_t e = R.row_begin(u); e < R.row_end(u); e++) {
            const int64_t i = R.indices[size_t(e)];
            A.indices[size_t(p)] = int32_t(U + i);
            A.values[size_t(p++)] = float(dinv[size_t(u)] * dinv[size_t(U + i)]);
        }
        A.indptr[size_t(u + 1)] = p;
    }
    for (int64_t i = 0; i < I; i++) {  // item rows: their users (sorted, from the transpose)
        for (int64_t q = RT.t.row_begin(i); q < RT.t.row_end(i); q++) {
            const int64_t u = RT.t.indices[size_t(q)];
            A.indices[size_t(p)] = int32_t(u);
            A.values[size_t(p++)] = float(dinv[size_t(u)] * dinv[size_t(U + i)]);
        }
        A.indptr[size_t(U + i + 1)] = p;
    }
    return A;
}

}  // namespace tg::graph
