// test_attention_op.cpp — the fused attention op (tensor/ops/attention.cpp) against the same attention written
// with the separate ops (reshape/permute, matmul, softmax with a mask, dropout), forward and all three input
// gradients, with and without padding and attention dropout; and central finite differences (f32, small sizes)
// on q, k and v.
#include <doctest/doctest.h>

#include <cmath>

#include "tensor/ops/ops.h"

using namespace tg;

namespace {

// The composite reference: [B, T, C] -> heads [B, NH, T, D] -> softmax(scale q kᵀ + mask) (dropout) v -> [B, T, C].
Tensor composite(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& madd, int64_t NH, float scale,
                 float p, uint64_t seed) {
    const int64_t B = q.size(0), T = q.size(1), C = q.size(2), D = C / NH;
    auto heads = [&](const Tensor& y) { return y.reshape({B, T, NH, D}).permute({0, 2, 1, 3}); };
    Tensor s = matmul(heads(q), heads(k).transpose(-1, -2)) * scale;
    Tensor a = softmax(s, madd.reshape({B, 1, 1, T}));
    if (p > 0) a = dropout(a, p, true, seed);
    return matmul(a, heads(v)).permute({0, 2, 1, 3}).reshape({B, T, C});
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
    const std::vector<float> x = a.to_vector(), y = b.to_vector();
    REQUIRE(x.size() == y.size());
    double e = 0;
    for (size_t i = 0; i < x.size(); i++) e = std::max(e, std::abs(double(x[i]) - y[i]));
    return e;
}

void compare(int64_t B, int64_t T, int64_t NH, int64_t D, float p) {
    const int64_t C = NH * D;
    const float scale = 1.0f / std::sqrt(float(D));
    Tensor q = Tensor::randn({B, T, C}, 1).set_requires_grad(true);
    Tensor k = Tensor::randn({B, T, C}, 2).set_requires_grad(true);
    Tensor v = Tensor::randn({B, T, C}, 3).set_requires_grad(true);
    // sequence b has T - b real tokens (the rest padding)
    std::vector<float> m(size_t(B * T), 0.0f);
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = T - b; t < T; t++) m[size_t(b * T + t)] = -1e9f;
    Tensor madd = Tensor::from_vector(m, {B, T});
    Tensor w = Tensor::randn({B, T, C}, 4);  // loss = sum(out * w): a generic upstream gradient
    const uint64_t seed = 77;

    Tensor o1 = attention(q, k, v, madd, NH, scale, p, seed);
    sum(o1 * w).backward();
    Tensor gq = q.grad(), gk = k.grad(), gv = v.grad();
    q.zero_grad(), k.zero_grad(), v.zero_grad();
    Tensor o2 = composite(q, k, v, madd, NH, scale, p, seed);
    sum(o2 * w).backward();
    CHECK(max_abs_diff(o1, o2) <= 1e-5);
    CHECK(max_abs_diff(gq, q.grad()) <= 1e-5);
    CHECK(max_abs_diff(gk, k.grad()) <= 1e-5);
    CHECK(max_abs_diff(gv, v.grad()) <= 1e-5);
}

}  // namespace

TEST_CASE("attention op: fused equals the composite ops (padding mask, heads in place)") {
    compare(3, 7, 2, 4, 0.0f);
    compare(2, 33, 3, 8, 0.0f);  // T not a multiple of the SIMD width
}

TEST_CASE("attention op: fused equals the composite ops with attention dropout (same Philox mask)") {
    compare(3, 9, 2, 4, 0.25f);
}

TEST_CASE("attention op: finite differences on q, k and v") {
    const int64_t B = 2, T = 5, NH = 2, D = 3, C = NH * D;
    Tensor q = Tensor::randn({B, T, C}, 11).set_requires_grad(true);
    Tensor k = Tensor::randn({B, T, C}, 12).set_requires_grad(true);
    Tensor v = Tensor::randn({B, T, C}, 13).set_requires_grad(true);
    Tensor madd = Tensor::from_vector({0, 0, 0, 0, -1e9f, 0, 0, 0, -1e9f, -1e9f}, {B, T});
    Tensor w = Tensor::randn({B, T, C}, 14);
    auto loss = [&] { return sum(attention(q, k, v, madd, NH, 0.5f) * w); };
    loss().backward();
    for (Tensor* x : {&q, &k, &v}) {
        const std::vector<float> g = x->grad().to_vector();
        float* d = x->data<float>();
        double worst = 0;
        for (int64_t i = 0; i < x->numel(); i++) {
            const float keep = d[i], h = 1e-2f;
            d[i] = keep + h;
            const double lp = loss().item();
            d[i] = keep - h;
            const double lm = loss().item();
            d[i] = keep;
            worst = std::max(worst, std::abs((lp - lm) / (2 * h) - g[size_t(i)]));
        }
        CHECK(worst <= 2e-3);
    }
}

TEST_CASE("attention op: packed variable-length sequences equal the padded op on the real rows") {
    // attention_varlen on the real rows only vs attention() on the padded [B, T, C] with the -1e9 mask: outputs of
    // the real rows and the gradients of the real rows of q, k, v (the padded op gives padded keys/values an
    // exactly-zero gradient, which the packed op never sees). Lengths 0..T, including an empty sequence.
    const int64_t B = 4, T = 11, NH = 3, D = 5, C = NH * D;
    const std::vector<int64_t> len = {11, 3, 0, 8};
    const float scale = 0.4f;
    Tensor q = Tensor::randn({B, T, C}, 31).set_requires_grad(true);
    Tensor k = Tensor::randn({B, T, C}, 32).set_requires_grad(true);
    Tensor v = Tensor::randn({B, T, C}, 33).set_requires_grad(true);
    Tensor w = Tensor::randn({B, T, C}, 34);
    std::vector<float> m(size_t(B * T), 0.0f), mw(size_t(B * T), 0.0f);
    std::vector<int64_t> rows, off = {0};
    for (int64_t b = 0; b < B; b++) {
        for (int64_t t = 0; t < T; t++)
            if (t < len[size_t(b)]) rows.push_back(b * T + t), mw[size_t(b * T + t)] = 1.0f;
            else m[size_t(b * T + t)] = -1e9f;
        off.push_back(int64_t(rows.size()));
    }
    const int64_t N = int64_t(rows.size());
    Tensor madd = Tensor::from_vector(m, {B, T}), keep = Tensor::from_vector(mw, {B, T, 1});
    Tensor o1 = attention(q, k, v, madd, NH, scale);
    sum(o1 * w * keep).backward();  // padded query rows do not count
    const Tensor gq = q.grad(), gk = k.grad(), gv = v.grad();
    q.zero_grad(), k.zero_grad(), v.zero_grad();
    Tensor idx = Tensor::from_ints(rows, {N});
    auto pack = [&](const Tensor& x) { return index_select(x.reshape({B * T, C}), 0, idx); };
    Tensor o2 = attention_varlen(pack(q), pack(k), pack(v), off, NH, scale);
    CHECK((o2.shape() == Shape{N, C}));
    sum(o2 * pack(w)).backward();
    CHECK(max_abs_diff(pack(o1).detach(), o2) <= 1e-6);
    CHECK(max_abs_diff(pack(gq), pack(q.grad())) <= 1e-6);
    CHECK(max_abs_diff(pack(gk), pack(k.grad())) <= 1e-6);
    CHECK(max_abs_diff(pack(gv), pack(v.grad())) <= 1e-6);
    // bad offsets are refused with a message
    CHECK_THROWS_WITH_AS(attention_varlen(o2, o2, o2, {0, 5, 3, N}, NH, scale), doctest::Contains("decrease"), Error);
    CHECK_THROWS_WITH_AS(attention_varlen(o2, o2, o2, {0, N - 1}, NH, scale), doctest::Contains("from 0 to N"), Error);
}

TEST_CASE("attention op: packed sequences of one length with dropout reproduce the padded op's mask") {
    const int64_t B = 3, T = 6, NH = 2, D = 4, C = NH * D;
    Tensor q = Tensor::randn({B, T, C}, 41), k = Tensor::randn({B, T, C}, 42), v = Tensor::randn({B, T, C}, 43);
    Tensor o1 = attention(q, k, v, Tensor(), NH, 0.5f, 0.3f, 99);
    Tensor o2 = attention_varlen(q.reshape({B * T, C}), k.reshape({B * T, C}), v.reshape({B * T, C}), {0, 6, 12, 18},
                                 NH, 0.5f, 0.3f, 99);
    CHECK(max_abs_diff(o1.reshape({B * T, C}), o2) == 0.0);
}
