// kernels_impl.h — the fast kernel loops, written once, compiled once per instruction set.
//
// Included by kernels.cpp / kernels_avx2.cpp / kernels_avx512.cpp with TG_KERNEL_TABLE defined to the
// name of the table function that file exports (see kernels_table.h). Everything else here has internal
// linkage (anonymous namespace), so the three copies never clash at link time. Only compiler builtins
// are used inside (no std:: templates; scratch memory comes from the caller), so no inline function
// compiled with AVX-512 flags can leak into code that runs on an older CPU.
//
// The loops are written for the auto-vectorizer: `#pragma omp simd` on straight-line bodies, math done
// by the branch-free polynomials below (no libm calls inside vector loops). Above each loop a comment
// gives the plain formula it computes; the _ref versions in kernels.cpp are the readable spec.
// GCC only if-converts the clamps and selects below into vector blends when comparisons may not trap
// (AVX-512 masking gets around it, AVX2 and SSE do not); the engine never uses FP exception traps.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include <cstdint>
#include <cstring>

#include "tensor/kernels_table.h"
#include "tensor/math_poly.h"

#ifndef TG_KERNEL_TABLE
#error "define TG_KERNEL_TABLE before including kernels_impl.h"
#endif

namespace tg {
namespace {

// Parallelize only when a call has enough work to amortize waking the thread team (~a few µs).
constexpr int64_t kParallelMin = 1 << 15;
// Elementwise loops run as `parallel for` over blocks of kBlock elements with an `omp simd` loop
// inside each block: GCC's cost model declines `parallel for simd` on AVX2 for the longer polynomial
// bodies, but always honours a plain `omp simd`.
constexpr int64_t kBlock = 2048;

constexpr float kSqrt2OverPi = 0.7978845608028654f;  // sqrt(2/pi), tanh-GELU
constexpr float kGeluCubic = 0.044715f;
constexpr float kInvSqrt2 = 0.7071067811865476f;
constexpr float kInvSqrt2Pi = 0.3989422804014327f;  // 1/sqrt(2 pi), the normal pdf's constant

// ---- LayerNorm ---------------------------------------------------------------------------------

void layernorm_forward_impl(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                            const float* bias, int64_t N, int64_t C, float eps) {
#pragma omp parallel for schedule(static) if (N * C >= kParallelMin)
    for (int64_t n = 0; n < N; n++) {
        const float* x = inp + n * C;
        float* y = out + n * C;
        // m = sum_c x[c] / C
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int64_t c = 0; c < C; c++) s += x[c];
        const float m = s / float(C);
        // v = sum_c (x[c] - m)^2 / C   (two passes: no cancellation)
        float v = 0.0f;
#pragma omp simd reduction(+ : v)
        for (int64_t c = 0; c < C; c++) {
            const float d = x[c] - m;
            v += d * d;
        }
        const float r = 1.0f / __builtin_sqrtf(v / float(C) + eps);
        // y[c] = (x[c] - m) * r * w[c] + b[c]
        if (weight && bias) {
#pragma omp simd
            for (int64_t c = 0; c < C; c++) y[c] = (x[c] - m) * r * weight[c] + bias[c];
        } else {
#pragma omp simd
            for (int64_t c = 0; c < C; c++)
                y[c] = (x[c] - m) * r * (weight ? weight[c] : 1.0f) + (bias ? bias[c] : 0.0f);
        }
        if (mean) mean[n] = m;
        if (rstd) rstd[n] = r;
    }
}

// scratch: kLayerNormRowChunks(N) * 2 * C floats when dweight or dbias is set (kernels.cpp allocates it).
void layernorm_backward_impl(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                             const float* weight, const float* mean, const float* rstd, int64_t N, int64_t C,
                             float* scratch) {
    // One pass over x and dout, in chunks of RB rows (a fixed size: NOT derived from the thread count).
    // Per row, with norm = (x - m) * r and g = w * dout:
    //     dinp = r * (g - mean_c(g) - norm * mean_c(g * norm))
    // and each chunk k also sums its rows' parameter gradients into a private partial:
    //     pw[k][c] = sum_{n in chunk k} dout[n,c] * norm[n,c],   pb[k][c] = sum_{n in chunk k} dout[n,c]
    // Then dweight[c] += sum_k pw[k][c] in chunk order (double). Same result for any thread count.
    constexpr int64_t RB = kLayerNormRowChunk;
    const int64_t nchunks = (N + RB - 1) / RB;
    const bool params = dweight || dbias;
    float* partial = params ? scratch : nullptr;
#pragma omp parallel for schedule(static) if (N * C >= kParallelMin)
    for (int64_t k = 0; k < nchunks; k++) {
        float* pw = partial ? partial + k * 2 * C : nullptr;
        float* pb = pw ? pw + C : nullptr;
        if (pw)
            for (int64_t c = 0; c < 2 * C; c++) pw[c] = 0.0f;
        const int64_t n1 = (k + 1) * RB < N ? (k + 1) * RB : N;
        for (int64_t n = k * RB; n < n1; n++) {
            const float* x = inp + n * C;
            const float* dy = dout + n * C;
            float* dx = dinp + n * C;
            const float m = mean[n], r = rstd[n];
            float sg = 0.0f, sgn = 0.0f;
#pragma omp simd reduction(+ : sg, sgn)
            for (int64_t c = 0; c < C; c++) {
                const float g = (weight ? weight[c] : 1.0f) * dy[c];
                sg += g;
                sgn += g * (x[c] - m) * r;
            }
            const float mg = sg / float(C), mgn = sgn / float(C);
#pragma omp simd
            for (int64_t c = 0; c < C; c++) {
                const float norm = (x[c] - m) * r;
                dx[c] = r * ((weight ? weight[c] : 1.0f) * dy[c] - mg - norm * mgn);
            }
            if (pw) {
#pragma omp simd
                for (int64_t c = 0; c < C; c++) {
                    pw[c] += dy[c] * ((x[c] - m) * r);
                    pb[c] += dy[c];
                }
            }
        }
    }
    if (!params) return;
#pragma omp parallel for schedule(static) if (N * C >= kParallelMin)
    for (int64_t c = 0; c < C; c++) {
        double sw = 0.0, sb = 0.0;
        for (int64_t k = 0; k < nchunks; k++) {
            sw += double(partial[k * 2 * C + c]);
            sb += double(partial[k * 2 * C + C + c]);
        }
        if (dweight) dweight[c] += float(sw);
        if (dbias) dbias[c] += float(sb);
    }
}

// ---- GELU --------------------------------------------------------------------------------------

void gelu_forward_impl(float* out, const float* inp, int64_t n, bool tanh_approx) {
    if (tanh_approx) {
        // 0.5 x (1 + tanh(u)) = x * sigmoid(2u), u = sqrt(2/pi)(x + 0.044715 x^3) — no cancellation for x < 0
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
        for (int64_t b = 0; b < n; b += kBlock) {
#pragma omp simd
            for (int64_t i = b; i < (b + kBlock < n ? b + kBlock : n); i++) {
                const float x = inp[i];
                const float u = kSqrt2OverPi * (x + kGeluCubic * x * x * x);
                out[i] = x * sigmoid_fast(2.0f * u);
            }
        }
    } else {
        // 0.5 x (1 + erf(x / sqrt 2))
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
        for (int64_t b = 0; b < n; b += kBlock) {
#pragma omp simd
            for (int64_t i = b; i < (b + kBlock < n ? b + kBlock : n); i++) {
                const float x = inp[i];
                out[i] = 0.5f * x * (1.0f + erf_fast(x * kInvSqrt2));
            }
        }
    }
}

void gelu_backward_impl(float* dinp, const float* dout, const float* inp, int64_t n, bool tanh_approx) {
    if (tanh_approx) {
        // d/dx [x s(2u)] = s + x * 2 s (1 - s) u',  u' = sqrt(2/pi)(1 + 3 * 0.044715 x^2)
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
        for (int64_t b = 0; b < n; b += kBlock) {
#pragma omp simd
            for (int64_t i = b; i < (b + kBlock < n ? b + kBlock : n); i++) {
                const float x = inp[i];
                const float u = kSqrt2OverPi * (x + kGeluCubic * x * x * x);
                const float du = kSqrt2OverPi * (1.0f + 3.0f * kGeluCubic * x * x);
                const float s = sigmoid_fast(2.0f * u);
                dinp[i] = dout[i] * (s + x * 2.0f * s * (1.0f - s) * du);
            }
        }
    } else {
        // d/dx [0.5 x (1 + erf(x/sqrt2))] = Phi(x) + x phi(x),  phi(x) = exp(-x^2/2) / sqrt(2 pi)
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
        for (int64_t b = 0; b < n; b += kBlock) {
#pragma omp simd
            for (int64_t i = b; i < (b + kBlock < n ? b + kBlock : n); i++) {
                const float x = inp[i];
                const float cdf = 0.5f * (1.0f + erf_fast(x * kInvSqrt2));
                const float pdf = kInvSqrt2Pi * exp_fast(-0.5f * x * x);
                dinp[i] = dout[i] * (cdf + x * pdf);
            }
        }
    }
}

// ---- Softmax -----------------------------------------------------------------------------------

void softmax_forward_impl(float* out, const float* inp, const float* mask, int64_t rows, int64_t cols,
                          int64_t rows_per_mask) {
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMin)
    for (int64_t r = 0; r < rows; r++) {
        const float* x = inp + r * cols;
        float* y = out + r * cols;
        // z = x + mask_row, kept in y; mx = max_c z
        float mx = -__builtin_inff();
        if (mask) {
            const float* mk = mask + (r / rows_per_mask) * cols;
#pragma omp simd reduction(max : mx)
            for (int64_t c = 0; c < cols; c++) {
                y[c] = x[c] + mk[c];
                mx = fmax_(mx, y[c]);
            }
        } else {
#pragma omp simd reduction(max : mx)
            for (int64_t c = 0; c < cols; c++) {
                y[c] = x[c];
                mx = fmax_(mx, y[c]);
            }
        }
        if (mx == -__builtin_inff()) {  // fully masked row: define the result as 0
            for (int64_t c = 0; c < cols; c++) y[c] = 0.0f;
            continue;
        }
        // y = exp(z - mx); y /= sum(y)
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int64_t c = 0; c < cols; c++) {
            y[c] = exp_fast(y[c] - mx);
            s += y[c];
        }
        const float inv = 1.0f / s;
#pragma omp simd
        for (int64_t c = 0; c < cols; c++) y[c] *= inv;
    }
}

void softmax_backward_impl(float* dinp, const float* dout, const float* out, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMin)
    for (int64_t r = 0; r < rows; r++) {
        const float* dy = dout + r * cols;
        const float* y = out + r * cols;
        float* dx = dinp + r * cols;
        // dot = sum_c dy[c] y[c];  dx = y * (dy - dot)
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int64_t c = 0; c < cols; c++) dot += dy[c] * y[c];
#pragma omp simd
        for (int64_t c = 0; c < cols; c++) dx[c] = y[c] * (dy[c] - dot);
    }
}

// ---- elementwise math --------------------------------------------------------------------------

void vexp_impl(float* out, const float* inp, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int64_t b = 0; b < n; b += kBlock) {
#pragma omp simd
        for (int64_t i = b; i < (b + kBlock < n ? b + kBlock : n); i++) out[i] = exp_fast(inp[i]);
    }
}
void vsigmoid_impl(float* out, const float* inp, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int64_t b = 0; b < n; b += kBlock) {
#pragma omp simd
        for (int64_t i = b; i < (b + kBlock < n ? b + kBlock : n); i++) out[i] = sigmoid_fast(inp[i]);
    }
}
void vtanh_impl(float* out, const float* inp, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int64_t b = 0; b < n; b += kBlock) {
#pragma omp simd
        for (int64_t i = b; i < (b + kBlock < n ? b + kBlock : n); i++) out[i] = tanh_fast(inp[i]);
    }
}

// Inverted dropout: y[i] = keep(i) ? x[i] / (1 - p) : 0, keep(i) = philox_uniform(seed, base + i) >= p
// (tensor/rng.h). philox_word0 is rng.h's Philox4x32-10 for the counter (idx_lo, idx_hi, 0, 0), its
// first output word only, written with 32-bit lanes and 32x32->64-bit products so the loop vectorizes
// (vpmuludq): one call per element, the same bits as the scalar generator.
inline uint32_t philox_word0(uint32_t c0, uint32_t c1, uint32_t k0, uint32_t k1) {
    uint32_t c2 = 0, c3 = 0;
    for (int round = 0; round < 10; round++) {
        const uint64_t p0 = uint64_t(0xD2511F53u) * c0, p1 = uint64_t(0xCD9E8D57u) * c2;
        const uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0, n2 = uint32_t(p0 >> 32) ^ c3 ^ k1;
        c1 = uint32_t(p1);
        c3 = uint32_t(p0);
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return c0;
}
void dropout_impl(float* y, const float* x, int64_t n, float p, uint64_t seed, uint64_t base, bool parallel) {
    const float scale = 1.0f / (1.0f - p);
    const uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
#pragma omp parallel for schedule(static) if (parallel && n >= kParallelMin)
    for (int64_t b = 0; b < n; b += kBlock) {
        const int64_t e = b + kBlock < n ? b + kBlock : n;
#pragma omp simd
        for (int64_t i = b; i < e; i++) {
            const uint64_t idx = base + uint64_t(i);
            const float u = float(philox_word0(uint32_t(idx), uint32_t(idx >> 32), k0, k1) >> 8) * (1.0f / 16777216.0f);
            y[i] = u >= p ? x[i] * scale : 0.0f;
        }
    }
}

}  // namespace

const KernelTable& TG_KERNEL_TABLE() {
    static const KernelTable table = {
        layernorm_forward_impl, layernorm_backward_impl, gelu_forward_impl, gelu_backward_impl,
        softmax_forward_impl,   softmax_backward_impl,   vexp_impl,         vsigmoid_impl,
        vtanh_impl,             dropout_impl,
    };
    return table;
}

}  // namespace tg
