// kernels.cpp — scalar references for kernels.h, the baseline (SSE2) build of the fast kernels, and
// the run-time dispatch between baseline / AVX2 / AVX-512 builds (see kernels_table.h).
//
// The _ref functions below are the specification: one row at a time, double accumulators, <cmath>.
#include "tensor/kernels.h"

#include <cmath>
#include <vector>

#include "tensor/cpu_isa.h"

#define TG_KERNEL_TABLE kernel_table_base
#include "tensor/kernels_impl.h"

namespace tg {

// ---- dispatch ------------------------------------------------------------------------------------

static const KernelTable& kt() {
    switch (cpu_isa()) {
        case Isa::avx512: return kernel_table_avx512();
        case Isa::avx2: return kernel_table_avx2();
        default: return kernel_table_base();
    }
}

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int64_t N, int64_t C, float eps) {
    kt().layernorm_forward(out, mean, rstd, inp, weight, bias, N, C, eps);
}
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int64_t N, int64_t C) {
    std::vector<float> scratch(dweight || dbias ? size_t(layernorm_scratch_floats(N, C)) : 0);
    kt().layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C, scratch.data());
}
void gelu_forward(float* out, const float* inp, int64_t n, bool tanh_approx) {
    kt().gelu_forward(out, inp, n, tanh_approx);
}
void gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n, bool tanh_approx) {
    kt().gelu_backward(dinp, dout, inp, n, tanh_approx);
}
void softmax_forward(float* out, const float* inp, const float* mask, int64_t rows, int64_t cols,
                     int64_t rows_per_mask) {
    kt().softmax_forward(out, inp, mask, rows, cols, rows_per_mask < 1 ? 1 : rows_per_mask);
}
void softmax_backward(float* dinp, const float* dout, const float* out, int64_t rows, int64_t cols) {
    kt().softmax_backward(dinp, dout, out, rows, cols);
}
void vexp(float* out, const float* inp, int64_t n) { kt().vexp(out, inp, n); }
void vsigmoid(float* out, const float* inp, int64_t n) { kt().vsigmoid(out, inp, n); }
void vtanh(float* out, const float* inp, int64_t n) { kt().vtanh(out, inp, n); }
void dropout_mask_scale(float* out, const float* inp, int64_t n, float p, uint64_t seed, uint64_t base, bool parallel) {
    kt().dropout(out, inp, n, p, seed, base, parallel);
}

// ---- references ----------------------------------------------------------------------------------

void layernorm_forward_ref(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                           const float* bias, int64_t N, int64_t C, float eps) {
    for (int64_t n = 0; n < N; n++) {
        const float* x = inp + n * C;
        double m = 0.0;  // mean = sum x / C
        for (int64_t c = 0; c < C; c++) m += x[c];
        m /= double(C);
        double v = 0.0;  // var = sum (x - mean)^2 / C   (biased, like PyTorch)
        for (int64_t c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
        v /= double(C);
        const double r = 1.0 / std::sqrt(v + double(eps));
        for (int64_t c = 0; c < C; c++) {
            const double w = weight ? weight[c] : 1.0, b = bias ? bias[c] : 0.0;
            out[n * C + c] = float((x[c] - m) * r * w + b);
        }
        if (mean) mean[n] = float(m);
        if (rstd) rstd[n] = float(r);
    }
}

void layernorm_backward_ref(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                            const float* weight, const float* mean, const float* rstd, int64_t N, int64_t C) {
    // Forward: norm = (x - m) r, y = norm w + b, with m and r functions of the whole row.
    // Backward (llm.c doc/layernorm): with g = w * dy,
    //   dx = r * (g - mean(g) - norm * mean(g * norm)),  dw += dy * norm,  db += dy.
    for (int64_t n = 0; n < N; n++) {
        const float* x = inp + n * C;
        const float* dy = dout + n * C;
        const double m = mean[n], r = rstd[n];
        double mg = 0.0, mgn = 0.0;
        for (int64_t c = 0; c < C; c++) {
            const double g = (weight ? weight[c] : 1.0) * dy[c];
            mg += g;
            mgn += g * (x[c] - m) * r;
        }
        mg /= double(C);
        mgn /= double(C);
        for (int64_t c = 0; c < C; c++) {
            const double norm = (x[c] - m) * r;
            const double g = (weight ? weight[c] : 1.0) * dy[c];
            dinp[n * C + c] = float(r * (g - mg - norm * mgn));
        }
    }
    for (int64_t c = 0; c < C; c++) {
        double aw = 0.0, ab = 0.0;
        for (int64_t n = 0; n < N; n++) {
            const double dy = dout[n * C + c];
            aw += dy * (inp[n * C + c] - double(mean[n])) * double(rstd[n]);
            ab += dy;
        }
        if (dweight) dweight[c] += float(aw);
        if (dbias) dbias[c] += float(ab);
    }
}

static double gelu_ref(double x, bool tanh_approx) {
    if (tanh_approx) {
        const double u = std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);
        return 0.5 * x * (1.0 + std::tanh(u));
    }
    return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
}

static double gelu_grad_ref(double x, bool tanh_approx) {
    if (tanh_approx) {
        // d/dx 0.5 x (1 + tanh u) = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) u'
        const double k = std::sqrt(2.0 / M_PI);
        const double u = k * (x + 0.044715 * x * x * x), t = std::tanh(u);
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + 3.0 * 0.044715 * x * x);
    }
    // Phi(x) + x phi(x)
    return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))) + x * std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI);
}

void gelu_forward_ref(float* out, const float* inp, int64_t n, bool tanh_approx) {
    for (int64_t i = 0; i < n; i++) out[i] = float(gelu_ref(inp[i], tanh_approx));
}
void gelu_backward_ref(float* dinp, const float* dout, const float* inp, int64_t n, bool tanh_approx) {
    for (int64_t i = 0; i < n; i++) dinp[i] = float(double(dout[i]) * gelu_grad_ref(inp[i], tanh_approx));
}

void softmax_forward_ref(float* out, const float* inp, const float* mask, int64_t rows, int64_t cols,
                         int64_t rows_per_mask) {
    if (rows_per_mask < 1) rows_per_mask = 1;
    for (int64_t r = 0; r < rows; r++) {
        const float* mk = mask ? mask + (r / rows_per_mask) * cols : nullptr;
        // softmax(z)_c = exp(z_c - max z) / sum_j exp(z_j - max z), z = x + mask
        double mx = -INFINITY;
        for (int64_t c = 0; c < cols; c++) mx = std::fmax(mx, double(inp[r * cols + c]) + (mk ? mk[c] : 0.0));
        if (mx == -INFINITY) {
            for (int64_t c = 0; c < cols; c++) out[r * cols + c] = 0.0f;
            continue;
        }
        double s = 0.0;
        for (int64_t c = 0; c < cols; c++) s += std::exp(double(inp[r * cols + c]) + (mk ? mk[c] : 0.0) - mx);
        for (int64_t c = 0; c < cols; c++)
            out[r * cols + c] = float(std::exp(double(inp[r * cols + c]) + (mk ? mk[c] : 0.0) - mx) / s);
    }
}

void softmax_backward_ref(float* dinp, const float* dout, const float* out, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; r++) {
        // dx_c = sum_j dy_j dy_j/dx_c = y_c (dy_c - sum_j dy_j y_j)
        double dot = 0.0;
        for (int64_t c = 0; c < cols; c++) dot += double(dout[r * cols + c]) * out[r * cols + c];
        for (int64_t c = 0; c < cols; c++)
            dinp[r * cols + c] = float(out[r * cols + c] * (double(dout[r * cols + c]) - dot));
    }
}

}  // namespace tg
