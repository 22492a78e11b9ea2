// layers.cpp — see layers.h.
#include "nn/layers.h"

#include <cmath>

#include "tensor/rng.h"

namespace tg::nn {

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
    // iterative walk (modules can nest deeply, e.g. 12 encoder layers x several sub-blocks)
    std::vector<std::pair<std::string, Tensor>> out;
    std::vector<std::pair<std::string, const Module*>> stack{{"", this}};
    while (!stack.empty()) {
        auto [prefix, m] = stack.back();
        stack.pop_back();
        for (const auto& [n, t] : m->params_) out.emplace_back(prefix + n, t);
        for (auto it = m->children_.rbegin(); it != m->children_.rend(); ++it)
            stack.emplace_back(prefix + it->first + ".", it->second);
    }
    return out;
}

std::vector<Tensor> Module::parameters() const {
    std::vector<Tensor> r;
    for (auto& [n, t] : named_parameters()) r.push_back(t);
    return r;
}

void Module::zero_grad() {
    for (Tensor& t : parameters()) t.zero_grad();
}

void Module::train(bool on) {
    training_ = on;
    for (auto& [n, c] : children_) c->train(on);
}

int64_t Module::num_parameters() const {
    int64_t n = 0;
    for (auto& [name, t] : named_parameters()) n += t.numel();
    return n;
}

Tensor Module::register_parameter(const std::string& name, Tensor t) {
    for (auto& [n, p] : params_) TG_CHECK(n != name, "register_parameter: duplicate name '", name, "'");
    t.set_requires_grad(true).set_name(name);
    params_.emplace_back(name, t);
    return t;
}

void Module::register_module(const std::string& name, Module& child) { children_.emplace_back(name, &child); }

Linear::Linear(int64_t in, int64_t out, bool with_bias, uint64_t seed) {
    const float bound = 1.0f / std::sqrt(float(in));  // PyTorch: kaiming_uniform(a=sqrt 5) == U(-1/sqrt(in), ..)
    weight = register_parameter("weight", Tensor::rand({out, in}, seed * 2 + 1, -bound, bound));
    if (with_bias) bias = register_parameter("bias", Tensor::rand({out}, seed * 2 + 2, -bound, bound));
}

Embedding::Embedding(int64_t num, int64_t dim, uint64_t seed, float stddev) {
    weight = register_parameter("weight", Tensor::randn({num, dim}, seed * 2 + 1, stddev));
}

LayerNorm::LayerNorm(int64_t dim, float eps_) : eps(eps_) {
    weight = register_parameter("weight", Tensor::ones({dim}));
    bias = register_parameter("bias", Tensor::zeros({dim}));
}

Tensor Dropout::forward(const Tensor& x) const {
    if (!training() || p == 0.0f) return x;
    return dropout(x, p, true, default_generator().next_seed());
}

}  // namespace tg::nn
