// test_tensor.cpp — Tensor storage, views, copies, dtypes, devices and the caching allocator.
#include <doctest/doctest.h>

#include <cstdint>
#include <cmath>
#include <cstring>

#include "tensor/allocator.h"
#include "tensor/ops/ops.h"
#include "tensor/rng.h"

using namespace tg;

TEST_CASE("tensor: 64-byte aligned storage, caching allocator reuses freed blocks") {
    for (int64_t n : {1, 3, 17, 1000}) {
        Tensor t = Tensor::empty({n});
        CHECK(reinterpret_cast<uintptr_t>(t.raw_data()) % 64 == 0);
    }
    void* first;
    {
        Tensor a = Tensor::empty({12345});
        first = a.raw_data();
    }
    const auto before = cpu_allocator_stats();
    Tensor b = Tensor::empty({12345});
    CHECK(b.raw_data() == first);  // same size class: served from the cache
    CHECK(cpu_allocator_stats().hits == before.hits + 1);
}

TEST_CASE("tensor: views share storage; contiguous copies only when needed") {
    Tensor x = Tensor::arange(24).reshape({2, 3, 4});
    CHECK(x.is_contiguous());
    Tensor p = x.permute({2, 0, 1});  // [4, 2, 3]
    CHECK(p.shape() == Shape{4, 2, 3});
    CHECK(p.storage() == x.storage());
    CHECK(!p.is_contiguous());
    CHECK(get_element(p, 1 * 6 + 1 * 3 + 2) == 1 * 12 + 2 * 4 + 1);  // p[1,1,2] = x[1,2,1]
    Tensor pc = p.contiguous();
    CHECK(pc.storage() != x.storage());
    CHECK(pc.to_vector()[size_t(1 * 6 + 1 * 3 + 2)] == 21.0f);
    CHECK(x.contiguous().storage() == x.storage());

    Tensor s = x.slice(2, 1, 4, 2);  // x[:, :, 1:4:2] -> [2, 3, 2]
    CHECK(s.shape() == Shape{2, 3, 2});
    CHECK(s.to_vector() == std::vector<float>{1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23});
    CHECK(x.select(1, 2).to_vector() == std::vector<float>{8, 9, 10, 11, 20, 21, 22, 23});
    Tensor e = Tensor::from_vector({1, 2, 3}, {3, 1}).expand({2, 3, 4});
    CHECK(e.strides() == Shape{0, 1, 0});
    CHECK(e.to_vector()[size_t(1 * 12 + 2 * 4 + 3)] == 3.0f);
    CHECK(x.reshape({-1, 4}).shape() == Shape{6, 4});
    CHECK(p.reshape({4, 6}).to_vector() == pc.view({4, 6}).to_vector());
    CHECK_THROWS_WITH_AS(p.view({24}), doctest::Contains("not contiguous"), Error);
    CHECK_THROWS_WITH_AS(x.reshape({5, -1}), doctest::Contains("[2, 3, 4]"), Error);
    CHECK(x.unsqueeze(0).shape() == Shape{1, 2, 3, 4});
    CHECK(x.unsqueeze(-1).squeeze(-1).shape() == Shape{2, 3, 4});
}

TEST_CASE("tensor: dtypes convert through f32 storage rules") {
    Tensor f = Tensor::from_vector({1.5f, -2.25f, 3.0f, 65504.0f}, {4});
    CHECK(f.to(DType::bf16).to(DType::f32).to_vector() == std::vector<float>{1.5f, -2.25f, 3.0f, 65536.0f});
    CHECK(f.to(DType::f16).to(DType::f32).to_vector() == std::vector<float>{1.5f, -2.25f, 3.0f, 65504.0f});
    CHECK(f.to(DType::i32).to_ints() == std::vector<int64_t>{1, -2, 3, 65504});
    CHECK(f.to(DType::boolean).to(DType::u8).to_ints() == std::vector<int64_t>{1, 1, 1, 1});
    CHECK(Tensor::from_ints({7, 8}, {2}).dtype() == DType::i64);
    // ops accept bf16 inputs (converted to f32 math)
    Tensor b = Tensor::from_vector({1, 2, 3, 4}, {2, 2}).to(DType::bf16);
    CHECK(matmul(b, b).to_vector() == std::vector<float>{7, 10, 15, 22});
}

TEST_CASE("tensor: from_blob views external memory without copying and keeps its owner alive") {
    auto buf = std::shared_ptr<float[]>(new float[6]{1, 2, 3, 4, 5, 6});
    std::weak_ptr<float[]> watch = buf;
    Tensor t = Tensor::from_blob(buf.get(), {2, 3}, DType::f32, std::shared_ptr<const void>(buf, buf.get()));
    buf.reset();
    CHECK(!watch.expired());  // the tensor keeps the owner alive
    CHECK(t.data<float>()[4] == 5.0f);
    Tensor v = t.transpose(0, 1);
    t = Tensor();
    CHECK(!watch.expired());  // ... and so does any view
    CHECK(v.to_vector() == std::vector<float>{1, 4, 2, 5, 3, 6});
    v = Tensor();
    CHECK(watch.expired());
}

TEST_CASE("tensor: device field; cuda ops fail with a clear message") {
    Tensor x = Tensor::ones({2});
    CHECK(x.device() == Device::cpu);
    if (!cuda_available()) {
        CHECK_THROWS_AS(Tensor::empty({2}, DType::f32, Device::cuda), Error);
        return;
    }
    Tensor g = x.to(Device::cuda);
    CHECK(g.device() == Device::cuda);
    CHECK_THROWS_WITH_AS(add(g, g), doctest::Contains("not implemented on cuda"), Error);
    CHECK(g.to(Device::cpu).to_vector() == std::vector<float>{1, 1});
}

TEST_CASE("tensor: randn / rand / dropout are thread-count independent (Philox)") {
    // a known-answer: Philox4x32-10 of counter 0, key 0 (Random123 kat_vectors)
    auto r = philox4x32({0, 0, 0, 0}, 0);
    CHECK(r[0] == 0x6627e8d5u);
    CHECK(r[1] == 0xe169c58du);
    CHECK(r[2] == 0xbc57ac4cu);
    CHECK(r[3] == 0x9b00dbd8u);
    Tensor a = Tensor::randn({1000}, 7);
    double m = 0, v = 0;
    for (float f : a.to_vector()) m += f, v += double(f) * f;
    CHECK(std::fabs(m / 1000) < 0.1);
    CHECK(std::fabs(v / 1000 - 1.0) < 0.15);
    CHECK(Tensor::randn({1000}, 7).to_vector() == a.to_vector());
    CHECK(Tensor::randn({1000}, 8).to_vector() != a.to_vector());
}
