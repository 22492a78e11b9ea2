// index.cpp — concat, split, index_select, gather: forward and backward (scatter-add).
//
// Layout used throughout: a contiguous tensor viewed as [outer, n, inner] around the indexed axis.
// Backward scatter-adds run serially in index order, so repeated indices sum deterministically.
#include <cstring>

#include "tensor/ops/ops.h"

namespace tg {

namespace {

int64_t norm_axis(int64_t axis, int64_t nd, const char* op) {
    const int64_t a = axis < 0 ? axis + nd : axis;
    TG_CHECK(a >= 0 && a < nd, "op ", op, ": axis ", axis, " out of range for a ", nd, "-d tensor");
    return a;
}

void outer_inner(const Shape& s, int64_t axis, int64_t& outer, int64_t& inner) {
    outer = inner = 1;
    for (int64_t d = 0; d < axis; d++) outer *= s[size_t(d)];
    for (size_t d = size_t(axis) + 1; d < s.size(); d++) inner *= s[d];
}

Tensor check_index(const Tensor& idx, const char* op) {
    TG_CHECK(idx.defined(), "op ", op, ": undefined index");
    require_cpu(op, {&idx});
    TG_CHECK(idx.dtype() == DType::i64 || idx.dtype() == DType::i32, "op ", op, ": index ", idx.str(), " must be i32/i64");
    return idx.to(DType::i64).contiguous();
}

Tensor f32c(const Tensor& t, const char* op) {
    TG_CHECK(t.defined(), "op ", op, ": undefined input");
    require_cpu(op, {&t});
    Tensor x = t.dtype() == DType::f32 ? t : t.to(DType::f32);
    return x.contiguous();
}

}  // namespace

Tensor concat(const std::vector<Tensor>& ts_in, int64_t axis) {
    TG_CHECK(!ts_in.empty(), "concat: no tensors");
    std::vector<Tensor> ts;
    for (const Tensor& t : ts_in) ts.push_back(f32c(t, "concat"));
    const int64_t nd = ts[0].dim();
    axis = norm_axis(axis, nd, "concat");
    Shape oshape = ts[0].shape();
    oshape[size_t(axis)] = 0;
    for (const Tensor& t : ts) {
        TG_CHECK(t.dim() == nd, "concat: ", t.str(), " vs ", ts[0].str());
        for (int64_t d = 0; d < nd; d++)
            TG_CHECK(d == axis || t.shape()[size_t(d)] == ts[0].shape()[size_t(d)], "concat along ", axis, ": ", t.str(), " vs ", ts[0].str());
        oshape[size_t(axis)] += t.size(axis);
    }
    Tensor out = Tensor::empty(oshape);
    std::vector<int64_t> starts;
    {
        NoGradGuard no_grad;
        int64_t off = 0;
        for (const Tensor& t : ts) {
            starts.push_back(off);
            out.slice(axis, off, off + t.size(axis)).copy_(t);
            off += t.size(axis);
        }
    }
    std::vector<int64_t> sizes;
    for (const Tensor& t : ts) sizes.push_back(t.size(axis));
    return record(out, "concat", ts, [axis, starts, sizes](const Tensor& g, const std::vector<bool>& need) {
        std::vector<Tensor> gr(need.size());
        for (size_t i = 0; i < need.size(); i++)
            if (need[i]) gr[i] = g.slice(axis, starts[i], starts[i] + sizes[i]);
        return gr;
    });
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t axis) {
    axis = norm_axis(axis, x.dim(), "split");
    int64_t total = 0;
    for (int64_t s : sizes) total += s;
    TG_CHECK(total == x.size(axis), "split: sizes sum to ", total, " but dim ", axis, " of ", x.str(), " is ", x.size(axis));
    std::vector<Tensor> parts;
    int64_t off = 0;
    for (int64_t s : sizes) {
        parts.push_back(x.slice(axis, off, off + s));  // views; slice records its own backward
        off += s;
    }
    return parts;
}

Tensor index_select(const Tensor& x_in, int64_t axis, const Tensor& index_in) {
    Tensor x = f32c(x_in, "index_select");
    axis = norm_axis(axis, x.dim(), "index_select");
    Tensor idx = check_index(index_in, "index_select");
    TG_CHECK(idx.dim() == 1, "index_select: index ", idx.str(), " must be 1-d");
    const int64_t n = x.size(axis), m = idx.numel();
    int64_t outer, inner;
    outer_inner(x.shape(), axis, outer, inner);
    const int64_t* pi = idx.data<int64_t>();
    for (int64_t j = 0; j < m; j++) TG_CHECK(pi[j] >= 0 && pi[j] < n, "index_select: index ", pi[j], " out of range [0, ", n, ")");
    Shape oshape = x.shape();
    oshape[size_t(axis)] = m;
    Tensor out = Tensor::empty(oshape);
    const float* px = x.data<float>();
    float* po = out.data<float>();
    // out[o, j, :] = x[o, idx[j], :]
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < m; j++)
            std::memcpy(po + (o * m + j) * inner, px + (o * n + pi[j]) * inner, size_t(inner) * 4);
    const Shape in_shape = x.shape();
    return record(out, "index_select", {x}, [idx, in_shape, outer, inner, n, m](const Tensor& g_in, const std::vector<bool>&) {
        // dx[o, idx[j], :] += g[o, j, :]
        Tensor g = g_in.contiguous();
        Tensor dx = Tensor::zeros(in_shape);
        const float* pg = g.data<float>();
        const int64_t* p = idx.data<int64_t>();
        float* pd = dx.data<float>();
        for (int64_t o = 0; o < outer; o++)
            for (int64_t j = 0; j < m; j++)
                for (int64_t i = 0; i < inner; i++) pd[(o * n + p[j]) * inner + i] += pg[(o * m + j) * inner + i];
        return std::vector<Tensor>{dx};
    });
}

Tensor gather(const Tensor& x_in, int64_t axis, const Tensor& index_in) {
    Tensor x = f32c(x_in, "gather");
    axis = norm_axis(axis, x.dim(), "gather");
    Tensor idx = check_index(index_in, "gather");
    TG_CHECK(idx.dim() == x.dim(), "gather: index ", idx.str(), " and x ", x.str(), " differ in rank");
    for (int64_t d = 0; d < x.dim(); d++)
        TG_CHECK(d == axis || idx.shape()[size_t(d)] <= x.shape()[size_t(d)], "gather: index ", idx.str(), " larger than x ", x.str(), " in dim ", d);
    // out[p] = x[p with coordinate `axis` replaced by idx[p]], p over idx's shape
    const Shape& is = idx.shape();
    const Shape xs = contiguous_strides(x.shape());
    const int64_t total = idx.numel(), n = x.size(axis);
    std::vector<int64_t> src(static_cast<size_t>(total));  // flat source offset of every output element
    const int64_t* pi = idx.data<int64_t>();
    for (int64_t f = 0; f < total; f++) {
        int64_t rem = f, off = 0;
        for (int64_t d = x.dim() - 1; d >= 0; d--) {
            const int64_t c = rem % is[size_t(d)];
            rem /= is[size_t(d)];
            off += (d == axis ? pi[f] : c) * xs[size_t(d)];
        }
        TG_CHECK(pi[f] >= 0 && pi[f] < n, "gather: index ", pi[f], " out of range [0, ", n, ")");
        src[size_t(f)] = off;
    }
    Tensor out = Tensor::empty(is);
    const float* px = x.data<float>();
    float* po = out.data<float>();
    for (int64_t f = 0; f < total; f++) po[f] = px[src[size_t(f)]];
    const Shape in_shape = x.shape();
    return record(out, "gather", {x}, [src, in_shape](const Tensor& g_in, const std::vector<bool>&) {
        Tensor g = g_in.contiguous();
        Tensor dx = Tensor::zeros(in_shape);
        const float* pg = g.data<float>();
        float* pd = dx.data<float>();
        for (size_t f = 0; f < src.size(); f++) pd[src[f]] += pg[f];  // scatter-add, in order
        return std::vector<Tensor>{dx};
    });
}

}  // namespace tg
