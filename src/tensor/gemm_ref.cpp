// gemm_ref.cpp — the scalar GEMM that defines "correct" (see gemm.h for the contract).
#include "tensor/gemm.h"

#include <cstring>

namespace tg {

static inline float bf16_to_f32(uint16_t h) {
    uint32_t u = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

template <typename T, typename Load>
static void gemm_ref_impl(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const T* A, int64_t lda,
                          const T* B, int64_t ldb, float beta, float* C, int64_t ldc, Load load) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double acc = 0;
            for (int64_t k = 0; k < K; k++) {
                double a = load(tA ? A[k * lda + i] : A[i * lda + k]);
                double b = load(tB ? B[j * ldb + k] : B[k * ldb + j]);
                acc += a * b;
            }
            float& c = C[i * ldc + j];
            c = float(alpha * acc + (beta == 0.f ? 0.0 : double(beta) * c));
        }
}

void gemm_f32_ref(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    gemm_ref_impl(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, [](float x) { return x; });
}

void gemm_bf16_ref(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A, int64_t lda,
                   const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    gemm_ref_impl(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bf16_to_f32);
}

}  // namespace tg
