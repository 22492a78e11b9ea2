// bert_attention_impl.h — the tiled attention loops, written once, compiled once per instruction set.
//
// Included by bert_attention.cpp (baseline x86-64), bert_attention_avx2.cpp and bert_attention_avx512.cpp
// with TG_ATTN_TILES defined to the function that file exports (see bert_attention.h). As in
// tensor/kernels_impl.h, only builtins and C APIs are used here (no std:: templates), so no inline function
// compiled with AVX-512 flags can be picked by the linker for code that runs on an older CPU.
// The exponential is inlined into the softmax loops (exp2_nonpos / exp_fast of tensor/math_poly.h), so it
// vectorizes together with the sum of the online softmax instead of costing a separate pass over the tile.
#include <cstdint>

#include "nn/bert_attention.h"
#include "tensor/math_poly.h"
#ifdef TG_ATTN_BF16
#include <immintrin.h>

#include "tensor/simd.h"
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef TG_ATTN_TILES
#error "define TG_ATTN_TILES before including bert_attention_impl.h"
#endif

namespace tg::detail {
namespace {

constexpr int64_t TQ = kAttnTile, TK = kAttnTile;
constexpr float kNegBig = -1e30f; // "minus infinity" that stays finite under subtraction

// Register blocking, from the vector width VW (floats per register) of the file including this one: the
// accumulators of the two inner loops must fit the register file (16 registers below AVX-512, 32 with it),
// with room left for the operands, or GCC keeps them on the stack and the loop turns into loads and stores.
//   scores  S[j, i..] += k[j, d] qᵀ[d, i..]:  RS keys x QC queries    (RS*QC/VW accumulators)
//   output  O[i.., :] += p[i, j] v[j, :]:     RP query rows x D       (RP*D/VW accumulators)
#ifndef TG_ATTN_VW
#define TG_ATTN_VW 4  // baseline x86-64: SSE2
#endif
constexpr int64_t VW = TG_ATTN_VW;
constexpr int64_t QC = 4 * VW < TQ ? 4 * VW : TQ;       // 64 / 32 / 16 queries: 4 registers per key
constexpr int64_t RS = VW >= 16 ? 6 : (VW >= 8 ? 3 : 2);  // 24 / 12 / 8 accumulators
static_assert(TQ % QC == 0 && QC % VW == 0, "the query tile must be a whole number of score chunks");
template <int64_t DT>
constexpr int64_t rows_pv() {  // 16 (AVX-512) or 12 accumulators of D/VW registers per row
    const int64_t r = DT ? (VW >= 16 ? 16 : 12) * VW / DT : 1;
    return r < 1 ? 1 : (r > 8 ? 8 : r);
}

// One task: queries q0 .. q0+nq-1 of one sequence and head, against all L keys of the sequence.
// DT = head size when known at compile time (32, 64: loops fully unrolled, accumulators in registers),
// 0 = use the run-time D.
//
// The score tile is kept KEY-major, S[j][i] (key j, query i), so that a vector register holds one key's
// scores for VW different queries. The online softmax then needs no horizontal operation at all: the
// running max, the exponentials and the running sum of VW queries are plain element-wise vector ops over
// the keys, and keys past the end of the sequence are simply not visited (no masks, no padded key tile).
// (The query-major layout needed a max and a sum folded across lanes per query row and tile, plus masks
// for the last tile: the softmax was ~36 % of this function for head size 32, where the two products are
// only 32 multiply-adds per score each.) To make the scores key-major, the query tile is transposed once
// per task into qᵀ [D, TQ]; the keys are read straight from kᵀ (one broadcast per key and feature).
// The scores are kept in log2 units: qᵀ is pre-multiplied by log2(e)/sqrt(D), so that
// e^{(q·k)/sqrt(D) - max} = 2^{s - max_s} and the exponential is exp2_nonpos (tensor/math_poly.h).
template <int64_t DT>
void attention_task(float* __restrict out, const AttnInput& in, const AttnTask& tk, int64_t NH, int64_t Drt,
                    float* __restrict scratch) {
    const int64_t D = DT ? DT : Drt;
    constexpr int64_t RP = rows_pv<DT>();
    const int64_t C = NH * D;
    const float qscale = 1.4426950408889634f / __builtin_sqrtf(float(D));  // log2(e) / sqrt(D)
    float* __restrict QT = scratch;      // [D, TQ]  queries transposed and scaled; queries >= nq are 0
    float* __restrict S = QT + D * TQ;   // [TK, TQ] scores s[j][i] (log2 units), then 2^{s - m}
    float* __restrict O = S + TK * TQ;   // [TQ, D]  unnormalized output
    float* __restrict m = O + TQ * D;    // [TQ]     running max of the scores
    float* __restrict l = m + TQ;        // [TQ]     running sum of 2^{s - m}
    float* __restrict corr = l + TQ;     // [TQ]     this key tile's rescaling of O and l: 2^{m_old - m_new}

    const int64_t L = tk.seq_len, q0 = tk.q0;
    const int64_t nq = L - q0 < TQ ? L - q0 : TQ;
    const int64_t nqv = (nq + VW - 1) / VW * VW;  // queries the vector loops cover (the rest of a vector: 0)
    const int64_t ldq = in.ldq, ldk = in.ldk, ldv = in.ldv;
    const int64_t hsq = in.hsq ? in.hsq : D, hsv = in.hsv ? in.hsv : D;
    const float* Q = in.q + (tk.seq_start + q0) * ldq + tk.head * hsq;  // query i, feature d: Q[i*ldq + d]
    const float* Kt = in.kt + tk.head * D * ldk + tk.seq_start;         // key j, feature d:   Kt[d*ldk + j]
    const float* V = in.v + tk.seq_start * ldv + tk.head * hsv;         // value j, feature d: V[j*ldv + d]

    for (int64_t i = 0; i < TQ; i++) {  // read rows of Q (contiguous), write columns of qᵀ (in L1)
        const float* q = Q + (i < nq ? i : 0) * ldq;
        const float w = i < nq ? qscale : 0.0f;
        for (int64_t d = 0; d < D; d++) QT[d * TQ + i] = q[d] * w;
    }
    for (int64_t i = 0; i < TQ; i++) {
        m[i] = kNegBig;
        l[i] = 0.0f;
    }
    for (int64_t x = 0; x < TQ * D; x++) O[x] = 0.0f;

    for (int64_t k0 = 0; k0 < L; k0 += TK) {
        const int64_t nk = L - k0 < TK ? L - k0 : TK;

        // S[j, i] = k_j · q_i as a sum over d of outer products, RS keys x QC queries of accumulators at a time:
        //     for d: acc[r][:] += k[j+r, d] * qᵀ[d, i0:i0+QC]
        for (int64_t j = 0; j < nk; j += RS) {
            int64_t kj[RS];  // the RS keys' columns in kᵀ; keys past nk: a harmless duplicate, not stored
            for (int64_t r = 0; r < RS; r++) kj[r] = k0 + (j + r < nk ? j + r : j);
            for (int64_t i0 = 0; i0 < nqv; i0 += QC) {
                float acc[RS][QC];
                for (int64_t r = 0; r < RS; r++)
#pragma omp simd
                    for (int64_t i = 0; i < QC; i++) acc[r][i] = 0.0f;
                for (int64_t d = 0; d < D; d++) {
                    const float* qd = QT + d * TQ + i0;
                    const float* kd = Kt + d * ldk;
                    for (int64_t r = 0; r < RS; r++) {
                        const float kv = kd[kj[r]];
#pragma omp simd
                        for (int64_t i = 0; i < QC; i++) acc[r][i] += kv * qd[i];
                    }
                }
                for (int64_t r = 0; r < RS; r++)  // constant trip count: acc stays in registers
                    if (j + r < nk) {
#pragma omp simd
                        for (int64_t i = 0; i < QC; i++) S[(j + r) * TQ + i0 + i] = acc[r][i];
                    }
            }
        }

        // online softmax step, VW queries per vector, element-wise over the keys:
        //   m_new = max(m, max_j s_j);  p_j = 2^{s_j - m_new};  corr = 2^{m - m_new};  l = l corr + sum_j p_j
        // (O is rescaled by corr in the P·V loop below, as its accumulators are loaded)
        for (int64_t i0 = 0; i0 < nqv; i0 += VW) {
            float mx[VW], sum[VW];
#pragma omp simd
            for (int64_t v = 0; v < VW; v++) mx[v] = m[i0 + v], sum[v] = 0.0f;
            for (int64_t j = 0; j < nk; j++)
#pragma omp simd
                for (int64_t v = 0; v < VW; v++) mx[v] = S[j * TQ + i0 + v] > mx[v] ? S[j * TQ + i0 + v] : mx[v];
            for (int64_t j = 0; j < nk; j++)
#pragma omp simd
                for (int64_t v = 0; v < VW; v++) {
                    const float e = exp2_nonpos(S[j * TQ + i0 + v] - mx[v]);
                    S[j * TQ + i0 + v] = e;
                    sum[v] += e;
                }
#pragma omp simd
            for (int64_t v = 0; v < VW; v++) {
                const float c = exp2_nonpos(m[i0 + v] - mx[v]);  // first tile: 2^-126 * (l = 0, O = 0)
                corr[i0 + v] = c;
                l[i0 + v] = l[i0 + v] * c + sum[v];
                m[i0 + v] = mx[v];
            }
        }

        // O = O corr + P V   (RP query rows share each loaded row of V; P[i][j] is S[j * TQ + i])
        for (int64_t i = 0; i < nq; i += RP) {
            const int64_t nr = nq - i < RP ? nq - i : RP;
            if (DT && nr == RP) {  // register-blocked: RP x D accumulators
                float acc[RP][DT ? DT : 1];
                for (int64_t r = 0; r < RP; r++) {
                    const float c = corr[i + r];
#pragma omp simd
                    for (int64_t d = 0; d < DT; d++) acc[r][d] = O[(i + r) * D + d] * c;
                }
                for (int64_t j = 0; j < nk; j++) {
                    const float* v = V + (k0 + j) * ldv;
                    const float* p = S + j * TQ + i;
                    for (int64_t r = 0; r < RP; r++) {
                        const float pj = p[r];
#pragma omp simd
                        for (int64_t d = 0; d < DT; d++) acc[r][d] += pj * v[d];
                    }
                }
                for (int64_t r = 0; r < RP; r++)
#pragma omp simd
                    for (int64_t d = 0; d < DT; d++) O[(i + r) * D + d] = acc[r][d];
            } else {
                for (int64_t r = 0; r < nr; r++) {
                    float* o = O + (i + r) * D;
                    const float c = corr[i + r];
#pragma omp simd
                    for (int64_t d = 0; d < D; d++) o[d] *= c;
                    for (int64_t j = 0; j < nk; j++) {
                        const float pj = S[j * TQ + i + r];
                        const float* v = V + (k0 + j) * ldv;
#pragma omp simd
                        for (int64_t d = 0; d < D; d++) o[d] += pj * v[d];
                    }
                }
            }
        }
    }
    // out = O / l   (l >= 1: the row max contributes 2^0)
    for (int64_t i = 0; i < nq; i++) {
        const float inv = 1.0f / l[i];
        float* dst = out + (tk.seq_start + q0 + i) * C + tk.head * D;
#pragma omp simd
        for (int64_t d = 0; d < D; d++) dst[d] = O[i * D + d] * inv;
    }
}

}  // namespace

void TG_ATTN_TILES(float* out, const AttnInput& in, const AttnTask* tasks, int64_t ntasks, int64_t NH, int64_t D,
                   float* scratch, int64_t scratch_per_thread) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t task = 0; task < ntasks; task++) {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float* ws = scratch + tid * scratch_per_thread;
        if (D == 32)
            attention_task<32>(out, in, tasks[task], NH, D, ws);
        else if (D == 64)
            attention_task<64>(out, in, tasks[task], NH, D, ws);
        else
            attention_task<0>(out, in, tasks[task], NH, D, ws);
    }
}


// ================================================================================================
// bf16 attention (AVX-512 BF16 build only: bert_attention_avx512.cpp defines TG_ATTN_BF16)
// ================================================================================================
// The same math with bf16 products (vdpbf16ps, f32 accumulation) and an f32 softmax; q, k, v are rounded
// to bf16 as they are packed, the probabilities are rounded to bf16 for P·V, the output is written as bf16
// (it is the input of the bf16 output projection). One task = one (sequence, head): its keys and values are
// packed once into the layouts vdpbf16ps wants (two bf16 adjacent in the summed index share a 32-bit lane),
// then the queries go through in blocks of RB rows; a row's scores over all L keys fit in scratch, so the
// softmax is exact (no online rescaling):
//     Kp[p][j] = (k[j][2p], k[j][2p+1])      S[i][j] = sum_p q[i] pair p · Kp[p][j]      (p < D/2)
//     P[i][j] = exp(scale (S[i][j] - max_j S[i][j])),   l[i] = sum_j P[i][j]
//     Vp[q][d] = (v[2q][d], v[2q+1][d])      out[i][d] = sum_q P[i] pair q · Vp[q][d] / l[i]   (q < L/2)
#ifdef TG_ATTN_BF16
namespace {

constexpr int64_t RB = 8;  // query rows per block: 8 x 32 keys (QK) or 8 x 32 features (PV) = 16 accumulators

// 2^r on [-1/2, 1/2] to a relative error of 8e-6 (degree 4, highest first; fitted for this file): the probabilities
// are rounded to bf16 (relative error up to 2^-9 = 2e-3) before P·V, so kExp2Poly's 2e-7 (degree 6) would be wasted.
constexpr float kExp2PolyBf16[5] = {9.266121312975883e-3f, 5.586051195859909e-2f, 2.403108775615692e-1f,
                                    6.931300759315491e-1f, 9.999977946281433e-1f};

// exp2_nonpos (tensor/math_poly.h) on 16 lanes: the same clamp, kExp2PolyBf16 in place of kExp2Poly, and 2^n applied
// by vscalefps (n by vrndscaleps) in place of the integer exponent arithmetic: 8 instructions a vector.
inline __m512 exp2_nonpos16(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-126.0f));
    const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 r = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(kExp2PolyBf16[0]);
    for (int k = 1; k < 5; k++) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExp2PolyBf16[k]));
    return _mm512_scalef_ps(p, n);
}

inline __mmask16 keys_mask(int64_t j, int64_t L) {  // keys j .. j+15 that are < L
    const int64_t n = L - j;
    return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

inline __m512i bf16_pairs(__m512 lo, __m512 hi) {  // lane w = bf16(lo[w]) | bf16(hi[w]) << 16
    const __m512i l = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(lo));
    const __m512i h = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(hi));
    return _mm512_or_si512(l, _mm512_slli_epi32(h, 16));
}

// The two products of a block of RB query rows, each in a function of its own (noinline): inlined into the task,
// GCC kept the softmax's constants in registers across them and spilled the operands of every vdpbf16ps to the stack.
// S[r][j] = q_r · k_j over D2 pairs, 32 keys at a time (Qp: [RB][D2] pairs, Kp: D2 rows of >= Lp pairs, ldkp apart,
// S: [RB][Lp]),
// then each row's largest score over the keys j < L, mx[r], from the rows just stored (in L1). (Taking the maxima
// from the accumulators as they are stored needs RB more registers through the product loop: GCC then spilled the
// keys of every step to the stack, and the function got 2 % of the whole forward slower.)
__attribute__((noinline)) void qk_rows(const uint32_t* __restrict Qp, const uint32_t* __restrict Kp, int64_t ldkp,
                                       float* __restrict S, float* __restrict mx, int64_t L, int64_t Lp, int64_t D2) {
    for (int64_t j = 0; j < Lp; j += 32) {
        __m512 acc[RB][2];
        for (int64_t r = 0; r < RB; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
        for (int64_t p = 0; p < D2; p++) {
            const __m512bh k0 = (__m512bh)_mm512_loadu_si512(Kp + p * ldkp + j);
            const __m512bh k1 = (__m512bh)_mm512_loadu_si512(Kp + p * ldkp + j + 16);
            for (int64_t r = 0; r < RB; r++) {
                const __m512bh a = (__m512bh)_mm512_set1_epi32(int(Qp[r * D2 + p]));
                acc[r][0] = _mm512_dpbf16_ps(acc[r][0], a, k0);
                acc[r][1] = _mm512_dpbf16_ps(acc[r][1], a, k1);
            }
        }
        for (int64_t r = 0; r < RB; r++) {
            _mm512_storeu_ps(S + r * Lp + j, acc[r][0]);
            _mm512_storeu_ps(S + r * Lp + j + 16, acc[r][1]);
        }
    }
    for (int64_t r = 0; r < RB; r++) {
        __m512 vmx = _mm512_set1_ps(kNegBig);
        for (int64_t j = 0; j < L; j += 16)
            vmx = _mm512_mask_max_ps(vmx, keys_mask(j, L), vmx, _mm512_loadu_ps(S + r * Lp + j));
        mx[r] = _mm512_reduce_max_ps(vmx);
    }
}

// out[r][d] = bf16(sum_q P pair q · Vp[q][d] * inv[r]) for the first nr rows, 32 features at a time
// (Pp: [RB][Lp/2] pairs, Vp: [Lp/2][D] pairs; row r of out at out + r * ldo).
__attribute__((noinline)) void pv_rows(const uint32_t* __restrict Pp, const uint32_t* __restrict Vp, const float* inv,
                                       int64_t nr, int64_t Lp, int64_t D, uint16_t* __restrict out, int64_t ldo) {
    for (int64_t d = 0; d < D; d += 32) {
        __m512 acc[RB][2];
        for (int64_t r = 0; r < RB; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
        for (int64_t q = 0; q < Lp / 2; q++) {
            const __m512bh v0 = (__m512bh)_mm512_loadu_si512(Vp + q * D + d);
            const __m512bh v1 = (__m512bh)_mm512_loadu_si512(Vp + q * D + d + 16);
            for (int64_t r = 0; r < RB; r++) {
                const __m512bh a = (__m512bh)_mm512_set1_epi32(int(Pp[r * Lp / 2 + q]));
                acc[r][0] = _mm512_dpbf16_ps(acc[r][0], a, v0);
                acc[r][1] = _mm512_dpbf16_ps(acc[r][1], a, v1);
            }
        }
        // (a constant trip count with the run-time stop inside: indexing acc by a run-time bound makes GCC keep
        // the accumulators on the stack through the whole loop above)
#pragma GCC unroll 8
        for (int64_t r = 0; r < RB; r++) {
            if (r >= nr) break;
            const __m512 iv = _mm512_set1_ps(inv[r]);
            const __m512bh o = _mm512_cvtne2ps_pbh(_mm512_mul_ps(acc[r][1], iv), _mm512_mul_ps(acc[r][0], iv));
            _mm512_storeu_si512(out + r * ldo + d, (__m512i)o);
        }
    }
}

// One (sequence, head). D % 32 == 0. Lp = L rounded up to 32.
void attention_task_bf16(uint16_t* __restrict out16, const AttnInput& in, int64_t s0, int64_t L, int64_t h,
                         int64_t NH, int64_t D, uint32_t* __restrict scratch) {
    const int64_t C = NH * D, Lp = (L + 31) / 32 * 32, D2 = D / 2;
    const float sl2 = 1.4426950408889634f / __builtin_sqrtf(float(D));  // log2(e) / sqrt(D)
    uint32_t* __restrict Kp = scratch;            // [D/2][Lp]
    uint32_t* __restrict Vp = Kp + D2 * Lp;       // [Lp/2][D]
    float* __restrict S = (float*)(Vp + Lp / 2 * D);  // [RB][Lp] scores (f32)
    uint32_t* __restrict Pp = (uint32_t*)(S + RB * Lp);  // [RB][Lp/2] probabilities as bf16 pairs
    uint32_t* __restrict Qp = Pp + RB * Lp / 2;   // [RB][D/2] queries as bf16 pairs

    // The task's keys, values and queries were written by the qkv GEMM long before and come from L3: ask for
    // all of them at once (into L2), so that their latencies overlap instead of stalling each packing loop.
    auto prefetch = [](const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T1); };
    const float* Kt = in.kp ? nullptr : in.kt + h * D * in.ldk + s0;
    const float* V = in.v16 ? nullptr : in.v + s0 * in.ldv + h * (in.hsv ? in.hsv : D);
    const uint16_t* V16 = in.v16 ? in.v16 + h * in.hsv16 + s0 * D : nullptr;  // pre-rounded: row t at V16 + t*D
    const float* Q = in.q16 ? nullptr : in.q + s0 * in.ldq + h * (in.hsq ? in.hsq : D);
    const uint16_t* Q16 = in.q16 ? in.q16 + h * in.hsq16 + s0 * D : nullptr;  // pre-rounded: row t at Q16 + t*D
    const uint32_t* Kpre = in.kp ? in.kp + h * D2 * in.ldkp + s0 : nullptr;  // pre-rounded pairs: row p at + p*ldkp
    if (Kpre)
        for (int64_t p = 0; p < D2; p++)
            for (int64_t j = 0; j < L; j += 16) prefetch(Kpre + p * in.ldkp + j);
    else
        for (int64_t d = 0; d < D; d++)
            for (int64_t j = 0; j < L; j += 16) prefetch(Kt + d * in.ldk + j);
    for (int64_t t = 0; t < L; t++)
        for (int64_t d = 0; d < D; d += 16) {
            if (V16) {
                if (d % 32 == 0) prefetch(V16 + t * D + d);
            } else {
                prefetch(V + t * in.ldv + d);
            }
            if (Q16) {
                if (d % 32 == 0) prefetch(Q16 + t * D + d);
            } else {
                prefetch(Q + t * in.ldq + d);
            }
        }

    // keys as pairs, Kq[p * ldkq + j] = (k[j][2p], k[j][2p+1]), read by every block of queries (16 rows of Lp pairs,
    // kept in L1): the pre-rounded ones where they are (keys >= L: whatever follows them, never used; the stride is
    // not a multiple of 4 KiB, so the rows do not compete for the same L1 sets), or packed here into scratch from
    // rows 2p, 2p+1 of kt (features), keys >= L zero. (Copying the pre-rounded pairs into scratch first, as this
    // once did, cost 0.5 % of a bf16 32 x 128 forward in memcpy: A/B -0.1 and -0.8 % in two runs.)
    const uint32_t* Kq = Kpre;
    int64_t ldkq = in.ldkp;
    if (!Kpre) {
        Kq = Kp, ldkq = Lp;
        for (int64_t p = 0; p < D2; p++) {
            const float* k0 = Kt + 2 * p * in.ldk;
            const float* k1 = k0 + in.ldk;
            for (int64_t j = 0; j < Lp; j += 16) {
                const __mmask16 m = keys_mask(j, L);
                _mm512_storeu_si512(Kp + p * Lp + j,
                                    bf16_pairs(_mm512_maskz_loadu_ps(m, k0 + j), _mm512_maskz_loadu_ps(m, k1 + j)));
            }
        }
    }
    // pack values: rows 2q, 2q+1 (tokens) -> pairs, tokens >= L zero. Pre-rounded ones: 32 features of both rows
    // are one 64-byte load each, interleaved 16 bits at a time by vpermt2w (lane w of the first result = (row 2q
    // feature w, row 2q+1 feature w), the second one features 16..31).
    if (V16) {
        alignas(64) static constexpr uint16_t kLo[32] = {0,  32, 1,  33, 2,  34, 3,  35, 4,  36, 5,  37, 6,  38, 7,  39,
                                                         8,  40, 9,  41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47};
        alignas(64) static constexpr uint16_t kHi[32] = {16, 48, 17, 49, 18, 50, 19, 51, 20, 52, 21, 53, 22, 54, 23, 55,
                                                         24, 56, 25, 57, 26, 58, 27, 59, 28, 60, 29, 61, 30, 62, 31, 63};
        const __m512i lo = _mm512_load_si512(kLo), hi = _mm512_load_si512(kHi);
        for (int64_t q = 0; q < Lp / 2; q++) {
            const bool has0 = 2 * q < L, has1 = 2 * q + 1 < L;
            for (int64_t d = 0; d < D; d += 32) {
                const __m512i v0 = has0 ? _mm512_loadu_si512(V16 + 2 * q * D + d) : _mm512_setzero_si512();
                const __m512i v1 = has1 ? _mm512_loadu_si512(V16 + (2 * q + 1) * D + d) : _mm512_setzero_si512();
                _mm512_storeu_si512(Vp + q * D + d, _mm512_permutex2var_epi16(v0, lo, v1));
                _mm512_storeu_si512(Vp + q * D + d + 16, _mm512_permutex2var_epi16(v0, hi, v1));
            }
        }
    }
    for (int64_t q = 0; q < (V16 ? 0 : Lp / 2); q++) {
        const bool has0 = 2 * q < L, has1 = 2 * q + 1 < L;
        for (int64_t d = 0; d < D; d += 16) {
            const __m512 v0 = has0 ? _mm512_loadu_ps(V + 2 * q * in.ldv + d) : _mm512_setzero_ps();
            const __m512 v1 = has1 ? _mm512_loadu_ps(V + (2 * q + 1) * in.ldv + d) : _mm512_setzero_ps();
            _mm512_storeu_si512(Vp + q * D + d, bf16_pairs(v0, v1));
        }
    }

    for (int64_t i0 = 0; i0 < L; i0 += RB) {
        const int64_t nr = L - i0 < RB ? L - i0 : RB;
        // queries -> bf16 pairs (rows past L: a copy of the last row, computed and dropped)
        for (int64_t r = 0; r < RB; r++) {
            const int64_t i = i0 + (r < nr ? r : nr - 1);
            for (int64_t d = 0; d < D; d += 32)
                _mm512_storeu_si512(Qp + r * D2 + d / 2,
                                    Q16 ? _mm512_loadu_si512(Q16 + i * D + d)
                                        : (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(Q + i * in.ldq + d + 16),
                                                                       _mm512_loadu_ps(Q + i * in.ldq + d)));
        }
        float mx[RB], inv[RB];
        qk_rows(Qp, Kq, ldkq, S, mx, L, Lp, D2);
        // softmax numerators and their sums, written straight as the bf16 pairs of P·V (keys >= L weigh 0):
        // e^{scale (s - max)} = 2^{s sl2 - max sl2}, one fused multiply-subtract and exp2_nonpos16. The sum is kept
        // as 16 lanes and folded once per row.
        const __m512 vsl2 = _mm512_set1_ps(sl2);
        for (int64_t r = 0; r < RB; r++) {
            const float* s = S + r * Lp;
            const __m512 mxs = _mm512_set1_ps(mx[r] * sl2);
            __m512 sum = _mm512_setzero_ps();
            for (int64_t j = 0; j < Lp; j += 32) {
                const __m512 e0 = _mm512_maskz_mov_ps(
                    keys_mask(j, L), exp2_nonpos16(_mm512_fmsub_ps(_mm512_loadu_ps(s + j), vsl2, mxs)));
                const __m512 e1 = _mm512_maskz_mov_ps(
                    keys_mask(j + 16, L),
                    exp2_nonpos16(_mm512_fmsub_ps(_mm512_loadu_ps(s + j + 16), vsl2, mxs)));
                sum = _mm512_add_ps(sum, _mm512_add_ps(e0, e1));
                _mm512_storeu_si512(Pp + r * Lp / 2 + j / 2, (__m512i)_mm512_cvtne2ps_pbh(e1, e0));
            }
            inv[r] = 1.0f / _mm512_reduce_add_ps(sum);
        }
        pv_rows(Pp, Vp, inv, nr, Lp, D, out16 + (s0 + i0) * C + h * D, C);
    }
}

}  // namespace

void keys_to_bf16_pairs_avx512(uint32_t* kp, int64_t ldkp, const float* c, int64_t ldc, const float* bias,
                               int64_t rows, int64_t ncols) {
    for (int64_t i0 = 0; i0 < rows; i0 += 16) {
        const int64_t nr = rows - i0 < 16 ? rows - i0 : 16;
        const __mmask16 rmask = nr == 16 ? __mmask16(0xFFFF) : __mmask16((1u << nr) - 1);
        for (int64_t j0 = 0; j0 < ncols; j0 += 32) {
            const int64_t nc = ncols - j0 < 32 ? ncols - j0 : 32;  // even
            const __mmask16 m0 = nc >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << nc) - 1);
            const __mmask16 m1 = nc >= 32 ? __mmask16(0xFFFF) : nc <= 16 ? __mmask16(0) : __mmask16((1u << (nc - 16)) - 1);
            const __m512 b0 = _mm512_maskz_loadu_ps(m0, bias + j0), b1 = _mm512_maskz_loadu_ps(m1, bias + j0 + 16);
            __m512 r[16];  // row i: its 16 pairs of columns j0 .. j0 + 31, as bf16 in natural order (= uint32 pairs)
            for (int64_t i = 0; i < 16; i++) {
                if (i >= nr) {
                    r[i] = _mm512_setzero_ps();
                    continue;
                }
                const float* ci = c + (i0 + i) * ldc + j0;
                const __m512 lo = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, ci), b0);
                const __m512 hi = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, ci + 16), b1);
                r[i] = (__m512)_mm512_cvtne2ps_pbh(hi, lo);
            }
            simd::transpose16x16(r);  // r[p] = pair p of the 16 rows
            for (int64_t p = 0; p < nc / 2; p++) _mm512_mask_storeu_ps(kp + (j0 / 2 + p) * ldkp + i0, rmask, r[p]);
        }
    }
}

void rows_to_bf16_avx512(uint16_t* dst, int64_t ldd, const float* c, int64_t ldc, const float* bias, int64_t rows,
                         int64_t n) {
    for (int64_t j0 = 0; j0 < n; j0 += 32) {
        const int64_t nc = n - j0 < 32 ? n - j0 : 32;
        const __mmask16 m0 = nc >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << nc) - 1);
        const __mmask16 m1 = nc >= 32 ? __mmask16(0xFFFF) : nc <= 16 ? __mmask16(0) : __mmask16((1u << (nc - 16)) - 1);
        const __mmask32 m = nc >= 32 ? __mmask32(0xFFFFFFFFu) : __mmask32((1u << nc) - 1);
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, bias + j0), b1 = _mm512_maskz_loadu_ps(m1, bias + j0 + 16);
        for (int64_t i = 0; i < rows; i++) {
            const float* ci = c + i * ldc + j0;
            const __m512 lo = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, ci), b0);
            const __m512 hi = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, ci + 16), b1);
            _mm512_mask_storeu_epi16(dst + i * ldd + j0, m, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
        }
    }
}

void attention_bf16_avx512(uint16_t* out16, const AttnInput& in, const AttnTask* tasks, int64_t ntasks, int64_t NH,
                           int64_t D, float* scratch, int64_t scratch_per_thread) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t task = 0; task < ntasks; task++) {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        const AttnTask& tk = tasks[task];
        attention_task_bf16(out16, in, tk.seq_start, tk.seq_len, tk.head, NH, D,
                            reinterpret_cast<uint32_t*>(scratch + tid * scratch_per_thread));
    }
}
#endif  // TG_ATTN_BF16

}  // namespace tg::detail
