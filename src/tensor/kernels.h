// kernels.h — raw-pointer f32 kernels for the transformer's non-GEMM layers.
//
// These are the hot loops under the Tensor ops (ops/*.cpp) and the BERT encoder. Every tensor is
// row-major and contiguous; dimension letters: N rows, C channels (last dim), n = element count.
//
// Two versions of each kernel, side by side (llm.c / ATen style):
//   <op>_forward / <op>_backward       the fast path: OpenMP over rows, SIMD loops (auto-vectorized,
//                                      compiled three times — baseline x86-64, AVX2, AVX-512 — and chosen
//                                      at run time by tg::cpu_isa(); TG_ISA=scalar|avx2|avx512 forces one),
//                                      exp/erf through vectorizable polynomial approximations (~1-7 ulp).
//   <op>_forward_ref / _backward_ref   plain loops with double accumulators and <cmath>: the definition of
//                                      "correct" that the tests compare against.
// Determinism: each output row is computed by exactly one thread in a fixed order, and the LayerNorm
// parameter gradients (sums over rows) are summed per fixed 32-row chunk, then over chunks in order —
// so results are bit-identical for any thread count.
//
// Accumulation rule (llm.c): activation gradients (dinp) are OVERWRITTEN; parameter gradients
// (dweight, dbias) are ACCUMULATED (+=), so a caller zeroes them once per step.
#pragma once
#include <cstdint>

namespace tg {

// ---- LayerNorm over the last dim ---------------------------------------------------------------
// out[N,C] = (inp[N,C] - mean[N]) * rstd[N] * weight[C] + bias[C],  rstd = 1/sqrt(var + eps),
// var = biased variance (divide by C, as PyTorch). mean/rstd [N] are outputs saved for backward;
// either may be nullptr when not needed. weight/bias may be nullptr (= 1 and 0).
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int64_t N, int64_t C, float eps);
// dinp[N,C] OVERWRITTEN; dweight[C], dbias[C] ACCUMULATED (either may be nullptr).
// mean, rstd: as saved by layernorm_forward (required). weight may be nullptr (= 1).
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int64_t N, int64_t C);

// ---- GELU --------------------------------------------------------------------------------------
// erf form (BERT):   gelu(x) = 0.5 x (1 + erf(x / sqrt(2)))
// tanh form (GPT-2): gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
void gelu_forward(float* out, const float* inp, int64_t n, bool tanh_approx);
// dinp[n] = dout[n] * gelu'(inp[n])   (OVERWRITTEN; dinp may alias dout)
void gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n, bool tanh_approx);

// ---- Softmax over the last dim with an optional additive mask ------------------------------------
// out[r,:] = softmax(inp[r,:] + mask[r / rows_per_mask, :]) for r < rows; mask may be nullptr.
// Example: attention scores [B,NH,T,T] with a padding mask [B,T] → rows = B*NH*T, cols = T,
// rows_per_mask = NH*T. A row whose every entry is -inf gives all zeros (not NaN).
void softmax_forward(float* out, const float* inp, const float* mask, int64_t rows, int64_t cols,
                     int64_t rows_per_mask);
// dinp[r,c] = out[r,c] * (dout[r,c] - sum_j dout[r,j] out[r,j])   (OVERWRITTEN; may alias dout)
void softmax_backward(float* dinp, const float* dout, const float* out, int64_t rows, int64_t cols);

// ---- scalar references (double accumulation, <cmath>) — same contracts as above ------------------
void layernorm_forward_ref(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                           const float* bias, int64_t N, int64_t C, float eps);
void layernorm_backward_ref(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                            const float* weight, const float* mean, const float* rstd, int64_t N, int64_t C);
void gelu_forward_ref(float* out, const float* inp, int64_t n, bool tanh_approx);
void gelu_backward_ref(float* dinp, const float* dout, const float* inp, int64_t n, bool tanh_approx);
void softmax_forward_ref(float* out, const float* inp, const float* mask, int64_t rows, int64_t cols,
                         int64_t rows_per_mask);
void softmax_backward_ref(float* dinp, const float* dout, const float* out, int64_t rows, int64_t cols);

// ---- vectorizable math used by the fast kernels (exposed for the elementwise ops and tests) ------
// Arrays of n floats; out may alias inp. exp: Cephes polynomial, <= 2 ulp, exact 0 below -87.3.
void vexp(float* out, const float* inp, int64_t n);
void vsigmoid(float* out, const float* inp, int64_t n);   // 1 / (1 + exp(-x))
void vtanh(float* out, const float* inp, int64_t n);      // rational approximation, rel. error < 5e-7
// Inverted dropout: out[i] = keep ? inp[i] / (1 - p) : 0 with keep = philox_uniform(seed, base + i) >= p
// (tensor/rng.h), exactly; `parallel` = false inside a parallel region (runs on the calling thread).
void dropout_mask_scale(float* out, const float* inp, int64_t n, float p, uint64_t seed, uint64_t base, bool parallel);

}  // namespace tg
