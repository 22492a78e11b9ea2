// fuzz_npy.cpp — libFuzzer target for the .npy reader (src/tensor/npy.h).
//
// Build and run: `make fuzz`. Properties, besides "no crash, no sanitizer report, no exception other
// than tg::Error": an accepted array's bytes lie inside the input and match its shape; and our
// writer's header for that dtype and shape, followed by the same bytes, reads back identically.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tensor/common.h"
#include "tensor/npy.h"

#define FUZZ_ASSERT(c)                                                     \
    do {                                                                   \
        if (!(c)) {                                                        \
            std::fprintf(stderr, "fuzz_npy: property failed: %s\n", #c);  \
            std::abort();                                                  \
        }                                                                  \
    } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    tg::DType dtype;
    std::vector<int64_t> shape;
    std::string bytes;
    try {
        tg::NpyFile f = tg::NpyFile::from_memory(data, size, "fuzz.npy");
        uint64_t n = tg::dtype_size(f.dtype());
        for (int64_t d : f.shape()) n *= uint64_t(d);
        FUZZ_ASSERT(n == f.nbytes());
        FUZZ_ASSERT(f.bytes() >= data && f.bytes() + f.nbytes() == data + size);
        dtype = f.dtype();
        shape = f.shape();
        bytes.assign(reinterpret_cast<const char*>(f.bytes()), f.nbytes());
    } catch (const tg::Error&) {
        return 0;
    }
    std::string h;
    try {
        h = tg::npy_header(dtype, shape);
    } catch (const tg::Error&) {
        return 0;  // a header too long for v1.0 (thousands of dims): the writer refuses, fine
    }
    std::string file = h + bytes;
    try {
        tg::NpyFile g = tg::NpyFile::from_memory(reinterpret_cast<const uint8_t*>(file.data()), file.size(), "ours.npy");
        FUZZ_ASSERT(g.dtype() == dtype && g.shape() == shape && g.nbytes() == bytes.size());
    } catch (const tg::Error& e) {
        std::fprintf(stderr, "fuzz_npy: our own header does not parse: %s\n", e.what());
        std::abort();
    }
    return 0;
}
