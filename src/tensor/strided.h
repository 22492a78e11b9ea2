// strided.h — internal helpers to walk a strided view row by row (the last dim is a "row").
//
// Views (transposes, slices, broadcasts) have arbitrary strides; kernels want contiguous inner loops.
// The compromise used throughout the ops: iterate over rows (all dims but the last) and, for each row,
// compute where it starts in each operand; the inner loop then runs over the last dim with that
// operand's last stride (1 for contiguous data, 0 for a broadcast). Rows are independent, so the outer
// loop parallelizes without changing any result.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace tg {

// Element offset of the start of row r of a tensor with `shape` viewed through `strides`.
inline int64_t row_offset(int64_t r, const Shape& shape, const Shape& strides) {
    int64_t off = 0;
    for (int64_t d = int64_t(shape.size()) - 2; d >= 0; d--) {
        const int64_t i = r % shape[d];
        r /= shape[d];
        off += i * strides[d];
    }
    return off;
}
inline int64_t num_rows(const Shape& shape) {
    int64_t r = 1;
    for (size_t d = 0; d + 1 < shape.size(); d++) r *= shape[d];
    return shape.empty() ? 1 : r;
}
inline int64_t row_len(const Shape& shape) { return shape.empty() ? 1 : shape.back(); }
inline int64_t last_stride(const Shape& strides) { return strides.empty() ? 1 : strides.back(); }

// Strides that read a tensor of shape `s` (strides `st`) broadcast to `out` (right-aligned; size-1 and
// missing dims get stride 0).
inline Shape broadcast_strides(const Shape& s, const Shape& st, const Shape& out) {
    Shape r(out.size(), 0);
    const int64_t off = int64_t(out.size()) - int64_t(s.size());
    for (int64_t d = 0; d < int64_t(s.size()); d++)
        r[off + d] = s[d] == 1 ? 0 : st[d];
    return r;
}

}  // namespace tg
