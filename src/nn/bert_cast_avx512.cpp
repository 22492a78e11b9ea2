// bert_cast_avx512.cpp — f32 -> bf16 rounding of activations (the input of each bf16 linear layer), compiled
// with AVX-512 flags (CMake adds them by file name) so the loop runs 16 lanes wide; bert.cpp calls it only when
// tg::cpu_isa() is avx512 and otherwise runs the same loop compiled for baseline x86-64.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("prefer-vector-width=512")
#endif
#include <cstdint>
#include <cstring>

namespace tg::detail {

// out[i] = bf16(inp[i]), round to nearest even: add 0x7fff + the lowest kept bit, keep the upper 16 bits.
void cast_bf16_avx512(uint16_t* out, const float* inp, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= (1 << 16))
    for (int64_t i0 = 0; i0 < n; i0 += 4096) {
        const int64_t i1 = n < i0 + 4096 ? n : i0 + 4096;
#pragma omp simd
        for (int64_t i = i0; i < i1; i++) {
            uint32_t u;
            std::memcpy(&u, inp + i, 4);
            u += 0x7fffu + ((u >> 16) & 1u);
            out[i] = uint16_t(u >> 16);
        }
    }
}

}  // namespace tg::detail
