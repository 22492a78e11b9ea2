// test_cli_embed.cpp — `tastegraph embed` end to end, the way a user runs it.
//
// The binary (built next to tg_tests) embeds the texts of the tiny random BERT fixture
// (tests/fixtures/bert/tiny, written with its reference outputs by tools/ref/bert_reference.py from
// PyTorch) given as .txt, .jsonl and .csv; the .npy it writes must hold PyTorch's pooled vectors
// (mean / cls / max, raw and L2-normalized) in input order. Bad input must give a non-zero exit and a
// message naming the file (and line) — never a crash or an empty .npy.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "tensor/io.h"
#include "tensor/json.h"
#include "tensor/npy.h"
#include "tensor/safetensors.h"
#include "test_util.h"

using namespace tg;

namespace {

struct Run {
    int rc = -1;
    std::string err;  // stderr
};

// Run `tastegraph embed <args>`; stdout is discarded, stderr captured.
Run embed_cli(const std::string& args) {
    const std::string err_path = "/tmp/tg_test_embed_" + std::to_string(getpid()) + ".err";
    const std::string cmd = test::cli_binary() + " embed " + args + " > /dev/null 2> " + err_path;
    Run r;
    r.rc = std::system(cmd.c_str());
    r.err = file_exists(err_path) ? read_file(err_path) : "";
    std::remove(err_path.c_str());
    return r;
}

std::vector<std::string> fixture_texts() {
    const std::string dir = test::fixture("bert/tiny");
    json::Value j = json::parse(read_file(dir + "/texts.json"), "texts.json");
    std::vector<std::string> t;
    for (const auto& v : j.find("texts")->arr) t.push_back(v.s);
    return t;
}

// Reference rows [0, n) of pooled output `name` ("mean", "cls", "max") from PyTorch.
std::vector<float> reference(const std::string& name, int64_t n, int64_t C, bool normalize) {
    SafeTensorsFile ref(test::fixture("bert/tiny") + "/reference.safetensors");
    const auto& t = ref.get(name);
    std::vector<float> out(size_t(n * C));
    std::memcpy(out.data(), t.data, out.size() * sizeof(float));  // the mapping may be unaligned
    if (normalize)
        for (int64_t r = 0; r < n; r++) {
            double s = 0;
            for (int64_t c = 0; c < C; c++) s += double(out[size_t(r * C + c)]) * out[size_t(r * C + c)];
            for (int64_t c = 0; c < C; c++) out[size_t(r * C + c)] = float(out[size_t(r * C + c)] / std::sqrt(s));
        }
    return out;
}

double max_abs_diff(const NpyFile& got, const std::vector<float>& want) {
    double m = 0;
    for (size_t k = 0; k < want.size(); k++) m = std::max(m, double(std::fabs(got.data<float>()[k] - want[k])));
    return m;
}

std::string tmp(const std::string& ext) { return "/tmp/tg_test_embed_" + std::to_string(getpid()) + ext; }

}  // namespace

TEST_CASE("cli embed: .txt/.jsonl/.csv inputs give PyTorch's pooled vectors in input order") {
    const std::string model = test::fixture("bert/tiny");
    const auto texts = fixture_texts();
    const int64_t n = int64_t(texts.size()), C = 32;
    {
        std::ofstream txt(tmp(".txt"));
        for (const auto& t : texts) txt << t << "\n";
        std::ofstream jl(tmp(".jsonl"));
        for (const auto& t : texts) {
            std::string q;
            json::write_string(q, t);
            jl << "{\"id\": 1, \"body\": " << q << "}\n";
        }
        std::ofstream csv(tmp(".csv"));
        csv << "id,body\n";
        for (const auto& t : texts) {
            std::string q = "\"";
            for (char ch : t) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
            csv << "7," << q << "\"\n";
        }
    }
    struct Case {
        std::string input, extra, pool;
        bool normalize;
    };
    // The fixture has sentence-transformers Pooling (mean) and Normalize modules: those are the defaults.
    const std::vector<Case> cases = {
        {tmp(".txt"), "", "mean", true},
        {tmp(".txt"), "--pool cls --no-normalize", "cls", false},
        {tmp(".jsonl"), "--column body --pool max --no-normalize", "max", false},
        {tmp(".csv"), "--column body --pool mean --no-normalize --batch 3", "mean", false},
        {tmp(".csv"), "--column body --dtype bf16", "mean", true},
    };
    for (const auto& c : cases) {
        const std::string out = tmp(".npy");
        std::remove(out.c_str());
        Run r = embed_cli("-m " + model + " -i " + c.input + " -o " + out + " --threads 2 " + c.extra);
        INFO("embed " << c.input << " " << c.extra << "\n" << r.err);
        REQUIRE(r.rc == 0);
        NpyFile got(out);
        REQUIRE(got.shape() == std::vector<int64_t>{n, C});
        const double d = max_abs_diff(got, reference(c.pool, n, C, c.normalize));
        MESSAGE("embed " << c.extra << ": max abs diff vs PyTorch " << d);
        CHECK(d < (c.extra.find("bf16") != std::string::npos ? 2e-2 : 1e-4));  // bf16: unit vectors
        std::remove(out.c_str());
    }
    // Truncation: every fixture text is longer than 4 tokens with [CLS]/[SEP]; the warning counts them.
    Run r = embed_cli("-m " + model + " -i " + tmp(".txt") + " -o " + tmp(".npy") + " --max-len 4");
    CHECK(r.rc == 0);
    CHECK(r.err.find("truncated") != std::string::npos);
    for (const char* e : {".txt", ".jsonl", ".csv", ".npy"}) std::remove(tmp(e).c_str());
}

TEST_CASE("cli embed: bad input gives a clear error and a non-zero exit") {
    const std::string model = test::fixture("bert/tiny");
    const std::string out = tmp("_bad.npy");
    std::remove(out.c_str());
    {
        std::ofstream(tmp("_empty.txt"));
        std::ofstream csv(tmp("_bad.csv"));
        csv << "id,body\n1,fine\n2,\"unterminated\n";
        std::ofstream jl(tmp("_bad.jsonl"));
        jl << "{\"body\": \"ok\"}\n{\"body\": 3}\n";
    }
    struct Case {
        std::string args, must_mention;
    };
    const std::vector<Case> cases = {
        {"-m /nonexistent/model -i " + tmp("_empty.txt"), "/nonexistent/model"},
        {"-m " + model + " -i " + tmp("_empty.txt"), tmp("_empty.txt")},
        {"-m " + model + " -i " + tmp("_bad.csv") + " --column body", tmp("_bad.csv")},
        {"-m " + model + " -i " + tmp("_bad.csv") + " --column nope", "nope"},
        {"-m " + model + " -i " + tmp("_bad.jsonl") + " --column body", tmp("_bad.jsonl") + ":2"},
        {"-m " + model + " -i /nonexistent/input.txt", "/nonexistent/input.txt"},
        {"-m " + model + " -i " + tmp("_bad.csv") + " --column body --pool sum", "sum"},
    };
    for (const auto& c : cases) {
        Run r = embed_cli(c.args + " -o " + out);
        INFO("embed " << c.args << "\nstderr: " << r.err);
        CHECK(r.rc != 0);
        CHECK(r.err.find(c.must_mention) != std::string::npos);
        CHECK(r.err.find("error") != std::string::npos);
        CHECK_FALSE(file_exists(out));  // nothing half-written is left behind
    }
    for (const char* e : {"_empty.txt", "_bad.csv", "_bad.jsonl"}) std::remove(tmp(e).c_str());
}
