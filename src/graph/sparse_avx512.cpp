// sparse_avx512.cpp — AVX-512 SpMM row kernel for propagation (see spmm_acc_forward in sparse.h).
//
// Scalar loop it implements, per listed output row r (D = 16 * NV, NV <= 8 registers of 16 floats):
//     y[0:D] = 0
//     for e in row r with mask[col(e)] (or every e without a mask):  y[0:D] = fma(w[e], X[col(e), 0:D], y[0:D])
//     Y[r] = y;  acc[r] = (acc[r] + y) * scale
// The row sum lives in NV zmm registers for the whole edge loop, so each edge costs D/16 loads and
// FMAs and nothing is stored until the row ends. The gather of X rows is the memory traffic that
// bounds this kernel; the next edge's row is prefetched while the current one is accumulated.
// fma per element in edge order = exactly the portable path's std::fma chain, so results match bitwise.
#include <immintrin.h>

#include "graph/sparse.h"
#include "tensor/parallel.h"

namespace tg::graph {

template <int NV>
static void rows_kernel(const Csr& A, const float* X, float* Y, float* acc, float scale, const int32_t* rows,
                        int64_t n_rows, const uint8_t* mask) {
    constexpr int64_t D = 16 * NV;
    const int64_t* ip = A.indptr.data();
    const int32_t* ix = A.indices.data();
    const float* vals = A.values.empty() ? nullptr : A.values.data();
    const __m512 vs = _mm512_set1_ps(scale);
#pragma omp parallel for schedule(dynamic, 64) num_threads(tg::num_threads())
    for (int64_t k = 0; k < n_rows; k++) {
        const int64_t r = rows ? rows[k] : k;
        __m512 y[NV];
        for (int v = 0; v < NV; v++) y[v] = _mm512_setzero_ps();
        const int64_t b = ip[r], en = ip[r + 1];
        for (int64_t e = b; e < en; e++) {
            if (mask && !mask[ix[e]]) continue;  // source known to be zero: skip the gather
            if (e + 2 < en) {
                const char* nx = reinterpret_cast<const char*>(X + int64_t(ix[e + 2]) * D);
                for (int v = 0; v < NV; v += 4) _mm_prefetch(nx + v * 64, _MM_HINT_T0);
            }
            const __m512 w = _mm512_set1_ps(vals ? vals[e] : 1.f);
            const float* x = X + int64_t(ix[e]) * D;
            for (int v = 0; v < NV; v++) y[v] = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 16 * v), y[v]);
        }
        float* a = acc + r * D;
        for (int v = 0; v < NV; v++) {
            if (Y) _mm512_storeu_ps(Y + r * D + 16 * v, y[v]);
            _mm512_storeu_ps(a + 16 * v, _mm512_mul_ps(_mm512_add_ps(_mm512_loadu_ps(a + 16 * v), y[v]), vs));
        }
    }
}

void spmm_acc_forward_avx512(const Csr& A, const float* X, int64_t D, float* Y, float* acc, float scale,
                             const int32_t* rows, int64_t n_rows, const uint8_t* mask) {
#define TG_ROWS_ARGS A, X, Y, acc, scale, rows, n_rows, mask
    switch (D / 16) {
        case 1: return rows_kernel<1>(TG_ROWS_ARGS);
        case 2: return rows_kernel<2>(TG_ROWS_ARGS);
        case 3: return rows_kernel<3>(TG_ROWS_ARGS);
        case 4: return rows_kernel<4>(TG_ROWS_ARGS);
        case 5: return rows_kernel<5>(TG_ROWS_ARGS);
        case 6: return rows_kernel<6>(TG_ROWS_ARGS);
        case 7: return rows_kernel<7>(TG_ROWS_ARGS);
        default: return rows_kernel<8>(TG_ROWS_ARGS);
    }
#undef TG_ROWS_ARGS
}

}  // namespace tg::graph
