// ref.h — double-precision scalar references for every op in ops.h.
//
// These are the specification the tests hold the fast ops to: plain loops over a minimal dense array
// (DArray: shape + row-major doubles), no SIMD, no threads, no cleverness. Because they run in double,
// the gradient tests take central finite differences THROUGH these references (truncation and
// rounding error ~1e-9, far below the f32 tolerance) and compare them with the f32 backward closures.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "tensor/tensor.h"

namespace tg::ref {

struct DArray {
    Shape shape;
    std::vector<double> v;  // row-major
    DArray() = default;
    DArray(Shape s, std::vector<double> vals) : shape(std::move(s)), v(std::move(vals)) {}
    explicit DArray(Shape s) : shape(s), v(size_t(shape_numel(s)), 0.0) {}
    int64_t numel() const { return int64_t(v.size()); }
};
DArray from_tensor(const Tensor& t);
Tensor to_tensor(const DArray& a);  // f32

DArray map(const DArray& a, const std::function<double(double)>& f);                     // unary / scalar ops
DArray binary(const DArray& a, const DArray& b, const std::function<double(double, double)>& f);  // broadcasting
DArray sum(const DArray& a, std::vector<int64_t> axes, bool keepdim);
DArray max(const DArray& a, int64_t axis, bool keepdim);
DArray matmul(const DArray& a, const DArray& b);                          // b 2-D or same batch dims
DArray linear(const DArray& x, const DArray& w, const DArray* bias);      // x Wᵀ + b
DArray softmax(const DArray& x, const DArray* mask, bool log);            // mask broadcastable to x
DArray layer_norm(const DArray& x, const DArray* w, const DArray* b, double eps);
DArray embedding(const DArray& table, const std::vector<int64_t>& ids, const Shape& ids_shape);
DArray dropout(const DArray& x, float p, uint64_t seed);
DArray concat(const std::vector<DArray>& ts, int64_t axis);
DArray index_select(const DArray& x, int64_t axis, const std::vector<int64_t>& idx);
DArray gather(const DArray& x, int64_t axis, const std::vector<int64_t>& idx, const Shape& idx_shape);
double cross_entropy(const DArray& logits, const std::vector<int64_t>& target, int64_t ignore_index, double eps);
double bce_with_logits(const DArray& x, const DArray& t);
double mse(const DArray& a, const DArray& b);
DArray l2_normalize(const DArray& x, double eps);
DArray cosine_similarity(const DArray& a, const DArray& b, double eps);

double gelu(double x, bool tanh_approx);
double sigmoid(double x);

}  // namespace tg::ref
