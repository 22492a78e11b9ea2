// optim.h — optimizers (SGD with momentum / Nesterov, AdamW), gradient clipping and learning-rate
// schedules, matching PyTorch's update rules (tests/test_optim.cpp compares against trajectories that
// tools/ref/optim_reference.py recorded from torch.optim and transformers' schedules).
//
// step() reads each parameter's .grad() (parameters without a gradient are skipped, as in PyTorch)
// and updates the parameter's data in place, outside autograd. State (momentum, Adam moments) lives
// in the optimizer, one f32 tensor per parameter, created on the first step.
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace tg::nn {

class Optimizer {
   public:
    explicit Optimizer(std::vector<Tensor> params, float lr) : params_(std::move(params)), lr(lr) {}
    virtual ~Optimizer() = default;
    virtual void step() = 0;
    void zero_grad();
    const std::vector<Tensor>& params() const { return params_; }
   protected:
    std::vector<Tensor> params_;
   public:
    float lr;  // may be changed between steps (schedules)
};

// PyTorch torch.optim.SGD:
//   g = grad + weight_decay * p
//   buf = g (first step) | momentum * buf + (1 - dampening) * g
//   g = nesterov ? g + momentum * buf : buf          (when momentum != 0)
//   p -= lr * g
class SGD : public Optimizer {
   public:
    SGD(std::vector<Tensor> params, float lr, float momentum = 0.0f, float dampening = 0.0f,
        float weight_decay = 0.0f, bool nesterov = false);
    void step() override;
    float momentum, dampening, weight_decay;
    bool nesterov;
   private:
    std::vector<Tensor> buf_;
};

// PyTorch torch.optim.AdamW (Loshchilov & Hutter, decoupled weight decay), at step t = 1, 2, ...:
//   p *= 1 - lr * weight_decay
//   m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
//   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
class AdamW : public Optimizer {
   public:
    AdamW(std::vector<Tensor> params, float lr = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f,
          float weight_decay = 1e-2f);
    void step() override;
    float beta1, beta2, eps, weight_decay;
    int64_t steps() const { return t_; }
   private:
    std::vector<Tensor> m_, v_;
    int64_t t_ = 0;
};

// torch.nn.utils.clip_grad_norm_: total = sqrt(sum of squared gradient entries over all params);
// if total > max_norm, every gradient is scaled by max_norm / (total + 1e-6). Returns total.
float clip_grad_norm(const std::vector<Tensor>& params, float max_norm);

// Linear warm-up from 0 to base_lr over warmup_steps, then linear or cosine decay to 0 at total_steps
// (transformers' get_linear_schedule_with_warmup / get_cosine_schedule_with_warmup):
//   step < warmup:  base_lr * step / warmup
//   otherwise:      progress = (step - warmup) / (total - warmup)
//                   linear: base_lr * max(0, 1 - progress);  cosine: base_lr * 0.5 (1 + cos(pi progress))
struct LRSchedule {
    enum class Decay { linear, cosine };
    float base_lr;
    int64_t warmup_steps, total_steps;
    Decay decay = Decay::linear;
    float lr_at(int64_t step) const;
};

}  // namespace tg::nn
