// svd_avx512.cpp — AVX-512 kernels of krylov_svd (see svd.h, svd.cpp): the Krylov block is 8 doubles
// wide, so one row of a block is exactly one zmm register (one 64-byte cache line).
//
// Scalar loops they implement (svd.cpp has them as the portable path, same fma order, bitwise equal):
//   spmm8:      Y[r, 0:8] = sum_{e in row r} w[e] * X[col(e), 0:8]                       (fma in edge order)
//   project8:   P[i*8+a, 0:8] = sum_chunks sum_{r in chunk} U_i[r, a] * Z[r, 0:8]          (fma in row order per chunk)
//   subtract8:  Z[r, 0:8] -= sum_i sum_a U_i[r, a] * P[i*8+a, 0:8]                         (fma in (i, a) order)
//   combine:    O[r, 0:L] = sum_i sum_a U_i[r, a] * Y[i*8+a, 0:L]                          (fma in (i, a) order)
// project8 keeps the 8x8 partial product of one block in 8 zmm accumulators for a whole row chunk, so
// each row of U_i costs one load of Z's row and 8 FMAs; the memory traffic is one pass over the basis.
#include <immintrin.h>

#include <algorithm>

#include "graph/csr.h"
#include "tensor/parallel.h"

namespace tg::graph::svd_detail {

constexpr int64_t kChunk = 1024;                      // must match svd.cpp
constexpr int64_t kParallelWork = int64_t(1) << 20;  // as svd.cpp: smaller loops run on one thread

void spmm8_avx512(const Csr& A, const double* X, double* Y) {
    const int64_t* ip = A.indptr.data();
    const int32_t* ix = A.indices.data();
    const float* vals = A.values.empty() ? nullptr : A.values.data();
#pragma omp parallel for schedule(dynamic, 256) num_threads(tg::num_threads()) if (A.nnz() * 8 >= kParallelWork)
    for (int64_t r = 0; r < A.rows; r++) {
        __m512d y = _mm512_setzero_pd();
        const int64_t b = ip[r], en = ip[r + 1];
        for (int64_t e = b; e < en; e++) {
            if (e + 4 < en) _mm_prefetch(reinterpret_cast<const char*>(X + int64_t(ix[e + 4]) * 8), _MM_HINT_T0);
            const __m512d w = _mm512_set1_pd(vals ? double(vals[e]) : 1.0);
            y = _mm512_fmadd_pd(w, _mm512_loadu_pd(X + int64_t(ix[e]) * 8), y);
        }
        _mm512_storeu_pd(Y + r * 8, y);
    }
}

// part [(i * nc + c) * 64 + a * 8 + b]: the chunk-c partial of U_iᵀ Z (nc = ceil(p / kChunk)).
void project8_avx512(const double* const* U, int64_t nb, const double* Z, int64_t p, double* part) {
    const int64_t nc = (p + kChunk - 1) / kChunk;
#pragma omp parallel for collapse(2) schedule(static) num_threads(tg::num_threads()) if (nb * p * 64 >= kParallelWork)
    for (int64_t i = 0; i < nb; i++)
        for (int64_t c = 0; c < nc; c++) {
            __m512d acc[8];
            for (int a = 0; a < 8; a++) acc[a] = _mm512_setzero_pd();
            const double* u = U[i];
            for (int64_t r = c * kChunk, end = std::min(p, (c + 1) * kChunk); r < end; r++) {
                const __m512d z = _mm512_loadu_pd(Z + r * 8);
                for (int a = 0; a < 8; a++) acc[a] = _mm512_fmadd_pd(_mm512_set1_pd(u[r * 8 + a]), z, acc[a]);
            }
            double* o = part + (i * nc + c) * 64;
            for (int a = 0; a < 8; a++) _mm512_storeu_pd(o + a * 8, acc[a]);
        }
}

void subtract8_avx512(const double* const* U, int64_t nb, const double* P, double* Z, int64_t p) {
#pragma omp parallel for schedule(static) num_threads(tg::num_threads()) if (nb * p * 64 >= kParallelWork)
    for (int64_t r = 0; r < p; r++) {
        __m512d acc = _mm512_setzero_pd();
        for (int64_t i = 0; i < nb; i++) {
            const double* u = U[i] + r * 8;
            const double* q = P + i * 64;
            for (int a = 0; a < 8; a++) acc = _mm512_fmadd_pd(_mm512_set1_pd(u[a]), _mm512_loadu_pd(q + a * 8), acc);
        }
        _mm512_storeu_pd(Z + r * 8, _mm512_sub_pd(_mm512_loadu_pd(Z + r * 8), acc));
    }
}

// One group of NV * 8 output columns starting at g, for row r (NV zmm accumulators stay in registers).
template <int NV>
static void combine_group(const double* const* U, int64_t nb, const double* Y, int64_t L, double* O, int64_t r,
                          int64_t g) {
    __m512d acc[NV];
    for (int v = 0; v < NV; v++) acc[v] = _mm512_setzero_pd();
    for (int64_t i = 0; i < nb; i++)
        for (int a = 0; a < 8; a++) {
            const __m512d u = _mm512_set1_pd(U[i][r * 8 + a]);
            const double* y = Y + (i * 8 + a) * L + g;
            for (int v = 0; v < NV; v++) acc[v] = _mm512_fmadd_pd(u, _mm512_loadu_pd(y + v * 8), acc[v]);
        }
    for (int v = 0; v < NV; v++) _mm512_storeu_pd(O + r * L + g + v * 8, acc[v]);
}

// O [p, L] = U [p, nb*8] · Y [nb*8, L] (L a multiple of 8), in column groups of up to 64.
void combine_avx512(const double* const* U, int64_t nb, const double* Y, int64_t L, double* O, int64_t p) {
    using Fn = void (*)(const double* const*, int64_t, const double*, int64_t, double*, int64_t, int64_t);
    static constexpr Fn group[9] = {nullptr,          combine_group<1>, combine_group<2>,
                                    combine_group<3>, combine_group<4>, combine_group<5>,
                                    combine_group<6>, combine_group<7>, combine_group<8>};
#pragma omp parallel for schedule(static) num_threads(tg::num_threads()) if (p * nb * 8 * L >= kParallelWork)
    for (int64_t r = 0; r < p; r++)
        for (int64_t g = 0; g < L; g += 64) group[std::min<int64_t>(64, L - g) / 8](U, nb, Y, L, O, r, g);
}

}  // namespace tg::graph::svd_detail
