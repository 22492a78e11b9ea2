// test_safetensors.cpp — the safetensors reader against a file written by Python's safetensors
// (tests/fixtures/formats/py_written.safetensors, from tools/fuzz/make_format_fixtures.py; the values
// below are the ones that script writes), the writer byte for byte against that same file, and every
// rejection rule with a hand-made file, each checking that the message names the file and the reason.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tensor/common.h"
#include "tensor/io.h"
#include "tensor/safetensors.h"
#include "test_check.h"
#include "test_util.h"

using namespace tg;

static const std::string kPyFile = test::fixture("formats/py_written.safetensors");

template <typename T>
static std::vector<T> values(const SafeTensor& t) {
    std::vector<T> v(t.nbytes / sizeof(T));
    if (t.nbytes) std::memcpy(v.data(), t.data, t.nbytes);
    return v;
}

using tg::test::check_error;

// A file from a header (written as given, no padding) and a data buffer.
static std::string make_file(const std::string& header, const std::string& data = "") {
    std::string s(8, '\0');
    uint64_t n = header.size();
    for (int k = 0; k < 8; k++) s[size_t(k)] = char((n >> (8 * k)) & 0xff);
    return s + header + data;
}

static void parse_bytes(const std::string& bytes, const char* name = "bad.safetensors") {
    SafeTensorsFile::from_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), name);
}

TEST_CASE("safetensors: reads a file written by Python's safetensors") {
    SafeTensorsFile f(kPyFile);
    CHECK(f.tensors().size() == 10);
    REQUIRE(f.metadata().size() == 1);
    CHECK(f.metadata()[0] == std::pair<std::string, std::string>{"format", "pt"});

    auto& a = f.get("f32", DType::f32, {2, 3});
    CHECK(values<float>(a) == std::vector<float>{-1.5f, 0.f, 0.25f, 1e-8f, 3.4e38f, -7.f});
    // bf16 1.0, -2.5, 3.140625 and f16 1.0, -2.0, 65504 as IEEE bit patterns.
    CHECK(values<uint16_t>(f.get("bf16", DType::bf16, {3})) == std::vector<uint16_t>{0x3F80, 0xC020, 0x4049});
    CHECK(values<uint16_t>(f.get("f16", DType::f16, {3})) == std::vector<uint16_t>{0x3C00, 0xC000, 0x7BFF});
    CHECK(values<int64_t>(f.get("i64", DType::i64, {2, 2})) ==
          std::vector<int64_t>{-1, int64_t(1) << 40, 3, -(int64_t(1) << 62)});
    CHECK(values<int32_t>(f.get("i32", DType::i32, {2})) == std::vector<int32_t>{7, -8});
    auto& s = f.get("scalar", DType::i32, {});
    CHECK(s.numel() == 1);
    CHECK(values<int32_t>(s) == std::vector<int32_t>{42});
    CHECK(values<uint8_t>(f.get("u8", DType::u8, {3})) == std::vector<uint8_t>{0, 255, 128});
    CHECK(values<uint8_t>(f.get("mask", DType::boolean, {3})) == std::vector<uint8_t>{1, 0, 1});
    CHECK(f.get("empty", DType::f32, {0, 4}).nbytes == 0);
    auto w = values<float>(f.get("a.layer.0.weight", DType::f32, {3, 4}));
    for (int i = 0; i < 12; i++) CHECK(w[size_t(i)] == float(i) / 8);
    // Zero-copy: tensor data points into the mapped file, right after the header.
    CHECK(f.tensors()[0].name == "i64");  // header order
    CHECK(f.find("nope") == nullptr);
    check_error([&] { f.get("nope"); }, {"py_written.safetensors", "no tensor 'nope'"});
    check_error([&] { f.get("f32", DType::f32, {3, 2}); }, {"tensor 'f32'", "shape [2, 3], expected [3, 2]"});
    check_error([&] { f.get("f32", DType::bf16, {2, 3}); }, {"tensor 'f32'", "dtype F32, expected BF16"});
}

TEST_CASE("safetensors: the writer reproduces Python's file byte for byte, and round-trips") {
    // Same tensors as make_format_fixtures.py, given in a different order (the writer sorts).
    float f32[] = {-1.5f, 0.f, 0.25f, 1e-8f, 3.4e38f, -7.f};
    uint16_t bf16[] = {0x3F80, 0xC020, 0x4049}, f16[] = {0x3C00, 0xC000, 0x7BFF};
    int64_t i64[] = {-1, int64_t(1) << 40, 3, -(int64_t(1) << 62)};
    int32_t i32[] = {7, -8}, scalar[] = {42};
    uint8_t u8[] = {0, 255, 128}, mask[] = {1, 0, 1};
    float w[12];
    for (int i = 0; i < 12; i++) w[i] = float(i) / 8;
    std::vector<SafeTensorWrite> ts = {
        {"mask", DType::boolean, {3}, mask, 3},  {"u8", DType::u8, {3}, u8, 3},
        {"f16", DType::f16, {3}, f16, 6},        {"bf16", DType::bf16, {3}, bf16, 6},
        {"scalar", DType::i32, {}, scalar, 4},   {"i32", DType::i32, {2}, i32, 8},
        {"f32", DType::f32, {2, 3}, f32, 24},    {"empty", DType::f32, {0, 4}, nullptr, 0},
        {"a.layer.0.weight", DType::f32, {3, 4}, w, 48}, {"i64", DType::i64, {2, 2}, i64, 32},
    };
    std::string ours = safetensors_serialize(ts, {{"format", "pt"}});
    CHECK(ours == read_file(kPyFile));

    std::string path = "/tmp/tg_test_st_" + std::to_string(::getpid()) + ".safetensors";
    save_safetensors(path, ts, {{"k\"ey", "v\n\u00e9"}});
    {
        SafeTensorsFile g(path);
        CHECK(g.metadata() == std::vector<std::pair<std::string, std::string>>{{"k\"ey", "v\n\u00e9"}});
        CHECK(values<float>(g.get("f32", DType::f32, {2, 3})) == std::vector<float>(f32, f32 + 6));
        CHECK(values<int64_t>(g.get("i64")) == std::vector<int64_t>(i64, i64 + 4));
    }
    std::remove(path.c_str());

    check_error([&] { safetensors_serialize({{"x", DType::f32, {2}, f32, 4}}); }, {"tensor 'x'", "4 bytes given", "needs 8"});
    check_error([&] { safetensors_serialize({{"x", DType::u8, {1}, u8, 1}, {"x", DType::u8, {1}, u8, 1}}); },
                {"duplicate tensor name 'x'"});
    check_error([&] { safetensors_serialize({{"__metadata__", DType::u8, {1}, u8, 1}}); }, {"cannot be named '__metadata__'"});
}

TEST_CASE("safetensors: empty header, file errors") {
    SafeTensorsFile e = SafeTensorsFile::from_memory(
        reinterpret_cast<const uint8_t*>(make_file("{}").data()), 10, "e");  // 8 + 2 bytes
    CHECK(e.tensors().empty());
    check_error([] { SafeTensorsFile f("/nonexistent/x.safetensors"); }, {"/nonexistent/x.safetensors", "cannot open"});
    // A truncated copy of the Python file: the last tensors run past the end of the data.
    std::string bytes = read_file(kPyFile);
    bytes.resize(bytes.size() - 2);
    check_error([&] { parse_bytes(bytes, "trunc.safetensors"); },
                {"trunc.safetensors", "tensor 'mask'", "run past the end of the data", "truncated"});
}

TEST_CASE("safetensors: every rejection names the file, the tensor and the reason") {
    const std::string ok = R"("t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
    const std::string d8(8, 'x');
    struct Case {
        std::string bytes;
        std::vector<const char*> needles;
    };
    std::string huge(8, '\0');
    huge[3] = 0x10;  // N = 0x10000000 = 268 MB
    std::string past = make_file("{}");
    past[0] = 3;  // N = 3 but only 2 header bytes follow
    std::vector<Case> cases = {
        {"1234567", {"too short"}},
        {huge, {"header length 268435456", "100 MB"}},
        {past, {"header length 3", "past the end of the file"}},
        {make_file("{\"t\xff\":1}"), {"header", "invalid UTF-8"}},
        {make_file("{\"t\":"), {"header", "invalid JSON"}},
        {make_file("[1]"), {"not a JSON object"}},
        {make_file("{" + ok + "," + ok + "}", d8 + d8), {"duplicate key \"t\""}},
        {make_file(R"({"t":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", d8), {"tensor 't'", "unknown dtype \"F33\""}},
        {make_file(R"({"t":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", d8), {"tensor 't'", "dtype F64 is not supported"}},
        {make_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "xxxx"), {"tensor 't'", "past the end of the data"}},
        {make_file(R"({"t":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", d8), {"tensor 't'", "begin > end"}},
        {make_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"u":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}})", d8),
         {"tensor 'u'", "overlap tensor 't'"}},
        {make_file(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"u":{"dtype":"U8","shape":[2],"data_offsets":[5,7]}})", "1234567"),
         {"tensor 'u'", "gap of 1 bytes", "after tensor 't'"}},
        {make_file(R"({"t":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}})", d8), {"tensor 't'", "gap of 6 bytes", "start of the data"}},
        {make_file(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", d8), {"tensor 't'", "hold 8 bytes", "[3] of F32 needs 12"}},
        {make_file(R"({"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}})", d8),
         {"tensor 't'", "overflows 64 bits"}},
        {make_file(R"({"t":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,8]}})", d8),
         {"tensor 't'", "overflows 64 bits"}},  // elements fit, bytes do not
        {make_file(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", d8), {"4 trailing bytes", "after the last tensor ('t')"}},
        {make_file("{}", "x"), {"1 trailing bytes", "lists no tensors"}},
        {make_file(R"({"__metadata__":{"a":1}})"), {"__metadata__ 'a'", "not a string"}},
        {make_file(R"({"__metadata__":[]})"), {"__metadata__ is not a JSON object"}},
        {make_file(R"({"t":[]})"), {"tensor 't'", "entry is not a JSON object"}},
        {make_file(R"({"t":{"dtype":"F32","shape":[2]}})", d8), {"tensor 't'", "missing field 'data_offsets'"}},
        {make_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", d8), {"tensor 't'", "unexpected field 'x'"}},
        {make_file(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", d8), {"tensor 't'", "non-negative"}},
        {make_file(R"({"t":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", d8), {"tensor 't'", "non-negative integers"}},
        {make_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8,9]}})", d8), {"tensor 't'", "[begin, end]"}},
        {make_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,1e1]}})", d8), {"tensor 't'", "data_offsets must be non-negative integers"}},
        {make_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,99999999999999999999]}})", d8), {"tensor 't'", "data_offsets"}},
        {make_file(R"({"t":{"dtype":7,"shape":[2],"data_offsets":[0,8]}})", d8), {"tensor 't'", "dtype is not a string"}},
    };
    for (auto& c : cases) {
        CAPTURE(c.needles[0]);
        try {
            parse_bytes(c.bytes);
            FAIL("accepted a bad file; expected: ", c.needles[0]);
        } catch (const tg::Error& e) {
            std::string m = e.what();
            CHECK_MESSAGE(m.find("bad.safetensors") != std::string::npos, m);
            for (const char* n : c.needles) CHECK_MESSAGE(m.find(n) != std::string::npos, "'", n, "' not in: ", m);
        }
    }
}

TEST_CASE("safetensors: zero-size tensors may share an offset; header may end with spaces") {
    std::string h = R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"c":{"dtype":"U8","shape":[2,0],"data_offsets":[4,4]}}   )";
    std::string bytes = make_file(h, "abcd");
    auto f = SafeTensorsFile::from_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "z");
    CHECK(f.tensors().size() == 3);
    CHECK(f.get("b").data == reinterpret_cast<const uint8_t*>(bytes.data()) + 8 + h.size());
    CHECK(f.get("a").nbytes == 0);
}
