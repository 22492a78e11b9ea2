// bert_attention.cpp — attention_forward (dispatch to the per-ISA tile loops) and attention_forward_ref.
// See bert_attention.h for the math and the layout.
#define TG_ATTN_TILES attention_tiles_base
#include "nn/bert_attention_impl.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/common.h"
#include "tensor/cpu_isa.h"
#include "tensor/parallel.h"

namespace tg {

static void check_offsets(const int64_t* offsets, int64_t B) {
    TG_CHECK(B >= 0 && offsets[0] == 0, "attention: offsets[0] must be 0 (got ", offsets[0], ")");
    for (int64_t b = 0; b < B; b++)
        TG_CHECK(offsets[b + 1] >= offsets[b], "attention: offsets decrease at sequence ", b);
}

void attention_forward(float* out, const AttnInput& in, const int64_t* offsets, int64_t B, int64_t NH, int64_t D) {
    check_offsets(offsets, B);
    using detail::AttnTask;
    std::vector<AttnTask> tasks;
    // Longest sequences first: with dynamic scheduling the big tasks start early and the short ones fill in.
    std::vector<int64_t> order(size_t(B), 0);
    for (int64_t b = 0; b < B; b++) order[size_t(b)] = b;
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        return offsets[a + 1] - offsets[a] > offsets[b + 1] - offsets[b];
    });
    for (int64_t b : order) {
        const int64_t L = offsets[b + 1] - offsets[b];
        for (int64_t q0 = 0; q0 < L; q0 += detail::kAttnTile)
            for (int64_t h = 0; h < NH; h++) tasks.push_back({offsets[b], L, h, q0});
    }
    if (tasks.empty()) return;
    const int64_t per_thread = detail::attn_scratch_floats(D);
    // thread_local: reused across calls (and layers) without reallocating
    thread_local std::vector<float> scratch;
    const size_t need = size_t(per_thread) * size_t(num_threads());
    if (scratch.size() < need) scratch.resize(need);
    detail::AttnTilesFn fn = detail::attention_tiles_base;
    switch (cpu_isa()) {
        case Isa::avx512: fn = detail::attention_tiles_avx512; break;
        case Isa::avx2: fn = detail::attention_tiles_avx2; break;
        case Isa::scalar: break;
    }
    fn(out, in, tasks.data(), int64_t(tasks.size()), NH, D, scratch.data(), per_thread);
}

bool attention_bf16_supported(int64_t D) { return cpu_has_avx512_bf16() && D > 0 && D % 32 == 0; }

void attention_forward_bf16(uint16_t* out16, const AttnInput& in, const int64_t* offsets, int64_t B, int64_t NH,
                            int64_t D) {
    check_offsets(offsets, B);
    TG_CHECK(attention_bf16_supported(D), "attention_forward_bf16: needs an avx512_bf16 CPU and a head size that is "
             "a multiple of 32 (head size ", D, ")");
    using detail::AttnTask;
    // one task per (sequence, head), longest sequences first (dynamic scheduling fills in with the short ones)
    std::vector<int64_t> order(size_t(B), 0);
    int64_t Lmax = 0;
    for (int64_t b = 0; b < B; b++) {
        order[size_t(b)] = b;
        Lmax = std::max(Lmax, offsets[b + 1] - offsets[b]);
    }
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        return offsets[a + 1] - offsets[a] > offsets[b + 1] - offsets[b];
    });
    std::vector<AttnTask> tasks;
    for (int64_t b : order)
        if (offsets[b + 1] > offsets[b])
            for (int64_t h = 0; h < NH; h++) tasks.push_back({offsets[b], offsets[b + 1] - offsets[b], h, 0});
    if (tasks.empty()) return;
    const int64_t per_thread = (detail::attn_bf16_scratch_floats(D, Lmax) + 15) / 16 * 16;  // 64-byte multiples
    thread_local std::vector<float> scratch;
    const size_t need = size_t(per_thread) * size_t(num_threads());
    if (scratch.size() < need) scratch.resize(need);
    detail::attention_bf16_avx512(out16, in, tasks.data(), int64_t(tasks.size()), NH, D, scratch.data(), per_thread);
}

// Reference: for each sequence and head, scores S[i,j] = q_i·k_j / sqrt(D) (double), softmax over j,
// out_i = sum_j P[i,j] v_j. Materializes [L, L] per (sequence, head): fine for tests, not for long inputs.
void attention_forward_ref(float* out, const AttnInput& in, const int64_t* offsets, int64_t B, int64_t NH, int64_t D) {
    check_offsets(offsets, B);
    const int64_t C = NH * D;
    const double scale = 1.0 / std::sqrt(double(D));
    const int64_t hsq = in.hsq ? in.hsq : D, hsv = in.hsv ? in.hsv : D;
    for (int64_t b = 0; b < B; b++) {
        const int64_t s0 = offsets[b], L = offsets[b + 1] - offsets[b];
        std::vector<double> P(size_t(L * L));
        for (int64_t h = 0; h < NH; h++) {
            for (int64_t i = 0; i < L; i++) {
                const float* q = in.q + (s0 + i) * in.ldq + h * hsq;
                double mx = -INFINITY;
                for (int64_t j = 0; j < L; j++) {
                    double s = 0;
                    for (int64_t d = 0; d < D; d++) s += double(q[d]) * double(in.kt[(h * D + d) * in.ldk + s0 + j]);
                    P[size_t(i * L + j)] = s * scale;
                    mx = std::max(mx, s * scale);
                }
                double sum = 0;
                for (int64_t j = 0; j < L; j++) sum += (P[size_t(i * L + j)] = std::exp(P[size_t(i * L + j)] - mx));
                for (int64_t j = 0; j < L; j++) P[size_t(i * L + j)] /= sum;
            }
            for (int64_t i = 0; i < L; i++)
                for (int64_t d = 0; d < D; d++) {
                    double acc = 0;
                    for (int64_t j = 0; j < L; j++) acc += P[size_t(i * L + j)] * in.v[(s0 + j) * in.ldv + h * hsv + d];
                    out[(s0 + i) * C + h * D + d] = float(acc);
                }
        }
    }
}

}  // namespace tg
