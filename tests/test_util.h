// test_util.h — helpers shared by the test files: paths to fixtures and ../shared, random data.
#pragma once
#include <cstdint>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace tg::test {

// Repository root (compiled in), tests/fixtures and ../shared (override with TG_SHARED_DIR).
inline std::string source_dir() { return TG_SOURCE_DIR; }
inline std::string fixture(const std::string& rel) { return source_dir() + "/tests/fixtures/" + rel; }
inline std::string shared_dir() {
    if (const char* s = std::getenv("TG_SHARED_DIR")) return s;
    return source_dir() + "/../shared";
}

// The `tastegraph` binary, built next to the test executable (for command-line tests).
inline std::string cli_binary() {
    char buf[4096];
    const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "tastegraph";
    const std::string exe(buf, size_t(n));
    return exe.substr(0, exe.rfind('/') + 1) + "tastegraph";
}

// Deterministic uniform floats in [lo, hi) from a 64-bit LCG (independent of <random> versions).
inline std::vector<float> rand_vec(size_t n, uint64_t seed, float lo = -1.f, float hi = 1.f) {
    std::vector<float> v(n);
    uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    for (auto& x : v) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x = lo + (hi - lo) * float((s >> 40) & 0xFFFFFF) / float(1 << 24);
    }
    return v;
}

}  // namespace tg::test
