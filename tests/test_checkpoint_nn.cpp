// test_checkpoint_nn.cpp — named-tensor checkpoints (nn/checkpoint.h): round trip of every dtype,
// strided tensors, load into a Module, and rejection of damaged / mismatched files.
#include <doctest/doctest.h>

#include <cstdio>
#include <unistd.h>

#include "nn/checkpoint.h"
#include "nn/layers.h"
#include "tensor/io.h"

using namespace tg;

namespace {
std::string tmp_path(const char* name) { return "/tmp/tg_ckpt_" + std::to_string(getpid()) + "_" + name; }
}  // namespace

TEST_CASE("checkpoint: round trip of named tensors (all dtypes, non-contiguous views)") {
    const std::string path = tmp_path("rt.safetensors");
    Tensor a = Tensor::randn({3, 5}, 1);
    Tensor at = a.transpose(0, 1);  // saved as its contiguous [5, 3] values
    Tensor b = Tensor::from_vector({1.5f, -2, 3}, {3}).to(DType::bf16);
    Tensor h = Tensor::from_vector({0.5f, 4}, {2}).to(DType::f16);
    Tensor i = Tensor::from_ints({1, -2, 3}, {3}, DType::i32);
    Tensor l = Tensor::from_ints({7}, {}, DType::i64);
    nn::save_checkpoint(path, {{"a", a}, {"a_t", at}, {"b", b}, {"h", h}, {"i", i}, {"l", l}}, {{"step", "12"}});
    auto got = nn::load_checkpoint(path);
    REQUIRE(got.size() == 6);
    CHECK(got["a"].to_vector() == a.to_vector());
    CHECK(got["a_t"].shape() == Shape{5, 3});
    CHECK(got["a_t"].to_vector() == at.to_vector());
    CHECK(got["b"].dtype() == DType::bf16);
    CHECK(got["b"].to_vector() == std::vector<float>{1.5f, -2, 3});
    CHECK(got["h"].to_vector() == std::vector<float>{0.5f, 4});
    CHECK(got["i"].to_ints() == std::vector<int64_t>{1, -2, 3});
    CHECK(got["l"].shape().empty());
    CHECK(got["l"].item() == 7.0f);
    std::remove(path.c_str());
}

TEST_CASE("checkpoint: save a Module, load into another; mismatches and damage are rejected") {
    const std::string path = tmp_path("mod.safetensors");
    nn::Linear src(4, 3, true, 5), dst(4, 3, true, 6);
    CHECK(src.weight.to_vector() != dst.weight.to_vector());
    nn::save_checkpoint(path, src.named_parameters());
    nn::load_into(path, dst.named_parameters());
    CHECK(dst.weight.to_vector() == src.weight.to_vector());
    CHECK(dst.bias.to_vector() == src.bias.to_vector());
    nn::Linear wrong(5, 3);
    CHECK_THROWS_WITH_AS(nn::load_into(path, wrong.named_parameters()), doctest::Contains("'weight'"), Error);
    nn::Linear nobias(4, 3, false);
    CHECK_THROWS_WITH_AS(nn::load_into(path, nobias.named_parameters()), doctest::Contains("unexpected tensor 'bias'"), Error);
    nn::load_into(path, nobias.named_parameters(), /*strict=*/false);
    CHECK(nobias.weight.to_vector() == src.weight.to_vector());
    // truncate the file: the reader must refuse it
    std::string bytes = read_file(path);
    write_file_atomic(path, bytes.substr(0, bytes.size() - 5));
    CHECK_THROWS_AS(nn::load_checkpoint(path), Error);
    std::remove(path.c_str());
}
