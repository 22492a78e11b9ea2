// bert_attention_impl.h — the tiled attention loops, written once, compiled once per instruction set.
//
// Included by bert_attention.cpp (baseline x86-64), bert_attention_avx2.cpp and bert_attention_avx512.cpp
// with TG_ATTN_TILES defined to the function that file exports (see bert_attention.h). As in
// tensor/kernels_impl.h, only builtins and C APIs are used here (no std:: templates), so no inline function
// compiled with AVX-512 flags can be picked by the linker for code that runs on an older CPU.
// exp() is inlined into the score loop (exp_nonpos below), so it vectorizes together with the max and the
// sum of the online softmax instead of costing a separate pass over the tile.
#include <cstdint>

#include "nn/bert_attention.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef TG_ATTN_TILES
#error "define TG_ATTN_TILES before including bert_attention_impl.h"
#endif

namespace tg::detail {
namespace {

constexpr int64_t TQ = kAttnTile, TK = kAttnTile;
constexpr int64_t R = 4;          // query rows processed together (register blocking)
constexpr float kNegBig = -1e30f; // "minus infinity" that stays finite under subtraction

// exp(x) for x <= 0 (softmax after subtracting the row max): the Cephes expf polynomial that
// tensor/kernels_impl.h uses, written branch-free so `omp simd` loops vectorize it. x = n ln2 + r with
// |r| <= ln2/2; exp(r) by a degree-6 polynomial; 2^n assembled in the exponent bits. ~2 ulp; 0 below -87.
inline float exp_nonpos(float x) {
    const float xc = x < -87.0f ? -87.0f : x;
    const float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round(x / ln2)
    float r = xc - n * 0.693359375f;                                          // ln2 in two parts
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const float scale = __builtin_bit_cast(float, (int32_t(n) + 127) << 23);
    return x < -87.0f ? 0.0f : p * scale;
}

// One task: queries q0 .. q0+nq-1 of one sequence and head, against all L keys of the sequence.
// DT = head size when known at compile time (32, 64: loops fully unrolled, accumulators in registers),
// 0 = use the run-time D.
template <int64_t DT>
void attention_task(float* __restrict out, const AttnInput& in, const AttnTask& tk, int64_t NH, int64_t Drt,
                    float* __restrict scratch) {
    const int64_t D = DT ? DT : Drt;
    const int64_t C = NH * D;
    const float scale = 1.0f / __builtin_sqrtf(float(D));
    float* __restrict Kpad = scratch;   // [D, TK]  last, partial key tile, zero-padded
    float* __restrict S = Kpad + D * TK;  // [TQ, TK] scores, then probabilities
    float* __restrict O = S + TQ * TK;  // [TQ, D]  unnormalized output
    float* __restrict m = O + TQ * D;   // [TQ]     running max
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

        // S[i, j] = scale * q_i · k_j, as a sum over d of outer products (R rows x 64 keys of accumulators):
        //     for d: acc[r][:] += (scale q[i+r, d]) * kt[d, :]
        for (int64_t i = 0; i < nq; i += R) {
            float acc[R][TK];
            for (int64_t r = 0; r < R; r++)
#pragma omp simd
                for (int64_t j = 0; j < TK; j++) acc[r][j] = 0.0f;
            const float* q[R];
            for (int64_t r = 0; r < R; r++) q[r] = Q + (i + r < nq ? i + r : i) * ldq;  // rows past nq: harmless dup
            for (int64_t d = 0; d < D; d++) {
                const float* kd = kt + d * ldkt;
                for (int64_t r = 0; r < R; r++) {
                    const float qs = q[r][d] * scale;
#pragma omp simd
                    for (int64_t j = 0; j < TK; j++) acc[r][j] += qs * kd[j];
                }
            }
            for (int64_t r = 0; r < R && i + r < nq; r++) {
                // online softmax step: m_new = max(m, max_j s_j); p_j = e^{s_j - m_new};
                // corr = e^{m - m_new}; l = l corr + sum_j p_j; O = O corr (+ P V below)
                float* p = S + (i + r) * TK;
                float mx = m[i + r];
#pragma omp simd reduction(max : mx)
                for (int64_t j = 0; j < TK; j++) mx = (j < nk && acc[r][j] > mx) ? acc[r][j] : mx;
                float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
                for (int64_t j = 0; j < TK; j++) {
                    const float e = j < nk ? exp_nonpos(acc[r][j] - mx) : 0.0f;  // keys past the end weigh 0
                    p[j] = e;
                    sum += e;
                }
                const float c = exp_nonpos(m[i + r] - mx);
                m[i + r] = mx;
                l[i + r] = l[i + r] * c + sum;
                float* o = O + (i + r) * D;
#pragma omp simd
                for (int64_t d = 0; d < D; d++) o[d] *= c;
            }
        }

        // O += P V   (R query rows share each loaded row of V)
        for (int64_t i = 0; i < nq; i += R) {
            const int64_t nr = nq - i < R ? nq - i : R;
            if (DT && nr == R) {  // register-blocked: R x D accumulators
                float acc[R][DT ? DT : 1];
                for (int64_t r = 0; r < R; r++)
#pragma omp simd
                    for (int64_t d = 0; d < DT; d++) acc[r][d] = O[(i + r) * D + d];
                for (int64_t j = 0; j < nk; j++) {
                    const float* v = V + (k0 + j) * ldv;
                    for (int64_t r = 0; r < R; r++) {
                        const float pj = S[(i + r) * TK + j];
#pragma omp simd
                        for (int64_t d = 0; d < DT; d++) acc[r][d] += pj * v[d];
                    }
                }
                for (int64_t r = 0; r < R; r++)
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

}  // namespace tg::detail
