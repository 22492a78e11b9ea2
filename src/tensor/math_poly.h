// math_poly.h — branch-free float approximations of exp, exp2, sigmoid, tanh and erf for vectorized loops.
//
// Plain float arithmetic and compiler builtins only (no libm calls, no std:: templates), internal
// linkage: every kernel file that includes it (tensor/kernels_impl.h, nn/bert_fused_impl.h,
// nn/bert_attention_impl.h, each compiled once per instruction set) gets its own copy, vectorized by
// `#pragma omp simd` with that file's -m flags, and no AVX-512 copy can be linked into an older CPU's path.
// GCC only if-converts the clamps and selects into vector blends when comparisons may not trap (AVX-512
// masking gets around it, AVX2 and SSE do not), so this header turns trapping math off for the rest of
// the including file; the engine never uses FP exception traps.
#pragma once
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include <cstdint>
#include <cstring>

namespace tg {
namespace {

inline float fmin_(float a, float b) { return a < b ? a : b; }
inline float fmax_(float a, float b) { return a > b ? a : b; }

// p(x) by Horner's rule, coefficients highest degree first: (...((c[0] x + c[1]) x + c[2]) ...) x + c[N-1].
template <int N>
inline float horner(const float (&c)[N], float x) {
    float p = c[0];
    for (int k = 1; k < N; k++) p = p * x + c[k];
    return p;
}

// exp(x), Cephes expf: x = n ln2 + r with |r| <= ln2/2, exp(r) by a degree-6 polynomial, 2^n built in
// the exponent bits. Max error ~2 ulp on [-87.3, 88.3]; exact 0 below, +inf above.
inline float exp_fast(float x) {
    const float xc = fmin_(fmax_(x, -87.3f), 88.3f);
    // n = round(x / ln2) via the 1.5*2^23 trick (adds, no rint call)
    const float t = xc * 1.44269504088896341f + 12582912.0f;
    const float n = t - 12582912.0f;
    float r = xc - n * 0.693359375f;  // ln2 split in two parts for an exact first product
    r = r - n * -2.12194440e-4f;
    constexpr float kExpPoly[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                   4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
    const float p = horner(kExpPoly, r) * r * r + r + 1.0f;
    const int32_t e = (int32_t(n) + 127) << 23;
    float scale;
    std::memcpy(&scale, &e, 4);
    float y = p * scale;
    y = x < -87.3f ? 0.0f : y;
    y = x > 88.3f ? __builtin_inff() : y;
    return y;
}

// 2^x for x <= 0 (the softmax's x - max, in log2 units), Cephes exp2f: x = n + r with n = round(x) and
// |r| <= 1/2, 2^r = 1 + r P(r) (degree-6 polynomial, max relative error 1e-7 in float), 2^n built in the
// exponent bits. No upper clamp is needed for x <= 0; below -126 the result is 2^-126 (~1e-38) instead
// of 0 (harmless in a sum that holds a 1). Fewer operations than exp_fast: no ln2 split, one clamp.
// Its polynomial, highest degree first.
constexpr float kExp2Poly[7] = {1.535336188319500e-4f, 1.339887440266574e-3f, 9.618437357674640e-3f,
                                5.550332471162809e-2f, 2.402264791363012e-1f, 6.931472028550421e-1f, 1.0f};
inline float exp2_nonpos(float x) {
    x = fmax_(x, -126.0f);
    const float t = x + 12582912.0f;  // round to nearest by the 1.5*2^23 trick
    const float n = t - 12582912.0f;
    const float r = x - n;
    const float p = horner(kExp2Poly, r);
    const int32_t e = (int32_t(n) + 127) << 23;
    float scale;
    std::memcpy(&scale, &e, 4);
    return p * scale;
}

inline float sigmoid_fast(float x) { return 1.0f / (1.0f + exp_fast(-x)); }

// tanh(x): odd/even rational approximation on [-7.9, 7.9] (Eigen's generic_fast_tanh_float), relative
// error < 5e-7 everywhere (beyond 7.9, tanh == ±1 in f32); tiny |x| returns x exactly.
inline float tanh_fast(float x) {
    const float xc = fmin_(fmax_(x, -7.90531110763549805f), 7.90531110763549805f);
    const float x2 = xc * xc;
    constexpr float kP[7] = {-2.76076847742355e-16f, 2.00018790482477e-13f, -8.60467152213735e-11f,
                             5.12229709037114e-08f,  1.48572235717979e-05f, 6.37261928875436e-04f,
                             4.89352455891786e-03f};
    constexpr float kQ[4] = {1.19825839466702e-06f, 1.18534705686654e-04f, 2.26843463243900e-03f,
                             4.89352518554385e-03f};
    const float p = horner(kP, x2) * xc, q = horner(kQ, x2);
    const float ax = x < 0.0f ? -x : x;
    return ax < 0.0004f ? x : p / q;
}

// erf(x): odd/even rational approximation on [-4, 4] (the one in Eigen/XLA), |error| < 5e-7; erf(±4) = ±1
// to f32 precision so clamping is exact enough.
// Numerator (odd: times x) and denominator, in x², highest degree first (also used by the AVX-512 GELU of
// nn/bert_fused_impl.h).
constexpr float kErfP[7] = {-2.72614225801306e-10f, 2.77068142495902e-08f, -2.10102402082508e-06f,
                            -5.69250639462346e-05f, -7.34990630326855e-04f, -2.95459980854025e-03f,
                            -1.60960333262415e-02f};
constexpr float kErfQ[5] = {-1.45660718464996e-05f, -2.13374055278905e-04f, -1.68282697438203e-03f,
                            -7.37332916720468e-03f, -1.42647390514189e-02f};
inline float erf_fast(float x) {
    x = fmin_(fmax_(x, -4.0f), 4.0f);
    const float x2 = x * x;
    return horner(kErfP, x2) * x / horner(kErfQ, x2);
}

// erf(x) for results rounded to bf16 (8 significant bits: a step is 2^-8 to 2^-7 of the value), such as the
// bf16 copy of GELU(x) = 0.5 x (1 + erf(x / sqrt 2)) that is the input of a bf16 GEMM: x P(x²) / Q(x²) with P
// and Q of degree 3 (least-squares fit made close to minimax, Q(0) = 1), clamped at ±3.4 where erf is
// 1 - 1.5e-6. |error| < 4.5e-6 (clamp included), so GELU is off by < 2.3e-6 |x|: nothing next to the bf16
// rounding (0.2-0.4 %) of GELU values above 0.005 in size, a few 1e-6 in absolute terms on the far negative
// tail, where GELU is ~0. Six multiply-adds where erf_fast takes ten and a division.
constexpr float kErfBf16Clamp = 3.4f;
constexpr float kErfBf16P[4] = {7.356598e-4f, 4.2949837e-2f, 1.5497005e-1f, 1.1283784f};
constexpr float kErfBf16Q[4] = {9.183515e-3f, 9.4870284e-2f, 4.7068474e-1f, 1.0f};
inline float erf_bf16(float x) {
    x = fmin_(fmax_(x, -kErfBf16Clamp), kErfBf16Clamp);
    const float x2 = x * x;
    return horner(kErfBf16P, x2) * x / horner(kErfBf16Q, x2);
}

}  // namespace
}  // namespace tg
