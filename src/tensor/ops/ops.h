// ops.h — the differentiable tensor operations (CPU forward and backward), one place to look them up.
//
// Every op: checks device (cpu; cuda throws "not implemented on cuda"), dtype (f32 math; bf16/f16 inputs
// are converted with .to(f32) first by the caller) and shapes with messages that print them, computes
// the output with the fast kernel, and records its backward closure (autograd.h) next to the forward
// code in the same .cpp file. Each op also has a plain double-precision reference in ops/ref.h that
// the tests compare against and take finite differences through.
//
// Files: elementwise.cpp (arith, broadcasting, unary math), reduce.cpp (sum/mean/max), matmul.cpp
// (matmul, bmm, linear), nn.cpp (softmax, log_softmax, layer_norm, gelu, embedding, dropout), attention.cpp,
// index.cpp (concat, split, index_select, gather), loss.cpp (cross_entropy, BCE, MSE, cosine, L2).
//
// Broadcasting follows NumPy/PyTorch: shapes are right-aligned, a dim of size 1 stretches.
// Axis arguments may be negative (counted from the end).
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/autograd.h"
#include "tensor/tensor.h"

namespace tg {

// ---- elementwise (broadcasting) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add_scalar(const Tensor& a, float s);
Tensor mul_scalar(const Tensor& a, float s);
Tensor pow_scalar(const Tensor& a, float p);  // a^p (a > 0 unless p is an integer)
Tensor neg(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor tanh(const Tensor& a);
Tensor sigmoid(const Tensor& a);
Tensor relu(const Tensor& a);     // gradient at 0 taken as 0
Tensor gelu(const Tensor& a, bool tanh_approx = false);
Tensor clamp_min(const Tensor& a, float lo);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, float s) { return add_scalar(a, s); }
inline Tensor operator-(const Tensor& a, float s) { return add_scalar(a, -s); }
inline Tensor operator*(const Tensor& a, float s) { return mul_scalar(a, s); }
inline Tensor operator/(const Tensor& a, float s) { return mul_scalar(a, 1.0f / s); }
inline Tensor operator*(float s, const Tensor& a) { return mul_scalar(a, s); }
inline Tensor operator-(const Tensor& a) { return neg(a); }

// ---- reductions ----
Tensor sum(const Tensor& a);  // all elements -> shape []
Tensor sum(const Tensor& a, std::vector<int64_t> axes, bool keepdim = false);
Tensor mean(const Tensor& a);
Tensor mean(const Tensor& a, std::vector<int64_t> axes, bool keepdim = false);
Tensor max(const Tensor& a, int64_t axis, bool keepdim = false);  // gradient to the first maximum
Tensor argmax(const Tensor& a, int64_t axis);                     // i64, not differentiable

// ---- matrix products (tg::gemm_* underneath) ----
// a [..., M, K] · b [..., K, N] -> [..., M, N]. b may be 2-D (shared by every batch); otherwise the
// batch dims must match. Transposed views (x.transpose(-1, -2)) and strided batches reach the GEMM
// without a copy.
Tensor matmul(const Tensor& a, const Tensor& b);
// y[..., OUT] = x[..., IN] · weight[OUT, IN]ᵀ + bias[OUT] (PyTorch's nn.Linear layout); bias optional.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());
// linear() with its GEMMs (forward, dx, dw) on bf16-rounded operands, f32 accumulation and results
// (torch.autocast's bf16 Linear): twice the f32 GEMM rate on avx512_bf16 CPUs, ~3 significant digits.
Tensor linear_bf16(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// ---- neural-net ops ----
// softmax over the last dim of x [..., C] with an optional additive mask broadcastable to x
// (e.g. [B, 1, 1, T] for attention [B, NH, T, T]; -inf or -1e4 hides an entry).
Tensor softmax(const Tensor& x, const Tensor& mask = Tensor());
Tensor log_softmax(const Tensor& x, const Tensor& mask = Tensor());
// layer norm over the last dim: x [..., C], weight/bias [C] (optional)
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps = 1e-5f);
// rows of table [V, C] picked by ids (i32/i64, any shape S) -> [S..., C]; backward = scatter-add
Tensor embedding(const Tensor& table, const Tensor& ids);
// inverted dropout: y = x * keep / (1 - p), keep[i] = philox_uniform(seed, i) >= p. Identity when
// !training or p == 0. The mask depends only on (seed, i): same result for any thread count.
Tensor dropout(const Tensor& x, float p, bool training, uint64_t seed);

// Multi-head attention on [B, T, C] activations (C = NH·D heads read in place, no permuted copies; attention.cpp):
//   out[b, :, h] = dropout(softmax(scale · q[b, :, h] k[b, :, h]ᵀ + mask_add[b])) v[b, :, h]
// mask_add [B, T] additive over keys (0 real, -1e9 padding; a constant), or undefined. Dropout p on the
// probabilities with the mask of dropout(·, p, true, seed) on a [B, NH, T, T] tensor; p = 0: none.
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask_add, int64_t num_heads,
                 float scale, float p = 0.0f, uint64_t seed = 0);
// The same on packed variable-length sequences: q, k, v [N, C] hold B sequences back to back, sequence b in rows
// offsets[b] .. offsets[b+1] (B + 1 non-decreasing offsets from 0 to N); each attends only to its own rows, so
// no mask and no work on padding. Dropout: block (b, h) of the mask starts at flat index
// NH·Σ_{b'<b} T_b'² + h·T_b² (T_b = offsets[b+1] - offsets[b]); equal lengths give attention()'s mask.
Tensor attention_varlen(const Tensor& q, const Tensor& k, const Tensor& v, const std::vector<int64_t>& offsets,
                        int64_t num_heads, float scale, float p = 0.0f, uint64_t seed = 0);

// ---- indexing ----
Tensor concat(const std::vector<Tensor>& ts, int64_t axis);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t axis);
// out = x.index_select(axis, index): index i32/i64 1-D; backward = scatter-add
Tensor index_select(const Tensor& x, int64_t axis, const Tensor& index);
// out[..., j, ...] = x[..., index[..., j, ...], ...] along axis (torch.gather); index same rank as x
Tensor gather(const Tensor& x, int64_t axis, const Tensor& index);

// ---- losses and similarities (mean over the non-ignored rows) ----
// logits [N, C], target i32/i64 [N]; rows with target == ignore_index do not count.
// label_smoothing eps: target distribution (1 - eps) one-hot + eps / C uniform (PyTorch's definition).
Tensor cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index = -100,
                     float label_smoothing = 0.0f);
// mean of max(x,0) - x t + log(1 + exp(-|x|)), the stable form of BCE(sigmoid(x), t)
Tensor bce_with_logits(const Tensor& logits, const Tensor& target);
Tensor mse_loss(const Tensor& pred, const Tensor& target);
// along the last dim: x / max(||x||, eps)
Tensor l2_normalize(const Tensor& x, float eps = 1e-12f);
// along the last dim: <a,b> / max(||a|| ||b||, eps)   (PyTorch cosine_similarity, eps clamp on the product)
Tensor cosine_similarity(const Tensor& a, const Tensor& b, float eps = 1e-8f);

}  // namespace tg
