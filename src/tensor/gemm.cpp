// gemm.cpp — GEMM dispatch. PLACEHOLDER: forwards to the scalar reference until the packed,
// blocked SIMD kernels land (the GEMM work replaces this file).
#include "tensor/gemm.h"

namespace tg {

void gemm_f32(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
              const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    gemm_f32_ref(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm_batched_f32(bool tA, bool tB, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                      int64_t lda, int64_t sA, const float* B, int64_t ldb, int64_t sB, float beta, float* C,
                      int64_t ldc, int64_t sC) {
    for (int64_t b = 0; b < batch; b++)
        gemm_f32(tA, tB, M, N, K, alpha, A + b * sA, lda, B + b * sB, ldb, beta, C + b * sC, ldc);
}

void gemm_bf16(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A, int64_t lda,
               const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    gemm_bf16_ref(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace tg
