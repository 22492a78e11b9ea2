// layers.h — Module (micrograd's nn.py, in C++) and the basic layers: Linear, Embedding, LayerNorm,
// Dropout.
//
// A Module owns parameter tensors (leaves with requires_grad) and child modules, each registered
// under a name; named_parameters() walks the tree and returns dotted names ("encoder.0.fc.weight"),
// which are also the checkpoint keys (nn/checkpoint.h). Modules are not copyable (children are
// referenced by address), so hold them by value as members or by unique_ptr.
//
// Initialization follows PyTorch's defaults so recipes carry over: Linear weight and bias
// ~ U(-1/sqrt(IN), 1/sqrt(IN)); Embedding ~ N(0, stddev) (1 by default, BERT uses 0.02);
// LayerNorm weight 1, bias 0. Random init is Philox-seeded: same numbers on every machine.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tensor/ops/ops.h"

namespace tg::nn {

class Module {
   public:
    Module() = default;
    virtual ~Module() = default;
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;

    std::vector<std::pair<std::string, Tensor>> named_parameters() const;
    std::vector<Tensor> parameters() const;
    void zero_grad();
    void train(bool on = true);  // this module and every child
    void eval() { train(false); }
    bool training() const { return training_; }
    int64_t num_parameters() const;

   protected:
    Tensor register_parameter(const std::string& name, Tensor t);  // marks it requires_grad
    void register_module(const std::string& name, Module& child);

   private:
    std::vector<std::pair<std::string, Tensor>> params_;
    std::vector<std::pair<std::string, Module*>> children_;
    bool training_ = true;
};

// y[..., OUT] = x[..., IN] · weightᵀ + bias;  weight [OUT, IN], bias [OUT]
class Linear : public Module {
   public:
    Linear(int64_t in, int64_t out, bool bias = true, uint64_t seed = 0);
    Tensor forward(const Tensor& x) const { return linear(x, weight, bias); }
    Tensor weight, bias;
};

// y[S..., C] = weight[ids[S...], :];  weight [V, C]
class Embedding : public Module {
   public:
    Embedding(int64_t num, int64_t dim, uint64_t seed = 0, float stddev = 1.0f);
    Tensor forward(const Tensor& ids) const { return embedding(weight, ids); }
    Tensor weight;
};

// normalize the last dim C, then scale and shift: weight [C], bias [C]
class LayerNorm : public Module {
   public:
    explicit LayerNorm(int64_t dim, float eps = 1e-5f);
    Tensor forward(const Tensor& x) const { return layer_norm(x, weight, bias, eps); }
    Tensor weight, bias;
    float eps;
};

// Inverted dropout while training (identity in eval). Each call draws a fresh stream id from the
// global Philox generator (tg::manual_seed makes a run reproducible), unless a seed is given.
class Dropout : public Module {
   public:
    explicit Dropout(float p) : p(p) {}
    Tensor forward(const Tensor& x) const;
    Tensor forward(const Tensor& x, uint64_t seed) const { return dropout(x, p, training(), seed); }
    float p;
};

}  // namespace tg::nn
