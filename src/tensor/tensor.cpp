// tensor.cpp — Tensor storage, factories, views and copies (see tensor.h).
#include "tensor/tensor.h"

#include <cstring>
#include <numeric>

#include "tensor/allocator.h"
#include "tensor/autograd.h"
#include "tensor/rng.h"
#include "tensor/strided.h"
#ifdef TG_WITH_CUDA
#include "cuda/cuda_alloc.h"
#endif

namespace tg {

// ---- devices, shapes -----------------------------------------------------------------------------

const char* device_name(Device d) { return d == Device::cpu ? "cpu" : "cuda"; }

bool cuda_available() {
#ifdef TG_WITH_CUDA
    return cuda::device_count() > 0;
#else
    return false;
#endif
}

std::string shape_str(const Shape& s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); i++) r += (i ? ", " : "") + std::to_string(s[i]);
    return r + "]";
}

int64_t shape_numel(const Shape& s) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    return n;
}

Shape contiguous_strides(const Shape& s) {
    Shape st(s.size());
    int64_t acc = 1;
    for (int64_t d = int64_t(s.size()) - 1; d >= 0; d--) {
        st[d] = acc;
        acc *= s[d];
    }
    return st;
}

static int64_t norm_dim(int64_t d, int64_t ndim, const char* what) {
    const int64_t r = d < 0 ? d + ndim : d;
    TG_CHECK(r >= 0 && r < ndim, what, ": dim ", d, " out of range for a ", ndim, "-d tensor");
    return r;
}

// ---- storage -------------------------------------------------------------------------------------

Storage::Storage(size_t n, Device dev) : nbytes(n), device(dev) {
    if (dev == Device::cpu) {
        data = cpu_alloc(n);
    } else {
#ifdef TG_WITH_CUDA
        data = cuda::device_alloc(n);
#else
        TG_FAIL("cuda tensor requested but tastegraph was built without CUDA (rebuild with a CUDA toolkit)");
#endif
    }
}

Storage::Storage(void* d, size_t n, Device dev, std::shared_ptr<const void> o)
    : data(d), nbytes(n), device(dev), owner(o ? std::move(o) : std::shared_ptr<const void>(d, [](const void*) {})) {}

Storage::~Storage() {
    if (owner) return;  // external memory: the owner frees it
    if (device == Device::cpu) {
        cpu_free(data, nbytes);
    } else {
#ifdef TG_WITH_CUDA
        cuda::device_free(data);
#endif
    }
}

// ---- element access ------------------------------------------------------------------------------

static double load_as_double(const uint8_t* p, DType t) {
    switch (t) {
        case DType::f32: { float v; std::memcpy(&v, p, 4); return v; }
        case DType::bf16: { uint16_t h; std::memcpy(&h, p, 2); return bf16_to_f32(h); }
        case DType::f16: { uint16_t h; std::memcpy(&h, p, 2); return f16_to_f32(h); }
        case DType::i32: { int32_t v; std::memcpy(&v, p, 4); return v; }
        case DType::i64: { int64_t v; std::memcpy(&v, p, 8); return double(v); }
        case DType::u8: return *p;
        case DType::boolean: return *p ? 1.0 : 0.0;
    }
    return 0.0;
}

static void store_from_double(uint8_t* p, DType t, double v) {
    switch (t) {
        case DType::f32: { float f = float(v); std::memcpy(p, &f, 4); return; }
        case DType::bf16: { uint16_t h = f32_to_bf16(float(v)); std::memcpy(p, &h, 2); return; }
        case DType::f16: { uint16_t h = f32_to_f16(float(v)); std::memcpy(p, &h, 2); return; }
        case DType::i32: { int32_t i = int32_t(v); std::memcpy(p, &i, 4); return; }
        case DType::i64: { int64_t i = int64_t(v); std::memcpy(p, &i, 8); return; }
        case DType::u8: *p = uint8_t(v); return;
        case DType::boolean: *p = v != 0.0; return;
    }
}

double get_element(const Tensor& t, int64_t flat) {
    require_cpu("get_element", {&t});
    const Shape& s = t.shape();
    int64_t off = 0;
    for (int64_t d = int64_t(s.size()) - 1; d >= 0; d--) {
        off += (flat % s[d]) * t.strides()[d];
        flat /= s[d];
    }
    const size_t es = dtype_size(t.dtype());
    return load_as_double(static_cast<const uint8_t*>(t.raw_data()) + off * int64_t(es), t.dtype());
}

// Copy src's elements (any strides) into dst (any strides, same shape), converting dtype.
static void copy_elements(const Tensor& dst, const Tensor& src) {
    const Shape& shape = dst.shape();
    const int64_t rows = num_rows(shape), len = row_len(shape);
    const int64_t dstride = last_stride(dst.strides()), sstride = last_stride(src.strides());
    const DType dt = dst.dtype(), st = src.dtype();
    const size_t des = dtype_size(dt), ses = dtype_size(st);
    uint8_t* dbase = static_cast<uint8_t*>(dst.raw_data());
    const uint8_t* sbase = static_cast<const uint8_t*>(src.raw_data());
#pragma omp parallel for schedule(static) if (rows * len >= (1 << 16))
    for (int64_t r = 0; r < rows; r++) {
        uint8_t* d = dbase + row_offset(r, shape, dst.strides()) * int64_t(des);
        const uint8_t* s = sbase + row_offset(r, shape, src.strides()) * int64_t(ses);
        if (dt == st && dstride == 1 && sstride == 1) {
            std::memcpy(d, s, size_t(len) * des);
        } else if (dt == DType::f32 && st == DType::f32) {
            float* df = reinterpret_cast<float*>(d);
            const float* sf = reinterpret_cast<const float*>(s);
            for (int64_t i = 0; i < len; i++) df[i * dstride] = sf[i * sstride];
        } else if (dt == st) {
            for (int64_t i = 0; i < len; i++) std::memcpy(d + i * dstride * int64_t(des), s + i * sstride * int64_t(ses), des);
        } else {
            for (int64_t i = 0; i < len; i++)
                store_from_double(d + i * dstride * int64_t(des), dt, load_as_double(s + i * sstride * int64_t(ses), st));
        }
    }
}

// ---- factories -----------------------------------------------------------------------------------

static Tensor make(const Shape& shape, DType dtype, std::shared_ptr<Storage> storage, int64_t offset, Shape strides) {
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = std::move(storage);
    impl->offset = offset;
    impl->shape = shape;
    impl->strides = std::move(strides);
    impl->dtype = dtype;
    return Tensor(std::move(impl));
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
    for (int64_t d : shape) TG_CHECK(d >= 0, "Tensor::empty: negative size in shape ", shape_str(shape));
    auto st = std::make_shared<Storage>(size_t(shape_numel(shape)) * dtype_size(dtype), device);
    return make(shape, dtype, std::move(st), 0, contiguous_strides(shape));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
    Tensor t = empty(shape, dtype);
    std::memset(t.raw_data(), 0, size_t(t.numel()) * dtype_size(dtype));
    return t;
}
Tensor Tensor::ones(const Shape& shape, DType dtype) { return full(shape, 1.0f, dtype); }
Tensor Tensor::full(const Shape& shape, float value, DType dtype) {
    Tensor t = empty(shape, dtype);
    t.fill_(value);
    return t;
}
Tensor Tensor::scalar(float value) { return full({}, value); }

Tensor Tensor::from_vector(const std::vector<float>& v, const Shape& shape) {
    TG_CHECK(int64_t(v.size()) == shape_numel(shape), "from_vector: ", v.size(), " values for shape ", shape_str(shape));
    Tensor t = empty(shape);
    if (!v.empty()) std::memcpy(t.raw_data(), v.data(), v.size() * 4);
    return t;
}

Tensor Tensor::from_ints(const std::vector<int64_t>& v, const Shape& shape, DType dtype) {
    TG_CHECK(int64_t(v.size()) == shape_numel(shape), "from_ints: ", v.size(), " values for shape ", shape_str(shape));
    Tensor t = empty(shape, dtype);
    uint8_t* p = static_cast<uint8_t*>(t.raw_data());
    for (size_t i = 0; i < v.size(); i++) store_from_double(p + i * dtype_size(dtype), dtype, double(v[i]));
    return t;
}

Tensor Tensor::from_blob(void* data, const Shape& shape, DType dtype, std::shared_ptr<const void> owner,
                         Device device) {
    const size_t nbytes = size_t(shape_numel(shape)) * dtype_size(dtype);
    auto st = std::make_shared<Storage>(data, nbytes, device, std::move(owner));
    return make(shape, dtype, std::move(st), 0, contiguous_strides(shape));
}

Tensor Tensor::arange(int64_t n, DType dtype) {
    Tensor t = empty({n}, dtype);
    uint8_t* p = static_cast<uint8_t*>(t.raw_data());
    for (int64_t i = 0; i < n; i++) store_from_double(p + i * int64_t(dtype_size(dtype)), dtype, double(i));
    return t;
}

Tensor Tensor::randn(const Shape& shape, uint64_t seed, float stddev) {
    Tensor t = empty(shape);
    float* p = t.data<float>();
    const int64_t n = t.numel();
#pragma omp parallel for schedule(static) if (n >= (1 << 14))
    for (int64_t i = 0; i < n; i++) p[i] = stddev * philox_normal(seed, uint64_t(i));
    return t;
}

Tensor Tensor::rand(const Shape& shape, uint64_t seed, float lo, float hi) {
    Tensor t = empty(shape);
    float* p = t.data<float>();
    const int64_t n = t.numel();
#pragma omp parallel for schedule(static) if (n >= (1 << 14))
    for (int64_t i = 0; i < n; i++) p[i] = lo + (hi - lo) * philox_uniform(seed, uint64_t(i));
    return t;
}

// ---- metadata ------------------------------------------------------------------------------------

int64_t Tensor::size(int64_t d) const { return shape()[size_t(norm_dim(d, dim(), "size"))]; }

bool Tensor::is_contiguous() const {
    int64_t expect = 1;
    for (int64_t d = dim() - 1; d >= 0; d--) {
        if (shape()[d] != 1 && strides()[d] != expect) return false;
        expect *= shape()[d];
    }
    return true;
}

std::string Tensor::str() const {
    if (!defined()) return "undefined";
    return ::tg::str(dtype_name(dtype()), shape_str(shape()), device() == Device::cuda ? " cuda" : "");
}

float Tensor::item() const {
    TG_CHECK(numel() == 1, "item(): tensor ", str(), " has ", numel(), " elements, want 1");
    return float(get_element(*this, 0));
}

std::vector<float> Tensor::to_vector() const {
    std::vector<float> v(static_cast<size_t>(numel()));
    if (v.empty()) return v;
    Tensor dst = from_blob(v.data(), shape(), DType::f32);
    require_cpu("to_vector", {this});
    copy_elements(dst, *this);
    return v;
}

std::vector<int64_t> Tensor::to_ints() const {
    std::vector<int64_t> v(static_cast<size_t>(numel()));
    for (int64_t i = 0; i < numel(); i++) v[size_t(i)] = int64_t(get_element(*this, i));
    return v;
}

// ---- views ---------------------------------------------------------------------------------------

// A new view of the same storage (no autograd history yet).
static Tensor alias(const Tensor& t, const Shape& shape, const Shape& strides, int64_t offset) {
    return make(shape, t.dtype(), t.storage(), offset, strides);
}

static Shape infer_shape(Shape shape, int64_t numel, const Shape& from) {
    int64_t known = 1, neg = -1;
    for (size_t i = 0; i < shape.size(); i++) {
        if (shape[i] == -1) {
            TG_CHECK(neg < 0, "reshape ", shape_str(from), " -> ", shape_str(shape), ": more than one -1");
            neg = int64_t(i);
        } else {
            known *= shape[i];
        }
    }
    if (neg >= 0) {
        TG_CHECK(known > 0 && numel % known == 0, "reshape ", shape_str(from), " -> ", shape_str(shape), ": sizes don't divide");
        shape[size_t(neg)] = numel / known;
    }
    TG_CHECK(shape_numel(shape) == numel, "reshape ", shape_str(from), " -> ", shape_str(shape), ": element count differs");
    return shape;
}

Tensor Tensor::view(const Shape& shape_in) const {
    const Shape shape = infer_shape(shape_in, numel(), this->shape());
    TG_CHECK(is_contiguous(), "view ", str(), " -> ", shape_str(shape), ": tensor is not contiguous (use reshape)");
    Tensor out = alias(*this, shape, contiguous_strides(shape), offset());
    const Shape in_shape = this->shape();
    return record(out, "view", {*this}, [in_shape](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{g.reshape(in_shape)};
    });
}

Tensor Tensor::reshape(const Shape& shape) const { return is_contiguous() ? view(shape) : contiguous().view(shape); }

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
    TG_CHECK(int64_t(dims.size()) == dim(), "permute: ", dims.size(), " dims given for ", str());
    Shape sh(dims.size()), st(dims.size());
    std::vector<int64_t> inverse(dims.size(), -1);
    for (size_t i = 0; i < dims.size(); i++) {
        const int64_t d = norm_dim(dims[i], dim(), "permute");
        TG_CHECK(inverse[size_t(d)] < 0, "permute: dim ", d, " repeated");
        inverse[size_t(d)] = int64_t(i);
        sh[i] = shape()[size_t(d)];
        st[i] = strides()[size_t(d)];
    }
    Tensor out = alias(*this, sh, st, offset());
    return record(out, "permute", {*this}, [inverse](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{g.permute(inverse)};
    });
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
    std::vector<int64_t> p(static_cast<size_t>(dim()));
    std::iota(p.begin(), p.end(), 0);
    std::swap(p[size_t(norm_dim(d0, dim(), "transpose"))], p[size_t(norm_dim(d1, dim(), "transpose"))]);
    return permute(p);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
    d = norm_dim(d, dim(), "slice");
    const int64_t n = shape()[size_t(d)];
    if (start < 0) start += n;
    if (end < 0) end += n;
    end = end > n ? n : end;
    TG_CHECK(step >= 1 && start >= 0 && start <= end, "slice dim ", d, " [", start, ":", end, ":", step, "] of ", str());
    Shape sh = shape(), st = strides();
    sh[size_t(d)] = (end - start + step - 1) / step;
    st[size_t(d)] *= step;
    Tensor out = alias(*this, sh, st, offset() + start * strides()[size_t(d)]);
    const Shape in_shape = shape();
    return record(out, "slice", {*this}, [in_shape, d, start, end, step](const Tensor& g, const std::vector<bool>&) {
        Tensor z = Tensor::zeros(in_shape);
        z.slice(d, start, end, step).copy_(g);
        return std::vector<Tensor>{z};
    });
}

Tensor Tensor::select(int64_t d, int64_t index) const {
    d = norm_dim(d, dim(), "select");
    if (index < 0) index += shape()[size_t(d)];
    TG_CHECK(index >= 0 && index < shape()[size_t(d)], "select: index ", index, " out of range for dim ", d, " of ", str());
    return slice(d, index, index + 1).squeeze(d);
}

Tensor Tensor::expand(const Shape& shape) const {
    TG_CHECK(shape.size() >= size_t(dim()), "expand ", str(), " to ", shape_str(shape), ": fewer dims");
    const size_t lead = shape.size() - size_t(dim());
    Shape st(shape.size(), 0);
    for (size_t i = 0; i < size_t(dim()); i++) {
        const int64_t have = this->shape()[i], want = shape[lead + i];
        TG_CHECK(have == want || have == 1, "expand ", str(), " to ", shape_str(shape), ": dim ", i, " is ", have);
        st[lead + i] = have == want ? strides()[i] : 0;
    }
    Tensor out = alias(*this, shape, st, offset());
    const Shape in_shape = this->shape();
    return record(out, "expand", {*this}, [in_shape](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{sum_to(g, in_shape)};
    });
}

Tensor Tensor::unsqueeze(int64_t d) const {
    d = norm_dim(d, dim() + 1, "unsqueeze");
    Shape sh = shape();
    sh.insert(sh.begin() + d, 1);
    return reshape(sh);
}

Tensor Tensor::squeeze(int64_t d) const {
    d = norm_dim(d, dim(), "squeeze");
    TG_CHECK(shape()[size_t(d)] == 1, "squeeze: dim ", d, " of ", str(), " is not 1");
    Shape sh = shape(), st = strides();
    sh.erase(sh.begin() + d);
    st.erase(st.begin() + d);
    Tensor out = alias(*this, sh, st, offset());
    const Shape in_shape = shape();
    return record(out, "squeeze", {*this}, [in_shape](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{g.reshape(in_shape)};
    });
}

Tensor Tensor::contiguous() const {
    if (is_contiguous()) return *this;
    return clone();
}

Tensor Tensor::clone() const {
    require_cpu("clone", {this});
    Tensor out = empty(shape(), dtype());
    copy_elements(out, *this);
    return record(out, "copy", {*this}, [](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{g};
    });
}

static bool is_float(DType t) { return t == DType::f32 || t == DType::bf16 || t == DType::f16; }

Tensor Tensor::to(DType dt) const {
    if (dt == dtype()) return *this;
    require_cpu("to(dtype)", {this});
    Tensor out = empty(shape(), dt);
    copy_elements(out, *this);
    if (!is_float(dt) || !is_float(dtype())) return out;  // integer casts are not differentiable
    // gradients are always f32, whatever the storage type of the tensor they belong to
    return record(out, "to", {*this}, [](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{g};
    });
}

Tensor Tensor::to(Device dev) const {
    if (dev == device()) return *this;
#ifdef TG_WITH_CUDA
    Tensor src = device() == Device::cpu ? contiguous() : *this;
    TG_CHECK(src.is_contiguous(), "to(device): cuda tensor ", str(), " must be contiguous");
    Tensor out = empty(shape(), dtype(), dev);
    const size_t n = size_t(numel()) * dtype_size(dtype());
    if (dev == Device::cuda) cuda::copy_to_device(out.raw_data(), src.raw_data(), n);
    else cuda::copy_to_host(out.raw_data(), src.raw_data(), n);
    return out;
#else
    TG_FAIL("to(", device_name(dev), "): tastegraph was built without CUDA");
#endif
}

// ---- autograd accessors --------------------------------------------------------------------------

Tensor& Tensor::set_requires_grad(bool on) {
    TG_CHECK(is_leaf(), "set_requires_grad: only leaves (tensors not produced by a recorded op) can be set");
    TG_CHECK(!on || is_float(dtype()), "set_requires_grad: ", str(), " is not floating point");
    impl().requires_grad = on;
    return *this;
}
Tensor Tensor::grad() const { return Tensor(impl().grad); }
void Tensor::set_grad(const Tensor& g) {
    TG_CHECK(!g.defined() || g.shape() == shape(), "set_grad: gradient ", g.str(), " for ", str());
    impl().grad = g.impl_ptr();
}
void Tensor::zero_grad() { impl().grad.reset(); }
Tensor Tensor::detach() const { return alias(*this, shape(), strides(), offset()); }
Tensor& Tensor::set_name(const std::string& n) {
    impl().name = n;
    return *this;
}

void Tensor::backward(const Tensor& seed) const {
    if (seed.defined()) {
        run_backward(*this, seed);
        return;
    }
    TG_CHECK(numel() == 1, "backward(): ", str(), " is not a single value; pass a seed gradient");
    run_backward(*this, Tensor::full(shape(), 1.0f));
}

void Tensor::copy_(const Tensor& src) {
    TG_CHECK(src.shape() == shape(), "copy_: source ", src.str(), " into ", str());
    require_cpu("copy_", {this, &src});
    copy_elements(*this, src);
}

void Tensor::fill_(float value) {
    require_cpu("fill_", {this});
    if (dtype() == DType::f32 && is_contiguous()) {
        float* p = data<float>();
        const int64_t n = numel();
        for (int64_t i = 0; i < n; i++) p[i] = value;
        return;
    }
    const Shape& s = shape();
    const size_t es = dtype_size(dtype());
    for (int64_t i = 0; i < numel(); i++) {
        int64_t off = 0, f = i;
        for (int64_t d = dim() - 1; d >= 0; d--) {
            off += (f % s[d]) * strides()[d];
            f /= s[d];
        }
        store_from_double(static_cast<uint8_t*>(raw_data()) + off * int64_t(es), dtype(), value);
    }
}

// ---- checks --------------------------------------------------------------------------------------

void require_cpu(const char* op, std::initializer_list<const Tensor*> ts) {
    for (const Tensor* t : ts) {
        if (t && t->defined() && t->device() != Device::cpu) {
#ifdef TG_WITH_CUDA
            TG_FAIL("op ", op, ": not implemented on cuda yet (input ", t->str(), ")");
#else
            TG_FAIL("op ", op, ": CUDA is not compiled in (input ", t->str(), ")");
#endif
        }
    }
}

void require_dtype(const char* op, const char* arg, const Tensor& t, DType want) {
    TG_CHECK(t.dtype() == want, "op ", op, ": ", arg, " is ", t.str(), ", want ", dtype_name(want));
}

}  // namespace tg
