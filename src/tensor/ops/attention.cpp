// attention.cpp — multi-head scaled dot-product attention as ONE autograd op, forward and backward side by side.
//
// Dimension letters: B sequences, T positions, C = NH·D channels, NH heads of D channels.
// q, k, v are the [B, T, C] outputs of the query/key/value Linears; head h of sequence b is the [T, D] block of
// columns h·D .. h·D+D of rows b·T .. b·T+T, read IN PLACE by the GEMM (leading dimension C): no [B, NH, T, D]
// permuted copies, no separate scale or mask passes, and the output is written straight back in [B, T, C].
//
// Forward, per (b, h) — one work item on one thread, so its T×T block stays in L2 between the three steps:
//   S   = scale · Q Kᵀ                              [T, T]   (scale folded into the GEMM's alpha)
//   P   = softmax(S + mask_add[b])                           (row softmax, additive padding mask over keys)
//   P'  = dropout(P)   keep(i) = philox_uniform(seed, i) >= p, i = flat index into [B, NH, T, T]
//   O   = P' V                                      [T, D]   -> out[b, :, h·D .. h·D+D]
// Saved for backward: q, k, v (the Linears' outputs, alive anyway) and P [B, NH, T, T].
//
// Backward, per (b, h), with dO = gout's block and a T×T scratch per thread:
//   dP' = dO Vᵀ;            dV = P'ᵀ dO                 (P' recomputed from P and the seed when p > 0)
//   dP  = dP' · keep / (1 - p)
//   dS  = P ⊙ (dP − rowsum(dP ⊙ P))                       (softmax backward, in place)
//   dQ  = scale · dS K;     dK = scale · dSᵀ Q
// Each (b, h) writes its own column block of dq, dk, dv: results do not depend on the thread count.
// The composite version (reshape/permute + matmul + softmax + dropout ops) computes the same numbers; the
// tests compare the two (tests/test_attention_op.cpp) and the whole model against PyTorch.
//
// attention_varlen is the same op on PACKED sequences: q, k, v [N, C] hold B sequences of lengths T_b back to
// back (no padding rows at all), sequence b attends within its own rows, and the work per (b, h) is T_b² instead
// of T². The training encoder (nn/bert_train.cpp) uses it to skip the padding of a batch: softmax over the real
// keys only is exactly what the -1e9 padding mask computes, so the real rows' results are the same.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "tensor/gemm.h"
#include "tensor/kernels.h"
#include "tensor/ops/ops.h"
#include "tensor/parallel.h"
#include "tensor/rng.h"
#ifdef _OPENMP
#include <omp.h>
#endif

namespace tg {

namespace {

// P' = P · keep / (1 - p) for the T×T block starting at flat index `base` of [B, NH, T, T].
void dropout_block(float* dst, const float* src, int64_t n, float p, uint64_t seed, int64_t base) {
    dropout_mask_scale(dst, src, n, p, seed, uint64_t(base), false);  // inside the caller's parallel region
}

int this_thread() {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

}  // namespace

namespace {

// Where the sequences lie. Sequence b is rows off[b] .. off[b+1] of the [rows, C] q/k/v/out (length
// T_b = off[b+1] - off[b]); block (b, h) of the saved probabilities, and of the dropout mask's flat index, starts
// at pbase[b] + h·T_b² with pbase[b] = NH·Σ_{b'<b} T_b'². For B sequences of one length T that is b·T and
// i·T² (i = b·NH + h): exactly the [B, T, C] / [B, NH, T, T] layout of the padded op.
struct SeqLayout {
    std::vector<int64_t> off, pbase;
    int64_t max_len = 0, total_p = 0;
    SeqLayout(std::vector<int64_t> offsets, int64_t NH) : off(std::move(offsets)) {
        const size_t B = off.size() - 1;
        pbase.resize(B);
        for (size_t b = 0; b < B; b++) {
            const int64_t T = off[b + 1] - off[b];
            pbase[b] = total_p;
            total_p += NH * T * T;
            max_len = std::max(max_len, T);
        }
    }
    int64_t batch() const { return int64_t(off.size()) - 1; }
};

// The op for both entry points: q, k, v f32 contiguous with C columns; `mask` (optional) [B, T] additive over
// the keys of each sequence (padded layout only).
Tensor attention_impl(const char* name, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                      std::shared_ptr<const SeqLayout> L, int64_t NH, float scale, float p, uint64_t seed) {
    const int64_t C = q.size(-1), D = C / NH, B = L->batch();
    Tensor out = Tensor::empty(q.shape()), P = Tensor::empty({L->total_p});
    const int nt = num_threads();
    const int64_t TTmax = L->max_len * L->max_len;
    Tensor scratch = p > 0.0f ? Tensor::empty({int64_t(nt), TTmax}) : Tensor();
    const float *pq = q.data<float>(), *pk = k.data<float>(), *pv = v.data<float>();
    const float* pm = mask.defined() ? mask.data<float>() : nullptr;
    float *po = out.data<float>(), *pP = P.data<float>();
    float* ps = scratch.defined() ? scratch.data<float>() : nullptr;
    // The GEMMs and the softmax inside run single-threaded (nested OpenMP regions get one thread).
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int64_t i = 0; i < B * NH; i++) {
        const int64_t b = i / NH, h = i % NH, T = L->off[size_t(b) + 1] - L->off[size_t(b)], TT = T * T;
        if (T == 0) continue;
        const int64_t off = L->off[size_t(b)] * C + h * D, pb = L->pbase[size_t(b)] + h * TT;
        float* S = pP + pb;
        gemm_f32(false, true, T, T, D, scale, pq + off, C, pk + off, C, 0.0f, S, T);  // S = scale Q Kᵀ
        softmax_forward(S, S, pm ? pm + b * T : nullptr, T, T, T);                      // P, in place
        const float* A = S;
        if (p > 0.0f) {
            float* Pd = ps + int64_t(this_thread()) * TTmax;
            dropout_block(Pd, S, TT, p, seed, pb);
            A = Pd;
        }
        gemm_f32(false, false, T, D, T, 1.0f, A, T, pv + off, C, 0.0f, po + off, C);  // O = P' V
    }
    return record(out, name, {q, k, v}, [q, k, v, P, L, C, NH, D, scale, p, seed, nt](
                                            const Tensor& g_in, const std::vector<bool>& need) {
        const Tensor g = g_in.contiguous();
        Tensor dq = Tensor::empty(q.shape()), dk = Tensor::empty(q.shape()), dv = Tensor::empty(q.shape());
        const int64_t B = L->batch(), TTmax = L->max_len * L->max_len;
        // per thread: dP (T×T) and, with dropout, P' (T×T)
        const int64_t wstride = (p > 0.0f ? 2 : 1) * TTmax;
        Tensor work = Tensor::empty({int64_t(nt), wstride});
        const float *pq = q.data<float>(), *pk = k.data<float>(), *pv = v.data<float>(), *pg = g.data<float>();
        const float* pP = P.data<float>();
        float *pdq = dq.data<float>(), *pdk = dk.data<float>(), *pdv = dv.data<float>(), *pw = work.data<float>();
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
        for (int64_t i = 0; i < B * NH; i++) {
            const int64_t b = i / NH, h = i % NH, T = L->off[size_t(b) + 1] - L->off[size_t(b)], TT = T * T;
            if (T == 0) continue;
            const int64_t off = L->off[size_t(b)] * C + h * D, pb = L->pbase[size_t(b)] + h * TT;
            const float* Pi = pP + pb;
            float* dP = pw + int64_t(this_thread()) * wstride;
            const float* A = Pi;  // P' (what multiplied V)
            if (p > 0.0f) {
                float* Pd = dP + TTmax;
                dropout_block(Pd, Pi, TT, p, seed, pb);
                A = Pd;
            }
            gemm_f32(false, true, T, T, D, 1.0f, pg + off, C, pv + off, C, 0.0f, dP, T);  // dP' = dO Vᵀ
            gemm_f32(true, false, T, D, T, 1.0f, A, T, pg + off, C, 0.0f, pdv + off, C);  // dV = P'ᵀ dO
            if (p > 0.0f) dropout_block(dP, dP, TT, p, seed, pb);                          // dP = dP' keep/(1-p)
            softmax_backward(dP, dP, Pi, T, T);                                           // dS, in place
            gemm_f32(false, false, T, D, T, scale, dP, T, pk + off, C, 0.0f, pdq + off, C);  // dQ = scale dS K
            gemm_f32(true, false, T, D, T, scale, dP, T, pq + off, C, 0.0f, pdk + off, C);   // dK = scale dSᵀ Q
        }
        return std::vector<Tensor>{need[0] ? dq : Tensor(), need[1] ? dk : Tensor(), need[2] ? dv : Tensor()};
    });
}

Tensor f32c(const Tensor& t) { return (t.dtype() == DType::f32 ? t : t.to(DType::f32)).contiguous(); }

void check_qkv(const char* name, const Tensor& q, const Tensor& k, const Tensor& v, int64_t rank, int64_t NH, float p) {
    require_cpu(name, {&q, &k, &v});
    TG_CHECK(q.dim() == rank && k.shape() == q.shape() && v.shape() == q.shape(), name, ": q ", q.str(), ", k ", k.str(),
             ", v ", v.str(), rank == 3 ? " must all be [B, T, C]" : " must all be [N, C]");
    TG_CHECK(NH > 0 && q.size(-1) % NH == 0, name, ": C = ", q.size(-1), " is not a multiple of ", NH, " heads");
    TG_CHECK(p >= 0.0f && p < 1.0f, name, ": dropout p = ", p, " must be in [0, 1)");
}

}  // namespace

Tensor attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const Tensor& mask_in, int64_t NH,
                 float scale, float p, uint64_t seed) {
    check_qkv("attention", q_in, k_in, v_in, 3, NH, p);
    const int64_t B = q_in.size(0), T = q_in.size(1);
    Tensor mask;
    if (mask_in.defined()) {
        mask = f32c(mask_in.detach());
        TG_CHECK((mask.shape() == Shape{B, T}), "attention: mask ", mask.str(), " must be [B, T] = [", B, ", ", T, "]");
    }
    std::vector<int64_t> off(size_t(B) + 1);
    for (int64_t b = 0; b <= B; b++) off[size_t(b)] = b * T;
    return attention_impl("attention", f32c(q_in), f32c(k_in), f32c(v_in), mask,
                          std::make_shared<const SeqLayout>(std::move(off), NH), NH, scale, p, seed);
}

Tensor attention_varlen(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                        const std::vector<int64_t>& offsets, int64_t NH, float scale, float p, uint64_t seed) {
    check_qkv("attention_varlen", q_in, k_in, v_in, 2, NH, p);
    TG_CHECK(offsets.size() >= 2 && offsets.front() == 0 && offsets.back() == q_in.size(0),
             "attention_varlen: offsets must run from 0 to N = ", q_in.size(0), " (", offsets.size(), " given)");
    for (size_t b = 0; b + 1 < offsets.size(); b++)
        TG_CHECK(offsets[b] <= offsets[b + 1], "attention_varlen: offsets decrease at sequence ", b, " (", offsets[b],
                 " > ", offsets[b + 1], ")");
    return attention_impl("attention_varlen", f32c(q_in), f32c(k_in), f32c(v_in), Tensor(),
                          std::make_shared<const SeqLayout>(offsets, NH), NH, scale, p, seed);
}

}  // namespace tg
