// kernels_table.h — internal: the table of fast kernels one instruction-set build provides.
//
// kernels_impl.h holds the kernel loops once; kernels.cpp (baseline x86-64), kernels_avx2.cpp and
// kernels_avx512.cpp each include it with different compiler flags and export one KernelTable.
// kernels.cpp picks the table matching tg::cpu_isa() on every call (so TG_ISA / set_cpu_isa work).
#pragma once
#include <cstdint>

namespace tg {

// LayerNorm backward sums parameter gradients over fixed chunks of this many rows (then over chunks),
// so the result does not depend on the thread count; the caller provides the per-chunk scratch.
constexpr int64_t kLayerNormRowChunk = 32;
inline int64_t layernorm_scratch_floats(int64_t N, int64_t C) {
    return (N + kLayerNormRowChunk - 1) / kLayerNormRowChunk * 2 * C;
}

struct KernelTable {
    void (*layernorm_forward)(float*, float*, float*, const float*, const float*, const float*, int64_t,
                              int64_t, float);
    void (*layernorm_backward)(float*, float*, float*, const float*, const float*, const float*, const float*,
                               const float*, int64_t, int64_t, float* scratch);
    void (*gelu_forward)(float*, const float*, int64_t, bool);
    void (*gelu_backward)(float*, const float*, const float*, int64_t, bool);
    void (*softmax_forward)(float*, const float*, const float*, int64_t, int64_t, int64_t);
    void (*softmax_backward)(float*, const float*, const float*, int64_t, int64_t);
    void (*vexp)(float*, const float*, int64_t);
    void (*vsigmoid)(float*, const float*, int64_t);
    void (*vtanh)(float*, const float*, int64_t);
    void (*dropout)(float*, const float*, int64_t, float, uint64_t, uint64_t, bool);
};

const KernelTable& kernel_table_base();
const KernelTable& kernel_table_avx2();
const KernelTable& kernel_table_avx512();

}  // namespace tg
