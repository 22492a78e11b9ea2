// bert_attention_impl.h — the tiled attention loops, written once, compiled once per instruction set.
//
// Included by bert_attention.cpp (baseline x86-64), bert_attention_avx2.cpp and bert_attention_avx512.cpp
// with TG_ATTN_TILES defined to the function that file exports (see bert_attention.h). As in
// tensor/kernels_impl.h, only builtins and C APIs are used here (no std:: templates), so no inline function
// compiled with AVX-512 flags can be picked by the linker for code that runs on an older CPU.
// exp() comes from tg::vexp (tensor/kernels.h), itself dispatched per ISA.
#include <cstdint>

#include "nn/bert_attention.h"
#include "tensor/kernels.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef TG_ATTN_TILES
#error "define TG_ATTN_TILES before including bert_attention_impl.h"
#endif

namespace tg::detail {

void TG_ATTN_TILES(float* out, const float* qkv, const AttnTask* tasks, int64_t ntasks, int64_t NH, int64_t D,
                   float* scratch, int64_t scratch_per_thread) {
    constexpr int64_t TQ = kAttnTile, TK = kAttnTile;
    const int64_t C = NH * D, C3 = 3 * C;
    const float scale = 1.0f / __builtin_sqrtf(float(D));
    constexpr float kNegBig = -1e30f;  // "minus infinity" that stays finite under subtraction

#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t task = 0; task < ntasks; task++) {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float* Kt = scratch + tid * scratch_per_thread;  // [D, TK]  key tile, transposed
        float* S = Kt + D * TK;                           // [TQ, TK] scores, then probabilities
        float* O = S + TQ * TK;                           // [TQ, D]  unnormalized output
        float* m = O + TQ * D;                            // [TQ]     running max
        float* l = m + TQ;                                // [TQ]     running sum of exp
        float* corr = l + TQ;                             // [TQ]     e^{m_old - m_new}

        const AttnTask& tk = tasks[task];
        const int64_t L = tk.seq_len, q0 = tk.q0;
        const int64_t nq = L - q0 < TQ ? L - q0 : TQ;
        const float* Q = qkv + (tk.seq_start + q0) * C3 + tk.head * D;  // row i at Q + i*C3
        const float* K = qkv + tk.seq_start * C3 + C + tk.head * D;     // row j at K + j*C3
        const float* V = K + C;

        for (int64_t i = 0; i < nq; i++) {
            m[i] = kNegBig;
            l[i] = 0.0f;
        }
        for (int64_t x = 0; x < nq * D; x++) O[x] = 0.0f;

        for (int64_t k0 = 0; k0 < L; k0 += TK) {
            const int64_t nk = L - k0 < TK ? L - k0 : TK;
            // Kt[d, j] = K[k0 + j, d]; columns past nk are zero (their scores are overwritten below)
            for (int64_t j = 0; j < nk; j++)
                for (int64_t d = 0; d < D; d++) Kt[d * TK + j] = K[(k0 + j) * C3 + d];
            for (int64_t j = nk; j < TK; j++)
                for (int64_t d = 0; d < D; d++) Kt[d * TK + j] = 0.0f;

            // S[i, j] = scale * q_i · k_j, as a sum of outer products so the inner loop runs over 64
            // contiguous keys (vectorizes for any D)
            for (int64_t i = 0; i < nq; i++) {
                float* s = S + i * TK;
#pragma omp simd
                for (int64_t j = 0; j < TK; j++) s[j] = 0.0f;
                for (int64_t d = 0; d < D; d++) {
                    const float q = Q[i * C3 + d] * scale;
                    const float* kt = Kt + d * TK;
#pragma omp simd
                    for (int64_t j = 0; j < TK; j++) s[j] += q * kt[j];
                }
                for (int64_t j = nk; j < TK; j++) s[j] = kNegBig;  // past the sequence end: weight e^-big = 0
                // m_new = max(m, max_j s_j); s_j -= m_new; corr = m - m_new (exponentiated below)
                float mx = m[i];
                for (int64_t j = 0; j < nk; j++) mx = s[j] > mx ? s[j] : mx;
#pragma omp simd
                for (int64_t j = 0; j < TK; j++) s[j] -= mx;
                corr[i] = m[i] - mx;
                m[i] = mx;
            }
            vexp(S, S, nq * TK);
            vexp(corr, corr, nq);

            // l = l * corr + sum_j p_j;  O = O * corr + sum_j p_j v_j
            for (int64_t i = 0; i < nq; i++) {
                const float* p = S + i * TK;
                float* o = O + i * D;
                float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
                for (int64_t j = 0; j < TK; j++) sum += p[j];
                l[i] = l[i] * corr[i] + sum;
                const float c = corr[i];
#pragma omp simd
                for (int64_t d = 0; d < D; d++) o[d] *= c;
                for (int64_t j = 0; j < nk; j++) {
                    const float pj = p[j];
                    const float* v = V + (k0 + j) * C3;
#pragma omp simd
                    for (int64_t d = 0; d < D; d++) o[d] += pj * v[d];
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
}

}  // namespace tg::detail
