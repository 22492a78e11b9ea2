// bert_attention_impl.h — the tiled attention loops, written once, compiled once per instruction set.
//
// Included by bert_attention.cpp (baseline x86-64), bert_attention_avx2.cpp and bert_attention_avx512.cpp
// with TG_ATTN_TILES defined to the function that file exports (see bert_attention.h). As in
// tensor/kernels_impl.h, only builtins and C APIs are used here (no std:: templates), so no inline function
// compiled with AVX-512 flags can be picked by the linker for code that runs on an older CPU.
// exp() is inlined into the score loop (exp_fast of tensor/math_poly.h), so it vectorizes together with
// the max and the sum of the online softmax instead of costing a separate pass over the tile.
#include <cstdint>

#include "nn/bert_attention.h"
#include "tensor/math_poly.h"
#ifdef TG_ATTN_BF16
#include <immintrin.h>
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
//   scores  S[i.., j..] += q[i, d] k[d, j]:  RS query rows x JC keys  (RS*JC/VW accumulators)
//   output  O[i.., :]   += p[i, j] v[j, :]:  RP query rows x D        (RP*D/VW accumulators)
#ifndef TG_ATTN_VW
#define TG_ATTN_VW 4  // baseline x86-64: SSE2
#endif
constexpr int64_t VW = TG_ATTN_VW;
constexpr int64_t JC = 4 * VW < TK ? 4 * VW : TK;       // 64 / 32 / 16 keys: 4 registers per query row
constexpr int64_t RS = VW >= 16 ? 6 : (VW >= 8 ? 3 : 2);  // 24 / 12 / 8 accumulators
static_assert(TK % JC == 0, "the key tile must be a whole number of score chunks");
template <int64_t DT>
constexpr int64_t rows_pv() {  // 16 (AVX-512) or 12 accumulators of D/VW registers per row
    const int64_t r = DT ? (VW >= 16 ? 16 : 12) * VW / DT : 1;
    return r < 1 ? 1 : (r > 8 ? 8 : r);
}

// One task: queries q0 .. q0+nq-1 of one sequence and head, against all L keys of the sequence.
// DT = head size when known at compile time (32, 64: loops fully unrolled, accumulators in registers),
// 0 = use the run-time D.
template <int64_t DT>
void attention_task(float* __restrict out, const AttnInput& in, const AttnTask& tk, int64_t NH, int64_t Drt,
                    float* __restrict scratch) {
    const int64_t D = DT ? DT : Drt;
    constexpr int64_t RP = rows_pv<DT>();
    const int64_t C = NH * D;
    const float scale = 1.0f / __builtin_sqrtf(float(D));
    float* __restrict Kpad = scratch;   // [D, TK]  last, partial key tile, zero-padded
    float* __restrict S = Kpad + D * TK;  // [TQ, TK] raw scores q·k, then probabilities
    float* __restrict O = S + TQ * TK;  // [TQ, D]  unnormalized output
    float* __restrict m = O + TQ * D;   // [TQ]     running max (of the raw scores)
    float* __restrict l = m + TQ;       // [TQ]     running sum of exp

    const int64_t L = tk.seq_len, q0 = tk.q0;
    const int64_t nq = L - q0 < TQ ? L - q0 : TQ;
    const int64_t ldq = in.ldq, ldk = in.ldk, ldv = in.ldv;
    const float* Q = in.q + (tk.seq_start + q0) * ldq + tk.head * D;  // query i, feature d: Q[i*ldq + d]
    const float* Kt = in.kt + tk.head * D * ldk + tk.seq_start;       // key j, feature d:   Kt[d*ldk + j]
    const float* V = in.v + tk.seq_start * ldv + tk.head * D;         // value j, feature d: V[j*ldv + d]

    for (int64_t i = 0; i < nq; i++) {
        m[i] = kNegBig;
        l[i] = 0.0f;
    }
    for (int64_t x = 0; x < nq * D; x++) O[x] = 0.0f;

    for (int64_t k0 = 0; k0 < L; k0 += TK) {
        const int64_t nk = L - k0 < TK ? L - k0 : TK;
        // keys k0 .. k0+63, feature d: kt[d*ldkt + j]. A full tile is read in place; the last, partial one is
        // copied into a zero-padded tile so no read goes past the sequence (its columns >= nk are ignored)
        const float* kt = Kt + k0;
        int64_t ldkt = ldk;
        if (nk < TK) {
            for (int64_t d = 0; d < D; d++)
                for (int64_t j = 0; j < TK; j++) Kpad[d * TK + j] = j < nk ? kt[d * ldk + j] : 0.0f;
            kt = Kpad;
            ldkt = TK;
        }

        // S[i, j] = q_i · k_j as a sum over d of outer products, RS rows x JC keys of accumulators at a time:
        //     for d: acc[r][:] += q[i+r, d] * kt[d, j0:j0+JC]
        for (int64_t i = 0; i < nq; i += RS) {
            const float* q[RS];
            for (int64_t r = 0; r < RS; r++) q[r] = Q + (i + r < nq ? i + r : i) * ldq;  // rows past nq: harmless dup
            for (int64_t j0 = 0; j0 < TK; j0 += JC) {
                float acc[RS][JC];
                for (int64_t r = 0; r < RS; r++)
#pragma omp simd
                    for (int64_t j = 0; j < JC; j++) acc[r][j] = 0.0f;
                for (int64_t d = 0; d < D; d++) {
                    const float* kd = kt + d * ldkt + j0;
                    for (int64_t r = 0; r < RS; r++) {
                        const float qd = q[r][d];
#pragma omp simd
                        for (int64_t j = 0; j < JC; j++) acc[r][j] += qd * kd[j];
                    }
                }
                for (int64_t r = 0; r < RS; r++)  // constant trip count: acc stays in registers
                    if (i + r < nq) {
#pragma omp simd
                        for (int64_t j = 0; j < JC; j++) S[(i + r) * TK + j0 + j] = acc[r][j];
                    }
            }
        }
        // online softmax step per row, on the scaled scores s = scale * S:
        //   m_new = max(m, max_j S_j); p_j = e^{scale (S_j - m_new)}; corr = e^{scale (m - m_new)};
        //   l = l corr + sum_j p_j; O = O corr (+ P V below)
        // (max and sum are kept as VW lanes and folded by halves at the end: GCC's own reduction of an
        // `omp simd reduction` went through the stack and a chain of scalar adds, a third of this loop)
        for (int64_t i = 0; i < nq; i++) {
            float* p = S + i * TK;
            float lane[VW];
#pragma omp simd
            for (int64_t v = 0; v < VW; v++) lane[v] = m[i];
            for (int64_t j0 = 0; j0 < TK; j0 += VW)
#pragma omp simd
                for (int64_t v = 0; v < VW; v++) lane[v] = (j0 + v < nk && p[j0 + v] > lane[v]) ? p[j0 + v] : lane[v];
            for (int64_t w = VW / 2; w >= 1; w /= 2)
#pragma omp simd
                for (int64_t v = 0; v < w; v++) lane[v] = lane[v + w] > lane[v] ? lane[v + w] : lane[v];
            const float mx = lane[0];
#pragma omp simd
            for (int64_t v = 0; v < VW; v++) lane[v] = 0.0f;
            for (int64_t j0 = 0; j0 < TK; j0 += VW)
#pragma omp simd
                for (int64_t v = 0; v < VW; v++) {
                    const float e = j0 + v < nk ? exp_fast(scale * (p[j0 + v] - mx)) : 0.0f;  // past the end: 0
                    p[j0 + v] = e;
                    lane[v] += e;
                }
            for (int64_t w = VW / 2; w >= 1; w /= 2)
#pragma omp simd
                for (int64_t v = 0; v < w; v++) lane[v] += lane[v + w];
            const float sum = lane[0];
            const float c = exp_fast(scale * (m[i] - mx));
            m[i] = mx;
            l[i] = l[i] * c + sum;
            float* o = O + i * D;
#pragma omp simd
            for (int64_t d = 0; d < D; d++) o[d] *= c;
        }

        // O += P V   (RP query rows share each loaded row of V)
        for (int64_t i = 0; i < nq; i += RP) {
            const int64_t nr = nq - i < RP ? nq - i : RP;
            if (DT && nr == RP) {  // register-blocked: RP x D accumulators
                float acc[RP][DT ? DT : 1];
                for (int64_t r = 0; r < RP; r++)
#pragma omp simd
                    for (int64_t d = 0; d < DT; d++) acc[r][d] = O[(i + r) * D + d];
                for (int64_t j = 0; j < nk; j++) {
                    const float* v = V + (k0 + j) * ldv;
                    for (int64_t r = 0; r < RP; r++) {
                        const float pj = S[(i + r) * TK + j];
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
                    const float* p = S + (i + r) * TK;
                    for (int64_t j = 0; j < nk; j++) {
                        const float pj = p[j];
                        const float* v = V + (k0 + j) * ldv;
#pragma omp simd
                        for (int64_t d = 0; d < D; d++) o[d] += pj * v[d];
                    }
                }
            }
        }
    }
    // out = O / l   (l >= 1: the row max contributes e^0)
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

inline __m512i bf16_pairs(__m512 lo, __m512 hi) {  // lane w = bf16(lo[w]) | bf16(hi[w]) << 16
    const __m512i l = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(lo));
    const __m512i h = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(hi));
    return _mm512_or_si512(l, _mm512_slli_epi32(h, 16));
}

// One (sequence, head). D % 32 == 0. Lp = L rounded up to 32.
void attention_task_bf16(uint16_t* __restrict out16, const AttnInput& in, int64_t s0, int64_t L, int64_t h,
                         int64_t NH, int64_t D, uint32_t* __restrict scratch) {
    const int64_t C = NH * D, Lp = (L + 31) / 32 * 32, D2 = D / 2;
    const float scale = 1.0f / __builtin_sqrtf(float(D));
    uint32_t* __restrict Kp = scratch;            // [D/2][Lp]
    uint32_t* __restrict Vp = Kp + D2 * Lp;       // [Lp/2][D]
    float* __restrict S = (float*)(Vp + Lp / 2 * D);  // [RB][Lp] scores, then probabilities (f32)
    uint32_t* __restrict Pp = (uint32_t*)(S + RB * Lp);  // [RB][Lp/2] probabilities as bf16 pairs
    uint32_t* __restrict Qp = Pp + RB * Lp / 2;   // [RB][D/2] queries as bf16 pairs

    // pack keys: rows 2p, 2p+1 of kt (features) -> pairs, keys >= L zero
    const float* Kt = in.kt + h * D * in.ldk + s0;
    for (int64_t p = 0; p < D2; p++) {
        const float* k0 = Kt + 2 * p * in.ldk;
        const float* k1 = k0 + in.ldk;
        for (int64_t j = 0; j < Lp; j += 16) {
            const int64_t nj = L - j;
            const __mmask16 m = nj >= 16 ? __mmask16(0xFFFF) : nj <= 0 ? __mmask16(0) : __mmask16((1u << nj) - 1);
            _mm512_storeu_si512(Kp + p * Lp + j,
                                bf16_pairs(_mm512_maskz_loadu_ps(m, k0 + j), _mm512_maskz_loadu_ps(m, k1 + j)));
        }
    }
    // pack values: rows 2q, 2q+1 (tokens) -> pairs, tokens >= L zero
    const float* V = in.v + s0 * in.ldv + h * D;
    for (int64_t q = 0; q < Lp / 2; q++) {
        const bool has0 = 2 * q < L, has1 = 2 * q + 1 < L;
        for (int64_t d = 0; d < D; d += 16) {
            const __m512 v0 = has0 ? _mm512_loadu_ps(V + 2 * q * in.ldv + d) : _mm512_setzero_ps();
            const __m512 v1 = has1 ? _mm512_loadu_ps(V + (2 * q + 1) * in.ldv + d) : _mm512_setzero_ps();
            _mm512_storeu_si512(Vp + q * D + d, bf16_pairs(v0, v1));
        }
    }

    const float* Q = in.q + s0 * in.ldq + h * D;
    for (int64_t i0 = 0; i0 < L; i0 += RB) {
        const int64_t nr = L - i0 < RB ? L - i0 : RB;
        // queries -> bf16 pairs (rows past L: a copy of the last row, computed and dropped)
        for (int64_t r = 0; r < RB; r++) {
            const float* q = Q + (i0 + (r < nr ? r : nr - 1)) * in.ldq;
            for (int64_t d = 0; d < D; d += 32)
                _mm512_storeu_si512(Qp + r * D2 + d / 2,
                                    (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(q + d + 16), _mm512_loadu_ps(q + d)));
        }
        // S[r][j] = q_r · k_j, 32 keys at a time
        for (int64_t j = 0; j < Lp; j += 32) {
            __m512 acc[RB][2];
            for (int64_t r = 0; r < RB; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
            for (int64_t p = 0; p < D2; p++) {
                const __m512bh k0 = (__m512bh)_mm512_loadu_si512(Kp + p * Lp + j);
                const __m512bh k1 = (__m512bh)_mm512_loadu_si512(Kp + p * Lp + j + 16);
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
        // softmax numerators (f32), their sums, and the bf16 pairs for P·V (keys >= L weigh 0)
        float inv[RB];
        for (int64_t r = 0; r < RB; r++) {
            float* s = S + r * Lp;
            float mx = kNegBig;
#pragma omp simd reduction(max : mx)
            for (int64_t j = 0; j < L; j++) mx = s[j] > mx ? s[j] : mx;
            float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
            for (int64_t j = 0; j < Lp; j++) {
                const float e = j < L ? exp_fast((s[j] - mx) * scale) : 0.0f;
                s[j] = e;
                sum += e;
            }
            inv[r] = 1.0f / sum;
            for (int64_t j = 0; j < Lp; j += 32)
                _mm512_storeu_si512(Pp + r * Lp / 2 + j / 2,
                                    (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + j + 16), _mm512_loadu_ps(s + j)));
        }
        // out[r][d] = sum_q P pair q · Vp[q][d] / l, 32 features at a time
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
            for (int64_t r = 0; r < nr; r++) {
                const __m512 iv = _mm512_set1_ps(inv[r]);
                const __m512bh o = _mm512_cvtne2ps_pbh(_mm512_mul_ps(acc[r][1], iv), _mm512_mul_ps(acc[r][0], iv));
                _mm512_storeu_si512(out16 + (s0 + i0 + r) * C + h * D + d, (__m512i)o);
            }
        }
    }
}

}  // namespace

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
