// test_ops.cpp — every op: optimized forward vs the double reference (ops/ref.h), and its backward vs
// central finite differences.
//
// How the gradient check is genuinely double precision: for an op y = f(x) we draw a fixed random
// weight r and define L(x) = sum(f(x) * r). The analytic gradient dL/dx comes from OUR f32 backward
// (autograd). The numeric gradient is (L(x + h e_j) - L(x - h e_j)) / 2h with L evaluated by the
// double-precision REFERENCE op at the same (f32-representable) input values, h = 1e-5 relative; its
// error (~h^2 f''' + 1e-16/h ~ 1e-10) is negligible, so any mismatch beyond f32 rounding
// (tolerance 2e-3 abs+rel of the gradient scale) is a bug in the backward.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>

#include "tensor/ops/ops.h"
#include "tensor/ops/ref.h"
#include "test_util.h"

using namespace tg;
using ref::DArray;

namespace {

DArray rand_arr(const Shape& s, uint64_t seed, double lo = -1.0, double hi = 1.0) {
    auto v = test::rand_vec(size_t(shape_numel(s)), seed, float(lo), float(hi));
    return DArray(s, std::vector<double>(v.begin(), v.end()));
}

// max |a-b| / (atol + rtol |b|) over elements
double excess(const DArray& a, const DArray& b, double atol, double rtol) {
    REQUIRE(a.shape == b.shape);
    double w = 0.0;
    for (size_t i = 0; i < a.v.size(); i++) {
        const double e = std::fabs(a.v[i] - b.v[i]) / (atol + rtol * std::fabs(b.v[i]));
        if (!(e <= w)) w = e;
    }
    return w;
}

using OptFn = std::function<Tensor(const std::vector<Tensor>&)>;
using RefFn = std::function<DArray(const std::vector<DArray>&)>;

// Forward check (f32 op vs double ref) and gradient check (f32 backward vs double FD through ref) for
// the inputs flagged in `diff`.
void check_op(const char* name, std::vector<DArray> in, std::vector<bool> diff, const OptFn& opt, const RefFn& rf,
              double fwd_tol = 1e-5) {
    INFO("op ", std::string(name));
    std::vector<Tensor> ts;
    for (size_t i = 0; i < in.size(); i++) {
        Tensor t = ref::to_tensor(in[i]);
        in[i] = ref::from_tensor(t);  // the exact f32 values, so both paths see the same point
        if (diff[i]) t.set_requires_grad(true);
        ts.push_back(t);
    }
    const DArray want = rf(in);
    Tensor y = opt(ts);
    CHECK(excess(ref::from_tensor(y), want, fwd_tol, fwd_tol * 10) <= 1.0);
    // L = sum(y * r)
    const DArray r = rand_arr(want.shape, 99);
    Tensor loss = sum(mul(y, ref::to_tensor(r)));
    loss.backward();
    auto L = [&](const std::vector<DArray>& x) {
        const DArray o = rf(x);
        double s = 0.0;
        for (size_t i = 0; i < o.v.size(); i++) s += o.v[i] * r.v[i];
        return s;
    };
    for (size_t i = 0; i < in.size(); i++) {
        if (!diff[i]) continue;
        INFO("input ", i);
        REQUIRE(ts[i].grad().defined());
        const DArray got = ref::from_tensor(ts[i].grad());
        DArray num(in[i].shape);
        double scale = 1e-3;
        for (int64_t j = 0; j < in[i].numel(); j++) {
            std::vector<DArray> xp = in, xm = in;
            const double h = 1e-5 * std::max(1.0, std::fabs(in[i].v[size_t(j)]));
            xp[i].v[size_t(j)] += h;
            xm[i].v[size_t(j)] -= h;
            num.v[size_t(j)] = (L(xp) - L(xm)) / (2 * h);
            scale = std::max(scale, std::fabs(num.v[size_t(j)]));
        }
        CHECK(excess(got, num, 2e-3 * scale, 2e-3) <= 1.0);
    }
}

}  // namespace

TEST_CASE("ops: broadcasting add/sub/mul/div, forward + grad") {
    const Shape shapes[][2] = {{{1}, {1}}, {{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{2, 1, 5}, {3, 1}}, {{1, 3}, {2, 1}}, {{}, {2, 3}}};
    int seed = 1;
    for (auto& s : shapes) {
        auto a = rand_arr(s[0], seed++), b = rand_arr(s[1], seed++, 0.5, 2.0);
        check_op("add", {a, b}, {true, true}, [](auto& t) { return t[0] + t[1]; },
                 [](auto& x) { return ref::binary(x[0], x[1], [](double p, double q) { return p + q; }); });
        check_op("sub", {a, b}, {true, true}, [](auto& t) { return t[0] - t[1]; },
                 [](auto& x) { return ref::binary(x[0], x[1], [](double p, double q) { return p - q; }); });
        check_op("mul", {a, b}, {true, true}, [](auto& t) { return t[0] * t[1]; },
                 [](auto& x) { return ref::binary(x[0], x[1], [](double p, double q) { return p * q; }); });
        check_op("div", {a, b}, {true, true}, [](auto& t) { return t[0] / t[1]; },
                 [](auto& x) { return ref::binary(x[0], x[1], [](double p, double q) { return p / q; }); });
    }
    // strided (transposed) operand
    auto a = rand_arr({4, 3}, 50), b = rand_arr({3, 4}, 51);
    check_op("add(transposed)", {a, b}, {true, true}, [](auto& t) { return t[0].transpose(0, 1) + t[1]; },
             [](auto& x) {
                 DArray at({3, 4});
                 for (int i = 0; i < 3; i++)
                     for (int j = 0; j < 4; j++) at.v[size_t(i * 4 + j)] = x[0].v[size_t(j * 3 + i)];
                 return ref::binary(at, x[1], [](double p, double q) { return p + q; });
             });
}

TEST_CASE("ops: unary and scalar ops, forward + grad") {
    auto a = rand_arr({3, 7}, 3, -3, 3), pos = rand_arr({3, 7}, 4, 0.2, 3);
    struct U {
        const char* n;
        std::function<Tensor(const Tensor&)> f;
        std::function<double(double)> r;
        bool positive;
    };
    std::vector<U> us = {
        {"neg", [](const Tensor& t) { return -t; }, [](double x) { return -x; }, false},
        {"add_scalar", [](const Tensor& t) { return t + 2.5f; }, [](double x) { return x + 2.5; }, false},
        {"mul_scalar", [](const Tensor& t) { return t * -1.5f; }, [](double x) { return x * -1.5; }, false},
        {"pow_scalar", [](const Tensor& t) { return pow_scalar(t, 1.7f); }, [](double x) { return std::pow(x, 1.7); }, true},
        {"exp", [](const Tensor& t) { return tg::exp(t); }, [](double x) { return std::exp(x); }, false},
        {"log", [](const Tensor& t) { return tg::log(t); }, [](double x) { return std::log(x); }, true},
        {"sqrt", [](const Tensor& t) { return tg::sqrt(t); }, [](double x) { return std::sqrt(x); }, true},
        {"tanh", [](const Tensor& t) { return tg::tanh(t); }, [](double x) { return std::tanh(x); }, false},
        {"sigmoid", [](const Tensor& t) { return sigmoid(t); }, [](double x) { return ref::sigmoid(x); }, false},
        {"relu", [](const Tensor& t) { return relu(t); }, [](double x) { return x > 0 ? x : 0.0; }, false},
        {"clamp_min", [](const Tensor& t) { return clamp_min(t, 0.3f); }, [](double x) { return x > 0.3 ? x : 0.3; }, false},
        {"gelu", [](const Tensor& t) { return gelu(t); }, [](double x) { return ref::gelu(x, false); }, false},
        {"gelu_tanh", [](const Tensor& t) { return gelu(t, true); }, [](double x) { return ref::gelu(x, true); }, false},
    };
    for (auto& u : us)
        check_op(u.n, {u.positive ? pos : a}, {true}, [&](auto& t) { return u.f(t[0]); },
                 [&](auto& x) { return ref::map(x[0], u.r); }, 2e-6);
}

TEST_CASE("ops: sum/mean/max over axes, forward + grad") {
    auto a = rand_arr({2, 3, 5}, 5);
    for (std::vector<int64_t> ax : std::vector<std::vector<int64_t>>{{0}, {1}, {2}, {-1}, {0, 2}, {0, 1, 2}}) {
        for (bool keep : {false, true}) {
            check_op("sum", {a}, {true}, [&](auto& t) { return sum(t[0], ax, keep); },
                     [&](auto& x) { return ref::sum(x[0], ax, keep); });
            check_op("mean", {a}, {true}, [&](auto& t) { return mean(t[0], ax, keep); }, [&](auto& x) {
                DArray s = ref::sum(x[0], ax, keep);
                int64_t n = 1;
                for (int64_t d : ax) n *= x[0].shape[size_t(d < 0 ? d + 3 : d)];
                return ref::map(s, [n](double v) { return v / double(n); });
            });
        }
    }
    for (int64_t ax : {0, 1, 2})
        check_op("max", {a}, {true}, [&](auto& t) { return max(t[0], ax, false); }, [&](auto& x) { return ref::max(x[0], ax, false); });
    check_op("sum(all)", {a}, {true}, [](auto& t) { return sum(t[0]); }, [](auto& x) { return ref::sum(x[0], {0, 1, 2}, false); });
    Tensor am = argmax(Tensor::from_vector({1, 5, 2, 7, 0, 7}, {2, 3}), 1);
    CHECK(am.to_ints() == std::vector<int64_t>{1, 0});
}

TEST_CASE("ops: matmul (2-D, batched, transposed, shared weight) and linear, forward + grad") {
    // tiny and odd sizes
    const int64_t dims[][3] = {{1, 1, 1}, {2, 3, 4}, {5, 7, 3}, {17, 9, 33}};
    int seed = 10;
    for (auto& d : dims) {
        const int64_t M = d[0], K = d[1], N = d[2];
        auto a = rand_arr({M, K}, seed++), b = rand_arr({K, N}, seed++);
        check_op("matmul", {a, b}, {true, true}, [](auto& t) { return matmul(t[0], t[1]); },
                 [](auto& x) { return ref::matmul(x[0], x[1]); });
        auto ba = rand_arr({3, M, K}, seed++), bb = rand_arr({3, K, N}, seed++);
        check_op("bmm", {ba, bb}, {true, true}, [](auto& t) { return matmul(t[0], t[1]); },
                 [](auto& x) { return ref::matmul(x[0], x[1]); });
        check_op("matmul(shared b)", {ba, b}, {true, true}, [](auto& t) { return matmul(t[0], t[1]); },
                 [](auto& x) { return ref::matmul(x[0], x[1]); });
        auto w = rand_arr({N, K}, seed++), bias = rand_arr({N}, seed++);
        check_op("linear", {ba, w, bias}, {true, true, true}, [](auto& t) { return linear(t[0], t[1], t[2]); },
                 [](auto& x) { return ref::linear(x[0], x[1], &x[2]); });
        check_op("linear(no bias)", {a, w}, {true, true}, [](auto& t) { return linear(t[0], t[1]); },
                 [](auto& x) { return ref::linear(x[0], x[1], nullptr); });
    }
    // transposed operands and a 4-D attention-style product: q [B,H,T,D] · kᵀ
    auto q = rand_arr({2, 3, 5, 4}, 40), k = rand_arr({2, 3, 5, 4}, 41);
    check_op("q·kᵀ", {q, k}, {true, true}, [](auto& t) { return matmul(t[0], t[1].transpose(-1, -2)); },
             [](auto& x) {
                 DArray kt({2, 3, 4, 5});
                 for (int b = 0; b < 6; b++)
                     for (int i = 0; i < 5; i++)
                         for (int j = 0; j < 4; j++) kt.v[size_t(b * 20 + j * 5 + i)] = x[1].v[size_t(b * 20 + i * 4 + j)];
                 return ref::matmul(x[0], kt);
             });
    // permuted (non-collapsible batch) operand: [T,B,D] viewed as [B,T,D]
    auto p = rand_arr({5, 2, 4}, 42), w2 = rand_arr({2, 4, 3}, 43);
    check_op("matmul(permuted)", {p, w2}, {true, true}, [](auto& t) { return matmul(t[0].permute({1, 0, 2}), t[1]); },
             [](auto& x) {
                 DArray pp({2, 5, 4});
                 for (int t = 0; t < 5; t++)
                     for (int b = 0; b < 2; b++)
                         for (int c = 0; c < 4; c++) pp.v[size_t((b * 5 + t) * 4 + c)] = x[0].v[size_t((t * 2 + b) * 4 + c)];
                 return ref::matmul(pp, x[1]);
             });
}

TEST_CASE("ops: softmax / log_softmax with masks, layer_norm, forward + grad") {
    auto x = rand_arr({2, 3, 4, 5}, 20, -3, 3);
    DArray mask({2, 1, 1, 5});  // attention padding mask: last two keys of batch 1 hidden
    mask.v = {0, 0, 0, 0, 0, 0, 0, 0, -1e4, -1e4};
    DArray mask2 = rand_arr({4, 5}, 21);  // broadcast over leading dims (general path)
    for (bool lg : {false, true}) {
        const char* n = lg ? "log_softmax" : "softmax";
        auto f = [lg](const Tensor& a, const Tensor& m) { return lg ? log_softmax(a, m) : softmax(a, m); };
        check_op(n, {x}, {true}, [&](auto& t) { return f(t[0], Tensor()); }, [&](auto& a) { return ref::softmax(a[0], nullptr, lg); });
        check_op(n, {x, mask}, {true, false}, [&](auto& t) { return f(t[0], t[1]); }, [&](auto& a) { return ref::softmax(a[0], &a[1], lg); });
        check_op(n, {x, mask2}, {true, false}, [&](auto& t) { return f(t[0], t[1]); }, [&](auto& a) { return ref::softmax(a[0], &a[1], lg); });
        auto odd = rand_arr({1, 1}, 22);
        check_op(n, {odd}, {true}, [&](auto& t) { return f(t[0], Tensor()); }, [&](auto& a) { return ref::softmax(a[0], nullptr, lg); });
    }
    for (int64_t C : {1, 3, 8, 37}) {
        auto xl = rand_arr({4, C}, 23, -2, 2), w = rand_arr({C}, 24), b = rand_arr({C}, 25);
        if (C == 1) {  // a single channel normalizes to 0 whatever x: only w, b get gradients that FD can see
            check_op("layer_norm C=1", {xl, w, b}, {false, true, true}, [](auto& t) { return layer_norm(t[0], t[1], t[2], 1e-5f); },
                     [](auto& a) { return ref::layer_norm(a[0], &a[1], &a[2], 1e-5); });
            continue;
        }
        check_op("layer_norm", {xl, w, b}, {true, true, true}, [](auto& t) { return layer_norm(t[0], t[1], t[2], 1e-5f); },
                 [](auto& a) { return ref::layer_norm(a[0], &a[1], &a[2], 1e-5); });
        check_op("layer_norm(no affine)", {xl}, {true}, [](auto& t) { return layer_norm(t[0], Tensor(), Tensor(), 1e-5f); },
                 [](auto& a) { return ref::layer_norm(a[0], nullptr, nullptr, 1e-5); });
    }
}

TEST_CASE("ops: embedding, dropout, concat/split, index_select, gather, forward + grad") {
    auto table = rand_arr({6, 3}, 30);
    const std::vector<int64_t> ids = {0, 5, 2, 2, 5, 1};  // repeated ids: scatter-add must sum
    Tensor idt = Tensor::from_ints(ids, {2, 3});
    check_op("embedding", {table}, {true}, [&](auto& t) { return embedding(t[0], idt); },
             [&](auto& x) { return ref::embedding(x[0], ids, {2, 3}); });
    Tensor idt32 = Tensor::from_ints(ids, {6}, DType::i32);
    check_op("embedding(i32)", {table}, {true}, [&](auto& t) { return embedding(t[0], idt32); },
             [&](auto& x) { return ref::embedding(x[0], ids, {6}); });

    auto x = rand_arr({7, 9}, 31);
    check_op("dropout", {x}, {true}, [](auto& t) { return dropout(t[0], 0.3f, true, 1234); },
             [](auto& a) { return ref::dropout(a[0], 0.3f, 1234); });
    Tensor xt = ref::to_tensor(x);
    CHECK(dropout(xt, 0.3f, false, 1).impl_ptr() == xt.impl_ptr());  // eval: identity

    auto c1 = rand_arr({2, 3}, 32), c2 = rand_arr({2, 1}, 33), c3 = rand_arr({2, 4}, 34);
    check_op("concat", {c1, c2, c3}, {true, true, true}, [](auto& t) { return concat({t[0], t[1], t[2]}, 1); },
             [](auto& a) { return ref::concat({a[0], a[1], a[2]}, 1); });
    check_op("split", {c3}, {true}, [](auto& t) {
        auto parts = split(t[0], {1, 3}, 1);
        return concat({parts[1] * 2.0f, parts[0]}, 1);
    }, [](auto& a) {
        DArray r({2, 4});
        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < 3; j++) r.v[size_t(i * 4 + j)] = 2 * a[0].v[size_t(i * 4 + 1 + j)];
            r.v[size_t(i * 4 + 3)] = a[0].v[size_t(i * 4)];
        }
        return r;
    });
    const std::vector<int64_t> sel = {2, 0, 2};
    Tensor selt = Tensor::from_ints(sel, {3});
    auto y = rand_arr({3, 4, 2}, 35);
    for (int64_t ax : {0, 1})
        check_op("index_select", {y}, {true}, [&](auto& t) { return index_select(t[0], ax, selt); },
                 [&](auto& a) { return ref::index_select(a[0], ax, sel); });
    const std::vector<int64_t> gi = {1, 0, 3, 3, 2, 0};
    Tensor git = Tensor::from_ints(gi, {3, 2});
    auto gx = rand_arr({3, 4}, 36);
    check_op("gather", {gx}, {true}, [&](auto& t) { return gather(t[0], 1, git); },
             [&](auto& a) { return ref::gather(a[0], 1, gi, {3, 2}); });
}

TEST_CASE("ops: losses and similarities, forward + grad") {
    auto logits = rand_arr({5, 4}, 60, -3, 3);
    const std::vector<int64_t> tg_ = {3, -100, 0, 1, 3};
    Tensor tt = Tensor::from_ints(tg_, {5});
    for (float eps : {0.0f, 0.1f})
        check_op("cross_entropy", {logits}, {true}, [&](auto& t) { return cross_entropy(t[0], tt, -100, eps); },
                 [&](auto& x) { return DArray({}, {ref::cross_entropy(x[0], tg_, -100, eps)}); });
    auto bt = rand_arr({3, 4}, 61, 0, 1), bx = rand_arr({3, 4}, 62, -4, 4);
    check_op("bce_with_logits", {bx, bt}, {true, true}, [](auto& t) { return bce_with_logits(t[0], t[1]); },
             [](auto& x) { return DArray({}, {ref::bce_with_logits(x[0], x[1])}); });
    check_op("mse_loss", {bx, bt}, {true, true}, [](auto& t) { return mse_loss(t[0], t[1]); },
             [](auto& x) { return DArray({}, {ref::mse(x[0], x[1])}); });
    check_op("l2_normalize", {bx}, {true}, [](auto& t) { return l2_normalize(t[0]); }, [](auto& x) { return ref::l2_normalize(x[0], 1e-12); });
    check_op("cosine_similarity", {bx, bt}, {true, true}, [](auto& t) { return cosine_similarity(t[0], t[1]); },
             [](auto& x) { return ref::cosine_similarity(x[0], x[1], 1e-8); });
}
