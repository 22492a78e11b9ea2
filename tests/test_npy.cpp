// test_npy.cpp — our .npy writer is byte-identical to numpy.save (fixtures from
// tools/fuzz/make_format_fixtures.py: two small arrays and numpy's headers for many shapes), files
// read back, and malformed files are rejected with the reason.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "tensor/common.h"
#include "tensor/io.h"
#include "tensor/npy.h"
#include "test_util.h"

using namespace tg;

static std::string tmp(const std::string& name) { return "/tmp/tg_test_npy_" + std::to_string(::getpid()) + name; }

static std::string unhex(const std::string& h) {
    std::string s;
    for (size_t k = 0; k + 1 < h.size(); k += 2) s += char(std::stoi(h.substr(k, 2), nullptr, 16));
    return s;
}

TEST_CASE("npy: headers identical to numpy's for every shape in the fixture") {
    std::istringstream in(read_file(test::fixture("formats/npy_headers.txt")));
    std::string descr, dims, hex;
    int n = 0;
    while (in >> descr >> dims >> hex) {
        std::vector<int64_t> shape;
        if (dims != "-") {
            std::istringstream ds(dims);
            std::string d;
            while (std::getline(ds, d, ',')) shape.push_back(std::stoll(d));
        }
        DType t = descr == "<f4" ? DType::f32 : descr == "<i8" ? DType::i64 : descr == "<i4" ? DType::i32
                  : descr == "|u1" ? DType::u8 : DType::boolean;
        CAPTURE(dims);
        std::string want = unhex(hex);
        CHECK(npy_header(t, shape) == want);
        CHECK(want.size() % 64 == 0);
        n++;
    }
    CHECK(n == 9);
    CHECK_THROWS_AS(npy_header(DType::bf16, {2}), tg::Error);
}

TEST_CASE("npy: save_npy reproduces numpy.save byte for byte; files read back") {
    // np_f32.npy = (arange(15).reshape(5, 3) - 7) / 4 as float32; np_i64.npy = [[0,-1],[2^40,-2^62],[5,6]].
    std::vector<float> f(15);
    for (int i = 0; i < 15; i++) f[size_t(i)] = float(i - 7) / 4;
    std::vector<int64_t> l = {0, -1, int64_t(1) << 40, -(int64_t(1) << 62), 5, 6};
    std::string pf = tmp("f.npy"), pl = tmp("l.npy");
    save_npy(pf, f.data(), {5, 3});
    save_npy(pl, l.data(), {3, 2});
    CHECK(read_file(pf) == read_file(test::fixture("formats/np_f32.npy")));
    CHECK(read_file(pl) == read_file(test::fixture("formats/np_i64.npy")));

    NpyFile a(test::fixture("formats/np_f32.npy"));
    CHECK(a.dtype() == DType::f32);
    CHECK(a.shape() == std::vector<int64_t>{5, 3});
    CHECK(std::vector<float>(a.data<float>(), a.data<float>() + a.numel()) == f);
    CHECK(reinterpret_cast<uintptr_t>(a.bytes()) % 64 == 0);
    NpyFile b(pl);
    CHECK(b.dtype() == DType::i64);
    CHECK(std::vector<int64_t>(b.data<int64_t>(), b.data<int64_t>() + b.numel()) == l);

    // Streaming writer: rows arrive one at a time; too many or too few bytes are errors.
    {
        NpyWriter w(pf, DType::f32, {5, 3});
        for (int r = 0; r < 5; r++) w.write(f.data() + 3 * r, 12);
        CHECK_THROWS_AS(w.write(f.data(), 4), tg::Error);
        w.commit();
    }
    CHECK(read_file(pf) == read_file(test::fixture("formats/np_f32.npy")));
    {
        NpyWriter w(tmp("short.npy"), DType::f32, {5, 3});
        w.write(f.data(), 8);
        CHECK_THROWS_WITH_AS(w.commit(), doctest::Contains("8 of 60 data bytes"), tg::Error);
    }
    CHECK_FALSE(file_exists(tmp("short.npy")));  // never committed: no file left behind
    std::remove(pf.c_str());
    std::remove(pl.c_str());
}

TEST_CASE("npy: malformed files are rejected with the reason") {
    std::string good = read_file(test::fixture("formats/np_f32.npy"));
    auto with = [&](std::string bytes, const char* needle) {
        std::string p = tmp("bad.npy");
        write_file_atomic(p, bytes);
        CAPTURE(needle);
        CHECK_THROWS_WITH_AS(NpyFile{p}, doctest::Contains(needle), tg::Error);
        std::remove(p.c_str());
    };
    auto replace = [&](std::string from, std::string to) {
        std::string s = good;
        s.replace(s.find(from), from.size(), to);
        return s;
    };
    with("hello", "bad magic");
    with(good.substr(0, good.size() - 4), "needs 60 data bytes, the file has 56");
    with(good + "x", "the file has 61");
    with(replace("False", "True "), "Fortran-order");
    with(replace("<f4", ">f4"), "'>f4' is not supported");
    with(replace("(5, 3)", "(5, x)"), "non-negative integer");
    with(replace("'shape'", "'shapf'"), "unexpected key 'shapf'");
    with(good.substr(0, 40), "runs past the end");
}
