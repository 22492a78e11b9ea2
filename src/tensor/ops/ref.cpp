// ref.cpp — the double-precision reference ops (see ref.h). Readability over speed, everywhere.
#include "tensor/ops/ref.h"

#include <algorithm>
#include <cmath>

#include "tensor/rng.h"

namespace tg::ref {

namespace {

int64_t norm_axis(int64_t a, int64_t nd) { return a < 0 ? a + nd : a; }

// Multi-index <-> flat index, row-major.
std::vector<int64_t> unflatten(int64_t f, const Shape& s) {
    std::vector<int64_t> idx(s.size());
    for (int64_t d = int64_t(s.size()) - 1; d >= 0; d--) {
        idx[size_t(d)] = f % s[size_t(d)];
        f /= s[size_t(d)];
    }
    return idx;
}
int64_t flatten(const std::vector<int64_t>& idx, const Shape& s) {
    int64_t f = 0;
    for (size_t d = 0; d < s.size(); d++) f = f * s[d] + idx[d];
    return f;
}
// Element of `a` seen through NumPy broadcasting at output multi-index `oi` (right-aligned).
double bget(const DArray& a, const std::vector<int64_t>& oi) {
    const size_t lead = oi.size() - a.shape.size();
    int64_t f = 0;
    for (size_t d = 0; d < a.shape.size(); d++) f = f * a.shape[d] + (a.shape[d] == 1 ? 0 : oi[lead + d]);
    return a.v[size_t(f)];
}

}  // namespace

DArray from_tensor(const Tensor& t) {
    DArray a(t.shape());
    for (int64_t i = 0; i < t.numel(); i++) a.v[size_t(i)] = get_element(t, i);
    return a;
}

Tensor to_tensor(const DArray& a) {
    std::vector<float> f(a.v.begin(), a.v.end());
    return Tensor::from_vector(f, a.shape);
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

double gelu(double x, bool tanh_approx) {
    if (tanh_approx) return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
}

DArray map(const DArray& a, const std::function<double(double)>& f) {
    DArray r = a;
    for (double& x : r.v) x = f(x);
    return r;
}

DArray binary(const DArray& a, const DArray& b, const std::function<double(double, double)>& f) {
    const size_t n = std::max(a.shape.size(), b.shape.size());
    Shape s(n);
    for (size_t i = 0; i < n; i++) {
        const int64_t da = i < n - a.shape.size() ? 1 : a.shape[i - (n - a.shape.size())];
        const int64_t db = i < n - b.shape.size() ? 1 : b.shape[i - (n - b.shape.size())];
        s[i] = std::max(da, db);
    }
    DArray r(s);
    for (int64_t f_ = 0; f_ < r.numel(); f_++) {
        auto oi = unflatten(f_, s);
        r.v[size_t(f_)] = f(bget(a, oi), bget(b, oi));
    }
    return r;
}

DArray sum(const DArray& a, std::vector<int64_t> axes, bool keepdim) {
    const int64_t nd = int64_t(a.shape.size());
    for (auto& x : axes) x = norm_axis(x, nd);
    Shape ks = a.shape;
    for (int64_t x : axes) ks[size_t(x)] = 1;
    DArray r(ks);
    for (int64_t f = 0; f < a.numel(); f++) {
        auto i = unflatten(f, a.shape);
        for (int64_t x : axes) i[size_t(x)] = 0;
        r.v[size_t(flatten(i, ks))] += a.v[size_t(f)];
    }
    if (!keepdim) {
        Shape s;
        for (int64_t d = 0; d < nd; d++)
            if (std::find(axes.begin(), axes.end(), d) == axes.end()) s.push_back(a.shape[size_t(d)]);
        r.shape = s;
    }
    return r;
}

DArray max(const DArray& a, int64_t axis, bool keepdim) {
    axis = norm_axis(axis, int64_t(a.shape.size()));
    Shape ks = a.shape;
    ks[size_t(axis)] = 1;
    DArray r(ks);
    std::fill(r.v.begin(), r.v.end(), -INFINITY);
    for (int64_t f = 0; f < a.numel(); f++) {
        auto i = unflatten(f, a.shape);
        i[size_t(axis)] = 0;
        double& m = r.v[size_t(flatten(i, ks))];
        m = std::max(m, a.v[size_t(f)]);
    }
    if (!keepdim) r.shape.erase(r.shape.begin() + axis);
    return r;
}

DArray matmul(const DArray& a, const DArray& b) {
    const int64_t M = a.shape[a.shape.size() - 2], K = a.shape.back(), N = b.shape.back();
    const int64_t batch = a.numel() / (M * K);
    const bool shared_b = b.shape.size() == 2;
    Shape s = a.shape;
    s.back() = N;
    DArray r(s);
    for (int64_t bt = 0; bt < batch; bt++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                double acc = 0.0;  // C[m,n] = sum_k A[m,k] B[k,n]
                for (int64_t k = 0; k < K; k++)
                    acc += a.v[size_t((bt * M + m) * K + k)] * b.v[size_t(((shared_b ? 0 : bt) * K + k) * N + n)];
                r.v[size_t((bt * M + m) * N + n)] = acc;
            }
    return r;
}

DArray linear(const DArray& x, const DArray& w, const DArray* bias) {
    const int64_t OUT = w.shape[0], IN = w.shape[1], R = x.numel() / IN;
    Shape s = x.shape;
    s.back() = OUT;
    DArray r(s);
    for (int64_t i = 0; i < R; i++)
        for (int64_t o = 0; o < OUT; o++) {
            double acc = bias ? bias->v[size_t(o)] : 0.0;  // y = x Wᵀ + b
            for (int64_t k = 0; k < IN; k++) acc += x.v[size_t(i * IN + k)] * w.v[size_t(o * IN + k)];
            r.v[size_t(i * OUT + o)] = acc;
        }
    return r;
}

DArray softmax(const DArray& x, const DArray* mask, bool log) {
    const int64_t C = x.shape.back(), R = x.numel() / C;
    DArray z = mask ? binary(x, *mask, [](double p, double q) { return p + q; }) : x;
    DArray r(x.shape);
    for (int64_t i = 0; i < R; i++) {
        const double* row = &z.v[size_t(i * C)];
        const double mx = *std::max_element(row, row + C);
        if (mx == -INFINITY) continue;  // fully masked: zeros
        double s = 0.0;
        for (int64_t c = 0; c < C; c++) s += std::exp(row[c] - mx);
        for (int64_t c = 0; c < C; c++)
            r.v[size_t(i * C + c)] = log ? row[c] - mx - std::log(s) : std::exp(row[c] - mx) / s;
    }
    return r;
}

DArray layer_norm(const DArray& x, const DArray* w, const DArray* b, double eps) {
    const int64_t C = x.shape.back(), R = x.numel() / C;
    DArray r(x.shape);
    for (int64_t i = 0; i < R; i++) {
        double m = 0.0, v = 0.0;
        for (int64_t c = 0; c < C; c++) m += x.v[size_t(i * C + c)];
        m /= double(C);
        for (int64_t c = 0; c < C; c++) v += (x.v[size_t(i * C + c)] - m) * (x.v[size_t(i * C + c)] - m);
        v /= double(C);
        for (int64_t c = 0; c < C; c++)
            r.v[size_t(i * C + c)] = (x.v[size_t(i * C + c)] - m) / std::sqrt(v + eps) * (w ? w->v[size_t(c)] : 1.0) +
                                     (b ? b->v[size_t(c)] : 0.0);
    }
    return r;
}

DArray embedding(const DArray& table, const std::vector<int64_t>& ids, const Shape& ids_shape) {
    const int64_t C = table.shape[1];
    Shape s = ids_shape;
    s.push_back(C);
    DArray r(s);
    for (size_t i = 0; i < ids.size(); i++)
        for (int64_t c = 0; c < C; c++) r.v[i * size_t(C) + size_t(c)] = table.v[size_t(ids[i] * C + c)];
    return r;
}

DArray dropout(const DArray& x, float p, uint64_t seed) {
    DArray r = x;
    for (int64_t i = 0; i < x.numel(); i++)
        r.v[size_t(i)] = philox_uniform(seed, uint64_t(i)) >= p ? x.v[size_t(i)] / (1.0 - double(p)) : 0.0;
    return r;
}

DArray concat(const std::vector<DArray>& ts, int64_t axis) {
    axis = norm_axis(axis, int64_t(ts[0].shape.size()));
    Shape s = ts[0].shape;
    s[size_t(axis)] = 0;
    for (const auto& t : ts) s[size_t(axis)] += t.shape[size_t(axis)];
    DArray r(s);
    int64_t off = 0;
    for (const auto& t : ts) {
        for (int64_t f = 0; f < t.numel(); f++) {
            auto i = unflatten(f, t.shape);
            i[size_t(axis)] += off;
            r.v[size_t(flatten(i, s))] = t.v[size_t(f)];
        }
        off += t.shape[size_t(axis)];
    }
    return r;
}

DArray index_select(const DArray& x, int64_t axis, const std::vector<int64_t>& idx) {
    axis = norm_axis(axis, int64_t(x.shape.size()));
    Shape s = x.shape;
    s[size_t(axis)] = int64_t(idx.size());
    DArray r(s);
    for (int64_t f = 0; f < r.numel(); f++) {
        auto i = unflatten(f, s);
        i[size_t(axis)] = idx[size_t(i[size_t(axis)])];
        r.v[size_t(f)] = x.v[size_t(flatten(i, x.shape))];
    }
    return r;
}

DArray gather(const DArray& x, int64_t axis, const std::vector<int64_t>& idx, const Shape& idx_shape) {
    axis = norm_axis(axis, int64_t(x.shape.size()));
    DArray r(idx_shape);
    for (int64_t f = 0; f < r.numel(); f++) {
        auto i = unflatten(f, idx_shape);
        i[size_t(axis)] = idx[size_t(f)];
        r.v[size_t(f)] = x.v[size_t(flatten(i, x.shape))];
    }
    return r;
}

double cross_entropy(const DArray& z, const std::vector<int64_t>& t, int64_t ignore_index, double eps) {
    const int64_t N = z.shape[0], C = z.shape[1];
    double total = 0.0;
    int64_t count = 0;
    for (int64_t n = 0; n < N; n++) {
        if (t[size_t(n)] == ignore_index) continue;
        // -sum_c q_c log p_c with q = (1-eps) onehot(t) + eps/C
        const double* row = &z.v[size_t(n * C)];
        const double mx = *std::max_element(row, row + C);
        double s = 0.0;
        for (int64_t c = 0; c < C; c++) s += std::exp(row[c] - mx);
        const double lse = mx + std::log(s);
        for (int64_t c = 0; c < C; c++) {
            const double q = (c == t[size_t(n)] ? 1.0 - eps : 0.0) + eps / double(C);
            total -= q * (row[c] - lse);
        }
        count++;
    }
    return count ? total / double(count) : 0.0;
}

double bce_with_logits(const DArray& x, const DArray& t) {
    double total = 0.0;
    for (int64_t i = 0; i < x.numel(); i++) {
        const double p = sigmoid(x.v[size_t(i)]);  // -[t log p + (1-t) log(1-p)]
        total -= t.v[size_t(i)] * std::log(p) + (1.0 - t.v[size_t(i)]) * std::log1p(-p);
    }
    return total / double(x.numel());
}

double mse(const DArray& a, const DArray& b) {
    double total = 0.0;
    for (int64_t i = 0; i < a.numel(); i++) total += (a.v[size_t(i)] - b.v[size_t(i)]) * (a.v[size_t(i)] - b.v[size_t(i)]);
    return total / double(a.numel());
}

DArray l2_normalize(const DArray& x, double eps) {
    const int64_t C = x.shape.back(), R = x.numel() / C;
    DArray r = x;
    for (int64_t i = 0; i < R; i++) {
        double s = 0.0;
        for (int64_t c = 0; c < C; c++) s += x.v[size_t(i * C + c)] * x.v[size_t(i * C + c)];
        const double n = std::max(std::sqrt(s), eps);
        for (int64_t c = 0; c < C; c++) r.v[size_t(i * C + c)] /= n;
    }
    return r;
}

DArray cosine_similarity(const DArray& a, const DArray& b, double eps) {
    const int64_t C = a.shape.back(), R = a.numel() / C;
    Shape s(a.shape.begin(), a.shape.end() - 1);
    DArray r(s);
    for (int64_t i = 0; i < R; i++) {
        double ab = 0.0, aa = 0.0, bb = 0.0;
        for (int64_t c = 0; c < C; c++) {
            const double x = a.v[size_t(i * C + c)], y = b.v[size_t(i * C + c)];
            ab += x * y, aa += x * x, bb += y * y;
        }
        r.v[size_t(i)] = ab / std::sqrt(std::max(aa * bb, eps * eps));
    }
    return r;
}

}  // namespace tg::ref
