// sparse_avx512.cpp — sparse_kernels_impl.h and sparse_rows_impl.h compiled with AVX-512 flags (16 floats per register).
#define TG_SPARSE_KERNELS sparse_kernels_avx512
#include "graph/sparse_kernels_impl.h"
#include "graph/sparse_rows_impl.h"

namespace tg::graph {

void spmm_acc_forward_avx512(const Csr& A, const float* X, int64_t D, float* Y, float* acc, float scale,
                             const int32_t* rows, int64_t n_rows, const uint8_t* mask) {
    spmm_acc_forward_simd<simd::F32x16>(A, X, D, Y, acc, scale, rows, n_rows, mask);
}

}  // namespace tg::graph
