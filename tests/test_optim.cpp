// test_optim.cpp — SGD / AdamW / clipping / schedules against trajectories recorded from PyTorch
// (tests/fixtures/optim/trajectories.json, written by tools/ref/optim_reference.py; see its header for
// the gradient formula both sides use).
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <memory>

#include "nn/optim.h"
#include "tensor/io.h"
#include "tensor/json.h"
#include "test_util.h"

using namespace tg;
using namespace tg::nn;

namespace {

std::vector<Tensor> init_params(const std::vector<double>& init) {
    std::vector<float> a(init.begin(), init.begin() + 12), b(init.begin() + 12, init.end());
    return {Tensor::from_vector(a, {3, 4}).set_requires_grad(true), Tensor::from_vector(b, {5}).set_requires_grad(true)};
}

void set_grads(std::vector<Tensor>& ps) {
    for (Tensor& p : ps) {
        std::vector<float> v = p.to_vector(), g(v.size());
        for (size_t i = 0; i < v.size(); i++) {
            const float fi = float(i), a = 1.0f + 0.1f * fi, t = std::cos(0.3f * fi);
            g[i] = 2.0f * a * (v[i] - t) + 0.4f * v[i] * v[i] * v[i];
        }
        p.set_grad(Tensor::from_vector(g, p.shape()));
    }
}

std::vector<double> numbers(const json::Value& arr) {
    std::vector<double> r;
    for (const auto& x : arr.arr) r.push_back(x.as_number());
    return r;
}

// Run `steps` steps and compare every parameter after every step with torch (f32 both sides; the only
// differences are operation order, so 1e-5 relative is tight).
void compare(const json::Value& fx, const char* name, const std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>&)>& make,
             float clip = 0.0f, const LRSchedule* sched = nullptr) {
    INFO("case ", std::string(name));
    const json::Value& c = *fx.find("cases")->find(name);
    auto ps = init_params(numbers(*fx.find("init")));
    auto opt = make(ps);
    const auto& traj = c.find("params")->arr;
    const auto norms = numbers(*c.find("grad_norms"));
    const auto lrs = numbers(*c.find("lrs"));
    double worst = 0.0;
    for (size_t s = 0; s < traj.size(); s++) {
        set_grads(ps);
        if (clip > 0.0f) CHECK(clip_grad_norm(ps, clip) == doctest::Approx(norms[s]).epsilon(1e-5));
        if (sched) {
            opt->lr = sched->lr_at(int64_t(s));
            CHECK(opt->lr == doctest::Approx(lrs[s]).epsilon(1e-6));
        }
        opt->step();
        const auto want = numbers(traj[s]);
        std::vector<float> got = ps[0].to_vector(), g2 = ps[1].to_vector();
        got.insert(got.end(), g2.begin(), g2.end());
        for (size_t i = 0; i < want.size(); i++) worst = std::fmax(worst, std::fabs(got[i] - want[i]) / (1e-6 + std::fabs(want[i])));
    }
    CHECK(worst < 1e-5);
}

}  // namespace

TEST_CASE("optim: SGD, momentum, Nesterov, AdamW, clipping + warm-up match PyTorch trajectories") {
    const json::Value fx = json::parse(read_file(test::fixture("optim/trajectories.json")), "trajectories.json");
    compare(fx, "sgd", [](auto& p) { return std::make_unique<SGD>(p, 0.1f); });
    compare(fx, "sgd_momentum", [](auto& p) { return std::make_unique<SGD>(p, 0.05f, 0.9f, 0.1f, 0.01f); });
    compare(fx, "sgd_nesterov", [](auto& p) { return std::make_unique<SGD>(p, 0.05f, 0.9f, 0.0f, 0.01f, true); });
    compare(fx, "adamw", [](auto& p) { return std::make_unique<AdamW>(p, 0.01f, 0.9f, 0.999f, 1e-8f, 0.1f); });
    LRSchedule sched{0.02f, 3, 10, LRSchedule::Decay::linear};
    compare(fx, "adamw_clip_warmup_linear", [](auto& p) { return std::make_unique<AdamW>(p, 0.02f, 0.8f, 0.99f, 1e-6f, 0.05f); },
            1.0f, &sched);
}

TEST_CASE("optim: warm-up + linear / cosine schedules match transformers") {
    const json::Value fx = json::parse(read_file(test::fixture("optim/trajectories.json")), "trajectories.json");
    const json::Value& s = *fx.find("schedules");
    for (auto [name, decay] : {std::pair{"linear", LRSchedule::Decay::linear}, std::pair{"cosine", LRSchedule::Decay::cosine}}) {
        const auto want = numbers(*s.find("lrs")->find(name));
        LRSchedule sch{1.0f, s.find("warmup")->as_int(), s.find("total")->as_int(), decay};
        for (size_t i = 0; i < want.size(); i++) CHECK(sch.lr_at(int64_t(i)) == doctest::Approx(want[i]).epsilon(1e-6));
    }
}
