// gemm_avx512.cpp — AVX-512 GEMM micro-kernels (f32 FMA and bf16 vdpbf16ps).
//
// Compiled with -mavx512f/bw/vl/dq/bf16 -mfma (CMake does this for *_avx512.cpp); the driver in
// gemm.cpp only calls into this file after tg::cpu_isa() said avx512 (and cpu_has_avx512_bf16()
// for the bf16 kernel). See gemm_kernels.h for the packed layouts and the exact contract.
//
// Why a 12 x 32 tile: C is row-major, so a row of the tile is contiguous and we vectorize along N:
// 32 columns = 2 zmm registers. Each k step loads those 2 vectors of packed B once and, for each of
// the MR rows, broadcasts one element of packed A and does 2 FMAs. With MR = 12 that is 24 FMAs per
// 2 loads + 12 broadcasts, 24 accumulators + 2 B registers + 1 broadcast = 27 of the 32 zmm
// registers. An FMA has a 4-cycle latency and a core issues 1 (Zen 4, two 256-bit halves) or 2
// (Zen 5, Intel server cores) zmm FMAs per cycle, so >= 4-8 independent accumulators keep the pipes
// busy; 24 leaves slack, and the 14 loads per 24 FMAs stay under the 2-loads-per-cycle limit.
// On the Zen 4 test machine this runs at ~90% of the measured FMA peak (tools/bench/bench_gemm).

// GCC 12's AVX-512 intrinsic headers trip -W(maybe-)uninitialized on their internal
// _mm512_undefined_ps() pass-through (GCC bug 105593); the warning is about the header, not this file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include <type_traits>

#include "tensor/gemm_kernels.h"
#include "tensor/simd.h"

namespace tg::gemm_detail {

static constexpr int MR = 12, NV = 2, NR = 16 * NV;  // tile rows, zmm vectors per row, tile columns

// Mask selecting the columns of vector v (columns 16v..16v+15) that are < n.
static inline __mmask16 col_mask(int n, int v) {
    const int c = n - 16 * v;
    return c >= 16 ? __mmask16(0xFFFF) : c <= 0 ? __mmask16(0) : __mmask16((1u << c) - 1);
}

// C[r][0..n) = alpha * acc + beta * C, with beta == 0 meaning "do not read C" (it may be garbage).
// Edge columns use masked loads/stores, which never touch memory outside the mask.
template <int R = MR>
static inline void store_tile(__m512 acc[MR][NV], float* C, int64_t ldc, int m, int n, float alpha, float beta) {
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    __mmask16 mask[NV];
    for (int v = 0; v < NV; v++) mask[v] = col_mask(n, v);
    // Unrolled with constant row indices and a run-time stop at m: indexing acc with a run-time r makes
    // GCC keep the accumulators in a stack array and store every one of them after each k step of the
    // micro-kernels' loops (on AVX2 the same pattern cost half the FMA throughput).
#pragma GCC unroll 16
    for (int r = 0; r < R; r++) {
        if (r >= m) break;
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            float* c = C + r * ldc + 16 * v;
            __m512 x = _mm512_mul_ps(va, acc[r][v]);
            if (beta != 0.f) x = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask[v], c), x);
            _mm512_mask_storeu_ps(c, mask[v], x);
        }
    }
}

// Scalar meaning of the loop below (Ap: [kc][MR], Bp: [kc][NR]):
//     for k in 0..kc: for r in 0..MR: for j in 0..NR: acc[r][j] += Ap[k*MR + r] * Bp[k*NR + j]
// B prefetch distance, in bytes ahead of the k step being multiplied. The packed weights of a whole encoder do
// not fit in L2, so the first row panel of every block meets them in L3; the hardware prefetcher restarts at
// each 4 KiB page and does not cover that latency. Asking for the lines 4 KiB ahead (two prefetches per k step,
// which the load ports have room for) made the MiniLM layer GEMMs ~8 % faster at 128 tokens and ~3 % at 4096
// (session 14, distances 1-16 KiB measured interleaved in one process; 2-4 KiB best, flat beyond).
static constexpr int kPrefetchBytes = 4096;

// One micro-kernel for two packed-B element types, TB = float (f32 panels) or uint16_t (the "wide" bf16 layout of
// gemm_kernels.h, widened in registers). Wide: each k step's 32 columns of B are loaded as 32 bf16 values (64
// bytes); lane w of the load holds column w in its low half and column w + 16 in its high half, and an f32 whose
// low 16 bits are zero IS the bf16 value, so
//     columns 0..15  = load << 16          columns 16..31 = load & 0xFFFF0000
// Two integer ops per 24 FMAs; the products and their order are exactly the f32 kernel's on the widened B.
//
// R = the rows computed (the panel's first R of MR; Ap keeps its MR stride): an edge panel of m <= 8 or m <= 4 rows
// (M = 128 is 10 panels of 12 and one of 8) costs 8/12 or 4/12 of a full one instead of all of it. Row r's FMA
// chain is the same for every R, so the results are too.
template <typename TB, int R = MR>
static void ukr_f32_t(int64_t kc, const float* Ap, const TB* Bp, float* C, int64_t ldc, int m, int n, float alpha,
                      float beta) {
    constexpr bool wide = std::is_same_v<TB, uint16_t>;
    static_assert(!wide || NV == 2, "the wide layout interleaves exactly two vectors of columns");
    static_assert(R >= 1 && R <= MR);
    __m512 acc[MR][NV];
#pragma GCC unroll 16
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
    // Touch the C tile early so its cache lines arrive while we compute (C is read only at the end).
    for (int r = 0; r < m; r++) _mm_prefetch(reinterpret_cast<const char*>(C + r * ldc), _MM_HINT_T0);
    const __m512i high = _mm512_set1_epi32(int(0xFFFF0000u));
#pragma GCC unroll 2
    for (int64_t k = 0; k < kc; k++) {
        __m512 b[NV];
        _mm_prefetch(reinterpret_cast<const char*>(Bp) + kPrefetchBytes, _MM_HINT_T0);  // (never faults)
        if constexpr (wide) {  // 64 bytes a k step: one line
            const __m512i w = _mm512_load_si512(Bp);
            b[0] = _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
            b[1] = _mm512_castsi512_ps(_mm512_and_si512(w, high));
        } else {  // 128 bytes a k step: two lines
            _mm_prefetch(reinterpret_cast<const char*>(Bp) + kPrefetchBytes + 64, _MM_HINT_T0);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) b[v] = _mm512_load_ps(Bp + 16 * v);
        }
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) {
            const __m512 a = _mm512_set1_ps(Ap[r]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(a, b[v], acc[r][v]);
        }
        Ap += MR;
        Bp += NR;
    }
    store_tile<R>(acc, C, ldc, m, n, alpha, beta);
}
static void ukr_f32(int64_t kc, const float* Ap, const float* Bp, float* C, int64_t ldc, int m, int n, float alpha,
                    float beta) {
    if (m > 8) ukr_f32_t<float>(kc, Ap, Bp, C, ldc, m, n, alpha, beta);
    else if (m > 4) ukr_f32_t<float, 8>(kc, Ap, Bp, C, ldc, m, n, alpha, beta);
    else ukr_f32_t<float, 4>(kc, Ap, Bp, C, ldc, m, n, alpha, beta);
}
static void ukr_f32b16(int64_t kc, const float* Ap, const uint16_t* Bp, float* C, int64_t ldc, int m, int n,
                       float alpha, float beta) {
    if (m > 8) ukr_f32_t<uint16_t>(kc, Ap, Bp, C, ldc, m, n, alpha, beta);
    else if (m > 4) ukr_f32_t<uint16_t, 8>(kc, Ap, Bp, C, ldc, m, n, alpha, beta);
    else ukr_f32_t<uint16_t, 4>(kc, Ap, Bp, C, ldc, m, n, alpha, beta);
}

// bf16: vdpbf16ps acc, a, b computes, per f32 lane j,  acc[j] += a.lo[j]*b.lo[j] + a.hi[j]*b.hi[j]
// where lo/hi are the two bf16 halves of the 32-bit lane. Packed B holds (B[k][j], B[k+1][j]) in lane
// j, and we broadcast the 32-bit pair (A[r][k], A[r][k+1]) to every lane, so one instruction does
// two k steps for 16 columns: twice the work of an f32 FMA per instruction.
// Scalar meaning (Ap: [kp][MR] pairs, Bp: [kp][NR] pairs):
//     for p in 0..kp: for r, j: acc[r][j] += A(r,2p)*B(2p,j) + A(r,2p+1)*B(2p+1,j)
// R: as in ukr_f32_t (the edge panels of m <= 8 and m <= 4 rows).
template <int R>
static void ukr_bf16_t(int64_t kp, const uint32_t* Ap, const uint32_t* Bp, float* C, int64_t ldc, int m, int n,
                       float alpha, float beta) {
    __m512 acc[MR][NV];
#pragma GCC unroll 16
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
    for (int r = 0; r < m; r++) _mm_prefetch(reinterpret_cast<const char*>(C + r * ldc), _MM_HINT_T0);
#pragma GCC unroll 2
    for (int64_t p = 0; p < kp; p++) {
        _mm_prefetch(reinterpret_cast<const char*>(Bp) + kPrefetchBytes, _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(Bp) + kPrefetchBytes + 64, _MM_HINT_T0);
        __m512bh b[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) b[v] = (__m512bh)_mm512_load_si512(Bp + 16 * v);
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) {
            const __m512bh a = (__m512bh)_mm512_set1_epi32(int(Ap[r]));
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], a, b[v]);
        }
        Ap += MR;
        Bp += NR;
    }
    store_tile<R>(acc, C, ldc, m, n, alpha, beta);
}
static void ukr_bf16(int64_t kp, const uint32_t* Ap, const uint32_t* Bp, float* C, int64_t ldc, int m, int n,
                     float alpha, float beta) {
    if (m > 8) ukr_bf16_t<MR>(kp, Ap, Bp, C, ldc, m, n, alpha, beta);
    else if (m > 4) ukr_bf16_t<8>(kp, Ap, Bp, C, ldc, m, n, alpha, beta);
    else ukr_bf16_t<4>(kp, Ap, Bp, C, ldc, m, n, alpha, beta);
}

// ---- packing by 16x16 register transposes -------------------------------------------------
// Packing a "gather" operand (op(A) when A is not transposed, op(B) when B is) means
//     dst[k][w] = src[w*ld + k]        for w < W (micro-panel width), k < kc
// i.e. transposing a W x kc strip. One element at a time that is a strided store per element and
// cost ~11% of a 4096x384x384 GEMM (now ~6%); here we load 16 rows x 16 consecutive k (one zmm each), transpose
// the 16x16 block in registers (simd::transpose16x16) and store each k as one masked row of W
// lanes. Works on 32-bit elements, so the same code packs f32 and bf16 pairs (two bf16 adjacent in
// k are one 32-bit element, exactly the pair layout vdpbf16ps wants).
void pack_gather32_avx512(const void* src, int64_t ld_bytes, int64_t width, int64_t kn, int64_t kc, int W,
                          void* dst_) {
    uint32_t* dst = static_cast<uint32_t*>(dst_);
    const char* s = static_cast<const char*>(src);
    for (int64_t w0 = 0; w0 < width; w0 += W, dst += kc * W) {
        for (int g0 = 0; g0 < W; g0 += 16) {  // groups of up to 16 rows of the micro-panel
            const int g = W - g0 < 16 ? W - g0 : 16;
            const int64_t rows = width - w0 - g0;  // valid rows in this group (may be <= 0)
            const __mmask16 store_mask = __mmask16((1u << g) - 1);
            for (int64_t k = 0; k < kc; k += 16) {
                const int64_t kk = kn - k;  // valid k in this 16-block
                const __mmask16 load_mask = kk >= 16 ? __mmask16(0xFFFF) : kk <= 0 ? 0 : __mmask16((1u << kk) - 1);
                __m512 r[16];
                for (int i = 0; i < 16; i++)
                    r[i] = i < rows && i < g ? _mm512_maskz_loadu_ps(load_mask, s + (w0 + g0 + i) * ld_bytes + k * 4)
                                             : _mm512_setzero_ps();
                simd::transpose16x16(r);
                const int64_t kend = kc - k < 16 ? kc - k : 16;
                for (int j = 0; j < kend; j++) _mm512_mask_storeu_ps(dst + (k + j) * W + g0, store_mask, r[j]);
            }
        }
    }
}

// Blocking (Zen 4/5: 32-48 KiB L1d, 1 MiB L2 per core), tuned on the BERT shapes:
//   kc <= 384: A micro-panel 384 x 12 x 4 = 18 KiB stays in L1 while the jr loop streams B
//              micro-panels (48 KiB each) from L2; K = 384 is then a single K block (C touched once).
//   mc = 192 rows: packed A block 192 x 384 x 4 = 288 KiB.   nc = 256: B block 384 x 256 x 4 =
//              384 KiB, C block 192 x 256 x 4 = 192 KiB (reused across the K blocks): ~860 KiB of L2.
//              Each B block comes from L3 once per 16 row panels.
// (kc 256 was ~5% slower on K = 384; mc = 96 / nc = 512 ~3% slower on the N or K = 3072 shapes;
// other mc/nc and 14x32, 8x48, 6x64 tiles (MR, NV above) were the same or slower, measured as
// GFLOP per CPU-second on one core.)
Kernel<UkrF32> kernel_f32_avx512() { return {MR, NR, 384, 192, 256, ukr_f32}; }
// bf16 k pairs take the same bytes per step as f32 k steps, so the same blocking holds in pairs.
Kernel<UkrBf16> kernel_bf16_avx512() { return {MR, NR, 384, 192, 256, ukr_bf16}; }
// The wide kernel reads half the B bytes of the f32 one; the f32 blocking is kept (same A panels, same C blocks).
Kernel<UkrF32B16> kernel_f32b16_avx512() { return {MR, NR, 384, 192, 256, ukr_f32b16}; }

}  // namespace tg::gemm_detail
