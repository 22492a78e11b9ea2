// heads.h — task heads on a shared encoder, their losses, and loss balancing across tasks.
//
// Every head reads the pooled sentence vector z [B, C] (or, for the MLM head, the hidden states [B, T, C])
// and returns its loss as a scalar tensor, so any number of heads can hang off one BertTrainable and
// their losses are combined by a LossBalancer before one backward pass.
//
//   kind         output                 loss (mean over the batch)
//   softmax      logits [B, K]          cross-entropy with class ids y [B]
//   multilabel   logits [B, K]          BCE-with-logits against 0/1 targets [B, K] (mean over B·K)
//   binary       logit  [B, 1]          BCE-with-logits against y [B] in {0, 1}
//   regression   value  [B, 1]          MSE against y [B]
//   similarity   —                      in-batch-negative InfoNCE on pairs (a_i, b_i):
//                                         S = cos(a_i, b_j) / τ  [B, B];  L = CE(S, diag) (row i's positive is b_i)
//   mlm          logits [B, T, V]       cross-entropy on masked positions only (labels -100 elsewhere)
//                                         transform = LayerNorm(gelu(h Wtᵀ + bt)); logits = transform · Eᵀ + b,
//                                         E the encoder's word embeddings (tied decoder, as BertForMaskedLM)
// Linear heads are initialised like the reference (tools/ref/finetune_reference.py): W ~ N(0, 0.02), b = 0.
//
// Loss balancing (LossBalancer):
//   fixed        L = Σ_t w_t L_t
//   uncertainty  L = Σ_t exp(−s_t) L_t + s_t    (Kendall, Gal & Cipolla 2018; s_t = log σ_t², learned, init 0)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "nn/layers.h"

namespace tg::nn {

enum class TaskKind { softmax, multilabel, binary, regression, similarity, mlm };
const char* task_kind_name(TaskKind k);
TaskKind task_kind_parse(const std::string& s);  // throws on an unknown name, listing the valid ones

// Linear head for softmax / multilabel / binary / regression: out = z Wᵀ + b, W [K, C].
class LinearHead : public Module {
   public:
    LinearHead(TaskKind kind, int64_t in, int64_t out, uint64_t seed);
    Tensor forward(const Tensor& z) const { return linear(z, weight, bias); }  // [B, K]
    // target: softmax i32/i64 [B]; multilabel f32 [B, K]; binary / regression f32 [B].
    Tensor loss(const Tensor& out, const Tensor& target) const;
    TaskKind kind;
    Tensor weight, bias;
};

// InfoNCE with in-batch negatives: a, b [B, C] (pair i = (a_i, b_i)), temperature tau.
Tensor info_nce(const Tensor& a, const Tensor& b, float tau);

// Masked-LM head tied to the word embeddings `word` [V, C] (not owned).
class MLMHead : public Module {
   public:
    MLMHead(int64_t C, int64_t V, const Tensor& word, float ln_eps, bool gelu_tanh, uint64_t seed);
    Tensor forward(const Tensor& hidden) const;                      // [B, T, C] -> [B, T, V]
    Tensor loss(const Tensor& hidden, const Tensor& labels) const;   // labels [B, T] i64, -100 = ignore
    // logits [M, V] of the M labelled positions only (in row-major order); their labels go to *targets
    Tensor masked_logits(const Tensor& hidden, const Tensor& labels, std::vector<int64_t>* targets) const;
    Tensor dense_w, dense_b, ln_w, ln_b, bias;                       // HF: cls.predictions.transform.*, .bias
    Tensor word;
    float ln_eps;
    bool gelu_tanh;
};

class LossBalancer : public Module {
   public:
    enum class Mode { fixed, uncertainty };
    LossBalancer(Mode mode, std::vector<std::string> tasks, std::vector<float> weights);
    // losses[t] scalar, in the order of `tasks`; combine = Σ_t term(t, losses[t])
    Tensor combine(const std::vector<Tensor>& losses) const;
    // task t's share of the combined loss: w_t·L_t (fixed) or exp(−s_t)·L_t + s_t (uncertainty)
    Tensor term(size_t t, const Tensor& loss) const;
    Mode mode;
    std::vector<std::string> tasks;
    std::vector<float> weights;  // fixed mode
    std::vector<Tensor> s;       // uncertainty mode: parameters "s.<task>", shape []
};

// PCGrad ("gradient surgery", Yu et al., NeurIPS 2020): where two tasks' gradients conflict (g_t·g_s < 0),
// each loses its component along the other before they are summed:
//     for each t: p_t = g_t; for each s ≠ t (in a random order): if p_t·g_s < 0: p_t -= (p_t·g_s / |g_s|²) g_s
//     result = Σ_t p_t
// With two tasks the order does not matter; with more, `seed` draws it (one shuffle per t). Inputs: one
// f32 gradient per task, all of one shape (finetune applies it to ∂L_t/∂z at the pooled vector z). Dot
// products in double. Stats (optional) count the task pairs seen, those in conflict, and sum their cosines.
struct SurgeryStats {
    int64_t pairs = 0, conflicts = 0;
    double cos_sum = 0;
};
Tensor pcgrad(const std::vector<Tensor>& grads, uint64_t seed, SurgeryStats* stats = nullptr);

}  // namespace tg::nn
