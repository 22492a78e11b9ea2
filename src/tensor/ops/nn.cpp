// nn.cpp — softmax, log-softmax, layer norm, embedding, dropout: forward and backward side by side.
//
// Softmax / layer norm / GELU call the fast row kernels of tensor/kernels.h; the closures call their
// backward twins. Dimension letters: R rows (all leading dims flattened), C the last dim.
#include <cmath>
#include <cstring>

#include "tensor/kernels.h"
#include "tensor/ops/ops.h"
#include "tensor/rng.h"

namespace tg {

namespace {

constexpr int64_t kParallelMin = 1 << 15;

Tensor f32c(const Tensor& t, const char* op) {
    TG_CHECK(t.defined(), "op ", op, ": undefined input");
    require_cpu(op, {&t});
    Tensor x = t.dtype() == DType::f32 ? t : t.to(DType::f32);
    return x.contiguous();
}

// Bring an additive mask to the kernel's layout: `rows` mask rows of C, each shared by `per` consecutive
// rows of x. Masks shaped like [B, 1, .., 1, C] against x [B, H, .., T, C] need no copy; any other
// broadcastable mask is expanded to x's full shape.
Tensor mask_rows(const Tensor& mask_in, const Tensor& x, int64_t& per) {
    Tensor mask = f32c(mask_in, "softmax(mask)").detach();  // the mask is a constant: no gradient
    const int64_t nd = x.dim();
    TG_CHECK(mask.dim() <= nd, "softmax: mask ", mask.str(), " has more dims than x ", x.str());
    Shape m(size_t(nd - mask.dim()), 1);
    m.insert(m.end(), mask.shape().begin(), mask.shape().end());
    int64_t k = -1;  // last leading dim where the mask is not broadcast
    for (int64_t d = 0; d < nd - 1; d++)
        if (m[size_t(d)] != 1) k = d;
    bool simple = m[size_t(nd - 1)] == x.size(-1);
    for (int64_t d = 0; d <= k && simple; d++) simple = m[size_t(d)] == x.shape()[size_t(d)];
    if (simple) {
        per = 1;
        for (int64_t d = k + 1; d < nd - 1; d++) per *= x.shape()[size_t(d)];
        return mask;
    }
    per = 1;
    return mask.reshape(m).expand(x.shape()).contiguous();
}

}  // namespace

// ---- softmax --------------------------------------------------------------------------------------

Tensor softmax(const Tensor& x_in, const Tensor& mask) {
    Tensor x = f32c(x_in, "softmax");
    TG_CHECK(x.dim() >= 1, "softmax: scalar input");
    const int64_t C = x.size(-1), R = x.numel() / (C > 0 ? C : 1);
    int64_t per = 1;
    Tensor m = mask.defined() ? mask_rows(mask, x, per) : Tensor();
    Tensor out = Tensor::empty(x.shape());
    softmax_forward(out.data<float>(), x.data<float>(), m.defined() ? m.data<float>() : nullptr, R, C, per);
    Tensor y = out.detach();
    return record(out, "softmax", {x}, [y, R, C](const Tensor& g_in, const std::vector<bool>&) {
        Tensor g = g_in.contiguous();
        Tensor dx = Tensor::empty(y.shape());
        softmax_backward(dx.data<float>(), g.data<float>(), y.data<float>(), R, C);
        return std::vector<Tensor>{dx};
    });
}

Tensor log_softmax(const Tensor& x_in, const Tensor& mask) {
    Tensor x = f32c(x_in, "log_softmax");
    TG_CHECK(x.dim() >= 1, "log_softmax: scalar input");
    const int64_t C = x.size(-1), R = x.numel() / (C > 0 ? C : 1);
    int64_t per = 1;
    Tensor m = mask.defined() ? mask_rows(mask, x, per) : Tensor();
    Tensor out = Tensor::empty(x.shape());
    const float* px = x.data<float>();
    const float* pm = m.defined() ? m.data<float>() : nullptr;
    float* py = out.data<float>();
    // y = z - logsumexp(z), z = x + mask; a fully masked row (all -inf) gives zeros, as softmax does
#pragma omp parallel for schedule(static) if (R * C >= kParallelMin)
    for (int64_t r = 0; r < R; r++) {
        float* y = py + r * C;
        const float* mk = pm ? pm + (r / per) * C : nullptr;
        float mx = -INFINITY;
        for (int64_t c = 0; c < C; c++) {
            y[c] = px[r * C + c] + (mk ? mk[c] : 0.0f);
            mx = y[c] > mx ? y[c] : mx;
        }
        if (mx == -INFINITY) {
            for (int64_t c = 0; c < C; c++) y[c] = 0.0f;
            continue;
        }
        double s = 0.0;
        for (int64_t c = 0; c < C; c++) s += std::exp(double(y[c] - mx));
        const float lse = mx + float(std::log(s));
        for (int64_t c = 0; c < C; c++) y[c] -= lse;
    }
    Tensor y = out.detach();
    return record(out, "log_softmax", {x}, [y, R, C](const Tensor& g_in, const std::vector<bool>&) {
        // dx = g - softmax(z) * sum_c g,  softmax(z) = exp(y)
        Tensor g = g_in.contiguous();
        Tensor dx = Tensor::empty(y.shape());
        const float* pg = g.data<float>();
        const float* yy = y.data<float>();
        float* pd = dx.data<float>();
#pragma omp parallel for schedule(static) if (R * C >= kParallelMin)
        for (int64_t r = 0; r < R; r++) {
            double s = 0.0;
            for (int64_t c = 0; c < C; c++) s += pg[r * C + c];
            for (int64_t c = 0; c < C; c++) pd[r * C + c] = pg[r * C + c] - std::exp(yy[r * C + c]) * float(s);
        }
        return std::vector<Tensor>{dx};
    });
}

// ---- layer norm -----------------------------------------------------------------------------------

Tensor layer_norm(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in, float eps) {
    Tensor x = f32c(x_in, "layer_norm");
    const int64_t C = x.size(-1), R = x.numel() / (C > 0 ? C : 1);
    Tensor w = weight_in.defined() ? f32c(weight_in, "layer_norm(weight)") : Tensor();
    Tensor b = bias_in.defined() ? f32c(bias_in, "layer_norm(bias)") : Tensor();
    TG_CHECK(!w.defined() || w.shape() == Shape{C}, "layer_norm: weight ", w.str(), " for x ", x.str());
    TG_CHECK(!b.defined() || b.shape() == Shape{C}, "layer_norm: bias ", b.str(), " for x ", x.str());
    Tensor out = Tensor::empty(x.shape()), mean = Tensor::empty({R}), rstd = Tensor::empty({R});
    layernorm_forward(out.data<float>(), mean.data<float>(), rstd.data<float>(), x.data<float>(),
                      w.defined() ? w.data<float>() : nullptr, b.defined() ? b.data<float>() : nullptr, R, C, eps);
    return record(out, "layer_norm", {x, w, b}, [x, w, mean, rstd, R, C](const Tensor& g_in, const std::vector<bool>& need) {
        Tensor g = g_in.contiguous();
        Tensor dx = Tensor::empty(x.shape());
        Tensor dw = need[1] ? Tensor::zeros({C}) : Tensor(), db = need[2] ? Tensor::zeros({C}) : Tensor();
        layernorm_backward(dx.data<float>(), dw.defined() ? dw.data<float>() : nullptr,
                           db.defined() ? db.data<float>() : nullptr, g.data<float>(), x.data<float>(),
                           w.defined() ? w.data<float>() : nullptr, mean.data<float>(), rstd.data<float>(), R, C);
        return std::vector<Tensor>{need[0] ? dx : Tensor(), dw, db};
    });
}

// ---- embedding ------------------------------------------------------------------------------------

static int64_t read_index(const Tensor& ids, int64_t i) {
    return ids.dtype() == DType::i64 ? ids.data<int64_t>()[i] : int64_t(ids.data<int32_t>()[i]);
}

Tensor embedding(const Tensor& table_in, const Tensor& ids_in) {
    Tensor table = f32c(table_in, "embedding");
    TG_CHECK(table.dim() == 2, "embedding: table ", table.str(), " is not [V, C]");
    require_cpu("embedding", {&ids_in});
    TG_CHECK(ids_in.dtype() == DType::i64 || ids_in.dtype() == DType::i32, "embedding: ids ", ids_in.str(), " must be i32/i64");
    Tensor ids = ids_in.contiguous();
    const int64_t V = table.size(0), C = table.size(1), n = ids.numel();
    for (int64_t i = 0; i < n; i++) {
        const int64_t id = read_index(ids, i);
        TG_CHECK(id >= 0 && id < V, "embedding: id ", id, " at position ", i, " out of range [0, ", V, ")");
    }
    Shape oshape = ids.shape();
    oshape.push_back(C);
    Tensor out = Tensor::empty(oshape);
    const float* pt = table.data<float>();
    float* po = out.data<float>();
#pragma omp parallel for schedule(static) if (n * C >= kParallelMin)
    for (int64_t i = 0; i < n; i++) std::memcpy(po + i * C, pt + read_index(ids, i) * C, size_t(C) * 4);
    return record(out, "embedding", {table}, [ids, V, C, n](const Tensor& g_in, const std::vector<bool>&) {
        // scatter-add: dtable[ids[i], :] += g[i, :], in order i = 0, 1, ... (deterministic)
        Tensor g = g_in.contiguous();
        Tensor dt = Tensor::zeros({V, C});
        const float* pg = g.data<float>();
        float* pd = dt.data<float>();
        for (int64_t i = 0; i < n; i++) {
            float* row = pd + read_index(ids, i) * C;
            const float* gi = pg + i * C;
#pragma omp simd
            for (int64_t c = 0; c < C; c++) row[c] += gi[c];
        }
        return std::vector<Tensor>{dt};
    });
}

// ---- dropout --------------------------------------------------------------------------------------

// y[i] = x[i] * keep(i) / (1 - p) with keep(i) = philox_uniform(seed, i) >= p, also used by backward.
static Tensor dropout_apply(const Tensor& xc, float p, uint64_t seed) {
    Tensor out = Tensor::empty(xc.shape());
    const float* px = xc.data<float>();
    float* py = out.data<float>();
    const int64_t n = xc.numel();
    dropout_mask_scale(py, px, n, p, seed, 0, true);
    return out;
}

Tensor dropout(const Tensor& x_in, float p, bool training, uint64_t seed) {
    TG_CHECK(p >= 0.0f && p < 1.0f, "dropout: p = ", p, " must be in [0, 1)");
    if (!training || p == 0.0f) return x_in;
    Tensor x = f32c(x_in, "dropout");
    Tensor out = dropout_apply(x, p, seed);
    // the mask is regenerated from the seed instead of being stored
    return record(out, "dropout", {x}, [p, seed](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{dropout_apply(g.contiguous(), p, seed)};
    });
}

}  // namespace tg
