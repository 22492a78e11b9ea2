// gemm.h — general matrix multiply, the engine's workhorse.
//
// Row-major throughout. With op(X) = X or Xᵀ:
//     C[M,N] = alpha * op(A)[M,K] · op(B)[K,N] + beta * C[M,N]
// A is stored [M,K] (lda >= K) or, transposed, [K,M] (lda >= M); B likewise [K,N] / [N,K].
// beta == 0 means C is overwritten (never read, so it may hold NaN/garbage).
//
// gemm_f32 dispatches on tg::cpu_isa() to packed, cache-blocked AVX-512 / AVX2 micro-kernels and is
// multi-threaded with OpenMP; gemm_f32_ref is the plain triple loop (double accumulator) that defines
// "correct" for the tests. Results are independent of the thread count.
#pragma once
#include <cstdint>

namespace tg {

void gemm_f32(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
              int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// Strided batch: matrix b uses A + b*strideA, B + b*strideB, C + b*strideC.
void gemm_batched_f32(bool transA, bool transB, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha,
                      const float* A, int64_t lda, int64_t strideA, const float* B, int64_t ldb, int64_t strideB,
                      float beta, float* C, int64_t ldc, int64_t strideC);

// bf16 inputs (raw uint16 bit patterns, the upper half of an IEEE f32), f32 accumulation and output.
// Uses avx512_bf16 (vdpbf16ps) where the CPU has it, otherwise converts to f32.
void gemm_bf16(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A,
               int64_t lda, const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc);

// Scalar references (double accumulation), used by tests and as the TG_ISA=scalar fallback's oracle.
void gemm_f32_ref(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void gemm_bf16_ref(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A,
                   int64_t lda, const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace tg
