// heads.cpp — task heads, their losses and loss balancing (see heads.h).
#include "nn/heads.h"

#include <cmath>

#include "tensor/rng.h"

namespace tg::nn {

const char* task_kind_name(TaskKind k) {
    switch (k) {
        case TaskKind::softmax: return "softmax";
        case TaskKind::multilabel: return "multilabel";
        case TaskKind::binary: return "binary";
        case TaskKind::regression: return "regression";
        case TaskKind::similarity: return "similarity";
        case TaskKind::mlm: return "mlm";
    }
    return "?";
}

TaskKind task_kind_parse(const std::string& s) {
    for (TaskKind k : {TaskKind::softmax, TaskKind::multilabel, TaskKind::binary, TaskKind::regression,
                       TaskKind::similarity, TaskKind::mlm})
        if (s == task_kind_name(k)) return k;
    TG_FAIL("unknown task kind '", s, "' (softmax, multilabel, binary, regression, similarity, mlm)");
}

LinearHead::LinearHead(TaskKind kind_, int64_t in, int64_t out, uint64_t seed) : kind(kind_) {
    TG_CHECK(kind != TaskKind::similarity && kind != TaskKind::mlm, "LinearHead: kind ", task_kind_name(kind),
             " has no linear head");
    weight = register_parameter("weight", Tensor::randn({out, in}, seed, 0.02f));
    bias = register_parameter("bias", Tensor::zeros({out}));
}

Tensor LinearHead::loss(const Tensor& out, const Tensor& target) const {
    switch (kind) {
        case TaskKind::softmax: return cross_entropy(out, target);
        case TaskKind::multilabel: return bce_with_logits(out, target);
        case TaskKind::binary: return bce_with_logits(out.reshape({-1}), target);
        case TaskKind::regression: return mse_loss(out.reshape({-1}), target);
        default: TG_FAIL("LinearHead::loss: kind ", task_kind_name(kind));
    }
}

Tensor info_nce(const Tensor& a, const Tensor& b, float tau) {
    TG_CHECK(a.dim() == 2 && a.shape() == b.shape(), "info_nce: a ", a.str(), " and b ", b.str(),
             " must both be [B, C]");
    TG_CHECK(tau > 0, "info_nce: temperature must be > 0, got ", tau);
    // S[i, j] = <â_i, b̂_j> / τ with â = a/‖a‖: the cosine similarity of every pair in the batch
    Tensor s = matmul(l2_normalize(a), l2_normalize(b).transpose(0, 1)) * (1.0f / tau);  // [B, B]
    return cross_entropy(s, Tensor::arange(a.size(0), DType::i64));
}

MLMHead::MLMHead(int64_t C, int64_t V, const Tensor& word_, float eps, bool tanh_gelu, uint64_t seed)
    : word(word_), ln_eps(eps), gelu_tanh(tanh_gelu) {
    TG_CHECK(word.dim() == 2 && word.size(0) == V && word.size(1) == C, "MLMHead: word embeddings ", word.str(),
             ", expected [", V, ", ", C, "]");
    dense_w = register_parameter("transform.dense.weight", Tensor::randn({C, C}, seed, 0.02f));
    dense_b = register_parameter("transform.dense.bias", Tensor::zeros({C}));
    ln_w = register_parameter("transform.LayerNorm.weight", Tensor::ones({C}));
    ln_b = register_parameter("transform.LayerNorm.bias", Tensor::zeros({C}));
    bias = register_parameter("bias", Tensor::zeros({V}));
}

Tensor MLMHead::forward(const Tensor& hidden) const {
    Tensor t = layer_norm(gelu(linear(hidden, dense_w, dense_b), gelu_tanh), ln_w, ln_b, ln_eps);
    return linear(t, word, bias);  // tied decoder: logits = t Eᵀ + b
}

Tensor MLMHead::masked_logits(const Tensor& hidden, const Tensor& labels, std::vector<int64_t>* targets) const {
    const int64_t C = hidden.size(-1);
    // only the masked rows reach the [*, V] decoder: gather them first (saves V/C-fold work on the rest)
    std::vector<int64_t> rows;
    targets->clear();
    const std::vector<int64_t> lab = labels.to_ints();
    for (size_t i = 0; i < lab.size(); ++i)
        if (lab[i] != -100) rows.push_back(int64_t(i)), targets->push_back(lab[i]);
    TG_CHECK(!rows.empty(), "MLMHead: no masked position in the batch");
    Tensor h = index_select(hidden.reshape({-1, C}), 0, Tensor::from_ints(rows, {int64_t(rows.size())}));
    return forward(h);
}

Tensor MLMHead::loss(const Tensor& hidden, const Tensor& labels) const {
    std::vector<int64_t> ys;
    Tensor logits = masked_logits(hidden, labels, &ys);
    return cross_entropy(logits, Tensor::from_ints(ys, {int64_t(ys.size())}));
}

LossBalancer::LossBalancer(Mode mode_, std::vector<std::string> tasks_, std::vector<float> weights_)
    : mode(mode_), tasks(std::move(tasks_)), weights(std::move(weights_)) {
    if (weights.empty()) weights.assign(tasks.size(), 1.0f);
    TG_CHECK(weights.size() == tasks.size(), "LossBalancer: ", weights.size(), " weights for ", tasks.size(), " tasks");
    if (mode == Mode::uncertainty)
        for (auto& t : tasks) s.push_back(register_parameter("s." + t, Tensor::zeros({})));
}

Tensor LossBalancer::combine(const std::vector<Tensor>& losses) const {
    TG_CHECK(losses.size() == tasks.size(), "LossBalancer: ", losses.size(), " losses for ", tasks.size(), " tasks");
    Tensor total;
    for (size_t t = 0; t < losses.size(); ++t) {
        Tensor x = term(t, losses[t]);
        total = total.defined() ? total + x : x;
    }
    return total;
}

Tensor LossBalancer::term(size_t t, const Tensor& loss) const {
    TG_CHECK(t < tasks.size(), "LossBalancer: task ", t, " of ", tasks.size());
    return mode == Mode::fixed ? loss * weights[t] : exp(-s[t]) * loss + s[t];
}

Tensor pcgrad(const std::vector<Tensor>& grads, uint64_t seed, SurgeryStats* stats) {
    TG_CHECK(!grads.empty(), "pcgrad: no gradients");
    const size_t T = grads.size();
    std::vector<std::vector<double>> g(T);
    for (size_t t = 0; t < T; ++t) {
        TG_CHECK(grads[t].shape() == grads[0].shape(), "pcgrad: gradient ", t, " has shape ",
                 shape_str(grads[t].shape()), ", gradient 0 ", shape_str(grads[0].shape()));
        const std::vector<float> v = grads[t].to_vector();
        g[t].assign(v.begin(), v.end());
    }
    const size_t n = g[0].size();
    auto dot = [n](const std::vector<double>& a, const std::vector<double>& b) {
        double s = 0;
        for (size_t i = 0; i < n; ++i) s += a[i] * b[i];
        return s;
    };
    std::vector<double> norm2(T), out(n, 0.0);
    for (size_t t = 0; t < T; ++t) norm2[t] = dot(g[t], g[t]);
    if (stats)
        for (size_t t = 0; t < T; ++t)
            for (size_t s = t + 1; s < T; ++s) {
                const double d = dot(g[t], g[s]), den = std::sqrt(norm2[t] * norm2[s]);
                ++stats->pairs;
                stats->conflicts += d < 0;
                stats->cos_sum += den > 0 ? d / den : 0.0;
            }
    uint32_t draw = 0;
    for (size_t t = 0; t < T; ++t) {
        std::vector<double> p = g[t];
        std::vector<size_t> order;
        for (size_t s = 0; s < T; ++s)
            if (s != t) order.push_back(s);
        for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[philox4x32({draw++, 0, 0, 0}, seed)[0] % i]);
        for (size_t s : order) {
            const double d = dot(p, g[s]);
            if (d < 0 && norm2[s] > 0)
                for (size_t i = 0; i < n; ++i) p[i] -= d / norm2[s] * g[s][i];
        }
        for (size_t i = 0; i < n; ++i) out[i] += p[i];
    }
    return Tensor::from_vector(std::vector<float>(out.begin(), out.end()), grads[0].shape());
}

}  // namespace tg::nn
