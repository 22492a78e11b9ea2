// gemm_avx2.cpp — AVX2 + FMA GEMM micro-kernel (f32).
//
// Compiled with -mavx2 -mfma (CMake does this for *_avx2.cpp); the driver in gemm.cpp calls it only
// when tg::cpu_isa() is avx2. See gemm_kernels.h for the packed layouts and the exact contract.
//
// Why a 6 x 16 tile: with 16 ymm registers, 6 rows x 2 vectors of 8 columns = 12 accumulators, plus
// 2 registers for the row of packed B and 1 for the broadcast of A = 15. Twelve independent FMA
// chains cover two FMA pipes x 4-5 cycles of latency; each k step does 12 FMAs for 2 loads and 6
// broadcasts. This is the classic Haswell-era BLIS sgemm shape.
#include <immintrin.h>

#include "tensor/gemm_kernels.h"

namespace tg::gemm_detail {

static constexpr int MR = 6, NR = 16;

// Lane mask for the first n (0..8) of 8 floats: all-ones lanes are loaded/stored by maskload/maskstore.
static inline __m256i lane_mask(int n) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
}

// Scalar meaning (Ap: [kc][MR], Bp: [kc][NR]):
//     for k in 0..kc: for r in 0..MR: for j in 0..NR: acc[r][j] += Ap[k*MR + r] * Bp[k*NR + j]
//     then C[r][j] = alpha * acc[r][j] + beta * C[r][j] for r < m, j < n (C not read if beta == 0)
static void ukr_f32(int64_t kc, const float* Ap, const float* Bp, float* C, int64_t ldc, int m, int n, float alpha,
                    float beta) {
    __m256 acc[MR][2];
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int r = 0; r < m; r++) _mm_prefetch(reinterpret_cast<const char*>(C + r * ldc), _MM_HINT_T0);
#pragma GCC unroll 2
    for (int64_t k = 0; k < kc; k++) {
        const __m256 b0 = _mm256_load_ps(Bp), b1 = _mm256_load_ps(Bp + 8);
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            const __m256 a = _mm256_broadcast_ss(Ap + r);
            acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
        }
        Ap += MR;
        Bp += NR;
    }
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    const __m256i k0 = lane_mask(n), k1 = lane_mask(n - 8);
    // Unrolled over the MR rows with constant indices (and a run-time stop at m): indexing acc with a
    // run-time r makes GCC keep the accumulators in a stack array and store all 12 of them after every
    // k step of the loop above (measured: 36-44% of the FMA peak instead of ~80%).
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        if (r >= m) break;
        float* c = C + r * ldc;
        __m256 x0 = _mm256_mul_ps(va, acc[r][0]);
        __m256 x1 = _mm256_mul_ps(va, acc[r][1]);
        if (beta != 0.f) {
            x0 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(c, k0), x0);
            x1 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(c + 8, k1), x1);
        }
        _mm256_maskstore_ps(c, k0, x0);
        _mm256_maskstore_ps(c + 8, k1, x1);
    }
}

// Blocking: kc = 256 (A micro-panel 6 KiB + B micro-panel 16 KiB in L1), mc = 96 rows, nc = 512.
Kernel<UkrF32> kernel_f32_avx2() { return {MR, NR, 256, 96, 512, ukr_f32}; }

}  // namespace tg::gemm_detail
