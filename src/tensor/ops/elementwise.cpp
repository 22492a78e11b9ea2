// elementwise.cpp — broadcasting arithmetic and unary math, forward and backward.
//
// Binary ops broadcast NumPy-style (strided.h): the output has the broadcast shape, each operand is
// read through strides where broadcast dims have stride 0. Contiguous same-shape operands take a
// flat vectorizable loop. Gradients of a broadcast operand are summed back to its shape (sum_to).
// All math is f32; a bf16/f16 operand is converted first (differentiably).
#include <cmath>

#include "tensor/kernels.h"
#include "tensor/ops/ops.h"
#include "tensor/strided.h"

namespace tg {

namespace {

constexpr int64_t kParallelMin = 1 << 15;

Tensor as_f32(const Tensor& t, const char* op) {
    TG_CHECK(t.defined(), "op ", op, ": undefined input");
    require_cpu(op, {&t});
    if (t.dtype() == DType::f32) return t;
    TG_CHECK(t.dtype() == DType::bf16 || t.dtype() == DType::f16, "op ", op, ": input ", t.str(), " is not floating point");
    return t.to(DType::f32);
}

Shape broadcast_shape(const Shape& a, const Shape& b, const char* op) {
    const size_t n = a.size() > b.size() ? a.size() : b.size();
    Shape out(n);
    for (size_t i = 0; i < n; i++) {
        const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
        const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
        TG_CHECK(da == db || da == 1 || db == 1, "op ", op, ": shapes ", shape_str(a), " and ", shape_str(b),
                 " do not broadcast");
        out[i] = da == 1 ? db : da;
    }
    return out;
}

enum class Bin { add, sub, mul, div };

inline float apply(Bin op, float x, float y) {
    switch (op) {
        case Bin::add: return x + y;
        case Bin::sub: return x - y;
        case Bin::mul: return x * y;
        default: return x / y;
    }
}

// The loop body is instantiated per op so the compiler sees a single arithmetic instruction.
template <Bin OP>
void binary_kernel(float* out, const Tensor& a, const Tensor& b, const Shape& shape) {
    const float* pa = a.data<float>();
    const float* pb = b.data<float>();
    if (a.is_contiguous() && b.is_contiguous() && a.shape() == shape && b.shape() == shape) {
        const int64_t n = shape_numel(shape);
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
        for (int64_t i = 0; i < n; i++) out[i] = apply(OP, pa[i], pb[i]);
        return;
    }
    const Shape sa = broadcast_strides(a.shape(), a.strides(), shape);
    const Shape sb = broadcast_strides(b.shape(), b.strides(), shape);
    const int64_t rows = num_rows(shape), len = row_len(shape);
    const int64_t la = last_stride(sa), lb = last_stride(sb);
#pragma omp parallel for schedule(static) if (rows * len >= kParallelMin)
    for (int64_t r = 0; r < rows; r++) {
        const float* x = pa + row_offset(r, shape, sa);
        const float* y = pb + row_offset(r, shape, sb);
        float* o = out + r * len;
        if (la == 1 && lb == 1) {
#pragma omp simd
            for (int64_t i = 0; i < len; i++) o[i] = apply(OP, x[i], y[i]);
        } else if (la == 1 && lb == 0) {
            const float yv = y[0];
#pragma omp simd
            for (int64_t i = 0; i < len; i++) o[i] = apply(OP, x[i], yv);
        } else if (la == 0 && lb == 1) {
            const float xv = x[0];
#pragma omp simd
            for (int64_t i = 0; i < len; i++) o[i] = apply(OP, xv, y[i]);
        } else {
            for (int64_t i = 0; i < len; i++) o[i] = apply(OP, x[i * la], y[i * lb]);
        }
    }
}

Tensor binary_forward(Bin op, const Tensor& a, const Tensor& b, const char* name) {
    const Shape shape = broadcast_shape(a.shape(), b.shape(), name);
    Tensor out = Tensor::empty(shape);
    switch (op) {
        case Bin::add: binary_kernel<Bin::add>(out.data<float>(), a, b, shape); break;
        case Bin::sub: binary_kernel<Bin::sub>(out.data<float>(), a, b, shape); break;
        case Bin::mul: binary_kernel<Bin::mul>(out.data<float>(), a, b, shape); break;
        case Bin::div: binary_kernel<Bin::div>(out.data<float>(), a, b, shape); break;
    }
    return out;
}

// out[i] = f(x[i]) over a contiguous f32 tensor.
template <typename F>
Tensor map_unary(const Tensor& xc, F f) {
    Tensor out = Tensor::empty(xc.shape());
    const float* x = xc.data<float>();
    float* y = out.data<float>();
    const int64_t n = xc.numel();
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; i++) y[i] = f(x[i]);
    return out;
}

// out[i] = f(g[i], s[i]) for two contiguous same-shape f32 tensors (used by backward closures).
template <typename F>
Tensor map_binary(const Tensor& g, const Tensor& s, F f) {
    Tensor gc = g.contiguous(), sc = s.contiguous();
    Tensor out = Tensor::empty(gc.shape());
    const float* pg = gc.data<float>();
    const float* ps = sc.data<float>();
    float* o = out.data<float>();
    const int64_t n = gc.numel();
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; i++) o[i] = f(pg[i], ps[i]);
    return out;
}

}  // namespace

// ---- binary ---------------------------------------------------------------------------------------

Tensor add(const Tensor& a_in, const Tensor& b_in) {
    Tensor a = as_f32(a_in, "add"), b = as_f32(b_in, "add");
    Tensor out = binary_forward(Bin::add, a, b, "add");
    const Shape sa = a.shape(), sb = b.shape();
    return record(out, "add", {a, b}, [sa, sb](const Tensor& g, const std::vector<bool>& need) {
        return std::vector<Tensor>{need[0] ? sum_to(g, sa) : Tensor(), need[1] ? sum_to(g, sb) : Tensor()};
    });
}

Tensor sub(const Tensor& a_in, const Tensor& b_in) {
    Tensor a = as_f32(a_in, "sub"), b = as_f32(b_in, "sub");
    Tensor out = binary_forward(Bin::sub, a, b, "sub");
    const Shape sa = a.shape(), sb = b.shape();
    return record(out, "sub", {a, b}, [sa, sb](const Tensor& g, const std::vector<bool>& need) {
        return std::vector<Tensor>{need[0] ? sum_to(g, sa) : Tensor(), need[1] ? sum_to(neg(g), sb) : Tensor()};
    });
}

Tensor mul(const Tensor& a_in, const Tensor& b_in) {
    Tensor a = as_f32(a_in, "mul"), b = as_f32(b_in, "mul");
    Tensor out = binary_forward(Bin::mul, a, b, "mul");
    // d(a b)/da = b, d(a b)/db = a
    return record(out, "mul", {a, b}, [a, b](const Tensor& g, const std::vector<bool>& need) {
        return std::vector<Tensor>{need[0] ? sum_to(mul(g, b), a.shape()) : Tensor(),
                                   need[1] ? sum_to(mul(g, a), b.shape()) : Tensor()};
    });
}

Tensor div(const Tensor& a_in, const Tensor& b_in) {
    Tensor a = as_f32(a_in, "div"), b = as_f32(b_in, "div");
    Tensor out = binary_forward(Bin::div, a, b, "div");
    // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 = -out/b
    Tensor y = out.detach();
    return record(out, "div", {a, b}, [a, b, y](const Tensor& g, const std::vector<bool>& need) {
        return std::vector<Tensor>{need[0] ? sum_to(div(g, b), a.shape()) : Tensor(),
                                   need[1] ? sum_to(neg(div(mul(g, y), b)), b.shape()) : Tensor()};
    });
}

// ---- scalar ops -----------------------------------------------------------------------------------

Tensor add_scalar(const Tensor& a, float s) {
    Tensor x = as_f32(a, "add_scalar").contiguous();
    Tensor out = map_unary(x, [s](float v) { return v + s; });
    return record(out, "add_scalar", {x}, [](const Tensor& g, const std::vector<bool>&) { return std::vector<Tensor>{g}; });
}

Tensor mul_scalar(const Tensor& a, float s) {
    Tensor x = as_f32(a, "mul_scalar").contiguous();
    Tensor out = map_unary(x, [s](float v) { return v * s; });
    return record(out, "mul_scalar", {x}, [s](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{mul_scalar(g, s)};
    });
}

Tensor neg(const Tensor& a) { return mul_scalar(a, -1.0f); }

Tensor pow_scalar(const Tensor& a, float p) {
    Tensor x = as_f32(a, "pow_scalar").contiguous();
    Tensor out = map_unary(x, [p](float v) { return std::pow(v, p); });
    // d x^p / dx = p x^(p-1)
    return record(out, "pow_scalar", {x}, [x, p](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{map_binary(g, x, [p](float gv, float xv) { return gv * p * std::pow(xv, p - 1.0f); })};
    });
}

// ---- unary math -----------------------------------------------------------------------------------

Tensor exp(const Tensor& a) {
    Tensor x = as_f32(a, "exp").contiguous();
    Tensor out = Tensor::empty(x.shape());
    vexp(out.data<float>(), x.data<float>(), x.numel());
    Tensor y = out.detach();  // d exp(x) = exp(x) dx
    return record(out, "exp", {x}, [y](const Tensor& g, const std::vector<bool>&) { return std::vector<Tensor>{mul(g, y)}; });
}

Tensor log(const Tensor& a) {
    Tensor x = as_f32(a, "log").contiguous();
    Tensor out = map_unary(x, [](float v) { return std::log(v); });
    return record(out, "log", {x}, [x](const Tensor& g, const std::vector<bool>&) { return std::vector<Tensor>{div(g, x)}; });
}

Tensor sqrt(const Tensor& a) {
    Tensor x = as_f32(a, "sqrt").contiguous();
    Tensor out = map_unary(x, [](float v) { return std::sqrt(v); });
    Tensor y = out.detach();  // d sqrt(x) = dx / (2 sqrt(x))
    return record(out, "sqrt", {x}, [y](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{map_binary(g, y, [](float gv, float yv) { return 0.5f * gv / yv; })};
    });
}

Tensor tanh(const Tensor& a) {
    Tensor x = as_f32(a, "tanh").contiguous();
    Tensor out = Tensor::empty(x.shape());
    vtanh(out.data<float>(), x.data<float>(), x.numel());
    Tensor y = out.detach();  // d tanh = (1 - tanh^2) dx
    return record(out, "tanh", {x}, [y](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{map_binary(g, y, [](float gv, float yv) { return gv * (1.0f - yv * yv); })};
    });
}

Tensor sigmoid(const Tensor& a) {
    Tensor x = as_f32(a, "sigmoid").contiguous();
    Tensor out = Tensor::empty(x.shape());
    vsigmoid(out.data<float>(), x.data<float>(), x.numel());
    Tensor y = out.detach();  // d s = s (1 - s) dx
    return record(out, "sigmoid", {x}, [y](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{map_binary(g, y, [](float gv, float yv) { return gv * yv * (1.0f - yv); })};
    });
}

Tensor relu(const Tensor& a) {
    Tensor x = as_f32(a, "relu").contiguous();
    Tensor out = map_unary(x, [](float v) { return v > 0.0f ? v : 0.0f; });
    return record(out, "relu", {x}, [x](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{map_binary(g, x, [](float gv, float xv) { return xv > 0.0f ? gv : 0.0f; })};
    });
}

Tensor clamp_min(const Tensor& a, float lo) {
    Tensor x = as_f32(a, "clamp_min").contiguous();
    Tensor out = map_unary(x, [lo](float v) { return v > lo ? v : lo; });
    return record(out, "clamp_min", {x}, [x, lo](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{map_binary(g, x, [lo](float gv, float xv) { return xv > lo ? gv : 0.0f; })};
    });
}

Tensor gelu(const Tensor& a, bool tanh_approx) {
    Tensor x = as_f32(a, "gelu").contiguous();
    Tensor out = Tensor::empty(x.shape());
    gelu_forward(out.data<float>(), x.data<float>(), x.numel(), tanh_approx);
    return record(out, tanh_approx ? "gelu_tanh" : "gelu", {x}, [x, tanh_approx](const Tensor& g, const std::vector<bool>&) {
        Tensor gc = g.contiguous();
        Tensor dx = Tensor::empty(x.shape());
        gelu_backward(dx.data<float>(), gc.data<float>(), x.data<float>(), x.numel(), tanh_approx);
        return std::vector<Tensor>{dx};
    });
}

}  // namespace tg
