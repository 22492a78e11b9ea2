// gemm_kernels.h — internal interface between the GEMM driver (gemm.cpp) and the per-ISA
// micro-kernels (gemm_avx512.cpp, gemm_avx2.cpp; the scalar one lives in gemm.cpp).
//
// The driver packs A and B into the layouts below and calls a micro-kernel once per MR x NR tile of C.
// Dimension letters: MR x NR = register tile of C, kc = depth of one K block (f32) or number of k
// PAIRS (bf16), m <= MR and n <= NR = how much of the tile is inside C (edge tiles).
//
//   packed A micro-panel  Ap[kc][MR]   column k of MR consecutive rows of op(A), rows >= m zero-filled
//   packed B micro-panel  Bp[kc][NR]   row k of NR consecutive columns of op(B), cols >= n zero-filled
//
// bf16: one packed element is a uint32 holding TWO bf16 values adjacent in k (k even in the low half,
// k+1 in the high half), which is the operand layout of vdpbf16ps; odd K is zero-padded.
// bf16 "wide" B (f32 kernel, B widened in registers; AVX-512, NR = 32): Bp[kc][NR] of uint16 bf16 values,
// row k holding columns 0..31 interleaved so that 32-bit lane w = (column w, column w + 16):
//     Bp[k][2w] = B(k, w),  Bp[k][2w + 1] = B(k, w + 16)        w = 0..15
// so one 64-byte load, a 16-bit left shift (columns 0..15) and a mask of the high halves (16..31) give the
// two f32 vectors exactly (bf16 is the upper half of an f32).
//
// Micro-kernel contract (every ISA). A C element's value depends only on this computation, never on
// which tile or thread produced it, which is what makes results independent of the thread count:
//     acc[r][j] = sum over k = 0..kc-1, in increasing k, of Ap[k][r] * Bp[k][j]
//                 (one FMA chain; the scalar kernel uses multiply + add, vdpbf16ps adds a k pair per step)
//     C[r][j]   = alpha * acc[r][j] + beta * C[r][j]        for r < m, j < n
// where beta == 0 means C is written without being read.
#pragma once
#include <cstdint>

namespace tg::gemm_detail {

using UkrF32 = void (*)(int64_t kc, const float* Ap, const float* Bp, float* C, int64_t ldc, int m, int n,
                        float alpha, float beta);
using UkrBf16 = void (*)(int64_t kpairs, const uint32_t* Ap, const uint32_t* Bp, float* C, int64_t ldc, int m,
                         int n, float alpha, float beta);
using UkrF32B16 = void (*)(int64_t kc, const float* Ap, const uint16_t* Bp, float* C, int64_t ldc, int m, int n,
                           float alpha, float beta);

// A kernel description: register tile and cache blocking chosen for that ISA.
//   kc  = largest K block depth (f32 elements, or bf16 k pairs); the driver splits K into equal
//         blocks of at most kc. The Ap micro-panel (kc*MR) stays in L1 across a sweep of B panels.
//   mc  = rows of A packed per block (multiple of MR): mc x kc of A stays in L2.
//   nc  = columns of B swept per A block (multiple of NR): kc x nc of packed B stays in L2.
template <typename Ukr>
struct Kernel {
    int mr, nr;
    int64_t kc, mc, nc;
    Ukr ukr;
};

// Defined in gemm_avx512.cpp / gemm_avx2.cpp. Only call after checking tg::cpu_isa() (and
// cpu_has_avx512_bf16() for the bf16 one): the code inside uses those instructions.
Kernel<UkrF32> kernel_f32_avx512();
Kernel<UkrBf16> kernel_bf16_avx512();
Kernel<UkrF32B16> kernel_f32b16_avx512();  // f32 A x "wide" bf16 B (needs AVX-512 only, not avx512_bf16)
Kernel<UkrF32> kernel_f32_avx2();

// Vectorized packing of a "gather" operand of 32-bit elements (f32, or bf16 pairs along k):
//     dst[panel][k][w] = elem(src + (panel*W + w)*ld_bytes + k*4)   for w < width - panel*W, k < kn
// and zero for the padding (rows >= width, kn <= k < kc). Panels of kc*W elements, W = micro-panel
// width (MR or NR). AVX-512 (f32 and bf16 pairs) and AVX2 (f32: the AVX2 path has no bf16 kernel).
void pack_gather32_avx512(const void* src, int64_t ld_bytes, int64_t width, int64_t kn, int64_t kc, int W,
                          void* dst);
void pack_gather32_avx2(const void* src, int64_t ld_bytes, int64_t width, int64_t kn, int64_t kc, int W, void* dst);

}  // namespace tg::gemm_detail
