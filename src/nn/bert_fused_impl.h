// bert_fused_impl.h — the loops of bert_fused.h, written once, compiled once per instruction set.
//
// Included by bert_fused.cpp (baseline x86-64), bert_fused_avx2.cpp and bert_fused_avx512.cpp with TG_BERT_FUSED_TABLE defined
// to the table function that file exports. Internal linkage and no std:: templates (as in
// tensor/kernels_impl.h), so no AVX-512 code can be picked by the linker for an older CPU.
#include <cstdint>
#include <cstring>

#include "nn/bert_fused.h"
#include "tensor/cpu_isa.h"
#include "tensor/math_poly.h"
#ifdef __AVX512F__
#include <immintrin.h>
#endif

#ifndef TG_BERT_FUSED_TABLE
#error "define TG_BERT_FUSED_TABLE before including bert_fused_impl.h"
#endif

namespace tg::detail {
namespace {

// Round to nearest even: add 0x7fff + the lowest kept bit, keep the upper 16 bits. (A NaN stays a NaN:
// its mantissa stays non-zero; activations and weights are finite anyway.)
void cast_bf16_impl(uint16_t* out, const float* inp, int64_t n) {
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

inline uint16_t bf16_rne(float x) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// act: 0 none, 1 gelu (erf), 2 gelu (tanh form, as x sigmoid(2u))
template <int ACT>
inline float act(float x) {
    if constexpr (ACT == 1) return 0.5f * x * (1.0f + erf_fast(x * 0.7071067811865476f));
    if constexpr (ACT == 2) {
        const float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
        return x / (1.0f + exp_fast(-2.0f * u));
    }
    return x;
}

template <int ACT>
void bias_act_loop(float* __restrict c, const float* __restrict bias, const float* __restrict res,
                   uint16_t* __restrict c16, int64_t n) {
    if (res) {
#pragma omp simd
        for (int64_t j = 0; j < n; j++) c[j] = act<ACT>(c[j] + bias[j] + res[j]);
    } else {
#pragma omp simd
        for (int64_t j = 0; j < n; j++) c[j] = act<ACT>(c[j] + bias[j]);
    }
    if (c16) {
#pragma omp simd
        for (int64_t j = 0; j < n; j++) c16[j] = bf16_rne(c[j]);
    }
}

#ifdef __AVX512F__
// The erf GELU on AVX-512, where it is the ffn_in epilogue of every forward (7 of ~260 ms of a bf16 32 x 128 one
// with the loop above). The same rational erf as erf_fast (its coefficients kErfP / kErfQ), except that p / q is p times the reciprocal of q from
// vrcp14ps and one Newton step, r (2 - q r): relative error ~1e-7 (about 1 ulp; erf_fast itself is within 5e-7),
// where vdivps has a throughput of one per several cycles.
// The lanes of a 16-wide step with `left` values still to go: all 16 when left >= 16.
inline __mmask16 lanes16(int64_t left) { return left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1); }
// Lanes j .. j + 15 of c + bias (+ res when not nullptr), those at n and beyond zero; m: the lanes below n.
inline __m512 load_sum16(const float* c, const float* bias, const float* res, int64_t j, int64_t n, __mmask16& m) {
    m = lanes16(n - j);
    __m512 x = _mm512_add_ps(_mm512_maskz_loadu_ps(m, c + j), _mm512_maskz_loadu_ps(m, bias + j));
    if (res) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, res + j));
    return x;
}
// The erf argument of GELU on 16 lanes: x / sqrt 2, clamped to [-clamp, clamp] (where the rational erf ends).
inline __m512 erf_arg16(__m512 x, float clamp) {
    const __m512 u = _mm512_mul_ps(x, _mm512_set1_ps(0.7071067811865476f));
    return _mm512_min_ps(_mm512_max_ps(u, _mm512_set1_ps(-clamp)), _mm512_set1_ps(clamp));
}
// bf16_rne on 16 lanes, by integer arithmetic (any AVX-512 CPU)
inline __m256i bf16_rne16(__m512 g) {
    __m512i b = _mm512_castps_si512(g);
    b = _mm512_add_epi32(b, _mm512_add_epi32(_mm512_set1_epi32(0x7fff),
                                             _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1))));
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(b, 16));
}
// 16 floats rounded to bf16 (nearest even): one vcvtneps2bf16 where the CPU has avx512_bf16 (CVT), else bf16_rne16.
// The same result for every finite value.
template <bool CVT>
inline __m256i to_bf16x16(__m512 v) {
    if constexpr (CVT) return __m256i(_mm512_cvtneps_pbh(v));
    else return bf16_rne16(v);
}

template <>
void bias_act_loop<1>(float* __restrict c, const float* __restrict bias, const float* __restrict res,
                      uint16_t* __restrict c16, int64_t n) {
    const __m512 half = _mm512_set1_ps(0.5f), two = _mm512_set1_ps(2.0f);
    for (int64_t j = 0; j < n; j += 16) {
        __mmask16 m;
        const __m512 x = load_sum16(c, bias, res, j, n, m);
        const __m512 u = erf_arg16(x, 4.0f);
        const __m512 u2 = _mm512_mul_ps(u, u);
        __m512 p = _mm512_set1_ps(kErfP[0]);
        for (int k = 1; k < 7; k++) p = _mm512_fmadd_ps(p, u2, _mm512_set1_ps(kErfP[k]));
        p = _mm512_mul_ps(p, u);
        __m512 q = _mm512_set1_ps(kErfQ[0]);
        for (int k = 1; k < 5; k++) q = _mm512_fmadd_ps(q, u2, _mm512_set1_ps(kErfQ[k]));
        __m512 r = _mm512_rcp14_ps(q);
        r = _mm512_mul_ps(r, _mm512_fnmadd_ps(q, r, two));
        const __m512 hx = _mm512_mul_ps(half, x);
        const __m512 g = _mm512_fmadd_ps(hx, _mm512_mul_ps(p, r), hx);  // 0.5 x (1 + erf(x / sqrt 2))
        _mm512_mask_storeu_ps(c + j, m, g);
        if (c16) _mm256_mask_storeu_epi16(c16 + j, m, bf16_rne16(g));
    }
}
#endif

// The bf16 mode's GELU: only the bf16 copy, from the cheaper erf_bf16.
#ifndef __AVX512F__
void gelu_bf16_impl(uint16_t* __restrict c16, const float* __restrict c, const float* __restrict bias,
                    const float* __restrict res, int64_t n) {
#pragma omp simd
    for (int64_t j = 0; j < n; j++) {
        const float x = c[j] + bias[j] + (res ? res[j] : 0.0f);
        c16[j] = bf16_rne(0.5f * x * (1.0f + erf_bf16(x * 0.7071067811865476f)));
    }
}
#else
// On AVX-512 about 20 instructions per 16 values where the f32 GELU above takes about 30 (which made ~3 % of a
// bf16 32 x 128 forward): erf_bf16's six multiply-adds, no f32 store, and 1 + erf = (Q + x P) / Q taken as
// (Q + x P) times vrcp14ps(Q) without a Newton step: 2^-14 relative error on the whole result, which bf16 rounds
// away. Where the CPU has avx512_bf16, vcvtneps2bf16 rounds to nearest even in one instruction.
template <bool CVT>
void gelu_bf16_loop(uint16_t* __restrict c16, const float* __restrict c, const float* __restrict bias,
                    const float* __restrict res, int64_t n) {
    const __m512 half = _mm512_set1_ps(0.5f);
    for (int64_t j = 0; j < n; j += 16) {
        __mmask16 m;
        const __m512 x = load_sum16(c, bias, res, j, n, m);
        const __m512 u = erf_arg16(x, kErfBf16Clamp);
        const __m512 u2 = _mm512_mul_ps(u, u);
        __m512 p = _mm512_set1_ps(kErfBf16P[0]), q = _mm512_set1_ps(kErfBf16Q[0]);
        for (int k = 1; k < 4; k++) {
            p = _mm512_fmadd_ps(p, u2, _mm512_set1_ps(kErfBf16P[k]));
            q = _mm512_fmadd_ps(q, u2, _mm512_set1_ps(kErfBf16Q[k]));
        }
        const __m512 num = _mm512_fmadd_ps(u, p, q);  // Q (1 + erf(u))
        const __m512 g = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(half, x), num), _mm512_rcp14_ps(q));
        _mm256_mask_storeu_epi16(c16 + j, m, to_bf16x16<CVT>(g));
    }
}
void gelu_bf16_impl(uint16_t* c16, const float* c, const float* bias, const float* res, int64_t n) {
    static const bool cvt = cpu_avx512_bf16_hw();
    if (cvt) gelu_bf16_loop<true>(c16, c, bias, res, n);
    else gelu_bf16_loop<false>(c16, c, bias, res, n);
}
#endif

void bias_act_impl(float* c, const float* bias, const float* res, int act, uint16_t* c16, int64_t n) {
    if (act == 1) bias_act_loop<1>(c, bias, res, c16, n);
    else if (act == 2) bias_act_loop<2>(c, bias, res, c16, n);
    else bias_act_loop<0>(c, bias, res, c16, n);
}

// 16 floats as one value (GCC vector extension: one zmm with AVX-512, split into narrower registers below it), so
// that partial sums stay in registers; an `omp simd reduction` leaves GCC folding its partial sums one dependent
// scalar add after another, and a float[16] of partial sums is kept in memory (a store-to-load chain per step).
// (-Wpsabi: GCC notes that passing such a value by value without AVX-512 differs from the AVX-512 ABI; these are
// internal inline functions, so no call crosses files compiled with different flags.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
typedef float F16 __attribute__((vector_size(64)));
inline F16 load16(const float* p) {
    F16 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline float fold16(F16 v) {  // as a tree
    float p[16];
    std::memcpy(p, &v, sizeof p);
    for (int w = 8; w > 0; w >>= 1)
        for (int i = 0; i < w; i++) p[i] += p[i + w];
    return p[0];
}

// The last pass of a LayerNorm row with the bf16 copy: y = (x - m) r w + b, stored as f32 and as bf16.
#ifdef __AVX512F__
// On AVX-512, by hand (for the widths layernorm_rows_regs below does not take, e.g. BERT-base's 768): GCC's
// vectorization of the scalar loop below rounds to bf16 with about ten instructions per 16 values, and
// to_bf16x16 takes one where the CPU has avx512_bf16. Also the tail by mask rather than a scalar loop.
template <bool CVT>
void layernorm_store16_loop(float* y, uint16_t* __restrict y16, const float* x, float m, float r,
                            const float* __restrict w, const float* __restrict b, int64_t C) {
    const __m512 vm = _mm512_set1_ps(m), vr = _mm512_set1_ps(r);
    for (int64_t c = 0; c < C; c += 16) {
        const __mmask16 k = lanes16(C - c);
        const __m512 t = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + c), vm), vr);
        const __m512 v = _mm512_fmadd_ps(t, _mm512_maskz_loadu_ps(k, w + c), _mm512_maskz_loadu_ps(k, b + c));
        _mm512_mask_storeu_ps(y + c, k, v);
        _mm256_mask_storeu_epi16(y16 + c, k, to_bf16x16<CVT>(v));
    }
}
inline void layernorm_store16(float* y, uint16_t* __restrict y16, const float* x, float m, float r,
                              const float* __restrict w, const float* __restrict b, int64_t C) {
    static const bool cvt = cpu_avx512_bf16_hw();
    if (cvt) layernorm_store16_loop<true>(y, y16, x, m, r, w, b, C);
    else layernorm_store16_loop<false>(y, y16, x, m, r, w, b, C);
}

// C = 16 NV values a row (MiniLM's 384: NV = 24 of the 32 registers): the row is kept in registers from the first
// pass to the last, never stored back and re-read. The same sums in the same order as the loops of
// layernorm_rows_impl (16 partial sums, folded as a tree: _mm512_reduce_add_ps pairs lanes i and i + 8 first,
// as fold16 does).
template <int NV, bool CVT>
void layernorm_rows_regs(float* out, uint16_t* __restrict out16, const float* __restrict inp, int64_t ldi,
                         const float* __restrict bias, const float* res, const float* __restrict w,
                         const float* __restrict b, int64_t rows, float eps) {
    constexpr int64_t C = 16 * NV;
    for (int64_t n = 0; n < rows; n++) {
        const float* x = inp + n * ldi;
        const float* rs = res ? res + n * C : nullptr;
        __m512 v[NV];
        __m512 acc = _mm512_setzero_ps();
#pragma GCC unroll 32
        for (int i = 0; i < NV; i++) {
            __m512 t = _mm512_loadu_ps(x + 16 * i);
            if (bias) t = _mm512_add_ps(t, _mm512_loadu_ps(bias + 16 * i));
            if (rs) t = _mm512_add_ps(t, _mm512_loadu_ps(rs + 16 * i));
            v[i] = t;
            acc = _mm512_add_ps(acc, t);
        }
        const __m512 vm = _mm512_set1_ps(_mm512_reduce_add_ps(acc) / float(C));
        __m512 sq = _mm512_setzero_ps();
#pragma GCC unroll 32
        for (int i = 0; i < NV; i++) {
            v[i] = _mm512_sub_ps(v[i], vm);
            sq = _mm512_fmadd_ps(v[i], v[i], sq);
        }
        const __m512 vr = _mm512_set1_ps(1.0f / __builtin_sqrtf(_mm512_reduce_add_ps(sq) / float(C) + eps));
        float* y = out + n * C;
#pragma GCC unroll 32
        for (int i = 0; i < NV; i++) {
            const __m512 t = _mm512_fmadd_ps(_mm512_mul_ps(v[i], vr), _mm512_loadu_ps(w + 16 * i),
                                             _mm512_loadu_ps(b + 16 * i));
            _mm512_storeu_ps(y + 16 * i, t);
            if (out16)
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(out16 + n * C + 16 * i), to_bf16x16<CVT>(t));
        }
    }
}
// true when C is one of the register-kept widths (128, 256, 384) and the rows were done
inline bool layernorm_rows_in_regs(float* out, uint16_t* out16, const float* inp, int64_t ldi, const float* bias,
                                   const float* res, const float* w, const float* b, int64_t rows, int64_t C,
                                   float eps) {
    static const bool cvt = cpu_avx512_bf16_hw();
#define TG_LN_REGS(NV)                                                                              \
    (cvt ? layernorm_rows_regs<NV, true>(out, out16, inp, ldi, bias, res, w, b, rows, eps)          \
         : layernorm_rows_regs<NV, false>(out, out16, inp, ldi, bias, res, w, b, rows, eps))
    switch (C) {
        case 128: TG_LN_REGS(8); return true;
        case 256: TG_LN_REGS(16); return true;
        case 384: TG_LN_REGS(24); return true;
        default: return false;
    }
#undef TG_LN_REGS
}
#else
inline bool layernorm_rows_in_regs(float*, uint16_t*, const float*, int64_t, const float*, const float*, const float*,
                                   const float*, int64_t, int64_t, float) {
    return false;
}
inline void layernorm_store16(float* y, uint16_t* __restrict y16, const float* x, float m, float r,
                              const float* __restrict w, const float* __restrict b, int64_t C) {
#pragma omp simd
    for (int64_t c = 0; c < C; c++) {
        const float yv = (x[c] - m) * r * w[c] + b[c];
        y[c] = yv;
        y16[c] = bf16_rne(yv);
    }
}
#endif

// LayerNorm of rows (tensor/kernels.h layernorm_forward's two-pass formula: mean, then the mean square of x - mean),
// serial, with the bf16 copy. With bias and/or res (nullptr: none), each row is first made inp + bias + res: kept in
// registers for the widths layernorm_rows_in_regs takes (AVX-512), else in place, in the pass that sums it, and then
// in L1 for the other two. res and out may be the same rows (the
// encoder's residual stream): neither is __restrict. The sums are kept as 16 partial sums (lane c % 16) and
// folded as a tree.
void layernorm_rows_impl(float* out, uint16_t* __restrict out16, float* __restrict inp, int64_t ldi,
                         const float* __restrict bias, const float* res, const float* __restrict w,
                         const float* __restrict b, int64_t rows, int64_t C, float eps) {
    if (layernorm_rows_in_regs(out, out16, inp, ldi, bias, res, w, b, rows, C, eps)) return;
    const int64_t C16 = C / 16 * 16;
    for (int64_t n = 0; n < rows; n++) {
        float* x = inp + n * ldi;
        const float* rs = res ? res + n * C : nullptr;
        F16 acc = {};
        for (int64_t c0 = 0; c0 < C16; c0 += 16) {
            F16 xv = load16(x + c0);
            if (bias) xv = xv + load16(bias + c0);
            if (rs) xv = xv + load16(rs + c0);
            std::memcpy(x + c0, &xv, sizeof xv);
            acc += xv;
        }
        for (int64_t c = C16; c < C; c++) {
            float xv = x[c];
            if (bias) xv = xv + bias[c];
            if (rs) xv = xv + rs[c];
            x[c] = xv;
            acc[c - C16] += xv;
        }
        const float m = fold16(acc) / float(C);
        F16 sq = {};
        for (int64_t c0 = 0; c0 < C16; c0 += 16) {
            const F16 d = load16(x + c0) - m;
            sq += d * d;
        }
        for (int64_t c = C16; c < C; c++) sq[c - C16] += (x[c] - m) * (x[c] - m);
        const float r = 1.0f / __builtin_sqrtf(fold16(sq) / float(C) + eps);
        float* y = out + n * C;
        if (out16) {
            layernorm_store16(y, out16 + n * C, x, m, r, w, b, C);
        } else {
#pragma omp simd
            for (int64_t c = 0; c < C; c++) y[c] = (x[c] - m) * r * w[c] + b[c];
        }
    }
}

void cast_bf16_serial_impl(uint16_t* __restrict out, const float* __restrict inp, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) out[i] = bf16_rne(inp[i]);
}

}  // namespace

const BertFusedFns& TG_BERT_FUSED_TABLE() {
    static const BertFusedFns t{cast_bf16_impl, cast_bf16_serial_impl, bias_act_impl, gelu_bf16_impl,
                                layernorm_rows_impl};
    return t;
}

}  // namespace tg::detail
