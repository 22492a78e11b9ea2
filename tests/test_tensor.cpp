// test_tensor.cpp — Tensor storage, views, copies, dtypes, devices and the caching allocator.
#include <doctest/doctest.h>

#include <cstdint>
#include <cmath>
#include <cstring>

#include "tensor/allocator.h"
#include "tensor/huge_pages.h"
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

TEST_CASE("allocator: size classes, reuse across nearby sizes, oldest-first eviction under the limit") {
    // classes: 64-byte steps up to 64 KiB, then 8 per power of two; never smaller, at most 12.5% larger
    CHECK(cpu_alloc_size_class(0) == 64);
    CHECK(cpu_alloc_size_class(65) == 128);
    CHECK(cpu_alloc_size_class(65536) == 65536);
    CHECK(cpu_alloc_size_class(65537) == 65536 + 8192);
    CHECK(cpu_alloc_size_class(1 << 20) == size_t(1) << 20);
    CHECK(cpu_alloc_size_class((1 << 20) + 1) == (size_t(1) << 20) + (size_t(1) << 17));
    size_t prev = 0;
    for (size_t n = 1; n < (size_t(1) << 26); n = n * 9 / 8 + 37) {
        const size_t c = cpu_alloc_size_class(n);
        CHECK(c >= n);
        CHECK(c % 64 == 0);
        CHECK(c >= prev);  // monotonic
        if (n > 65536) CHECK(double(c) <= double(n) * 1.125 + 64);
        prev = c;
    }
    cpu_allocator_empty_cache();
    const size_t old_limit = cpu_allocator_set_cache_limit(size_t(4) << 20);  // 4 MiB
    // a block of 1,000,000 bytes serves a later request of 1,010,000 (same class)
    void* a = cpu_alloc(1000000);
    cpu_free(a, 1000000);
    auto s0 = cpu_allocator_stats();
    void* b = cpu_alloc(1010000);
    CHECK(b == a);
    CHECK(cpu_allocator_stats().hits == s0.hits + 1);
    cpu_free(b, 1010000);
    // caching 1.5 MiB blocks under a 4 MiB limit: the third free evicts the first-freed block, not itself
    void* x[3];
    for (auto& p : x) p = cpu_alloc(size_t(3) << 19);
    cpu_allocator_empty_cache();
    s0 = cpu_allocator_stats();
    for (auto& p : x) cpu_free(p, size_t(3) << 19);
    const auto s1 = cpu_allocator_stats();
    CHECK(s1.evictions == s0.evictions + 1);
    CHECK(s1.bytes_cached == 2 * cpu_alloc_size_class(size_t(3) << 19));
    void* y = cpu_alloc(size_t(3) << 19);
    CHECK(y == x[2]);  // the most recently freed one comes back first
    cpu_free(y, size_t(3) << 19);
    // a miss keeps in use + cached within 1.25 x the high-water mark of in use: two cached 1.5 MiB blocks make
    // room for a 3.5 MiB request (a class none of them fits) when the most ever in use was 4.5 MiB (3 x 1.5)
    cpu_allocator_empty_cache();
    cpu_allocator_reset_peak();  // other tests' peaks must not count
    for (auto& p : x) p = cpu_alloc(size_t(3) << 19);
    for (auto& p : x) cpu_free(p, size_t(3) << 19);  // 2 cached (4 MiB limit), 1 evicted
    s0 = cpu_allocator_stats();
    void* big = cpu_alloc(size_t(7) << 19);  // 3.5 MiB: 3 MiB cached + 3.5 > 1.25 x 4.5 MiB -> one eviction
    CHECK(cpu_allocator_stats().evictions == s0.evictions + 1);
    CHECK(cpu_allocator_stats().bytes_cached == cpu_alloc_size_class(size_t(3) << 19));
    cpu_free(big, size_t(7) << 19);
    // best fit: with no block of its class cached, a 1.25 MiB request takes the cached 2.5 MiB block (at most
    // twice its size), counts it at its real size while lent, and files it back under that size when freed
    cpu_allocator_set_cache_limit(0);
    cpu_allocator_set_cache_limit(size_t(4) << 20);
    void* blk = cpu_alloc(size_t(5) << 19);
    cpu_free(blk, size_t(5) << 19);
    s0 = cpu_allocator_stats();
    void* small = cpu_alloc(size_t(5) << 18);
    CHECK(small == blk);
    CHECK(cpu_allocator_stats().bytes_in_use == s0.bytes_in_use + cpu_alloc_size_class(size_t(5) << 19));
    CHECK(cpu_allocator_stats().bytes_cached == 0);
    cpu_free(small, size_t(5) << 18);
    CHECK(cpu_allocator_stats().bytes_in_use == s0.bytes_in_use);
    CHECK(cpu_allocator_stats().bytes_cached == cpu_alloc_size_class(size_t(5) << 19));
    void* again = cpu_alloc(size_t(5) << 19);  // found again under its own class
    CHECK(again == blk);
    CHECK(cpu_allocator_stats().hits == s0.hits + 2);
    cpu_free(again, size_t(5) << 19);
    void* tiny = cpu_alloc(size_t(1) << 19);  // 0.5 MiB: less than half, not served by the 2.5 MiB block
    CHECK(tiny != blk);
    cpu_free(tiny, size_t(1) << 19);
    cpu_allocator_set_cache_limit(0);  // evicts everything
    CHECK(cpu_allocator_stats().bytes_cached == 0);
    cpu_allocator_set_cache_limit(old_limit);
}

TEST_CASE("huge pages: HugeVector is 64-byte aligned, 2 MiB aligned from 2 MiB up, and an ordinary vector") {
    // Small blocks (operator new) and big ones (mmap, trimmed to a 2 MiB boundary) on both sides of the line.
    for (size_t n : {size_t(1), size_t(1000), kHugePage / 4 - 1, kHugePage / 4, kHugePage / 4 * 3 + 5}) {
        HugeVector<float> v(n);
        const auto at = reinterpret_cast<uintptr_t>(v.data());
        CHECK(at % 64 == 0);
        if (n * sizeof(float) >= kHugePage) CHECK(at % kHugePage == 0);
        bool zero = true;  // value-initialized, every page readable
        for (size_t k = 0; k < n; k++) zero = zero && v[k] == 0.f;
        CHECK(zero);
        for (size_t k = 0; k < n; k++) v[k] = float(k % 1009);
        HugeVector<float> w = v;  // copy, then grow past the old capacity (reallocation keeps the values)
        w.resize(2 * n + 1, -1.f);
        bool same = true;
        for (size_t k = 0; k < n; k++) same = same && w[k] == float(k % 1009);
        CHECK(same);
        CHECK(w[2 * n] == -1.f);
    }
    // The last byte of a block that is not a multiple of 2 MiB is writable (the mapping is rounded up).
    void* p = huge_alloc(kHugePage + 3);
    static_cast<char*>(p)[kHugePage + 2] = 7;
    huge_free(p, kHugePage + 3);
    huge_free(nullptr, 5);
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
