// test_linear_bf16.cpp — tg::linear_bf16 (ops/matmul.cpp) against a double-precision reference computed from the
// bf16-rounded operands: y = bf16(x) bf16(w)ᵀ + b, dx = bf16(g) bf16(w), dw = bf16(g)ᵀ bf16(x), db = Σ_rows g.
// Odd inner sizes exercise the GEMM's half-padded last bf16 pair; the upstream gradient g comes from
// loss = Σ y ⊙ u with a random u (so g = u).
#include <doctest/doctest.h>

#include <cmath>

#include "tensor/ops/ops.h"

using namespace tg;

namespace {

double rb(float v) { return double(bf16_to_f32(f32_to_bf16(v))); }  // round to bf16, as the op does

}  // namespace

TEST_CASE("linear_bf16: forward and gradients match the double-precision product of bf16-rounded operands") {
    const int64_t R = 37, IN = 19, OUT = 23;
    Tensor x = Tensor::randn({R, IN}, 21).set_requires_grad(true);
    Tensor w = Tensor::randn({OUT, IN}, 22).set_requires_grad(true);
    Tensor b = Tensor::randn({OUT}, 23).set_requires_grad(true);
    Tensor u = Tensor::randn({R, OUT}, 24);
    Tensor y = linear_bf16(x, w, b);
    sum(y * u).backward();
    const std::vector<float> X = x.to_vector(), W = w.to_vector(), Bv = b.to_vector(), U = u.to_vector();
    const std::vector<float> Y = y.to_vector(), DX = x.grad().to_vector(), DW = w.grad().to_vector(),
                             DB = b.grad().to_vector();
    double ey = 0, edx = 0, edw = 0, edb = 0;
    for (int64_t r = 0; r < R; r++)
        for (int64_t o = 0; o < OUT; o++) {
            double s = Bv[size_t(o)];
            for (int64_t i = 0; i < IN; i++) s += rb(X[size_t(r * IN + i)]) * rb(W[size_t(o * IN + i)]);
            ey = std::max(ey, std::abs(s - Y[size_t(r * OUT + o)]));
        }
    for (int64_t r = 0; r < R; r++)
        for (int64_t i = 0; i < IN; i++) {
            double s = 0;
            for (int64_t o = 0; o < OUT; o++) s += rb(U[size_t(r * OUT + o)]) * rb(W[size_t(o * IN + i)]);
            edx = std::max(edx, std::abs(s - DX[size_t(r * IN + i)]));
        }
    for (int64_t o = 0; o < OUT; o++) {
        for (int64_t i = 0; i < IN; i++) {
            double s = 0;
            for (int64_t r = 0; r < R; r++) s += rb(U[size_t(r * OUT + o)]) * rb(X[size_t(r * IN + i)]);
            edw = std::max(edw, std::abs(s - DW[size_t(o * IN + i)]));
        }
        double s = 0;
        for (int64_t r = 0; r < R; r++) s += U[size_t(r * OUT + o)];
        edb = std::max(edb, std::abs(s - DB[size_t(o)]));
    }
    MESSAGE("linear_bf16 max |error|: y ", ey, ", dx ", edx, ", dw ", edw, ", db ", edb);
    // f32 accumulation of <= 37 products of O(1) terms: ~1e-6; a missing bf16 rounding would show as ~1e-2
    CHECK(ey <= 2e-5);
    CHECK(edx <= 2e-5);
    CHECK(edw <= 2e-5);
    CHECK(edb <= 2e-5);
}
