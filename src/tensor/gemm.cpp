// gemm.cpp — the packed, cache-blocked, multi-threaded GEMM driver (see gemm.h for the contract).
//
// This is the GotoBLAS / BLIS scheme. For   C[M,N] = alpha * op(A)[M,K] · op(B)[K,N] + beta * C
// the plain loop
//     for i in 0..M: for j in 0..N: for k in 0..K: C[i][j] += A[i][k] * B[k][j]
// is memory bound: every multiply needs fresh operands. We instead cut the product into blocks that
// fit the cache levels and reuse each loaded number many times:
//
//   pack all of op(B) once, cut into K blocks of depth kc and NR-wide micro-panels Bp[kc][NR]
//   work items = blocks of mc rows of C (x column groups when M is small), handed to threads:
//   for each item (rows ic..ic+mc):
//     pack op(A)[ic:ic+mc, all K] into MR-tall micro-panels Ap[kc][MR] (per K block)
//     for jc in the item's columns, step nc:          C block mc x nc stays in L2 across pc
//       for pc in 0..K, step kc:                      K blocks, in increasing order
//         for ir in 0..mc, step MR:                   A micro-panel (kc x MR) stays in L1
//           for jr in 0..nc, step NR:                 B micro-panels stream from L2 (kc x nc block)
//             micro-kernel: C[ir:ir+MR, jr:jr+NR] (+)= Ap · Bp      (registers, FMA with broadcast)
//
// Packing makes the micro-kernel's operands contiguous and aligned whatever the transposes and
// leading dimensions are: op(A) is read as Ap[k][r] and op(B) as Bp[k][j], so the four transpose
// combinations differ only in the packing routine (a contiguous copy or a strided gather).
// Edge tiles (M or N not a multiple of MR/NR) are zero-padded in the packs and the micro-kernel
// stores only the m x n part that lies inside C.
//
// Determinism: every C element is produced by exactly one thread, as the same FMA chain over k
// (increasing, K blocks in order, identical kc), whatever the thread count or tile position, so
// results are bit-identical for any number of threads. K is never split across threads.
//
// ISA dispatch: tg::cpu_isa() picks the AVX-512 (12x32), AVX2 (6x16) or portable scalar (4x8)
// micro-kernel (and, for AVX-512, a transposing packer). bf16 uses vdpbf16ps on k pairs where the
// CPU has avx512_bf16; otherwise the packs widen bf16 to f32 and the f32 micro-kernel runs.
//
// Scratch memory: packed B (K x N) and packed A (mc x K per thread) live in two buffers of the calling
// thread; they grow to the largest problem seen and are reused across calls.
//
// Inference extras (gemm.h): a B packed once ahead of time (gemm_pack_b_*: the same panels, made by the same
// packing code, so results are bit-identical) skips step 1 below; hooks run the caller's epilogue on each
// block of C right after its last K block (still in L2) and on each row range once all its columns are done.
#include "tensor/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

#include "tensor/common.h"
#include "tensor/cpu_isa.h"
#include "tensor/dtype.h"
#include "tensor/gemm_kernels.h"
#include "tensor/parallel.h"
#ifdef _OPENMP
#include <omp.h>
#endif

namespace tg {
using namespace gemm_detail;

namespace {

// ---- scalar micro-kernel -------------------------------------------------------------------
// The TG_ISA=scalar path: same blocking and packing, a 4x8 register tile written as plain loops
// (the compiler turns the j loop into baseline SSE2 vectors: 8 accumulator registers of 4 floats;
// a 4x16 tile would need all 16 xmm registers and spilled, ~3x slower). Same contract as the SIMD kernels.
constexpr int SMR = 4, SNR = 8;
void ukr_f32_scalar(int64_t kc, const float* Ap, const float* Bp, float* C, int64_t ldc, int m, int n, float alpha,
                    float beta) {
    float acc[SMR][SNR] = {};
    for (int64_t k = 0; k < kc; k++, Ap += SMR, Bp += SNR)
        for (int r = 0; r < SMR; r++)
            for (int j = 0; j < SNR; j++) acc[r][j] += Ap[r] * Bp[j];
    for (int r = 0; r < m; r++)
        for (int j = 0; j < n; j++) {
            float& c = C[r * ldc + j];
            c = beta != 0.f ? beta * c + alpha * acc[r][j] : alpha * acc[r][j];
        }
}
Kernel<UkrF32> kernel_f32_scalar() { return {SMR, SNR, 256, 96, 256, ukr_f32_scalar}; }

// ---- aligned, grow-only scratch buffers ------------------------------------------------------
// One per thread (thread_local), reused across calls so a GEMM does not pay for page faults on
// fresh allocations every time. Memory is kept until the thread exits.
struct Scratch {
    std::unique_ptr<uint8_t[], void (*)(void*)> p{nullptr, std::free};
    size_t size = 0;
    template <typename P>
    P* get(size_t n) {
        size_t bytes = (n * sizeof(P) + 63) / 64 * 64;
        if (bytes > size) {
            void* q = std::aligned_alloc(64, bytes);
            TG_CHECK(q, "gemm: cannot allocate ", bytes, " bytes of packing buffer");
            p.reset(static_cast<uint8_t*>(q));
            size = bytes;
        }
        return reinterpret_cast<P*>(p.get());
    }
};
thread_local Scratch tl_bpack, tl_apack, tl_cblock;

// ---- element conversion for packing ---------------------------------------------------------
// P is the packed element: float (f32 kernels; bf16 input is widened) or uint32_t (two bf16 in k).
// "Packed k" index kp covers 1 k (float) or 2 k (uint32 pair).
template <typename P> constexpr int k_per_elem = 1;
template <> constexpr int k_per_elem<uint32_t> = 2;

inline float to_f32(float x) { return x; }
inline float to_f32(uint16_t x) { return bf16_to_f32(x); }

// Pack an "x" operand viewed as X[k][w] (k = depth, w = width index of the micro-panel, i.e. row of
// op(A) or column of op(B)) into micro-panels dst[panel][kc][W], zero-padding w >= width and k >= K.
//   gather = true:  X[k][w] = src[w*ld + k]   (w-th line holds consecutive k: A plain, B transposed)
//   gather = false: X[k][w] = src[k*ld + w]   (k-th line holds consecutive w: A transposed, B plain)
// src points at X[k0][w0]; width = valid w count, kvalid = valid k count (K - k0), kc in packed units.
template <typename T, typename P>
void pack_panels(bool gather, const T* src, int64_t ld, int64_t width, int64_t kvalid, int64_t kc, int W, P* dst) {
    for (int64_t w0 = 0; w0 < width; w0 += W, dst += kc * W) {
        const int64_t wn = std::min<int64_t>(W, width - w0);
        if constexpr (std::is_same_v<P, float>) {
            const int64_t kn = std::min(kc, kvalid);
            if (gather) {
                // dst[k][w] = src[w][k]: read each line sequentially, write with stride W.
                for (int64_t w = 0; w < wn; w++) {
                    const T* s = src + (w0 + w) * ld;
                    for (int64_t k = 0; k < kn; k++) dst[k * W + w] = to_f32(s[k]);
                }
            } else {
                for (int64_t k = 0; k < kn; k++) {
                    const T* s = src + k * ld + w0;
                    if constexpr (std::is_same_v<T, float>)
                        std::memcpy(dst + k * W, s, size_t(wn) * sizeof(float));
                    else
                        for (int64_t w = 0; w < wn; w++) dst[k * W + w] = to_f32(s[w]);
                }
            }
            for (int64_t k = 0; k < kn; k++)
                for (int64_t w = wn; w < W; w++) dst[k * W + w] = 0.f;
            for (int64_t k = kn; k < kc; k++)
                for (int64_t w = 0; w < W; w++) dst[k * W + w] = 0.f;
        } else {
            // bf16 pairs: element (p, w) = X[2p][w] | X[2p+1][w] << 16, zero beyond kvalid.
            static_assert(std::is_same_v<T, uint16_t>);
            for (int64_t p = 0; p < kc; p++)
                for (int64_t w = 0; w < W; w++) {
                    uint32_t lo = 0, hi = 0;
                    const int64_t k = 2 * p;
                    if (w < wn && k < kvalid) {
                        lo = gather ? src[(w0 + w) * ld + k] : src[k * ld + w0 + w];
                        if (k + 1 < kvalid) hi = gather ? src[(w0 + w) * ld + k + 1] : src[(k + 1) * ld + w0 + w];
                    }
                    dst[p * W + w] = lo | (hi << 16);
                }
        }
    }
}

// Packing dispatch: the AVX-512 transposing packer for gather operands of 32-bit elements (f32 as is,
// bf16 as whole pairs), the AVX2 one for f32 gather operands, the portable loops otherwise (contiguous
// copies, bf16 widening to f32, and a last bf16 block whose final pair is half padding).
template <typename T, typename P>
void pack(Isa isa, bool gather, const T* src, int64_t ld, int64_t width, int64_t kvalid, int64_t kc, int W,
          P* dst) {
    constexpr bool elem32 = std::is_same_v<T, float> == std::is_same_v<P, float>;  // f32->f32 or bf16 pairs
    if constexpr (elem32) {
        constexpr int KPE = k_per_elem<P>;
        if (isa == Isa::avx512 && gather && (kvalid >= KPE * kc || kvalid % KPE == 0)) {
            pack_gather32_avx512(src, ld * int64_t(sizeof(T)), width, std::min(kc, kvalid / KPE), kc, W, dst);
            return;
        }
        if constexpr (std::is_same_v<T, float> && std::is_same_v<P, float>) {
            if (isa == Isa::avx2 && gather) {
                pack_gather32_avx2(src, ld * int64_t(sizeof(T)), width, std::min(kc, kvalid), kc, W, dst);
                return;
            }
        }
    }
    pack_panels<T, P>(gather, src, ld, width, kvalid, kc, W, dst);
}

// C = beta * C (beta == 0: C = 0, not read) for the K == 0 / alpha == 0 cases.
void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
}

void check_args(const char* fn, bool tA, bool tB, int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb,
                int64_t ldc) {
    TG_CHECK(M >= 0 && N >= 0 && K >= 0, fn, ": negative size M=", M, " N=", N, " K=", K);
    TG_CHECK(lda >= std::max<int64_t>(1, tA ? M : K), fn, ": lda=", lda, " < ", (tA ? "M=" : "K="), (tA ? M : K),
             " (transA=", tA, ")");
    TG_CHECK(ldb >= std::max<int64_t>(1, tB ? K : N), fn, ": ldb=", ldb, " < ", (tB ? "K=" : "N="), (tB ? K : N),
             " (transB=", tB, ")");
    TG_CHECK(ldc >= std::max<int64_t>(1, N), fn, ": ldc=", ldc, " < N=", N);
}

// The blocked driver. T = input element (float / uint16_t bf16), P = packed element, Ukr = kernel.
// nthreads: how many OpenMP threads this call may use (1 inside an outer parallel region).
// The packed-B layout for kernel kn: K blocks of (nearly) equal depth, at most kn.kc rounded up to 8
// (K = 384 is one block of 384 rather than 256 + 128; it depends on K only, never on the thread count).
// Block pb (depth kcb, starting at packed depth k0) starts at Bp + k0*Npad; its panel jt at + jt*kcb*NR.
struct BLayout {
    int64_t Kp, kc, nkb, Npad, tiles_n;
};
template <typename P, typename Ukr>
BLayout b_layout(const Kernel<Ukr>& kn, int64_t N, int64_t K) {
    constexpr int KPE = k_per_elem<P>;
    BLayout b;
    b.Kp = (K + KPE - 1) / KPE;  // depth in packed elements
    const int64_t nblocks = (b.Kp + kn.kc - 1) / kn.kc;
    b.kc = ((b.Kp + nblocks - 1) / nblocks + 7) / 8 * 8;
    b.nkb = (b.Kp + b.kc - 1) / b.kc;
    b.Npad = (N + kn.nr - 1) / kn.nr * kn.nr;
    b.tiles_n = b.Npad / kn.nr;
    return b;
}

// Pack micro-panel c (= block pb * tiles_n + panel jt) of op(B) into Bp.
template <typename T, typename P, typename Ukr>
void pack_b_panel(const Kernel<Ukr>& kn, const BLayout& L, Isa isa, bool tB, int64_t N, int64_t K, const T* B,
                  int64_t ldb, int64_t c, P* Bp) {
    const int NR = kn.nr;
    const int64_t pb = c / L.tiles_n, jt = c % L.tiles_n;
    const int64_t k0 = pb * L.kc, kcb = std::min(L.kc, L.Kp - k0), j0 = jt * NR;
    const int64_t kel = k0 * k_per_elem<P>;  // first k element of the block
    const T* src = tB ? B + j0 * ldb + kel : B + kel * ldb + j0;
    pack<T, P>(isa, tB, src, ldb, std::min<int64_t>(NR, N - j0), K - kel, kcb, NR, Bp + k0 * L.Npad + jt * kcb * NR);
}

// hooks (may be nullptr): the fused epilogue callbacks of gemm.h, called as blocks / row ranges finish.
// Bpre (may be nullptr): op(B) already packed in b_layout's layout (gemm_pack_b_*); B is then not read.
// PB: the packed B element when it differs from A's (the "wide" bf16 B of the f32 kernel: then Bpre is required,
// as only gemm_pack_b_bf16 makes that layout).
template <typename T, typename P, typename Ukr, typename PB = P>
void gemm_driver(const Kernel<Ukr>& kn, bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const T* A,
                 int64_t lda, const T* B, int64_t ldb, float beta, float* C, int64_t ldc, int nthreads,
                 const GemmHooks* hooks = nullptr, const PB* Bpre = nullptr) {
    if (M == 0 || N == 0) return;
    auto scratch_hook = hooks ? hooks->block_scratch : nullptr;
    auto rows_scratch = hooks ? hooks->rows_scratch : nullptr;
    TG_CHECK(!(scratch_hook || rows_scratch) ||
                 (beta == 0.f && !hooks->block && !hooks->rows && !(scratch_hook && rows_scratch)),
             "gemm: a block_scratch or rows_scratch hook needs beta = 0 and no other hook");
    if (K == 0 || alpha == 0.f) {  // as in BLAS: A, B not read
        if (scratch_hook || rows_scratch) {  // C = 0, handed over as usual
            const int64_t bn = scratch_hook ? std::min(N, kn.nc) : N;
            std::vector<float> zero(size_t(std::min<int64_t>(M, kn.mc) * bn));
            for (int64_t i0 = 0; i0 < M; i0 += kn.mc)
                for (int64_t j0 = 0; j0 < N; j0 += bn) {
                    std::fill(zero.begin(), zero.end(), 0.f);  // (the hook may have written the last block)
                    const int64_t i1 = std::min(M, i0 + kn.mc);
                    if (scratch_hook) scratch_hook(hooks->ctx, i0, i1, j0, std::min(N, j0 + bn), zero.data(), bn);
                    else rows_scratch(hooks->ctx, i0, i1, zero.data(), bn);
                }
            return;
        }
        scale_c(M, N, beta, C, ldc);
        if (hooks && hooks->block) hooks->block(hooks->ctx, 0, M, 0, N);
        if (hooks && hooks->rows) hooks->rows(hooks->ctx, 0, M);
        return;
    }

    const int MR = kn.mr, NR = kn.nr;
    const Isa isa = cpu_isa();  // the packers' instruction set (the kernel kn was chosen for it too)
    constexpr int KPE = k_per_elem<P>;
    const BLayout BL = b_layout<P>(kn, N, K);
    const int64_t Kp = BL.Kp, kc = BL.kc, nkb = BL.nkb, Npad = BL.Npad, tiles_n = BL.tiles_n;
    const int64_t mc = kn.mc, nc = kn.nc;

    // Work items: (row block of mc rows) x (column group). Normally one column group spans all of N,
    // so each item packs its A rows once and sweeps every column; when there are too few row blocks
    // to keep the threads busy (small M), N is cut into column groups too. Items are handed out
    // dynamically, so a core slowed down by another process does not hold the others back; which
    // thread computes an item does not change a single bit of the result.
    const int64_t row_blocks = (M + mc - 1) / mc;
    int nt = nthreads;
#ifdef _OPENMP
    if (omp_in_parallel()) nt = 1;  // called from a parallel region (one GEMM per thread): no nested team
#endif
    if (double(M) * double(N) * double(K) < 64.0 * 64.0 * 64.0) nt = 1;  // not worth a second thread
    // (one thread: no column groups, so A is packed once). About 4 items per thread; 8 when all of M is one row
    // block (a 128-token sequence): items then differ only in their columns, and with 4 a thread could idle for up
    // to a quarter of its share at the end (qkv's 36 tiles made 8 groups of 5, 5, ..., 5, 1): 2 % of a batch-1
    // forward, measured with the variants alternating forward by forward.
    const int64_t want_items = (row_blocks == 1 ? 8 : 4) * nt;
    const int64_t col_groups =
        nt == 1 || row_blocks >= 4 * nt ? 1 : std::min(tiles_n, (want_items + row_blocks - 1) / row_blocks);
    const int64_t group_tiles = (tiles_n + col_groups - 1) / col_groups;  // NR-wide tiles per group
    const int64_t items = row_blocks * col_groups;
    if (items < nt) nt = int(items);
    auto block_hook = hooks ? hooks->block : nullptr;
    auto rows_hook = hooks ? hooks->rows : nullptr;
    // Row hooks run inside a work item when the item owns whole rows; with column groups they run after
    // all items, over row chunks of this many rows (a multiple of 2, so row pairs never straddle chunks).
    constexpr int64_t kRowChunk = 16;

    // Scratch is allocated here, outside the parallel region (an exception must not escape it):
    // packed B shared by the team, and one mc x K slice of packed A per thread.
    P* Bpack = nullptr;
    const PB* Bp = Bpre;
    if constexpr (std::is_same_v<PB, P>) {
        if (!Bpre) Bp = Bpack = tl_bpack.get<P>(size_t(Kp * Npad));
    } else {
        TG_CHECK(Bpre, "gemm: this kernel needs a prepacked B");
    }
    // With column groups, several items share a row block: op(A) is then packed once, up front, into one
    // shared buffer (row block rb at Abuf + rb*mc*Kp) instead of once per item. (Small M, e.g. one
    // 128-token sequence: it was packed up to 8 times, 13% of a batch-1 BERT forward.)
    const bool shared_a = col_groups > 1;
    P* Abuf = tl_apack.get<P>(size_t(shared_a ? row_blocks : nt) * size_t(mc * Kp));
    // block_scratch: one mc x nc block of C per thread, in place of C. Its row stride is nc + 16 floats: with nc = 256
    // (1 KiB) the rows of a column would all fall into 4 of the 64 sets of a 32 KiB L1 and evict each other when
    // the hook reads the block by columns (a transposed copy). rows_scratch: one mc x N row block per thread, or, with
    // column groups (rows shared by several items), all of C in one buffer.
    float* Cbuf = nullptr;
    int64_t ldcs = 0;
    if (scratch_hook) {
        ldcs = nc + 16;
        Cbuf = tl_cblock.get<float>(size_t(nt) * size_t(mc * ldcs));
    } else if (rows_scratch && col_groups == 1) {
        ldcs = N + 16;
        Cbuf = tl_cblock.get<float>(size_t(nt) * size_t(mc * ldcs));
    } else if (rows_scratch) {
        C = tl_cblock.get<float>(size_t(M * N));
        ldc = N;
    }
    // B is packed one micro-panel at a time by whichever threads have started: a panel is claimed
    // with an atomic counter and counted when done. A thread that starts late (the OS ran something
    // else on its core) finds nothing left to claim and goes straight to multiplying, instead of
    // the others waiting for it at a barrier.
    const int64_t npanels = Bpre ? 0 : nkb * tiles_n;
    // shared A: one unit per (row block, K block, chunk of a_chunk rows), so that both threads pack even when
    // there is one row block (M = 128: packing it alone had one thread wait for the other)
    const int64_t a_chunk = 4 * MR, a_chunks = (mc + a_chunk - 1) / a_chunk;
    const int64_t a_units = shared_a ? row_blocks * nkb * a_chunks : 0;
    std::atomic<int64_t> next_panel{0}, panels_done{0};
    // pack rows ic+r0 .. ic+r0+nr of op(A) (r0 a multiple of MR), K block pb, into the row block's buffer Ap
    auto pack_a_rows = [&](int64_t ic, int64_t r0, int64_t nr, int64_t pb, P* Ap) {
        const int64_t k0 = pb * kc, kcb = std::min(kc, Kp - k0), kel = k0 * KPE, i0 = ic + r0;
        const T* src = tA ? A + kel * lda + i0 : A + i0 * lda + kel;
        pack<T, P>(isa, !tA, src, lda, nr, K - kel, kcb, MR, Ap + k0 * mc + (r0 / MR) * kcb * MR);
    };
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        // 1. Pack all of op(B): block pc (depth kcb) starts at Bp + k0*Npad, panel j at + (j/NR)*kcb*NR.
        //    (and, with column groups, all of op(A): units after the B panels, claimed the same way)
        for (int64_t c; (c = next_panel.fetch_add(1, std::memory_order_relaxed)) < npanels + a_units;) {
            if (c < npanels) {
                if constexpr (std::is_same_v<PB, P>) pack_b_panel<T, P>(kn, BL, isa, tB, N, K, B, ldb, c, Bpack);
            } else {
                const int64_t u = c - npanels, rb = u / (nkb * a_chunks), pb = u / a_chunks % nkb;
                const int64_t ic = rb * mc, mb = std::min(mc, M - ic), r0 = u % a_chunks * a_chunk;
                if (r0 < mb) pack_a_rows(ic, r0, std::min(a_chunk, mb - r0), pb, Abuf + rb * mc * Kp);
            }
            panels_done.fetch_add(1, std::memory_order_release);
        }
        // Panels claimed by other threads may still be in progress: wait for them (acquire: their
        // writes to Bp are then visible here). Usually this loop does not iterate at all.
        while (panels_done.load(std::memory_order_acquire) < npanels + a_units) std::this_thread::yield();

        // 2. Multiply, one work item at a time.
#ifdef _OPENMP
        const size_t tid = size_t(omp_get_thread_num());
#else
        const size_t tid = 0;
#endif
        P* Ap = Abuf + (shared_a ? 0 : tid) * size_t(mc * Kp);  // this thread's slice (shared A: set per item)
        float* Cs = Cbuf ? Cbuf + tid * size_t(mc * ldcs) : nullptr;  // this thread's scratch block
#pragma omp for schedule(dynamic, 1) nowait  // the end of the parallel region is the barrier
        for (int64_t it = 0; it < items; it++) {
            const int64_t ic = it / col_groups * mc, mb = std::min(mc, M - ic);
            const int64_t j_beg = it % col_groups * group_tiles * NR, j_end = std::min(N, j_beg + group_tiles * NR);
            // Pack rows ic..ic+mb of op(A) for all K: block pc at Ap + k0*mc, panel r at + (r/MR)*kcb*MR.
            if (shared_a)
                Ap = Abuf + (ic / mc) * mc * Kp;
            else
                for (int64_t pb = 0; pb < nkb; pb++) pack_a_rows(ic, 0, mb, pb, Ap);
            for (int64_t jc = j_beg; jc < j_end; jc += nc) {
                const int64_t nb = std::min(nc, j_end - jc);
                // element (ic, jc) of C, of the scratch block (block_scratch) or of the scratch rows (rows_scratch)
                float* Cb = Cs ? (scratch_hook ? Cs : Cs + jc) : C + ic * ldc + jc;
                const int64_t ldcb = Cs ? ldcs : ldc;
                for (int64_t pb = 0; pb < nkb; pb++) {
                    const int64_t k0 = pb * kc, kcb = std::min(kc, Kp - k0);
                    const float beta_blk = pb == 0 ? beta : 1.f;  // later K blocks accumulate into C
                    const P* Ablk = Ap + k0 * mc;
                    const PB* Bblk = Bp + k0 * Npad + (jc / NR) * kcb * NR;
                    for (int64_t ir = 0; ir < mb; ir += MR) {
                        const int m = int(std::min<int64_t>(MR, mb - ir));
                        const P* Apan = Ablk + (ir / MR) * kcb * MR;
                        for (int64_t jr = 0; jr < nb; jr += NR) {
                            const int n = int(std::min<int64_t>(NR, nb - jr));
                            kn.ukr(kcb, Apan, Bblk + (jr / NR) * kcb * NR, Cb + ir * ldcb + jr, ldcb, m, n, alpha,
                                   beta_blk);
                        }
                    }
                }
                // the block is final and still in L2
                if (block_hook) block_hook(hooks->ctx, ic, ic + mb, jc, jc + nb);
                if (scratch_hook) scratch_hook(hooks->ctx, ic, ic + mb, jc, jc + nb, Cs, ldcs);
            }
            if (rows_hook && col_groups == 1) rows_hook(hooks->ctx, ic, ic + mb);
            if (rows_scratch && col_groups == 1) rows_scratch(hooks->ctx, ic, ic + mb, Cs, ldcs);
        }
        if ((rows_hook || rows_scratch) && col_groups > 1) {  // rows are final only once every column group is done
#pragma omp barrier
#pragma omp for schedule(dynamic, 1) nowait
            for (int64_t i0 = 0; i0 < M; i0 += kRowChunk) {
                const int64_t i1 = std::min(M, i0 + kRowChunk);
                if (rows_hook) rows_hook(hooks->ctx, i0, i1);
                else rows_scratch(hooks->ctx, i0, i1, C + i0 * ldc, ldc);
            }
        }
    }
}

Kernel<UkrF32> f32_kernel_for_isa() {
    switch (cpu_isa()) {
        case Isa::avx512: return kernel_f32_avx512();
        case Isa::avx2: return kernel_f32_avx2();
        default: return kernel_f32_scalar();
    }
}

void gemm_f32_threads(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                      const float* B, int64_t ldb, float beta, float* C, int64_t ldc, int nthreads) {
    gemm_driver<float, float>(f32_kernel_for_isa(), tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, nthreads);
}


// ---- prepacked B ----------------------------------------------------------------------------
// pb.data = 64-byte aligned, 64-byte multiple of at least `bytes`
void alloc_packed(GemmPackedB& pb, size_t bytes) {
    bytes = (bytes + 63) / 64 * 64;
    void* q = std::aligned_alloc(64, bytes);
    TG_CHECK(q, "gemm_pack_b: cannot allocate ", bytes, " bytes");
    pb.data = std::shared_ptr<uint32_t>(static_cast<uint32_t*>(q), std::free);
}

template <typename T, typename P, typename Ukr>
GemmPackedB pack_b_all(const Kernel<Ukr>& kn, bool bf16, bool tB, int64_t N, int64_t K, const T* B, int64_t ldb) {
    GemmPackedB pb;
    pb.N = N, pb.K = K, pb.bf16 = bf16, pb.isa = int(cpu_isa());
    pb.pairs = std::is_same_v<P, uint32_t>;
    if (N == 0 || K == 0) return pb;
    const BLayout L = b_layout<P>(kn, N, K);
    alloc_packed(pb, size_t(L.Kp * L.Npad) * sizeof(P));
    const Isa isa = cpu_isa();  // the packers' instruction set (the kernel kn was chosen for it too)
    for (int64_t c = 0; c < L.nkb * L.tiles_n; c++)
        pack_b_panel<T, P>(kn, L, isa, tB, N, K, B, ldb, c, reinterpret_cast<P*>(pb.data.get()));
    return pb;
}

// The bf16 kernel choice (gemm.h): TG_BF16_GEMM, else wide on Intel and where the CPU has no avx512_bf16.
// Made on first use (not during static initialization) from what the CPU is, never from the ISA in use.
Bf16Gemm initial_bf16_kernel() {
    if (const char* s = std::getenv("TG_BF16_GEMM")) {
        if (!std::strcmp(s, "dot")) return Bf16Gemm::dot;
        if (!std::strcmp(s, "wide")) return Bf16Gemm::wide;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_is("intel")) return Bf16Gemm::wide;
#endif
    return cpu_avx512_bf16_hw() ? Bf16Gemm::dot : Bf16Gemm::wide;
}
int g_bf16_override = -1;  // set_gemm_bf16_kernel
Bf16Gemm bf16_kernel_now() {
    if (g_bf16_override >= 0) return Bf16Gemm(g_bf16_override);
    static const Bf16Gemm initial = initial_bf16_kernel();
    return initial;
}

// The layout a bf16 B gets when packed now: wide (AVX-512 and the wide choice), vdpbf16ps pairs, or f32 panels.
bool bf16_packs_wide() { return cpu_isa() == Isa::avx512 && bf16_kernel_now() == Bf16Gemm::wide; }
bool bf16_packs_pairs() { return !bf16_packs_wide() && cpu_has_avx512_bf16(); }

// Packed for the kernels in use now: same ISA and, for bf16, the layout a pack made now would have.
bool packed_current(const GemmPackedB& B) {
    if (B.isa != int(cpu_isa())) return false;
    return !B.bf16 || (B.wide == bf16_packs_wide() && B.pairs == bf16_packs_pairs());
}
// accepts: bf16 = false: f32 panels or wide bf16 (gemm_f32_packed); bf16 = true: any bf16 pack (gemm_bf16_packed)
void check_packed(const char* fn, const GemmPackedB& B, bool bf16, int64_t N, int64_t K) {
    TG_CHECK(B.N == N && B.K == K, fn, ": packed B is [K=", B.K, ", N=", B.N, "], the product needs [K=", K, ", N=",
             N, "]");
    TG_CHECK(bf16 ? B.bf16 : (!B.bf16 || B.wide), fn, ": packed B holds ", B.bf16 ? "bf16" : "f32",
             " values in a layout this product does not take");
    TG_CHECK(packed_current(B), fn, ": packed B was packed for another kernel (", B.bf16 ? "bf16" : "f32", ", ISA ",
             B.isa, B.wide ? ", wide" : B.pairs ? ", pairs" : "", "); repack it after changing the ISA or bf16 kernel");
}

// Pack op(B) (bf16) in the wide layout of gemm_kernels.h: f32 blocking (b_layout<float>), bf16 values, each k
// row's 32 columns interleaved (column w at 2w, column w + 16 at 2w + 1).
GemmPackedB pack_b_wide(bool tB, int64_t N, int64_t K, const uint16_t* B, int64_t ldb) {
    const Kernel<UkrF32B16> kn = kernel_f32b16_avx512();
    TG_CHECK(kn.nr == 32, "gemm_pack_b_bf16: the wide layout needs NR = 32");
    GemmPackedB pb;
    pb.N = N, pb.K = K, pb.bf16 = true, pb.wide = true, pb.isa = int(cpu_isa());
    if (N == 0 || K == 0) return pb;
    const BLayout L = b_layout<float>(kn, N, K);
    alloc_packed(pb, size_t(L.Kp * L.Npad) * sizeof(uint16_t));
    uint16_t* dst = reinterpret_cast<uint16_t*>(pb.data.get());
    for (int64_t blk = 0; blk < L.nkb; blk++) {
        const int64_t k0 = blk * L.kc, kcb = std::min(L.kc, L.Kp - k0);
        for (int64_t jt = 0; jt < L.tiles_n; jt++) {
            uint16_t* panel = dst + k0 * L.Npad + jt * kcb * 32;
            for (int64_t k = 0; k < kcb; k++)
                for (int64_t j = 0; j < 32; j++) {
                    const int64_t n = jt * 32 + j, kk = k0 + k;
                    const uint16_t v = n < N ? (tB ? B[n * ldb + kk] : B[kk * ldb + n]) : uint16_t(0);
                    panel[k * 32 + (j < 16 ? 2 * j : 2 * (j - 16) + 1)] = v;
                }
        }
    }
    return pb;
}

}  // namespace

GemmPackedB gemm_pack_b_f32(bool tB, int64_t N, int64_t K, const float* B, int64_t ldb) {
    check_args("gemm_pack_b_f32", false, tB, 1, N, K, std::max<int64_t>(1, K), ldb, N);
    return pack_b_all<float, float>(f32_kernel_for_isa(), false, tB, N, K, B, ldb);
}
GemmPackedB gemm_pack_b_bf16(bool tB, int64_t N, int64_t K, const uint16_t* B, int64_t ldb) {
    check_args("gemm_pack_b_bf16", false, tB, 1, N, K, std::max<int64_t>(1, K), ldb, N);
    if (bf16_packs_wide()) return pack_b_wide(tB, N, K, B, ldb);
    if (bf16_packs_pairs()) return pack_b_all<uint16_t, uint32_t>(kernel_bf16_avx512(), true, tB, N, K, B, ldb);
    return pack_b_all<uint16_t, float>(f32_kernel_for_isa(), true, tB, N, K, B, ldb);
}
bool gemm_packed_usable(const GemmPackedB& B) { return B.data && packed_current(B); }
Bf16Gemm gemm_bf16_kernel() { return bf16_kernel_now(); }
void set_gemm_bf16_kernel(Bf16Gemm k) { g_bf16_override = int(k); }

void gemm_f32_packed(bool tA, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                     const GemmPackedB& B, float beta, float* C, int64_t ldc, const GemmHooks& hooks) {
    check_args("gemm_f32_packed", tA, false, M, N, K, lda, std::max<int64_t>(1, N), ldc);
    if (M == 0 || N == 0 || K == 0) return gemm_driver<float, float>(f32_kernel_for_isa(), tA, false, M, N, K, alpha,
                                                                     A, lda, nullptr, 1, beta, C, ldc, 1, &hooks);
    check_packed("gemm_f32_packed", B, false, N, K);
    if (B.wide)
        gemm_driver<float, float>(kernel_f32b16_avx512(), tA, false, M, N, K, alpha, A, lda, nullptr, 1, beta, C, ldc,
                                  num_threads(), &hooks, reinterpret_cast<const uint16_t*>(B.data.get()));
    else
        gemm_driver<float, float>(f32_kernel_for_isa(), tA, false, M, N, K, alpha, A, lda, nullptr, 1, beta, C, ldc,
                                  num_threads(), &hooks, reinterpret_cast<const float*>(B.data.get()));
}

void gemm_bf16_packed(bool tA, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A, int64_t lda,
                      const GemmPackedB& B, float beta, float* C, int64_t ldc, const GemmHooks& hooks) {
    check_args("gemm_bf16_packed", tA, false, M, N, K, lda, std::max<int64_t>(1, N), ldc);
    if (M == 0 || N == 0 || K == 0)
        return gemm_driver<uint16_t, float>(f32_kernel_for_isa(), tA, false, M, N, K, alpha, A, lda, nullptr, 1, beta,
                                            C, ldc, 1, &hooks);
    check_packed("gemm_bf16_packed", B, true, N, K);
    if (B.wide)  // A widened to f32 as it is packed
        gemm_driver<uint16_t, float>(kernel_f32b16_avx512(), tA, false, M, N, K, alpha, A, lda, nullptr, 1, beta, C,
                                     ldc, num_threads(), &hooks, reinterpret_cast<const uint16_t*>(B.data.get()));
    else if (B.pairs)
        gemm_driver<uint16_t, uint32_t>(kernel_bf16_avx512(), tA, false, M, N, K, alpha, A, lda, nullptr, 1, beta, C,
                                        ldc, num_threads(), &hooks, B.data.get());
    else
        gemm_driver<uint16_t, float>(f32_kernel_for_isa(), tA, false, M, N, K, alpha, A, lda, nullptr, 1, beta, C,
                                     ldc, num_threads(), &hooks, reinterpret_cast<const float*>(B.data.get()));
}

void gemm_f32_hooked(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                     const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const GemmHooks& hooks) {
    check_args("gemm_f32_hooked", tA, tB, M, N, K, lda, ldb, ldc);
    gemm_driver<float, float>(f32_kernel_for_isa(), tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
                              num_threads(), &hooks);
}

void gemm_bf16_hooked(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A,
                      int64_t lda, const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc,
                      const GemmHooks& hooks) {
    check_args("gemm_bf16_hooked", tA, tB, M, N, K, lda, ldb, ldc);
    if (cpu_has_avx512_bf16())
        gemm_driver<uint16_t, uint32_t>(kernel_bf16_avx512(), tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
                                        num_threads(), &hooks);
    else
        gemm_driver<uint16_t, float>(f32_kernel_for_isa(), tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
                                     num_threads(), &hooks);
}

void gemm_f32(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
              const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    check_args("gemm_f32", tA, tB, M, N, K, lda, ldb, ldc);
    gemm_f32_threads(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, num_threads());
}

// Batches: when there are at least as many matrices as threads and each one is small (attention's
// per-head products), give whole matrices to threads; otherwise run them one after the other, each
// multi-threaded. Either way each matrix is computed exactly as a single gemm_f32 would.
void gemm_batched_f32(bool tA, bool tB, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                      int64_t lda, int64_t sA, const float* B, int64_t ldb, int64_t sB, float beta, float* C,
                      int64_t ldc, int64_t sC) {
    check_args("gemm_batched_f32", tA, tB, M, N, K, lda, ldb, ldc);
    TG_CHECK(batch >= 0, "gemm_batched_f32: negative batch ", batch);
    const int T = num_threads();
    const bool across = T > 1 && batch >= T && M <= 512;
    if (across) {
        // An exception must not leave an OpenMP region: keep the first one and rethrow it after.
        std::exception_ptr err;
#pragma omp parallel for num_threads(T) schedule(dynamic, 1)
        for (int64_t b = 0; b < batch; b++) {
            try {
                gemm_f32_threads(tA, tB, M, N, K, alpha, A + b * sA, lda, B + b * sB, ldb, beta, C + b * sC, ldc, 1);
            } catch (...) {
#pragma omp critical(tg_gemm_error)
                if (!err) err = std::current_exception();
            }
        }
        if (err) std::rethrow_exception(err);
    } else {
        for (int64_t b = 0; b < batch; b++)
            gemm_f32_threads(tA, tB, M, N, K, alpha, A + b * sA, lda, B + b * sB, ldb, beta, C + b * sC, ldc, T);
    }
}

void gemm_bf16(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A, int64_t lda,
               const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    check_args("gemm_bf16", tA, tB, M, N, K, lda, ldb, ldc);
    if (cpu_has_avx512_bf16())
        gemm_driver<uint16_t, uint32_t>(kernel_bf16_avx512(), tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
                                        num_threads());
    else
        gemm_driver<uint16_t, float>(f32_kernel_for_isa(), tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
                                     num_threads());
}

}  // namespace tg
