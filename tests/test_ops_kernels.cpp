// test_ops_kernels.cpp — the raw f32 kernels (tensor/kernels.h): every ISA build against the scalar _ref,
// on tiny, odd and BERT-like shapes, plus bit-identical results for 1 vs 2 threads.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tensor/cpu_isa.h"
#include "tensor/kernels.h"
#include "tensor/parallel.h"
#include "tensor/rng.h"
#include "test_util.h"

using tg::test::rand_vec;

namespace {

// max over i of |a-b| / (atol + rtol |b|); <= 1 means close.
double excess(const std::vector<float>& a, const std::vector<float>& b, double atol, double rtol) {
    double worst = 0.0;
    for (size_t i = 0; i < a.size(); i++) {
        double e = std::fabs(double(a[i]) - b[i]) / (atol + rtol * std::fabs(double(b[i])));
        if (!(e <= worst)) worst = e;  // NaN propagates as "bad"
    }
    return worst;
}

struct IsaGuard {
    tg::Isa saved = tg::cpu_isa();
    ~IsaGuard() { tg::set_cpu_isa(saved); }
};

const int64_t kShapes[][2] = {{1, 1}, {1, 3}, {3, 7}, {5, 33}, {2, 64}, {17, 768}, {40, 1000}, {130, 257}};

}  // namespace

TEST_CASE("kernels: layernorm forward/backward, every ISA vs ref") {
    IsaGuard guard;
    for (tg::Isa isa : {tg::Isa::scalar, tg::Isa::avx2, tg::Isa::avx512}) {
        tg::set_cpu_isa(isa);
        for (auto& s : kShapes) {
            const int64_t N = s[0], C = s[1];
            auto x = rand_vec(N * C, 1, -2.f, 3.f), w = rand_vec(C, 2), b = rand_vec(C, 3), dy = rand_vec(N * C, 4);
            std::vector<float> y(N * C), m(N), r(N), y0(N * C), m0(N), r0(N);
            tg::layernorm_forward(y.data(), m.data(), r.data(), x.data(), w.data(), b.data(), N, C, 1e-5f);
            tg::layernorm_forward_ref(y0.data(), m0.data(), r0.data(), x.data(), w.data(), b.data(), N, C, 1e-5f);
            CHECK(excess(y, y0, 1e-5, 1e-4) <= 1.0);
            CHECK(excess(r, r0, 1e-5, 1e-4) <= 1.0);
            std::vector<float> dx(N * C), dw(C, 0.5f), db(C, -0.25f), dx0(N * C), dw0(C, 0.5f), db0(C, -0.25f);
            tg::layernorm_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), m0.data(),
                                   r0.data(), N, C);
            tg::layernorm_backward_ref(dx0.data(), dw0.data(), db0.data(), dy.data(), x.data(), w.data(),
                                       m0.data(), r0.data(), N, C);
            INFO("isa ", std::string(tg::isa_name(tg::cpu_isa())), " N=", N, " C=", C);
            CHECK(excess(dx, dx0, 1e-5, 1e-4) <= 1.0);
            CHECK(excess(dw, dw0, 1e-5, 1e-5) <= 1.0);
            CHECK(excess(db, db0, 1e-5, 1e-5) <= 1.0);
        }
    }
}

TEST_CASE("kernels: gelu (erf and tanh) forward/backward, every ISA vs ref") {
    IsaGuard guard;
    for (tg::Isa isa : {tg::Isa::scalar, tg::Isa::avx2, tg::Isa::avx512}) {
        tg::set_cpu_isa(isa);
        for (int64_t n : {1, 7, 16, 33, 1000, 40000}) {
            auto x = rand_vec(n, 5, -7.f, 7.f), dy = rand_vec(n, 6);
            for (bool th : {false, true}) {
                std::vector<float> y(n), y0(n), dx(n), dx0(n);
                tg::gelu_forward(y.data(), x.data(), n, th);
                tg::gelu_forward_ref(y0.data(), x.data(), n, th);
                tg::gelu_backward(dx.data(), dy.data(), x.data(), n, th);
                tg::gelu_backward_ref(dx0.data(), dy.data(), x.data(), n, th);
                INFO("isa ", std::string(tg::isa_name(tg::cpu_isa())), " n=", n, " tanh=", th);
                CHECK(excess(y, y0, 2e-6, 1e-5) <= 1.0);
                CHECK(excess(dx, dx0, 2e-6, 1e-5) <= 1.0);
            }
        }
    }
}

TEST_CASE("kernels: softmax with mask forward/backward, every ISA vs ref") {
    IsaGuard guard;
    for (tg::Isa isa : {tg::Isa::scalar, tg::Isa::avx2, tg::Isa::avx512}) {
        tg::set_cpu_isa(isa);
        for (auto& s : kShapes) {
            const int64_t R = s[0] * 2, C = s[1];
            auto x = rand_vec(R * C, 7, -20.f, 20.f), dy = rand_vec(R * C, 8);
            // mask shared by pairs of rows: 0 or -1e4 or -inf, last row fully masked when C is small
            std::vector<float> mask(s[0] * C);
            for (size_t i = 0; i < mask.size(); i++) mask[i] = i % 3 == 1 ? -1e4f : (i % 5 == 4 ? -INFINITY : 0.f);
            std::vector<float> y(R * C), y0(R * C), dx(R * C), dx0(R * C);
            for (const float* mk : {(const float*)nullptr, (const float*)mask.data()}) {
                tg::softmax_forward(y.data(), x.data(), mk, R, C, 2);
                tg::softmax_forward_ref(y0.data(), x.data(), mk, R, C, 2);
                tg::softmax_backward(dx.data(), dy.data(), y0.data(), R, C);
                tg::softmax_backward_ref(dx0.data(), dy.data(), y0.data(), R, C);
                INFO("isa ", std::string(tg::isa_name(tg::cpu_isa())), " R=", R, " C=", C, " mask=", mk != nullptr);
                CHECK(excess(y, y0, 1e-6, 1e-5) <= 1.0);
                CHECK(excess(dx, dx0, 1e-6, 1e-5) <= 1.0);
            }
        }
    }
}

TEST_CASE("kernels: vexp / vsigmoid / vtanh vs <cmath>") {
    IsaGuard guard;
    for (tg::Isa isa : {tg::Isa::scalar, tg::Isa::avx2, tg::Isa::avx512}) {
        tg::set_cpu_isa(isa);
        auto x = rand_vec(5001, 9, -80.f, 80.f);
        x[0] = -200.f;
        x[1] = 0.f;
        std::vector<float> y(x.size()), r(x.size());
        tg::vexp(y.data(), x.data(), int64_t(x.size()));
        for (size_t i = 0; i < x.size(); i++) r[i] = std::exp(x[i]);
        CHECK(excess(y, r, 1e-37, 3e-7) <= 1.0);
        CHECK(y[0] == 0.0f);
        tg::vsigmoid(y.data(), x.data(), int64_t(x.size()));
        for (size_t i = 0; i < x.size(); i++) r[i] = float(1.0 / (1.0 + std::exp(-double(x[i]))));
        CHECK(excess(y, r, 1e-37, 5e-7) <= 1.0);
        tg::vtanh(y.data(), x.data(), int64_t(x.size()));
        for (size_t i = 0; i < x.size(); i++) r[i] = std::tanh(x[i]);
        CHECK(excess(y, r, 1e-30, 6e-7) <= 1.0);  // relative accuracy, also near 0
    }
}

TEST_CASE("kernels: bit-identical results for 1 and 2 threads") {
    const int saved = tg::num_threads();
    const int64_t N = 300, C = 384;  // above the parallel threshold
    auto x = rand_vec(N * C, 11, -3.f, 3.f), w = rand_vec(C, 12), b = rand_vec(C, 13), dy = rand_vec(N * C, 14);
    std::vector<float> out[2];
    for (int t = 1; t <= 2; t++) {
        tg::set_num_threads(t);
        std::vector<float> y(N * C), m(N), r(N), dx(N * C), dw(C, 0.f), db(C, 0.f), g(N * C), dg(N * C), sm(N * C);
        tg::layernorm_forward(y.data(), m.data(), r.data(), x.data(), w.data(), b.data(), N, C, 1e-12f);
        tg::layernorm_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), m.data(), r.data(), N, C);
        tg::gelu_forward(g.data(), x.data(), N * C, false);
        tg::gelu_backward(dg.data(), dy.data(), x.data(), N * C, true);
        tg::softmax_forward(sm.data(), x.data(), nullptr, N, C, 1);
        auto& o = out[t - 1];
        for (auto* v : {&y, &dx, &dw, &db, &g, &dg, &sm}) o.insert(o.end(), v->begin(), v->end());
    }
    tg::set_num_threads(saved);
    CHECK(out[0] == out[1]);
}

TEST_CASE("kernels: dropout mask of every ISA equals the scalar philox_uniform formula bit for bit") {
    IsaGuard guard;
    const int64_t n = 70001;  // several blocks, a ragged tail, parallel
    auto x = rand_vec(n, 31);
    for (uint64_t base : {uint64_t(0), uint64_t(0xFFFFFFF0ull)}) {  // base crossing 2^32: the counter's high word
        for (float p : {0.1f, 0.5f}) {
            const uint64_t seed = 0x123456789abcdefull;
            std::vector<float> want(n);
            for (int64_t i = 0; i < n; i++)
                want[i] = tg::philox_uniform(seed, base + uint64_t(i)) >= p ? x[i] * (1.0f / (1.0f - p)) : 0.0f;
            for (tg::Isa isa : {tg::Isa::scalar, tg::Isa::avx2, tg::Isa::avx512}) {
                tg::set_cpu_isa(isa);
                for (bool par : {true, false}) {
                    std::vector<float> got(n, -1.f);
                    tg::dropout_mask_scale(got.data(), x.data(), n, p, seed, base, par);
                    CHECK(got == want);
                }
            }
            int64_t kept = 0;
            for (float v : want) kept += v != 0.0f;
            CHECK(std::fabs(double(kept) / n - (1.0 - p)) < 0.01);
        }
    }
}
