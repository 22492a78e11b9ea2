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

// ---- packing by 8x8 register transposes (the AVX2 twin of pack_gather32_avx512) ----------------
// Packing a "gather" operand (op(A) when A is not transposed, op(B) when B is) transposes a W x kc strip:
// dst[k][w] = src[w*ld + k]. Element by element that is a strided store per element (~13% of a training
// step's time); here 8 rows x 8 consecutive k are loaded (one ymm each), transposed in registers and
// stored as 8 rows of up to 8 lanes.
static inline void transpose8x8(__m256 r[8]) {
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

void pack_gather32_avx2(const void* src, int64_t ld_bytes, int64_t width, int64_t kn, int64_t kc, int W, void* dst_) {
    float* dst = static_cast<float*>(dst_);
    const char* s = static_cast<const char*>(src);
    for (int64_t w0 = 0; w0 < width; w0 += W, dst += kc * W) {
        for (int g0 = 0; g0 < W; g0 += 8) {  // groups of up to 8 rows of the micro-panel
            const int g = W - g0 < 8 ? W - g0 : 8;
            const int64_t rows = width - w0 - g0;  // valid rows in this group (may be <= 0)
            const __m256i store_mask = lane_mask(g);
            for (int64_t k = 0; k < kc; k += 8) {
                const int64_t kk = kn - k;  // valid k in this 8-block
                const __m256i load_mask = lane_mask(kk >= 8 ? 8 : kk <= 0 ? 0 : int(kk));
                __m256 r[8];
                for (int i = 0; i < 8; i++)
                    r[i] = i < rows && i < g ? _mm256_maskload_ps(reinterpret_cast<const float*>(s + (w0 + g0 + i) * ld_bytes + k * 4), load_mask)
                                             : _mm256_setzero_ps();
                transpose8x8(r);
                const int64_t kend = kc - k < 8 ? kc - k : 8;
                for (int j = 0; j < kend; j++) _mm256_maskstore_ps(dst + (k + j) * W + g0, store_mask, r[j]);
            }
        }
    }
}

// Blocking: kc = 256 (A micro-panel 6 KiB + B micro-panel 16 KiB in L1), mc = 96 rows, nc = 512.
Kernel<UkrF32> kernel_f32_avx2() { return {MR, NR, 256, 96, 512, ukr_f32}; }

}  // namespace tg::gemm_detail
