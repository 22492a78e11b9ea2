// svd_kernels_impl.h — the block kernels of krylov_svd (see svd.h, svd.cpp), written once over the
// double-precision vector traits of tensor/simd.h and compiled per instruction set by svd_avx2.cpp
// (4 doubles per ymm) and svd_avx512.cpp (8 per zmm). The including file defines TG_SVD_ISA (the name
// suffix: avx2, avx512) and TG_SVD_VEC (the traits: F64x4, F64x8); the entry points it exports,
// spmm8_<isa>, project8_<isa>, subtract8_<isa> and combine_<isa>, are defined at the end. The Krylov block is 8 doubles wide, so one row
// of a block is one 64-byte cache line: R = 8 / W registers. Internal linkage only (see simd.h).
//
// Scalar loops they implement (svd.cpp has them as the portable path, same fma order, bitwise equal):
//   spmm8:      Y[r, 0:8] = sum_{e in row r} w[e] * X[col(e), 0:8]                       (fma in edge order)
//   project8:   P[i*8+a, 0:8] = sum_chunks sum_{r in chunk} U_i[r, a] * Z[r, 0:8]          (fma in row order per chunk)
//   subtract8:  Z[r, 0:8] -= sum_i sum_a U_i[r, a] * P[i*8+a, 0:8]                         (fma in (i, a) order)
//   combine:    O[r, 0:L] = sum_i sum_a U_i[r, a] * Y[i*8+a, 0:L]                          (fma in (i, a) order)
// project8 keeps the 8x8 partial product of one block (one register-width slice of its columns at a
// time) in 8 accumulators for a whole row chunk, so each row of U_i costs a load of Z's row and 8 FMAs
// per slice; the memory traffic is about one pass over the basis.
#pragma once

#include "graph/csr.h"
#include "tensor/parallel.h"
#include "tensor/simd.h"

namespace tg::graph::svd_detail {
namespace {

constexpr int64_t kChunkK = 1024;                      // must match svd.cpp's kChunk
constexpr int64_t kParallelWorkK = int64_t(1) << 20;  // as svd.cpp: smaller loops run on one thread

template <class V>
void spmm8_simd(const Csr& A, const double* X, double* Y) {
    constexpr int R = 8 / V::W;
    const int64_t* ip = A.indptr.data();
    const int32_t* ix = A.indices.data();
    const float* vals = A.values.empty() ? nullptr : A.values.data();
#pragma omp parallel for schedule(dynamic, 256) num_threads(tg::num_threads()) if (A.nnz() * 8 >= kParallelWorkK)
    for (int64_t r = 0; r < A.rows; r++) {
        typename V::reg y[R];
        for (int q = 0; q < R; q++) y[q] = V::zero();
        const int64_t b = ip[r], en = ip[r + 1];
        for (int64_t e = b; e < en; e++) {
            if (e + 4 < en) _mm_prefetch(reinterpret_cast<const char*>(X + int64_t(ix[e + 4]) * 8), _MM_HINT_T0);
            const typename V::reg w = V::set1(vals ? double(vals[e]) : 1.0);
            const double* x = X + int64_t(ix[e]) * 8;
            for (int q = 0; q < R; q++) y[q] = V::fmadd(w, V::load(x + q * V::W), y[q]);
        }
        for (int q = 0; q < R; q++) V::store(Y + r * 8 + q * V::W, y[q]);
    }
}

// part [(i * nc + c) * 64 + a * 8 + b]: the chunk-c partial of U_iᵀ Z (nc = ceil(p / kChunk)).
template <class V>
void project8_simd(const double* const* U, int64_t nb, const double* Z, int64_t p, double* part) {
    constexpr int R = 8 / V::W;
    const int64_t nc = (p + kChunkK - 1) / kChunkK;
#pragma omp parallel for collapse(2) schedule(static) num_threads(tg::num_threads()) if (nb * p * 64 >= kParallelWorkK)
    for (int64_t i = 0; i < nb; i++)
        for (int64_t c = 0; c < nc; c++) {
            const double* u = U[i];
            double* o = part + (i * nc + c) * 64;
            for (int q = 0; q < R; q++) {  // columns q*W .. q*W+W-1 of the 8x8 partial
                typename V::reg acc[8];
                for (int a = 0; a < 8; a++) acc[a] = V::zero();
                const int64_t end = p < (c + 1) * kChunkK ? p : (c + 1) * kChunkK;
                for (int64_t r = c * kChunkK; r < end; r++) {
                    const typename V::reg z = V::load(Z + r * 8 + q * V::W);
                    for (int a = 0; a < 8; a++) acc[a] = V::fmadd(V::set1(u[r * 8 + a]), z, acc[a]);
                }
                for (int a = 0; a < 8; a++) V::store(o + a * 8 + q * V::W, acc[a]);
            }
        }
}

template <class V>
void subtract8_simd(const double* const* U, int64_t nb, const double* P, double* Z, int64_t p) {
    constexpr int R = 8 / V::W;
#pragma omp parallel for schedule(static) num_threads(tg::num_threads()) if (nb * p * 64 >= kParallelWorkK)
    for (int64_t r = 0; r < p; r++) {
        typename V::reg acc[R];
        for (int q = 0; q < R; q++) acc[q] = V::zero();
        for (int64_t i = 0; i < nb; i++) {
            const double* u = U[i] + r * 8;
            const double* pm = P + i * 64;
            for (int a = 0; a < 8; a++) {
                const typename V::reg ua = V::set1(u[a]);
                for (int q = 0; q < R; q++) acc[q] = V::fmadd(ua, V::load(pm + a * 8 + q * V::W), acc[q]);
            }
        }
        for (int q = 0; q < R; q++) {
            double* z = Z + r * 8 + q * V::W;
            V::store(z, V::sub(V::load(z), acc[q]));
        }
    }
}

// One group of NV registers of output columns starting at g, for row r (the accumulators stay in
// registers over the whole (i, a) loop).
template <class V, int NV>
void combine_group(const double* const* U, int64_t nb, const double* Y, int64_t L, double* O, int64_t r, int64_t g) {
    typename V::reg acc[NV];
    for (int v = 0; v < NV; v++) acc[v] = V::zero();
    for (int64_t i = 0; i < nb; i++)
        for (int a = 0; a < 8; a++) {
            const typename V::reg u = V::set1(U[i][r * 8 + a]);
            const double* y = Y + (i * 8 + a) * L + g;
            for (int v = 0; v < NV; v++) acc[v] = V::fmadd(u, V::load(y + v * V::W), acc[v]);
        }
    for (int v = 0; v < NV; v++) V::store(O + r * L + g + v * V::W, acc[v]);
}

// O [p, L] = U [p, nb*8] · Y [nb*8, L] (L a multiple of 8), in column groups of up to 8 registers.
template <class V>
void combine_simd(const double* const* U, int64_t nb, const double* Y, int64_t L, double* O, int64_t p) {
    using Fn = void (*)(const double* const*, int64_t, const double*, int64_t, double*, int64_t, int64_t);
    static constexpr Fn group[9] = {nullptr,
                                    combine_group<V, 1>, combine_group<V, 2>, combine_group<V, 3>, combine_group<V, 4>,
                                    combine_group<V, 5>, combine_group<V, 6>, combine_group<V, 7>, combine_group<V, 8>};
    constexpr int64_t G = 8 * V::W;  // columns per group
#pragma omp parallel for schedule(static) num_threads(tg::num_threads()) if (p * nb * 8 * L >= kParallelWorkK)
    for (int64_t r = 0; r < p; r++)
        for (int64_t g = 0; g < L; g += G) group[(L - g < G ? L - g : G) / V::W](U, nb, Y, L, O, r, g);
}

}  // namespace

#if !defined(TG_SVD_ISA) || !defined(TG_SVD_VEC)
#error "define TG_SVD_ISA and TG_SVD_VEC before including svd_kernels_impl.h"
#endif
#define TG_SVD_CAT2(a, b) a##_##b
#define TG_SVD_CAT(a, b) TG_SVD_CAT2(a, b)
#define TG_SVD_FN(name) TG_SVD_CAT(name, TG_SVD_ISA)

void TG_SVD_FN(spmm8)(const Csr& A, const double* X, double* Y) { spmm8_simd<simd::TG_SVD_VEC>(A, X, Y); }
void TG_SVD_FN(project8)(const double* const* U, int64_t nb, const double* Z, int64_t p, double* part) {
    project8_simd<simd::TG_SVD_VEC>(U, nb, Z, p, part);
}
void TG_SVD_FN(subtract8)(const double* const* U, int64_t nb, const double* P, double* Z, int64_t p) {
    subtract8_simd<simd::TG_SVD_VEC>(U, nb, P, Z, p);
}
void TG_SVD_FN(combine)(const double* const* U, int64_t nb, const double* Y, int64_t L, double* O, int64_t p) {
    combine_simd<simd::TG_SVD_VEC>(U, nb, Y, L, O, p);
}

}  // namespace tg::graph::svd_detail
