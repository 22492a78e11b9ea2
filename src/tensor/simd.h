// simd.h — the handful of vector operations the hand-written kernels need, as small traits structs,
// so that one kernel template serves AVX2 (8 floats / 4 doubles per register) and AVX-512 (16 / 8).
//
// Include only from *_avx2.cpp / *_avx512.cpp files (CMake compiles those with the matching -m flags).
// Everything here sits in an anonymous namespace: each such file gets its own private copy, so an
// inline function compiled with AVX-512 flags can never be picked by the linker for a caller that runs
// on an AVX2-only CPU (the one-definition-rule trap of mixing instruction sets in one binary). For the
// same reason kernels built on these traits use no std:: templates inside their loops.
//
// A kernel written as `template <class V> ... V::fmadd(V::set1(w), V::load(x), y)` computes, per
// element, exactly the scalar `y = fma(w, x, y)`: the vector width changes how many elements move at
// once, never the order of the operations on one element, so the AVX2 and AVX-512 builds of a kernel
// and its scalar reference agree bit for bit.
#pragma once

#include <immintrin.h>

namespace tg::simd {
namespace {

#if defined(__AVX2__) && defined(__FMA__)
struct F32x8 {  // 8 floats in a ymm register
    using reg = __m256;
    static constexpr int W = 8;
    static reg zero() { return _mm256_setzero_ps(); }
    static reg set1(float x) { return _mm256_set1_ps(x); }
    static reg load(const float* p) { return _mm256_loadu_ps(p); }
    static void store(float* p, reg v) { _mm256_storeu_ps(p, v); }
    static reg fmadd(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
    static reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
    static reg sub(reg a, reg b) { return _mm256_sub_ps(a, b); }
    static reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
};
struct F64x4 {  // 4 doubles in a ymm register
    using reg = __m256d;
    static constexpr int W = 4;
    static reg zero() { return _mm256_setzero_pd(); }
    static reg set1(double x) { return _mm256_set1_pd(x); }
    static reg load(const double* p) { return _mm256_loadu_pd(p); }
    static void store(double* p, reg v) { _mm256_storeu_pd(p, v); }
    static reg fmadd(reg a, reg b, reg c) { return _mm256_fmadd_pd(a, b, c); }
    static reg add(reg a, reg b) { return _mm256_add_pd(a, b); }
    static reg sub(reg a, reg b) { return _mm256_sub_pd(a, b); }
    static reg mul(reg a, reg b) { return _mm256_mul_pd(a, b); }
};
#endif

#if defined(__AVX512F__)
struct F32x16 {  // 16 floats in a zmm register
    using reg = __m512;
    static constexpr int W = 16;
    static reg zero() { return _mm512_setzero_ps(); }
    static reg set1(float x) { return _mm512_set1_ps(x); }
    static reg load(const float* p) { return _mm512_loadu_ps(p); }
    static void store(float* p, reg v) { _mm512_storeu_ps(p, v); }
    static reg fmadd(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
    static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
    static reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
    static reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
};
struct F64x8 {  // 8 doubles in a zmm register
    using reg = __m512d;
    static constexpr int W = 8;
    static reg zero() { return _mm512_setzero_pd(); }
    static reg set1(double x) { return _mm512_set1_pd(x); }
    static reg load(const double* p) { return _mm512_loadu_pd(p); }
    static void store(double* p, reg v) { _mm512_storeu_pd(p, v); }
    static reg fmadd(reg a, reg b, reg c) { return _mm512_fmadd_pd(a, b, c); }
    static reg add(reg a, reg b) { return _mm512_add_pd(a, b); }
    static reg sub(reg a, reg b) { return _mm512_sub_pd(a, b); }
    static reg mul(reg a, reg b) { return _mm512_mul_pd(a, b); }
};

// 16 x 16 transpose of 32-bit lanes in registers: r[i] lane j  <->  r[j] lane i. Four rounds: interleave the
// lanes of row pairs, then 64-bit pairs within 128-bit lanes, then 128-bit blocks, twice. (Packing a strided GEMM
// operand, turning rows of key pairs into the attention's key-major layout.)
inline void transpose16x16(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 8; i++) {  // interleave 32-bit lanes of row pairs
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {  // then 64-bit pairs within 128-bit lanes
        u[4 * i + 0] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int h = 0; h < 2; h++)  // then 128-bit blocks, twice
        for (int i = 0; i < 4; i++) {
            t[8 * h + i] = _mm512_shuffle_f32x4(u[8 * h + i], u[8 * h + 4 + i], 0x88);
            t[8 * h + 4 + i] = _mm512_shuffle_f32x4(u[8 * h + i], u[8 * h + 4 + i], 0xDD);
        }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
        r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xDD);
    }
}
#endif

}  // namespace
}  // namespace tg::simd
