// fuzz_safetensors.cpp — libFuzzer target for the safetensors reader (src/tensor/safetensors.h).
//
// Build and run: `make fuzz` (clang++ -fsanitize=fuzzer,address,undefined; see the Makefile).
// By hand:  ./build-fuzz/fuzz_safetensors -max_total_time=60 build-fuzz/corpus_safetensors tools/fuzz/seeds/safetensors
//
// Each input is tried twice: as a whole file, and as "header JSON" 0xFF "data" with the 8-byte length
// computed here (0xFF never occurs in UTF-8), so that mutations of the JSON keep a consistent length
// prefix and reach the checks behind it (offsets, overlaps, gaps, sizes).
//
// Properties checked on every input, besides "no crash, no sanitizer report, no exception other
// than tg::Error":
//   1. every accepted tensor lies inside the input buffer (each byte is read: ASan would catch a
//      pointer past the end) and nbytes = elements x element size;
//   2. the tensors tile the data buffer (sum of nbytes = input size - 8 - header length);
//   3. what was accepted survives our writer: serialize -> parse gives the same names, dtypes,
//      shapes, bytes and metadata.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "tensor/common.h"
#include "tensor/safetensors.h"

#define FUZZ_ASSERT(c)                                                     \
    do {                                                                   \
        if (!(c)) {                                                        \
            std::fprintf(stderr, "fuzz_safetensors: property failed: %s\n", #c); \
            std::abort();                                                  \
        }                                                                  \
    } while (0)

static void check(const uint8_t* data, size_t size) {
    try {
        tg::SafeTensorsFile f = tg::SafeTensorsFile::from_memory(data, size, "fuzz");
        uint64_t hlen = 0;
        std::memcpy(&hlen, data, 8);
        size_t total = 0;
        volatile uint8_t sink = 0;
        std::vector<tg::SafeTensorWrite> w;
        for (auto& t : f.tensors()) {
            uint64_t n = tg::dtype_size(t.dtype);
            for (int64_t d : t.shape) n *= uint64_t(d);
            FUZZ_ASSERT(n == t.nbytes);
            FUZZ_ASSERT(t.nbytes == 0 || (t.data >= data + 8 + hlen && t.data + t.nbytes <= data + size));
            for (size_t k = 0; k < t.nbytes; k++) sink = sink + t.data[k];
            total += t.nbytes;
            w.push_back({t.name, t.dtype, t.shape, t.data, t.nbytes});
        }
        FUZZ_ASSERT(total == size - 8 - hlen);

        std::string bytes = tg::safetensors_serialize(w, f.metadata());
        tg::SafeTensorsFile g =
            tg::SafeTensorsFile::from_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "again");
        FUZZ_ASSERT(g.tensors().size() == f.tensors().size());
        FUZZ_ASSERT(g.metadata() == f.metadata());
        for (auto& t : f.tensors()) {
            const tg::SafeTensor* u = g.find(t.name);
            FUZZ_ASSERT(u && u->dtype == t.dtype && u->shape == t.shape && u->nbytes == t.nbytes);
            FUZZ_ASSERT(t.nbytes == 0 || std::memcmp(u->data, t.data, t.nbytes) == 0);
        }
    } catch (const tg::Error&) {
        // rejected: fine
    }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    check(data, size);
    const uint8_t* sep = static_cast<const uint8_t*>(std::memchr(data, 0xFF, size));
    if (sep) {
        uint64_t hlen = uint64_t(sep - data);
        // Exact-size heap copy so that ASan still sees reads past the end.
        std::vector<uint8_t> file(8 + size - 1);
        for (int k = 0; k < 8; k++) file[size_t(k)] = uint8_t(hlen >> (8 * k));
        std::memcpy(file.data() + 8, data, hlen);
        std::memcpy(file.data() + 8 + hlen, sep + 1, size - hlen - 1);
        check(file.data(), file.size());
    }
    return 0;
}
