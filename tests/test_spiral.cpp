// test_spiral.cpp — the core as a whole: an MLP trained with AdamW on a two-class spiral reaches
// >= 99% accuracy, and the whole run is bit-identical for 1 and 2 threads.
//
// Data: class c in {0, 1}, point i of N: t = i / N, radius r = 0.1 + t, angle = 3 pi t + c pi, plus
// Philox noise (stddev 0.01); two interleaved arms of 1.5 turns — not linearly separable.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

#include "nn/layers.h"
#include "nn/optim.h"
#include "tensor/parallel.h"
#include "tensor/rng.h"

using namespace tg;

namespace {

struct Spiral {
    Tensor x, y;  // [2N, 2] f32, [2N] i64
};

Spiral make_spiral(int64_t n, uint64_t seed) {
    std::vector<float> xs;
    std::vector<int64_t> ys;
    for (int64_t c = 0; c < 2; c++)
        for (int64_t i = 0; i < n; i++) {
            const double t = double(i) / double(n), r = 0.1 + t, a = 3.0 * M_PI * t + double(c) * M_PI;
            const uint64_t k = uint64_t(c * n + i) * 2;
            xs.push_back(float(r * std::cos(a) + 0.01 * philox_normal(seed, k)));
            xs.push_back(float(r * std::sin(a) + 0.01 * philox_normal(seed, k + 1)));
            ys.push_back(c);
        }
    return {Tensor::from_vector(xs, {2 * n, 2}), Tensor::from_ints(ys, {2 * n})};
}

struct MLP : nn::Module {
    nn::Linear fc1{2, 64, true, 1}, fc2{64, 64, true, 2}, fc3{64, 2, true, 3};
    MLP() {
        register_module("fc1", fc1);
        register_module("fc2", fc2);
        register_module("fc3", fc3);
    }
    Tensor forward(const Tensor& x) const { return fc3.forward(tanh(fc2.forward(tanh(fc1.forward(x))))); }
};

double accuracy(const MLP& m, const Spiral& d) {
    NoGradGuard ng;
    const auto pred = argmax(m.forward(d.x), 1).to_ints(), y = d.y.to_ints();
    int64_t ok = 0;
    for (size_t i = 0; i < y.size(); i++) ok += pred[i] == y[i];
    return double(ok) / double(y.size());
}

struct RunResult {
    std::vector<float> losses, params;
    double train_acc, test_acc;
};

RunResult train(int threads) {
    set_num_threads(threads);
    const Spiral train_set = make_spiral(300, 11), test_set = make_spiral(300, 12);
    MLP model;
    nn::AdamW opt(model.parameters(), 0.01f, 0.9f, 0.999f, 1e-8f, 1e-4f);
    const int steps = 200;
    nn::LRSchedule sched{0.02f, 20, steps, nn::LRSchedule::Decay::cosine};
    RunResult r;
    for (int s = 0; s < steps; s++) {
        opt.lr = sched.lr_at(s);
        model.zero_grad();
        Tensor loss = cross_entropy(model.forward(train_set.x), train_set.y);
        loss.backward();
        nn::clip_grad_norm(model.parameters(), 5.0f);
        opt.step();
        r.losses.push_back(loss.item());
    }
    for (const Tensor& p : model.parameters()) {
        auto v = p.to_vector();
        r.params.insert(r.params.end(), v.begin(), v.end());
    }
    r.train_acc = accuracy(model, train_set);
    r.test_acc = accuracy(model, test_set);
    return r;
}

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("spiral: MLP + AdamW reaches >= 99% accuracy, bit-identical for 1 and 2 threads") {
    const int saved = num_threads();
    const RunResult one = train(1), two = train(2);
    set_num_threads(saved);
    MESSAGE("spiral: final loss ", one.losses.back(), ", train accuracy ", one.train_acc, ", held-out accuracy ", one.test_acc);
    CHECK(one.train_acc >= 0.99);
    CHECK(one.test_acc >= 0.99);
    CHECK(bit_equal(one.losses, two.losses));
    CHECK(bit_equal(one.params, two.params));
}

TEST_CASE("spiral: dropout masks and randn are bit-identical for 1 and 2 threads") {
    const int saved = num_threads();
    std::vector<float> r[2];
    for (int t = 1; t <= 2; t++) {
        set_num_threads(t);
        Tensor x = Tensor::randn({300, 333}, 5);
        r[t - 1] = dropout(x, 0.1f, true, 77).to_vector();
    }
    set_num_threads(saved);
    CHECK(bit_equal(r[0], r[1]));
}
