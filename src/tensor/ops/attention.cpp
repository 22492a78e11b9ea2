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
#include <cmath>
#include <cstring>

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

Tensor attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const Tensor& mask_in, int64_t NH,
                 float scale, float p, uint64_t seed) {
    require_cpu("attention", {&q_in, &k_in, &v_in});
    TG_CHECK(q_in.dim() == 3 && k_in.shape() == q_in.shape() && v_in.shape() == q_in.shape(), "attention: q ",
             q_in.str(), ", k ", k_in.str(), ", v ", v_in.str(), " must all be [B, T, C]");
    TG_CHECK(NH > 0 && q_in.size(2) % NH == 0, "attention: C = ", q_in.size(2), " is not a multiple of ", NH, " heads");
    TG_CHECK(p >= 0.0f && p < 1.0f, "attention: dropout p = ", p, " must be in [0, 1)");
    const int64_t B = q_in.size(0), T = q_in.size(1), C = q_in.size(2), D = C / NH;
    auto f32c = [](const Tensor& t) { return (t.dtype() == DType::f32 ? t : t.to(DType::f32)).contiguous(); };
    const Tensor q = f32c(q_in), k = f32c(k_in), v = f32c(v_in);
    Tensor mask;
    if (mask_in.defined()) {
        mask = f32c(mask_in.detach());
        TG_CHECK((mask.shape() == Shape{B, T}), "attention: mask ", mask.str(), " must be [B, T] = [", B, ", ", T, "]");
    }
    Tensor out = Tensor::empty({B, T, C}), P = Tensor::empty({B, NH, T, T});
    const int nt = num_threads();
    Tensor scratch = p > 0.0f ? Tensor::empty({int64_t(nt), T, T}) : Tensor();
    const float *pq = q.data<float>(), *pk = k.data<float>(), *pv = v.data<float>();
    const float* pm = mask.defined() ? mask.data<float>() : nullptr;
    float *po = out.data<float>(), *pP = P.data<float>();
    float* ps = scratch.defined() ? scratch.data<float>() : nullptr;
    const int64_t TT = T * T;
    // The GEMMs and the softmax inside run single-threaded (nested OpenMP regions get one thread).
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int64_t i = 0; i < B * NH; i++) {
        const int64_t b = i / NH, h = i % NH, off = b * T * C + h * D;
        float* S = pP + i * TT;
        gemm_f32(false, true, T, T, D, scale, pq + off, C, pk + off, C, 0.0f, S, T);  // S = scale Q Kᵀ
        softmax_forward(S, S, pm ? pm + b * T : nullptr, T, T, T);                      // P, in place
        const float* A = S;
        if (p > 0.0f) {
            float* Pd = ps + int64_t(this_thread()) * TT;
            dropout_block(Pd, S, TT, p, seed, i * TT);
            A = Pd;
        }
        gemm_f32(false, false, T, D, T, 1.0f, A, T, pv + off, C, 0.0f, po + off, C);  // O = P' V
    }
    return record(out, "attention", {q, k, v}, [q, k, v, P, B, T, C, NH, D, scale, p, seed, nt](
                                                     const Tensor& g_in, const std::vector<bool>& need) {
        const Tensor g = g_in.contiguous();
        Tensor dq = Tensor::empty({B, T, C}), dk = Tensor::empty({B, T, C}), dv = Tensor::empty({B, T, C});
        const int64_t TT = T * T;
        // per thread: dP (T×T) and, with dropout, P' (T×T)
        Tensor work = Tensor::empty({int64_t(nt), p > 0.0f ? 2 : 1, T, T});
        const float *pq = q.data<float>(), *pk = k.data<float>(), *pv = v.data<float>(), *pg = g.data<float>();
        const float* pP = P.data<float>();
        float *pdq = dq.data<float>(), *pdk = dk.data<float>(), *pdv = dv.data<float>(), *pw = work.data<float>();
        const int64_t wstride = (p > 0.0f ? 2 : 1) * TT;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
        for (int64_t i = 0; i < B * NH; i++) {
            const int64_t b = i / NH, h = i % NH, off = b * T * C + h * D;
            const float* Pi = pP + i * TT;
            float* dP = pw + int64_t(this_thread()) * wstride;
            const float* A = Pi;  // P' (what multiplied V)
            if (p > 0.0f) {
                float* Pd = dP + TT;
                dropout_block(Pd, Pi, TT, p, seed, i * TT);
                A = Pd;
            }
            gemm_f32(false, true, T, T, D, 1.0f, pg + off, C, pv + off, C, 0.0f, dP, T);  // dP' = dO Vᵀ
            gemm_f32(true, false, T, D, T, 1.0f, A, T, pg + off, C, 0.0f, pdv + off, C);  // dV = P'ᵀ dO
            if (p > 0.0f) dropout_block(dP, dP, TT, p, seed, i * TT);                      // dP = dP' keep/(1-p)
            softmax_backward(dP, dP, Pi, T, T);                                           // dS, in place
            gemm_f32(false, false, T, D, T, scale, dP, T, pk + off, C, 0.0f, pdq + off, C);  // dQ = scale dS K
            gemm_f32(true, false, T, D, T, scale, dP, T, pq + off, C, 0.0f, pdk + off, C);   // dK = scale dSᵀ Q
        }
        return std::vector<Tensor>{need[0] ? dq : Tensor(), need[1] ? dk : Tensor(), need[2] ? dv : Tensor()};
    });
}

}  // namespace tg
