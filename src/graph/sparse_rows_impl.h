// sparse_rows_impl.h — the SpMM row kernel of propagation (spmm_acc_forward in sparse.h), written once
// over the vector traits of tensor/simd.h and compiled per instruction set by sparse_avx2.cpp and
// sparse_avx512.cpp (CMake adds the -m flags by file name). Internal linkage only (see simd.h), except
// the entry point spmm_acc_forward_<TG_SPARSE_ISA> on the traits TG_SPARSE_VEC, which the including
// file names (sparse.cpp declares and dispatches to it).
//
// Scalar loop it implements, per listed output row r (D = W * NV: NV registers of W floats each):
//     y[0:D] = 0
//     for e in row r with mask[col(e)] (or every e without a mask):  y[0:D] = fma(w[e], X[col(e), 0:D], y[0:D])
//     Y[r] = y;  acc[r] = (acc[r] + y) * scale     (either may be nullptr: not written)
// The row sum lives in NV registers for the whole edge loop, so each edge costs NV loads and FMAs and
// nothing is stored until the row ends. The gather of X rows is the memory traffic that bounds this
// kernel; the row kAhead edges ahead is prefetched while the current one is accumulated.
// fma per element in edge order = exactly the portable path's std::fma chain, so results match bitwise.
#pragma once

#include "graph/sparse.h"
#include "tensor/parallel.h"
#include "tensor/simd.h"

namespace tg::graph {
namespace {

template <class V, int NV>
void spmm_rows_kernel(const Csr& A, const float* X, float* Y, float* acc, float scale, const int32_t* rows,
                      int64_t n_rows, const uint8_t* mask) {
    constexpr int64_t D = int64_t(V::W) * NV;
    constexpr int kLineFloats = 16;  // floats per 64-byte cache line
    // Prefetch distance in edges: the rows come from DRAM or L3 (the embedding tables of a real graph
    // outgrow L2), so the request must go out several edges' work ahead, across the row end (most rows
    // are short; the next rows' edges follow in the edge array). Measured on Gowalla (AVX2, 2 threads,
    // batch 2048, s/epoch): 2 edges within the row 34.0, 12 within the row 30.2, 12 across rows 28.
    constexpr int64_t kAhead = 12;
    const int64_t* ip = A.indptr.data();
    const int32_t* ix = A.indices.data();
    const float* vals = A.values.empty() ? nullptr : A.values.data();
    const int64_t nnz = ip[A.rows];
    const typename V::reg vs = V::set1(scale);
#pragma omp parallel for schedule(dynamic, 64) num_threads(tg::num_threads())
    for (int64_t k = 0; k < n_rows; k++) {
        const int64_t r = rows ? rows[k] : k;
        typename V::reg y[NV];
        for (int v = 0; v < NV; v++) y[v] = V::zero();
        const int64_t b = ip[r], en = ip[r + 1];
        for (int64_t e = b; e < en; e++) {
            if (mask && !mask[ix[e]]) continue;  // source known to be zero: skip the gather
            // prefetch past the row end too: the next rows' edges (the common case); not a masked source,
            // which is never read (LightGCN's first backward layer reads ~8 % of the sources it visits)
            if (e + kAhead < nnz && (!mask || mask[ix[e + kAhead]])) {
                const char* nx = reinterpret_cast<const char*>(X + int64_t(ix[e + kAhead]) * D);
                for (int64_t off = 0; off < D; off += kLineFloats) _mm_prefetch(nx + off * 4, _MM_HINT_T0);
            }
            const typename V::reg w = V::set1(vals ? vals[e] : 1.f);
            const float* x = X + int64_t(ix[e]) * D;
            for (int v = 0; v < NV; v++) y[v] = V::fmadd(w, V::load(x + V::W * v), y[v]);
        }
        for (int v = 0; v < NV; v++) {
            if (Y) V::store(Y + r * D + V::W * v, y[v]);
            if (acc) V::store(acc + r * D + V::W * v, V::mul(V::add(V::load(acc + r * D + V::W * v), y[v]), vs));
        }
    }
}

using SpmmRowsFn = void (*)(const Csr&, const float*, float*, float*, float, const int32_t*, int64_t,
                            const uint8_t*);

// spmm_rows_kernel<V, nv> for a run-time nv in 1..N (nullptr otherwise).
template <class V, int N>
struct SpmmRowsTable {
    static SpmmRowsFn get(int64_t nv) { return nv == N ? &spmm_rows_kernel<V, N> : SpmmRowsTable<V, N - 1>::get(nv); }
};
template <class V>
struct SpmmRowsTable<V, 0> {
    static SpmmRowsFn get(int64_t) { return nullptr; }
};

// Rows of up to 128 floats; D must be a multiple of V::W (the caller checks, see sparse.cpp).
template <class V>
void spmm_acc_forward_simd(const Csr& A, const float* X, int64_t D, float* Y, float* acc, float scale,
                           const int32_t* rows, int64_t n_rows, const uint8_t* mask) {
    SpmmRowsTable<V, 128 / V::W>::get(D / V::W)(A, X, Y, acc, scale, rows, n_rows, mask);
}

}  // namespace

#if !defined(TG_SPARSE_ISA) || !defined(TG_SPARSE_VEC)
#error "define TG_SPARSE_ISA and TG_SPARSE_VEC before including sparse_rows_impl.h"
#endif
#define TG_SPARSE_CAT2(a, b) a##_##b
#define TG_SPARSE_CAT(a, b) TG_SPARSE_CAT2(a, b)

void TG_SPARSE_CAT(spmm_acc_forward, TG_SPARSE_ISA)(const Csr& A, const float* X, int64_t D, float* Y, float* acc,
                                                    float scale, const int32_t* rows, int64_t n_rows,
                                                    const uint8_t* mask) {
    spmm_acc_forward_simd<simd::TG_SPARSE_VEC>(A, X, D, Y, acc, scale, rows, n_rows, mask);
}

}  // namespace tg::graph
