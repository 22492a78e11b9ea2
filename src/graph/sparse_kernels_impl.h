// sparse_kernels_impl.h — the loops of sparse_kernels.h, written once, compiled once per instruction set.
//
// Included by sparse.cpp (baseline x86-64), sparse_avx2.cpp and sparse_avx512.cpp with
// TG_SPARSE_KERNELS defined to the table function that file exports. Internal linkage, raw pointers
// and no std:: templates (as in tensor/kernels_impl.h), so no AVX-512 code can be picked by the linker
// for an older CPU. The inner loops over a head's columns are `omp simd` (the auto-vectorizer makes
// them W floats wide with this file's -m flags); the head size Dh = 16, 32 or 64 gets a copy with a
// compile-time trip count, fully unrolled.
#include <cstdint>

#include "graph/sparse_kernels.h"
#include "tensor/parallel.h"

#ifndef TG_SPARSE_KERNELS
#error "define TG_SPARSE_KERNELS before including sparse_kernels_impl.h"
#endif

namespace tg::graph::detail {
namespace {

// o[0:n] (+)= Σ_e w_e x_e[0:n] for one head block; DH > 0 fixes n at compile time.
template <int DH>
void pull_rows(CsrView A, const int64_t* perm, const float* w, int H, const float* X, int64_t D, float* out,
               bool accumulate) {
    const int64_t Dh = DH > 0 ? DH : D / H;
#pragma omp parallel for schedule(dynamic, 64) num_threads(tg::num_threads())
    for (int64_t r = 0; r < A.rows; r++) {
        float* o = out + r * D;
        if (!accumulate) {
#pragma omp simd
            for (int64_t d = 0; d < D; d++) o[d] = 0.f;
        }
        for (int64_t e = A.ip[r]; e < A.ip[r + 1]; e++) {
            const float* x = X + int64_t(A.ix[e]) * D;
            const int64_t we_at = (perm ? perm[e] : e) * H;
            for (int h = 0; h < H; h++) {
                const float we = w ? w[we_at + h] : (A.val ? A.val[e] : 1.f);
                float* oh = o + h * Dh;
                const float* xh = x + h * Dh;
#pragma omp simd
                for (int64_t d = 0; d < Dh; d++) oh[d] += we * xh[d];
            }
        }
    }
}

void pull(CsrView A, const int64_t* perm, const float* w, int H, const float* X, int64_t D, float* out,
          bool accumulate) {
    switch (D / H) {
        case 16: return pull_rows<16>(A, perm, w, H, X, D, out, accumulate);
        case 32: return pull_rows<32>(A, perm, w, H, X, D, out, accumulate);
        case 64: return pull_rows<64>(A, perm, w, H, X, D, out, accumulate);
        default: return pull_rows<0>(A, perm, w, H, X, D, out, accumulate);
    }
}

template <int DH>
void dots_rows(CsrView A, int H, const float* Y, const float* Z, int64_t D, float* out, bool accumulate) {
    const int64_t Dh = DH > 0 ? DH : D / H;
#pragma omp parallel for schedule(dynamic, 64) num_threads(tg::num_threads())
    for (int64_t r = 0; r < A.rows; r++) {
        const float* y = Y + r * D;
        for (int64_t e = A.ip[r]; e < A.ip[r + 1]; e++) {
            const float* z = Z + int64_t(A.ix[e]) * D;
            for (int h = 0; h < H; h++) {
                const float* yh = y + h * Dh;
                const float* zh = z + h * Dh;
                float s = 0.f;
#pragma omp simd reduction(+ : s)
                for (int64_t d = 0; d < Dh; d++) s += yh[d] * zh[d];
                out[e * H + h] = accumulate ? out[e * H + h] + s : s;
            }
        }
    }
}

void edge_dots(CsrView A, int H, const float* Y, const float* Z, int64_t D, float* out, bool accumulate) {
    switch (D / H) {
        case 16: return dots_rows<16>(A, H, Y, Z, D, out, accumulate);
        case 32: return dots_rows<32>(A, H, Y, Z, D, out, accumulate);
        case 64: return dots_rows<64>(A, H, Y, Z, D, out, accumulate);
        default: return dots_rows<0>(A, H, Y, Z, D, out, accumulate);
    }
}

}  // namespace

const SparseKernels& TG_SPARSE_KERNELS() {
    static const SparseKernels table{pull, edge_dots};
    return table;
}

}  // namespace tg::graph::detail
