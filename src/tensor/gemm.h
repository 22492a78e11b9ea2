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
#include <memory>

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

// ---- Fused epilogues (inference layers) --------------------------------------------------------
// Hooks let a caller do elementwise / row-wise work on C while it is still in cache, instead of another
// pass over memory afterwards (bias, residual, GELU, LayerNorm, a bf16 copy for the next GEMM):
//   block(ctx, i0, i1, j0, j1)  once per finished block of C: rows [i0, i1) x columns [j0, j1) hold their
//                               final values (alpha op(A) op(B) + beta C). A block is at most the kernel's
//                               mc x nc (a few hundred KiB, L2-resident); the blocks tile C exactly.
//   rows(ctx, i0, i1)           once per finished row range: all N columns of rows [i0, i1) are final and
//                               every block call on them has returned. The ranges tile [0, M).
// Either may be nullptr. They run on the GEMM's worker threads, concurrently on disjoint ranges, in no
// fixed order: they must only touch their own range (plus read-only data), must not throw, and must not
// start OpenMP parallel regions (a nested region would run on one thread anyway). The GEMM's numbers are
// the same as without hooks; a hook that computes each element from its own row/column only is therefore
// independent of the thread count too.
//
//   block_scratch(ctx, i0, i1, j0, j1, c, ldc)   in place of block, for a C that only the epilogue reads (a copy
//                               in another layout, a bf16 copy for the next GEMM): then C itself is never written
//                               (it may be nullptr). Each block is computed into a per-thread scratch block that
//                               stays in L2 and handed over as c (element (i0, j0); row stride ldc), writable,
//                               valid during the call only. A full-size C would go out to memory and come back
//                               (a write-allocate read and a write-back per line) although nothing reads it.
//                               Needs beta == 0 and no other hook. The values are the same bits that C would hold.
//   rows_scratch(ctx, i0, i1, c, ldc)   the same for a row epilogue (a LayerNorm of the rows): all N columns of rows
//                               [i0, i1) are handed over in a scratch buffer (c: element (i0, 0)), which holds a row
//                               block per thread (or, when N is split among threads for a small M, all of C).
struct GemmHooks {
    void (*block)(void* ctx, int64_t i0, int64_t i1, int64_t j0, int64_t j1) = nullptr;
    void (*rows)(void* ctx, int64_t i0, int64_t i1) = nullptr;
    void (*block_scratch)(void* ctx, int64_t i0, int64_t i1, int64_t j0, int64_t j1, float* c, int64_t ldc) = nullptr;
    void (*rows_scratch)(void* ctx, int64_t i0, int64_t i1, float* c, int64_t ldc) = nullptr;
    void* ctx = nullptr;
};
void gemm_f32_hooked(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                     int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                     const GemmHooks& hooks);
void gemm_bf16_hooked(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A,
                      int64_t lda, const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc,
                      const GemmHooks& hooks);

// ---- Prepacked B (inference weights) -------------------------------------------------------------
// A matrix that is op(B) of many products (a layer's weight) can be packed once into the micro-kernel's
// panel layout; products with it then skip packing B (which costs as much as the multiply itself when M is
// a few dozen rows). The layout belongs to the kernel chosen at pack time (tg::cpu_isa(), avx512_bf16):
// gemm_packed_usable() says whether it still matches; the products throw if it does not.
// Results are bit-identical to gemm_f32 / gemm_bf16 with beta, alpha, hooks the same, except for a bf16 B packed
// "wide" (below), whose products equal gemm_f32's on the bf16 values widened to f32.
//
// bf16 weights on AVX-512 can be multiplied two ways, chosen when they are packed (gemm_bf16_kernel()):
//   dot   vdpbf16ps: A is rounded to bf16 too, two k per instruction, bf16 k pairs in the panels.
//   wide  the f32 micro-kernel with B kept as bf16 in the panels and widened in registers (a shift and a mask
//         per 32 values), A in f32: half the weight memory and traffic, f32 FMA speed, and more accurate (A is
//         not rounded). gemm_f32_packed then takes the f32 A directly (gemm_bf16_packed widens a bf16 A).
// vdpbf16ps does twice an FMA's products per instruction, but where it issues at a quarter of the FMA rate
// (the Intel Xeons measured here, tools/bench/bench_gemm: 169 vs 339 GFLOP/s on 2 cores) it is half as fast
// as f32, and "wide" is ~2x faster; on AMD Zen 4/5 it is the other way round. Default: wide on Intel CPUs and
// on AVX-512 CPUs without avx512_bf16 (where the alternative widened B to f32 at pack time, doubling its
// memory), dot elsewhere; TG_BF16_GEMM=dot|wide at start-up or set_gemm_bf16_kernel() overrides it.
// Without AVX-512 (AVX2, scalar) bf16 B is widened to f32 at pack time whatever the choice.
enum class Bf16Gemm { dot, wide };
Bf16Gemm gemm_bf16_kernel();
void set_gemm_bf16_kernel(Bf16Gemm k);

struct GemmPackedB {
    int64_t N = 0, K = 0;             // op(B) is [K, N]
    bool bf16 = false;                // packed from bf16 (for gemm_bf16_packed)
    bool pairs = false;               // bf16 k pairs (vdpbf16ps) rather than widened f32
    bool wide = false;                // bf16 values for the f32 kernel (Bf16Gemm::wide); gemm_f32_packed accepts it
    int isa = -1;                     // tg::Isa at pack time
    std::shared_ptr<uint32_t> data;   // 64-byte aligned panels (f32 bits, bf16 pairs or bf16 values)
};
GemmPackedB gemm_pack_b_f32(bool transB, int64_t N, int64_t K, const float* B, int64_t ldb);
GemmPackedB gemm_pack_b_bf16(bool transB, int64_t N, int64_t K, const uint16_t* B, int64_t ldb);
bool gemm_packed_usable(const GemmPackedB& B);  // packed for the kernels in use now (ISA, bf16 choice)
void gemm_f32_packed(bool transA, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                     const GemmPackedB& B, float beta, float* C, int64_t ldc, const GemmHooks& hooks = {});
void gemm_bf16_packed(bool transA, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A, int64_t lda,
                      const GemmPackedB& B, float beta, float* C, int64_t ldc, const GemmHooks& hooks = {});

// Scalar references (double accumulation), used by tests and as the TG_ISA=scalar fallback's oracle.
void gemm_f32_ref(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void gemm_bf16_ref(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A,
                   int64_t lda, const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace tg
