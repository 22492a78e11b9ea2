// csr.h — compressed sparse row matrix, the graph's storage format.
//
// Row r's entries are indices[indptr[r] .. indptr[r+1]) with weights values[...] (same range).
// Within a row, column indices are sorted ascending and unique (builders aggregate duplicates).
// indptr has rows+1 entries, indptr[0] = 0, indptr[rows] = nnz. values may be empty for an
// unweighted (all-ones) matrix.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tg::graph {

struct Csr {
    int64_t rows = 0, cols = 0;
    std::vector<int64_t> indptr;   // [rows + 1]
    std::vector<int32_t> indices;  // [nnz] column of each entry
    std::vector<float> values;     // [nnz] weight of each entry (or empty = all ones)

    int64_t nnz() const { return int64_t(indices.size()); }
    int64_t row_begin(int64_t r) const { return indptr[size_t(r)]; }
    int64_t row_end(int64_t r) const { return indptr[size_t(r) + 1]; }
    float value(int64_t e) const { return values.empty() ? 1.f : values[size_t(e)]; }
};

}  // namespace tg::graph
