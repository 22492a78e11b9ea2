// reduce.cpp — sum / mean / max / argmax over axes, forward and backward.
//
// One kernel does the work: view a contiguous tensor as [outer, n, inner] and reduce the middle dim,
//     out[o, i] = sum_k x[o, k, i]
// with double accumulators in a fixed k order, so the result is the same for any thread count.
// Several axes are reduced one after the other (highest first). The backward of a sum broadcasts the
// gradient back (expand); max sends it to the first maximal element.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/ops/ops.h"

namespace tg {

namespace {

constexpr int64_t kParallelMin = 1 << 15;

void outer_n_inner(const Shape& s, int64_t axis, int64_t& outer, int64_t& n, int64_t& inner) {
    outer = inner = 1;
    for (int64_t d = 0; d < axis; d++) outer *= s[size_t(d)];
    n = s[size_t(axis)];
    for (size_t d = size_t(axis) + 1; d < s.size(); d++) inner *= s[d];
}

// x [outer, n, inner] contiguous -> out [outer, inner]
void sum_axis_kernel(float* out, const float* x, int64_t outer, int64_t n, int64_t inner) {
    if (inner == 1) {
#pragma omp parallel for schedule(static) if (outer * n >= kParallelMin)
        for (int64_t o = 0; o < outer; o++) {
            const float* p = x + o * n;
            double s = 0.0;
#pragma omp simd reduction(+ : s)
            for (int64_t k = 0; k < n; k++) s += double(p[k]);
            out[o] = float(s);
        }
        return;
    }
    // Work items are (o, block of 256 columns): every output element is summed by one thread.
    constexpr int64_t IB = 256;
    const int64_t nb = (inner + IB - 1) / IB;
#pragma omp parallel for schedule(static) if (outer * n * inner >= kParallelMin)
    for (int64_t w = 0; w < outer * nb; w++) {
        const int64_t o = w / nb, i0 = (w % nb) * IB, i1 = std::min(inner, i0 + IB);
        double acc[IB];
        for (int64_t i = 0; i < i1 - i0; i++) acc[i] = 0.0;
        for (int64_t k = 0; k < n; k++) {
            const float* p = x + (o * n + k) * inner + i0;
#pragma omp simd
            for (int64_t i = 0; i < i1 - i0; i++) acc[i] += double(p[i]);
        }
        for (int64_t i = i0; i < i1; i++) out[o * inner + i] = float(acc[i - i0]);
    }
}

std::vector<int64_t> norm_axes(std::vector<int64_t> axes, int64_t ndim, const char* op) {
    for (auto& a : axes) {
        if (a < 0) a += ndim;
        TG_CHECK(a >= 0 && a < ndim, "op ", op, ": axis out of range for a ", ndim, "-d tensor");
    }
    std::sort(axes.begin(), axes.end());
    axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
    return axes;
}

Tensor f32_contig(const Tensor& a, const char* op) {
    require_cpu(op, {&a});
    Tensor x = a.dtype() == DType::f32 ? a : a.to(DType::f32);
    return x.contiguous();
}

}  // namespace

Tensor sum(const Tensor& a, std::vector<int64_t> axes_in, bool keepdim) {
    Tensor x = f32_contig(a, "sum");
    const std::vector<int64_t> axes = norm_axes(axes_in, x.dim(), "sum");
    // Reduce axes from the last to the first, keeping dims (size 1) so axis numbers stay valid.
    Shape kshape = x.shape();
    Tensor cur = x.detach();
    for (auto it = axes.rbegin(); it != axes.rend(); ++it) {
        int64_t outer, n, inner;
        outer_n_inner(cur.shape(), *it, outer, n, inner);
        kshape[size_t(*it)] = 1;
        Tensor next = Tensor::empty(kshape);
        sum_axis_kernel(next.data<float>(), cur.data<float>(), outer, n, inner);
        cur = next;
    }
    Shape oshape;
    for (int64_t d = 0; d < x.dim(); d++)
        if (keepdim || !std::binary_search(axes.begin(), axes.end(), d)) oshape.push_back(kshape[size_t(d)]);
    Tensor out = cur.view(oshape);  // cur has no history: a plain view
    const Shape in_shape = x.shape();
    return record(out, "sum", {x}, [in_shape, kshape](const Tensor& g, const std::vector<bool>&) {
        // every input element contributed once to its output element: broadcast g back
        return std::vector<Tensor>{g.reshape(kshape).expand(in_shape).contiguous()};
    });
}

Tensor sum(const Tensor& a) {
    std::vector<int64_t> all(static_cast<size_t>(a.dim()));
    for (int64_t d = 0; d < a.dim(); d++) all[size_t(d)] = d;
    return sum(a, all, false);
}

Tensor mean(const Tensor& a, std::vector<int64_t> axes, bool keepdim) {
    axes = norm_axes(axes, a.dim(), "mean");
    int64_t count = 1;
    for (int64_t ax : axes) count *= a.shape()[size_t(ax)];
    return mul_scalar(sum(a, axes, keepdim), 1.0f / float(count > 0 ? count : 1));
}

Tensor mean(const Tensor& a) { return mul_scalar(sum(a), 1.0f / float(a.numel() > 0 ? a.numel() : 1)); }

// x [outer, n, inner] -> values and (first) argmax positions along n
static void max_axis_kernel(float* val, int64_t* idx, const float* x, int64_t outer, int64_t n, int64_t inner) {
#pragma omp parallel for schedule(static) if (outer * n * inner >= kParallelMin)
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            float best = x[o * n * inner + i];
            int64_t bi = 0;
            for (int64_t k = 1; k < n; k++) {
                const float v = x[(o * n + k) * inner + i];
                if (v > best || (std::isnan(v) && !std::isnan(best))) best = v, bi = k;
            }
            val[o * inner + i] = best;
            idx[o * inner + i] = bi;
        }
    }
}

Tensor max(const Tensor& a, int64_t axis, bool keepdim) {
    Tensor x = f32_contig(a, "max");
    axis = norm_axes({axis}, x.dim(), "max")[0];
    int64_t outer, n, inner;
    outer_n_inner(x.shape(), axis, outer, n, inner);
    TG_CHECK(n > 0, "op max: empty axis ", axis, " of ", x.str());
    Shape kshape = x.shape();
    kshape[size_t(axis)] = 1;
    Tensor val = Tensor::empty(kshape), idx = Tensor::empty(kshape, DType::i64);
    max_axis_kernel(val.data<float>(), idx.data<int64_t>(), x.data<float>(), outer, n, inner);
    Shape oshape = kshape;
    if (!keepdim) oshape.erase(oshape.begin() + axis);
    Tensor out = val.view(oshape);
    const Shape in_shape = x.shape();
    return record(out, "max", {x}, [in_shape, idx, outer, n, inner](const Tensor& g, const std::vector<bool>&) {
        // dx[o, idx[o,i], i] = g[o, i]; zero elsewhere
        Tensor gc = g.contiguous();
        Tensor dx = Tensor::zeros(in_shape);
        const float* pg = gc.data<float>();
        const int64_t* pi = idx.data<int64_t>();
        float* pd = dx.data<float>();
        for (int64_t o = 0; o < outer; o++)
            for (int64_t i = 0; i < inner; i++) pd[(o * n + pi[o * inner + i]) * inner + i] = pg[o * inner + i];
        return std::vector<Tensor>{dx};
    });
}

Tensor argmax(const Tensor& a, int64_t axis) {
    Tensor x = f32_contig(a, "argmax");
    axis = norm_axes({axis}, x.dim(), "argmax")[0];
    int64_t outer, n, inner;
    outer_n_inner(x.shape(), axis, outer, n, inner);
    Shape oshape = x.shape();
    oshape.erase(oshape.begin() + axis);
    Tensor val = Tensor::empty(oshape), idx = Tensor::empty(oshape, DType::i64);
    max_axis_kernel(val.data<float>(), idx.data<int64_t>(), x.detach().data<float>(), outer, n, inner);
    return idx;
}

}  // namespace tg
