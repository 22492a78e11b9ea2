// test_autograd.cpp — the tape: accumulation, no-grad, detach, release of saved tensors, deep graphs,
// the graph printout.
#include <doctest/doctest.h>

#include "tensor/allocator.h"
#include "tensor/ops/ops.h"

using namespace tg;

TEST_CASE("autograd: micrograd example, gradient accumulation across backward calls") {
    // y = relu(x * w + b) * x, at x = 2, w = -3 + ... checked by hand:
    Tensor x = Tensor::full({1}, 2.0f).set_requires_grad(true);
    Tensor w = Tensor::full({1}, 1.5f).set_requires_grad(true);
    Tensor y = relu(x * w + 1.0f) * x;  // = (2*1.5+1)*2 = 8; dy/dx = w*x + (x*w+1) = 3 + 4 = 7; dy/dw = x*x = 4
    CHECK(y.item() == 8.0f);
    sum(y).backward();
    CHECK(x.grad().item() == 7.0f);
    CHECK(w.grad().item() == 4.0f);
    Tensor y2 = x * w;
    sum(y2).backward();  // accumulates: dx += w, dw += x
    CHECK(x.grad().item() == 8.5f);
    CHECK(w.grad().item() == 6.0f);
    x.zero_grad();
    CHECK(!x.grad().defined());
    // a value used twice sends the sum of both paths
    Tensor z = x * x + x;
    sum(z).backward();
    CHECK(x.grad().item() == 5.0f);
}

TEST_CASE("autograd: no-grad scope, detach, requires_grad rules") {
    Tensor w = Tensor::ones({2}).set_requires_grad(true);
    {
        NoGradGuard ng;
        Tensor y = w * 2.0f;
        CHECK(!y.requires_grad());
        CHECK(!grad_enabled());
    }
    CHECK(grad_enabled());
    Tensor d = (w * 2.0f).detach();
    CHECK(!d.requires_grad());
    CHECK(d.is_leaf());
    Tensor c = Tensor::ones({2});
    CHECK(!(c * 3.0f).requires_grad());
    CHECK_THROWS_WITH_AS(sum(c).backward(), doctest::Contains("does not require grad"), Error);
    Tensor y = w * 3.0f;
    CHECK_THROWS_AS(y.set_requires_grad(false), Error);  // not a leaf
    CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("not a single value"), Error);
}

TEST_CASE("autograd: saved tensors are released by backward; a second backward fails clearly") {
    cpu_allocator_empty_cache();
    Tensor w = Tensor::randn({256, 256}, 1).set_requires_grad(true);
    const size_t base = cpu_allocator_stats().bytes_in_use;
    Tensor loss;
    {
        Tensor h = w;
        for (int i = 0; i < 8; i++) h = tanh(h) * 1.1f;  // each tanh saves its 256 KiB output
        loss = sum(h);
    }
    const size_t with_graph = cpu_allocator_stats().bytes_in_use;
    CHECK(with_graph >= base + 16 * 256 * 256 * 4);
    loss.backward();
    // only the loss value and w.grad remain (plus w itself, counted in base)
    CHECK(cpu_allocator_stats().bytes_in_use <= base + 256 * 256 * 4 + 4096);
    CHECK_THROWS_WITH_AS(loss.backward(), doctest::Contains("already used"), Error);
}

TEST_CASE("autograd: a 100k-node deep graph: iterative backward and destruction (no stack overflow)") {
    Tensor x = Tensor::full({1}, 1.0f).set_requires_grad(true);
    Tensor y = x;
    const int depth = 50000;
    for (int i = 0; i < depth; i++) y = y * 1.0f + 0.0f;  // 2 nodes per step: a chain 100k nodes deep
    sum(y).backward();
    CHECK(x.grad().item() == 1.0f);
    // and a graph destroyed without ever running backward
    Tensor z = x;
    for (int i = 0; i < 2 * depth; i++) z = z + 1.0f;
    CHECK(z.item() == 100001.0f);
    z = Tensor();  // would recurse 100k deep without Node's iterative destructor
    CHECK(true);
}

TEST_CASE("autograd: readable graph printout") {
    Tensor w = Tensor::ones({3, 2}).set_requires_grad(true).set_name("w");
    Tensor x = Tensor::ones({4, 3}).set_name("x");
    Tensor loss = sum(relu(matmul(x, w)));
    const std::string g = graph_string(loss);
    CHECK(g == "%0 = leaf \"x\" f32[4, 3]\n"
               "%1 = leaf \"w\" f32[3, 2] requires_grad\n"
               "%2 = matmul(%0, %1) f32[4, 2]\n"
               "%3 = relu(%2) f32[4, 2]\n"
               "%4 = sum(%3) f32[]\n");
}

TEST_CASE("autograd: views propagate gradients (slice, permute, expand, reshape, select)") {
    Tensor x = Tensor::arange(6).reshape({2, 3}).detach().set_requires_grad(true);
    Tensor y = x.slice(1, 1, 3).permute({1, 0}).reshape({4}) * Tensor::from_vector({1, 2, 3, 4}, {4});
    sum(y).backward();
    // y = [x01*1, x11*2, x02*3, x12*4]
    CHECK(x.grad().to_vector() == std::vector<float>{0, 1, 3, 0, 2, 4});
    Tensor b = Tensor::from_vector({1, 2}, {2, 1}).set_requires_grad(true);
    sum(b.expand({3, 2, 4})).backward();
    CHECK(b.grad().to_vector() == std::vector<float>{12, 12});
}
