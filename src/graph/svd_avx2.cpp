// svd_avx2.cpp — svd_kernels_impl.h compiled with AVX2 + FMA flags (4 doubles per ymm).
#include "graph/svd_kernels_impl.h"

namespace tg::graph::svd_detail {

void spmm8_avx2(const Csr& A, const double* X, double* Y) { spmm8_simd<simd::F64x4>(A, X, Y); }
void project8_avx2(const double* const* U, int64_t nb, const double* Z, int64_t p, double* part) {
    project8_simd<simd::F64x4>(U, nb, Z, p, part);
}
void subtract8_avx2(const double* const* U, int64_t nb, const double* P, double* Z, int64_t p) {
    subtract8_simd<simd::F64x4>(U, nb, P, Z, p);
}
void combine_avx2(const double* const* U, int64_t nb, const double* Y, int64_t L, double* O, int64_t p) {
    combine_simd<simd::F64x4>(U, nb, Y, L, O, p);
}

}  // namespace tg::graph::svd_detail
