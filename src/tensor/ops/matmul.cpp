// matmul.cpp — matrix products through tg::gemm_*: matmul, batched matmul and linear.
//
// Dimension letters: M, K, N for one product (A [M,K] · B [K,N]); batch dims in front.
// The GEMM takes row-major operands with an optional transpose, a leading dimension and a batch
// stride, so many views reach it without a copy: x.transpose(-1,-2) is a transposed operand, a slice
// of rows keeps its leading dimension, and batch dims that collapse to one stride are a strided batch.
// Anything else is made contiguous first.
#include "tensor/gemm.h"
#include "tensor/ops/ops.h"

namespace tg {

namespace {

// How the last two dims of a tensor (with all earlier dims flattened into `batch`) map onto a GEMM operand.
struct GemmOperand {
    const float* p;
    bool trans;       // stored as [cols, rows]
    int64_t ld;       // leading dimension of the stored matrix
    int64_t bstride;  // elements between consecutive batch matrices
};

bool try_operand(const Tensor& t, GemmOperand& op) {
    const int64_t nd = t.dim();
    const int64_t R = t.shape()[size_t(nd - 2)], C = t.shape()[size_t(nd - 1)];
    const int64_t sr = t.strides()[size_t(nd - 2)], sc = t.strides()[size_t(nd - 1)];
    // batch dims must collapse to one stride
    int64_t bstride = 0, expect = -1;
    for (int64_t d = nd - 3; d >= 0; d--) {
        const int64_t n = t.shape()[size_t(d)], s = t.strides()[size_t(d)];
        if (n == 1) continue;
        if (expect < 0) {
            bstride = s;
        } else if (s != expect) {
            return false;
        }
        expect = s * n;
    }
    if ((sc == 1 || C == 1) && sr >= C) {
        op = {t.data<float>(), false, R == 1 ? C : sr, bstride};
        if (op.ld < C) op.ld = C;
        return true;
    }
    if ((sr == 1 || R == 1) && sc >= R) {
        op = {t.data<float>(), true, C == 1 ? R : sc, bstride};
        if (op.ld < R) op.ld = R;
        return true;
    }
    return false;
}

GemmOperand operand(Tensor& t) {
    GemmOperand op;
    if (try_operand(t, op)) return op;
    t = t.contiguous();  // caller keeps the copy alive
    TG_CHECK(try_operand(t, op), "matmul: internal error, contiguous operand rejected");
    return op;
}

// a [..., M, K] · b [..., K, N] with identical batch dims -> contiguous [..., M, N]; no autograd.
Tensor bmm_raw(Tensor a, Tensor b) {
    const int64_t nd = a.dim();
    const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
    Shape oshape = a.shape();
    oshape[size_t(nd - 1)] = N;
    Tensor out = Tensor::empty(oshape);
    const int64_t batch = shape_numel(oshape) / (M * N > 0 ? M * N : 1);
    if (out.numel() == 0) return out;
    if (K == 0) {
        out.fill_(0.0f);
        return out;
    }
    GemmOperand A = operand(a), B = operand(b);
    if (batch == 1) {
        gemm_f32(A.trans, B.trans, M, N, K, 1.0f, A.p, A.ld, B.p, B.ld, 0.0f, out.data<float>(), N);
    } else {
        gemm_batched_f32(A.trans, B.trans, batch, M, N, K, 1.0f, A.p, A.ld, A.bstride, B.p, B.ld, B.bstride, 0.0f,
                         out.data<float>(), N, M * N);
    }
    return out;
}

Tensor f32_input(const Tensor& t, const char* op, const char* arg) {
    TG_CHECK(t.defined(), "op ", op, ": ", arg, " is undefined");
    require_cpu(op, {&t});
    if (t.dtype() == DType::f32) return t;
    TG_CHECK(t.dtype() == DType::bf16 || t.dtype() == DType::f16, "op ", op, ": ", arg, " ", t.str(), " is not floating point");
    return t.to(DType::f32);
}

// The differentiable batched product; a and b have the same rank >= 2 and identical batch dims.
Tensor bmm(const Tensor& a, const Tensor& b) {
    Tensor out = bmm_raw(a, b);
    // C = A B  =>  dA = dC Bᵀ,  dB = Aᵀ dC   (transposes are views: no copies)
    return record(out, "matmul", {a, b}, [a, b](const Tensor& g, const std::vector<bool>& need) {
        return std::vector<Tensor>{need[0] ? bmm_raw(g, b.transpose(-1, -2)) : Tensor(),
                                   need[1] ? bmm_raw(a.transpose(-1, -2), g) : Tensor()};
    });
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
    Tensor a = f32_input(a_in, "matmul", "a"), b = f32_input(b_in, "matmul", "b");
    TG_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul: need >= 2-d operands, got ", a.str(), " and ", b.str());
    TG_CHECK(a.size(-1) == b.size(-2), "matmul: inner dims differ: ", a.str(), " · ", b.str());
    if (b.dim() == 2 && a.dim() > 2) {
        // one weight matrix for every batch: fold the batch into M (one big GEMM, one dB reduction)
        Shape oshape = a.shape();
        oshape.back() = b.size(1);
        return bmm(a.reshape({-1, a.size(-1)}), b).reshape(oshape);
    }
    TG_CHECK(a.dim() == b.dim(), "matmul: batch dims differ: ", a.str(), " · ", b.str());
    for (int64_t d = 0; d + 2 < a.dim(); d++)
        TG_CHECK(a.shape()[size_t(d)] == b.shape()[size_t(d)], "matmul: batch dims differ: ", a.str(), " · ", b.str());
    return bmm(a, b);
}

Tensor linear(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in) {
    Tensor x = f32_input(x_in, "linear", "x"), w = f32_input(w_in, "linear", "weight");
    Tensor bias = b_in.defined() ? f32_input(b_in, "linear", "bias").contiguous() : Tensor();
    TG_CHECK(w.dim() == 2 && x.dim() >= 1 && x.size(-1) == w.size(1), "linear: x ", x.str(), " with weight ", w.str(),
             " (want weight [OUT, IN] and x [..., IN])");
    const int64_t OUT = w.size(0), IN = w.size(1);
    TG_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == OUT), "linear: bias ", bias.str(), " for weight ", w.str());
    Shape oshape = x.shape();
    oshape.back() = OUT;
    Tensor x2 = x.reshape({-1, IN});  // [R, IN], contiguous (reshape copies a strided x)
    const int64_t R = x2.size(0);
    Tensor wc = w.contiguous();
    // y[R, OUT] = x2 · wᵀ (+ bias broadcast over rows: pre-fill y with it and let the GEMM add, beta = 1)
    Tensor y = Tensor::empty({R, OUT});
    float* py = y.data<float>();
    if (bias.defined()) {
        const float* pb = bias.data<float>();
#pragma omp parallel for schedule(static) if (R * OUT >= (1 << 16))
        for (int64_t r = 0; r < R; r++)
            for (int64_t o = 0; o < OUT; o++) py[r * OUT + o] = pb[o];
    }
    if (R > 0 && OUT > 0)
        gemm_f32(false, true, R, OUT, IN, 1.0f, x2.data<float>(), IN, wc.data<float>(), IN, bias.defined() ? 1.0f : 0.0f,
                 py, OUT);
    std::vector<Tensor> inputs{x2, wc};
    if (bias.defined()) inputs.push_back(bias);
    Tensor out = record(y, "linear", inputs, [x2, wc, R, OUT, IN](const Tensor& g_in, const std::vector<bool>& need) {
        Tensor g = g_in.contiguous();  // [R, OUT]
        std::vector<Tensor> gr(need.size());
        if (need[0]) {  // dx[R, IN] = g[R, OUT] · w[OUT, IN]
            gr[0] = Tensor::empty({R, IN});
            gemm_f32(false, false, R, IN, OUT, 1.0f, g.data<float>(), OUT, wc.data<float>(), IN, 0.0f, gr[0].data<float>(), IN);
        }
        if (need[1]) {  // dw[OUT, IN] = gᵀ[OUT, R] · x[R, IN]
            gr[1] = Tensor::empty({OUT, IN});
            gemm_f32(true, false, OUT, IN, R, 1.0f, g.data<float>(), OUT, x2.data<float>(), IN, 0.0f, gr[1].data<float>(), IN);
        }
        if (need.size() > 2 && need[2]) gr[2] = sum(g, {0});  // db[OUT] = sum over rows of g
        return gr;
    });
    return out.reshape(oshape);
}

// ---- linear with bf16 GEMM operands -----------------------------------------------------------------
// The same op as linear() with each GEMM's two operands rounded to bf16 (round to nearest even) and the
// products accumulated and returned in f32 — what torch.autocast(device_type="cpu", dtype=torch.bfloat16)
// does to a Linear. Forward, dx and dw all run on gemm_bf16 (avx512_bf16's vdpbf16ps: twice the f32 rate);
// the bias, its gradient and everything outside the Linear stay f32. The closure keeps x and w as bf16 (half
// the memory of linear()'s f32 copies).

namespace {

Tensor to_bf16(const Tensor& t) {  // contiguous f32 -> bf16, in parallel
    Tensor out = Tensor::empty(t.shape(), DType::bf16);
    const float* src = t.data<float>();
    uint16_t* dst = out.data<uint16_t>();
    const int64_t n = t.numel();
#pragma omp parallel for simd schedule(static) if (n >= (1 << 16))
    for (int64_t i = 0; i < n; i++) dst[i] = f32_to_bf16(src[i]);
    return out;
}

}  // namespace

Tensor linear_bf16(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in) {
    Tensor x = f32_input(x_in, "linear_bf16", "x"), w = f32_input(w_in, "linear_bf16", "weight");
    Tensor bias = b_in.defined() ? f32_input(b_in, "linear_bf16", "bias").contiguous() : Tensor();
    TG_CHECK(w.dim() == 2 && x.dim() >= 1 && x.size(-1) == w.size(1), "linear_bf16: x ", x.str(), " with weight ",
             w.str(), " (want weight [OUT, IN] and x [..., IN])");
    const int64_t OUT = w.size(0), IN = w.size(1);
    TG_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == OUT), "linear_bf16: bias ", bias.str(),
             " for weight ", w.str());
    Shape oshape = x.shape();
    oshape.back() = OUT;
    const Tensor x2 = x.reshape({-1, IN}).contiguous();  // [R, IN]
    const int64_t R = x2.size(0);
    const Tensor xb = to_bf16(x2), wb = to_bf16(w.contiguous());  // [R, IN], [OUT, IN] bf16
    Tensor y = Tensor::empty({R, OUT});
    float* py = y.data<float>();
    if (bias.defined()) {
        const float* pb = bias.data<float>();
#pragma omp parallel for schedule(static) if (R * OUT >= (1 << 16))
        for (int64_t r = 0; r < R; r++)
            for (int64_t o = 0; o < OUT; o++) py[r * OUT + o] = pb[o];
    }
    if (R > 0 && OUT > 0)  // y[R, OUT] = xb · wbᵀ (+ y: the bias)
        gemm_bf16(false, true, R, OUT, IN, 1.0f, xb.data<uint16_t>(), IN, wb.data<uint16_t>(), IN,
                  bias.defined() ? 1.0f : 0.0f, py, OUT);
    std::vector<Tensor> inputs{x2, w};
    if (bias.defined()) inputs.push_back(bias);
    Tensor out = record(y, "linear_bf16", inputs, [xb, wb, R, OUT, IN](const Tensor& g_in, const std::vector<bool>& need) {
        const Tensor g = g_in.contiguous();  // [R, OUT] f32
        const Tensor gb = to_bf16(g);
        std::vector<Tensor> gr(need.size());
        if (need[0]) {  // dx[R, IN] = g[R, OUT] · w[OUT, IN]
            gr[0] = Tensor::empty({R, IN});
            gemm_bf16(false, false, R, IN, OUT, 1.0f, gb.data<uint16_t>(), OUT, wb.data<uint16_t>(), IN, 0.0f,
                      gr[0].data<float>(), IN);
        }
        if (need[1]) {  // dw[OUT, IN] = gᵀ[OUT, R] · x[R, IN]
            gr[1] = Tensor::empty({OUT, IN});
            gemm_bf16(true, false, OUT, IN, R, 1.0f, gb.data<uint16_t>(), OUT, xb.data<uint16_t>(), IN, 0.0f,
                      gr[1].data<float>(), IN);
        }
        if (need.size() > 2 && need[2]) gr[2] = sum(g, {0});  // db[OUT] = sum over rows of g (f32)
        return gr;
    });
    return out.reshape(oshape);
}

}  // namespace tg
