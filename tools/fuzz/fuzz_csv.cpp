// fuzz_csv.cpp — libFuzzer target for the CSV/TSV reader (src/tensor/textio.h).
//
// Build and run: `make fuzz`. The first input byte picks the options (separator, header, quoting,
// ragged); the rest is the CSV text. Properties, besides "no crash, no sanitizer report, no exception
// other than tg::Error": record line numbers never decrease; every record re-encoded with RFC 4180
// quoting (quote every field) parses back to the same fields.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tensor/common.h"
#include "tensor/textio.h"

#define FUZZ_ASSERT(c)                                              \
    do {                                                            \
        if (!(c)) {                                                 \
            std::fprintf(stderr, "fuzz_csv: property failed: %s\n", #c); \
            std::abort();                                           \
        }                                                           \
    } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    tg::CsvOptions o;
    o.sep = (data[0] & 1) ? '\t' : ',';
    o.header = data[0] & 2;
    o.quoting = !(data[0] & 4);
    o.ragged = data[0] & 8;
    std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
    std::vector<std::vector<std::string>> rows;
    try {
        auto r = tg::CsvReader::from_string(text, "fuzz.csv", o);
        std::vector<std::string> f;
        int64_t last = 0;
        while (r.next(f)) {
            FUZZ_ASSERT(r.line() >= last && r.line() >= 1);
            last = r.line();
            rows.push_back(f);
        }
    } catch (const tg::Error&) {
        return 0;
    }
    // Re-encode with every field quoted and parse again (quoting on, ragged, no header).
    std::string enc;
    for (auto& row : rows) {
        for (size_t k = 0; k < row.size(); k++) {
            if (k) enc += o.sep;
            enc += '"';
            for (char c : row[k]) enc += c == '"' ? std::string("\"\"") : std::string(1, c);
            enc += '"';
        }
        enc += "\r\n";
    }
    tg::CsvOptions o2;
    o2.sep = o.sep;
    o2.header = false;
    o2.ragged = true;
    try {
        auto r = tg::CsvReader::from_string(enc, "again.csv", o2);
        std::vector<std::string> f;
        size_t i = 0;
        while (r.next(f)) {
            FUZZ_ASSERT(i < rows.size() && f == rows[i]);
            i++;
        }
        FUZZ_ASSERT(i == rows.size());
    } catch (const tg::Error& e) {
        std::fprintf(stderr, "fuzz_csv: re-encoded records do not parse: %s\n", e.what());
        std::abort();
    }
    return 0;
}
