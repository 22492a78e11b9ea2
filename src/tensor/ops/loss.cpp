// loss.cpp — cross-entropy, BCE-with-logits, MSE, L2 normalize, cosine similarity.
//
// Cross-entropy and BCE are fused kernels (stable log-sum-exp, one pass, gradient = probabilities
// minus targets); MSE, L2 normalize and cosine similarity are compositions of primitive ops, so their
// gradients come from autograd.
#include <cmath>

#include "tensor/ops/ops.h"

namespace tg {

Tensor cross_entropy(const Tensor& logits_in, const Tensor& target_in, int64_t ignore_index, float label_smoothing) {
    require_cpu("cross_entropy", {&logits_in, &target_in});
    Tensor logits = (logits_in.dtype() == DType::f32 ? logits_in : logits_in.to(DType::f32)).contiguous();
    TG_CHECK(logits.dim() == 2, "cross_entropy: logits ", logits.str(), " must be [N, C]");
    TG_CHECK(target_in.dtype() == DType::i64 || target_in.dtype() == DType::i32, "cross_entropy: target ", target_in.str(), " must be i32/i64");
    Tensor target = target_in.to(DType::i64).contiguous();
    const int64_t N = logits.size(0), C = logits.size(1);
    TG_CHECK(target.shape() == Shape{N}, "cross_entropy: target ", target.str(), " for logits ", logits.str());
    TG_CHECK(label_smoothing >= 0.0f && label_smoothing <= 1.0f, "cross_entropy: label_smoothing ", label_smoothing);
    const float eps = label_smoothing;
    const float* pz = logits.data<float>();
    const int64_t* pt = target.data<int64_t>();
    // loss_n = (1 - eps) (lse - z[t]) + eps (lse - mean_c z_c);  loss = mean over rows with t != ignore
    // (no valid row: loss 0, gradient 0)
    Tensor lse = Tensor::empty({N});
    float* pl = lse.data<float>();
    double total = 0.0;
    int64_t count = 0;
    for (int64_t n = 0; n < N; n++) {
        const int64_t t = pt[n];
        if (t == ignore_index) continue;
        TG_CHECK(t >= 0 && t < C, "cross_entropy: target ", t, " at row ", n, " out of range [0, ", C, ")");
        const float* z = pz + n * C;
        float mx = -INFINITY;
        double zsum = 0.0;
        for (int64_t c = 0; c < C; c++) mx = z[c] > mx ? z[c] : mx, zsum += z[c];
        double s = 0.0;
        for (int64_t c = 0; c < C; c++) s += std::exp(double(z[c]) - mx);
        const double l = mx + std::log(s);
        pl[n] = float(l);
        total += (1.0 - eps) * (l - z[t]) + eps * (l - zsum / double(C));
        count++;
    }
    Tensor out = Tensor::scalar(count ? float(total / double(count)) : 0.0f);
    return record(out, "cross_entropy", {logits}, [logits, target, lse, N, C, count, eps, ignore_index](
                                                      const Tensor& g, const std::vector<bool>&) {
        // dz[n, c] = (softmax(z_n)_c - (1 - eps) [c == t] - eps / C) * g / count
        Tensor dz = Tensor::zeros({N, C});
        if (count == 0) return std::vector<Tensor>{dz};
        const float scale = g.item() / float(count);
        const float* z = logits.data<float>();
        const int64_t* t = target.data<int64_t>();
        const float* l = lse.data<float>();
        float* d = dz.data<float>();
        for (int64_t n = 0; n < N; n++) {
            if (t[n] == ignore_index) continue;
            for (int64_t c = 0; c < C; c++)
                d[n * C + c] = (std::exp(z[n * C + c] - l[n]) - eps / float(C) - (c == t[n] ? 1.0f - eps : 0.0f)) * scale;
        }
        return std::vector<Tensor>{dz};
    });
}

Tensor bce_with_logits(const Tensor& logits_in, const Tensor& target_in) {
    require_cpu("bce_with_logits", {&logits_in, &target_in});
    Tensor x = logits_in.to(DType::f32).contiguous(), t = target_in.to(DType::f32).contiguous();
    TG_CHECK(x.shape() == t.shape(), "bce_with_logits: logits ", x.str(), " vs target ", t.str());
    const int64_t n = x.numel();
    const float* px = x.data<float>();
    const float* pt = t.data<float>();
    // l_i = max(x,0) - x t + log(1 + exp(-|x|)) = -[t log s(x) + (1-t) log(1 - s(x))], never overflows
    double total = 0.0;
    for (int64_t i = 0; i < n; i++)
        total += std::fmax(px[i], 0.0f) - double(px[i]) * pt[i] + std::log1p(std::exp(-std::fabs(double(px[i]))));
    Tensor out = Tensor::scalar(n ? float(total / double(n)) : 0.0f);
    return record(out, "bce_with_logits", {x, t}, [x, t, n](const Tensor& g, const std::vector<bool>& need) {
        // dl/dx = (sigmoid(x) - t) / n,  dl/dt = -x / n
        const float scale = g.item() / float(n > 0 ? n : 1);
        std::vector<Tensor> gr(2);
        const float* px = x.data<float>();
        const float* pt = t.data<float>();
        if (need[0]) {
            gr[0] = Tensor::empty(x.shape());
            float* d = gr[0].data<float>();
            for (int64_t i = 0; i < n; i++) d[i] = (float(1.0 / (1.0 + std::exp(-double(px[i])))) - pt[i]) * scale;
        }
        if (need[1]) gr[1] = mul_scalar(x, -scale);
        return gr;
    });
}

Tensor mse_loss(const Tensor& pred, const Tensor& target) {
    TG_CHECK(pred.shape() == target.shape(), "mse_loss: pred ", pred.str(), " vs target ", target.str());
    Tensor d = sub(pred, target);
    return mean(mul(d, d));
}

Tensor l2_normalize(const Tensor& x, float eps) {
    // x / max(||x||_2, eps) along the last dim (torch.nn.functional.normalize)
    Tensor norm = sqrt(sum(mul(x, x), {-1}, /*keepdim=*/true));
    return div(x, clamp_min(norm, eps));
}

Tensor cosine_similarity(const Tensor& a, const Tensor& b, float eps) {
    // <a,b> / sqrt(max(||a||^2 ||b||^2, eps^2)) along the last dim (torch.nn.functional.cosine_similarity)
    Tensor dot = sum(mul(a, b), {-1});
    Tensor nn = mul(sum(mul(a, a), {-1}), sum(mul(b, b), {-1}));
    return div(dot, sqrt(clamp_min(nn, eps * eps)));
}

}  // namespace tg
