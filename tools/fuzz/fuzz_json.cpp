// fuzz_json.cpp — libFuzzer target for the JSON parser and writer (src/tensor/json.h).
//
// Build and run: `make fuzz` (clang++ -fsanitize=fuzzer,address,undefined; see the Makefile).
// By hand:  ./build-fuzz/fuzz_json -dict=tools/fuzz/json.dict -max_total_time=60 build-fuzz/corpus_json tools/fuzz/seeds/json
//
// Properties, besides "no crash, no sanitizer report, no exception other than tg::Error":
//   1. an accepted document is valid UTF-8 (the parser checks; we check again independently of it);
//   2. dump() output parses again, and dump(parse(dump(v))) == dump(v) (precision 17: exact doubles).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tensor/common.h"
#include "tensor/json.h"

#define FUZZ_ASSERT(c)                                               \
    do {                                                             \
        if (!(c)) {                                                  \
            std::fprintf(stderr, "fuzz_json: property failed: %s\n", #c); \
            std::abort();                                            \
        }                                                            \
    } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    tg::json::Value v;
    try {
        v = tg::json::parse(text, "fuzz");
    } catch (const tg::Error&) {
        return 0;
    }
    FUZZ_ASSERT(tg::json::utf8_invalid_at(text) < 0);
    std::string once = tg::json::dump(v, 17);
    tg::json::Value again;
    try {
        again = tg::json::parse(once, "dump");
    } catch (const tg::Error& e) {
        std::fprintf(stderr, "fuzz_json: dump output does not parse: %s\n%s\n", e.what(), once.c_str());
        std::abort();
    }
    FUZZ_ASSERT(tg::json::dump(again, 17) == once);
    return 0;
}
