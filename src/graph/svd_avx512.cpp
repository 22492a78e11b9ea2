// svd_avx512.cpp — svd_kernels_impl.h compiled with AVX-512 flags (8 doubles per zmm).
#include "graph/svd_kernels_impl.h"

namespace tg::graph::svd_detail {

void spmm8_avx512(const Csr& A, const double* X, double* Y) { spmm8_simd<simd::F64x8>(A, X, Y); }
void project8_avx512(const double* const* U, int64_t nb, const double* Z, int64_t p, double* part) {
    project8_simd<simd::F64x8>(U, nb, Z, p, part);
}
void subtract8_avx512(const double* const* U, int64_t nb, const double* P, double* Z, int64_t p) {
    subtract8_simd<simd::F64x8>(U, nb, P, Z, p);
}
void combine_avx512(const double* const* U, int64_t nb, const double* Y, int64_t L, double* O, int64_t p) {
    combine_simd<simd::F64x8>(U, nb, Y, L, O, p);
}

}  // namespace tg::graph::svd_detail
