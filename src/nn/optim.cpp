// optim.cpp — see optim.h. Updates are plain loops over contiguous f32 data, outside autograd.
#include "nn/optim.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace tg::nn {

namespace {

// The parameter's f32 data and its gradient as contiguous f32 (grads are always f32).
float* param_data(const Tensor& p) {
    TG_CHECK(p.dtype() == DType::f32 && p.is_contiguous(), "optimizer: parameter ", p.str(), " must be contiguous f32");
    require_cpu("optimizer step", {&p});
    return p.data<float>();
}

}  // namespace

void Optimizer::zero_grad() {
    for (Tensor& p : params_) p.zero_grad();
}

SGD::SGD(std::vector<Tensor> params, float lr, float momentum, float dampening, float weight_decay, bool nesterov)
    : Optimizer(std::move(params), lr), momentum(momentum), dampening(dampening), weight_decay(weight_decay),
      nesterov(nesterov), buf_(params_.size()) {
    TG_CHECK(!nesterov || (momentum > 0.0f && dampening == 0.0f), "SGD: Nesterov needs momentum > 0 and dampening 0");
}

void SGD::step() {
    for (size_t i = 0; i < params_.size(); i++) {
        const Tensor& p = params_[i];
        Tensor gt = p.grad();
        if (!gt.defined()) continue;
        gt = gt.contiguous();
        float* w = param_data(p);
        const float* g = gt.data<float>();
        const int64_t n = p.numel();
        const bool first = !buf_[i].defined();
        if (momentum != 0.0f && first) buf_[i] = Tensor::empty(p.shape());
        float* b = momentum != 0.0f ? buf_[i].data<float>() : nullptr;
        for (int64_t j = 0; j < n; j++) {
            float d = g[j] + weight_decay * w[j];
            if (b) {
                b[j] = first ? d : momentum * b[j] + (1.0f - dampening) * d;
                d = nesterov ? d + momentum * b[j] : b[j];
            }
            w[j] -= lr * d;
        }
    }
}

AdamW::AdamW(std::vector<Tensor> params, float lr, float beta1, float beta2, float eps, float weight_decay)
    : Optimizer(std::move(params), lr), beta1(beta1), beta2(beta2), eps(eps), weight_decay(weight_decay),
      m_(params_.size()), v_(params_.size()) {}

void AdamW::step() {
    t_++;
    const double bc1 = 1.0 - std::pow(double(beta1), double(t_));
    const double bc2 = 1.0 - std::pow(double(beta2), double(t_));
    const float step_size = float(lr / bc1), bc2_sqrt = float(std::sqrt(bc2));
    for (size_t i = 0; i < params_.size(); i++) {
        const Tensor& p = params_[i];
        Tensor gt = p.grad();
        if (!gt.defined()) continue;
        gt = gt.contiguous();
        if (!m_[i].defined()) m_[i] = Tensor::zeros(p.shape()), v_[i] = Tensor::zeros(p.shape());
        float* w = param_data(p);
        const float* g = gt.data<float>();
        float* m = m_[i].data<float>();
        float* v = v_[i].data<float>();
        const int64_t n = p.numel();
        const float decay = 1.0f - lr * weight_decay;
#pragma omp parallel for simd schedule(static) if (n >= (1 << 16))
        for (int64_t j = 0; j < n; j++) {
            w[j] *= decay;
            m[j] = beta1 * m[j] + (1.0f - beta1) * g[j];
            v[j] = beta2 * v[j] + (1.0f - beta2) * g[j] * g[j];
            w[j] -= step_size * m[j] / (std::sqrt(v[j]) / bc2_sqrt + eps);
        }
    }
}

float clip_grad_norm(const std::vector<Tensor>& params, float max_norm) {
    // sum of squares in double, read straight from the gradients (no copies); per parameter, blocks of 16k
    // elements are summed in parallel and then in block order, so the result does not depend on the threads
    double total = 0.0;
    for (const Tensor& p : params) {
        Tensor gt = p.grad();
        if (!gt.defined()) continue;
        gt = gt.dtype() == DType::f32 ? gt.contiguous() : gt.to(DType::f32).contiguous();
        const float* g = gt.data<float>();
        const int64_t n = gt.numel();
        constexpr int64_t kBlock = 1 << 14;
        const int64_t nb = (n + kBlock - 1) / kBlock;
        std::vector<double> part(size_t(nb), 0.0);
#pragma omp parallel for schedule(static) if (nb >= 4)
        for (int64_t b = 0; b < nb; b++) {
            const int64_t lo = b * kBlock, hi = std::min(n, lo + kBlock);
            double sb = 0.0;
#pragma omp simd reduction(+ : sb)
            for (int64_t j = lo; j < hi; j++) sb += double(g[j]) * double(g[j]);
            part[size_t(b)] = sb;
        }
        for (double x : part) total += x;
    }
    total = std::sqrt(total);
    const double coef = double(max_norm) / (total + 1e-6);
    if (coef < 1.0) {
        for (const Tensor& p : params) {
            Tensor g = p.grad();
            if (!g.defined()) continue;
            // leaf gradients are private contiguous tensors (autograd.cpp), so scaling in place is safe
            TG_CHECK(g.is_contiguous() && g.dtype() == DType::f32, "clip_grad_norm: gradient ", g.str());
            float* d = g.data<float>();
            const int64_t n = g.numel();
#pragma omp parallel for simd schedule(static) if (n >= (1 << 16))
            for (int64_t j = 0; j < n; j++) d[j] = float(d[j] * coef);
        }
    }
    return float(total);
}

float LRSchedule::lr_at(int64_t step) const {
    if (step < warmup_steps) return base_lr * float(step) / float(warmup_steps > 0 ? warmup_steps : 1);
    const double span = double(total_steps - warmup_steps > 0 ? total_steps - warmup_steps : 1);
    const double progress = double(step - warmup_steps) / span;
    if (decay == Decay::linear) return float(base_lr * std::fmax(0.0, 1.0 - progress));
    return float(base_lr * std::fmax(0.0, 0.5 * (1.0 + std::cos(M_PI * progress))));
}

}  // namespace tg::nn
