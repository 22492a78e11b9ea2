// tensor.h — the n-dimensional array at the centre of the engine, with reverse-mode autograd.
//
// A Tensor is a cheap handle (a shared_ptr) to a TensorImpl: a view — dtype, shape, strides (in
// elements) and an element offset — into a refcounted Storage (a block of bytes on one Device).
// Several tensors may view one Storage: reshape / permute / transpose / slice / expand make views
// without copying; contiguous() copies only when the layout needs it. A Storage is freed (back to the
// caching allocator) when its last view goes away. from_blob() views memory owned by someone else,
// e.g. an mmap'd safetensors file, without copying; the owner is kept alive by the Storage.
//
// Autograd (micrograd at tensor granularity, see autograd.h): every op whose inputs require grad
// records a Node on its output with a closure that maps the output's gradient to its inputs'
// gradients. t.backward() runs those closures in reverse topological order.
//
// Device: every tensor carries one (cpu or cuda) and every op checks it first, so CUDA kernels can
// slot in later; today a cuda tensor can be allocated and copied (when built with CUDA) but ops on it
// throw "not implemented on cuda".
//
// Example:
//     Tensor w = Tensor::randn({3, 2}, /*seed=*/1).set_requires_grad(true);
//     Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
//     Tensor loss = tg::sum(tg::relu(tg::matmul(x, w)));
//     loss.backward();            // w.grad() is now d loss / d w, shape [3, 2]
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "tensor/common.h"
#include "tensor/dtype.h"

namespace tg {

enum class Device : uint8_t { cpu, cuda };
const char* device_name(Device d);
bool cuda_available();  // compiled with CUDA and a device is present

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);  // "[2, 3]"
int64_t shape_numel(const Shape& s);
Shape contiguous_strides(const Shape& s);

// A block of bytes on one device. Owned blocks go back to the allocator on destruction; external
// blocks (from_blob) just drop their reference to the owner.
struct Storage {
    void* data = nullptr;
    size_t nbytes = 0;
    Device device = Device::cpu;
    std::shared_ptr<const void> owner;  // non-null: external memory kept alive by this reference
    Storage(size_t nbytes, Device device);                                      // allocate
    Storage(void* data, size_t nbytes, Device device, std::shared_ptr<const void> owner);  // external
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;
};

struct Node;  // autograd.h

struct TensorImpl {
    std::shared_ptr<Storage> storage;
    int64_t offset = 0;  // in elements
    Shape shape, strides;
    DType dtype = DType::f32;
    bool requires_grad = false;
    std::shared_ptr<Node> grad_fn;        // set on outputs of recorded ops (non-leaves)
    std::shared_ptr<TensorImpl> grad;     // accumulated gradient (leaves only)
    std::string name;                     // optional, for printing graphs
};

class Tensor {
   public:
    Tensor() = default;
    explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

    // ---- factories (f32 unless a dtype is given) ----
    static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
    static Tensor zeros(const Shape& shape, DType dtype = DType::f32);
    static Tensor ones(const Shape& shape, DType dtype = DType::f32);
    static Tensor full(const Shape& shape, float value, DType dtype = DType::f32);
    static Tensor scalar(float value);  // shape []
    static Tensor from_vector(const std::vector<float>& v, const Shape& shape);
    static Tensor from_ints(const std::vector<int64_t>& v, const Shape& shape, DType dtype = DType::i64);
    // View external memory (no copy). `owner` is kept alive as long as any view exists.
    static Tensor from_blob(void* data, const Shape& shape, DType dtype, std::shared_ptr<const void> owner = {},
                            Device device = Device::cpu);
    static Tensor arange(int64_t n, DType dtype = DType::f32);
    static Tensor randn(const Shape& shape, uint64_t seed, float stddev = 1.0f);  // Philox, thread-independent
    static Tensor rand(const Shape& shape, uint64_t seed, float lo = 0.0f, float hi = 1.0f);

    // ---- metadata ----
    bool defined() const { return bool(impl_); }
    const Shape& shape() const { return impl().shape; }
    const Shape& strides() const { return impl().strides; }
    int64_t dim() const { return int64_t(impl().shape.size()); }
    int64_t size(int64_t d) const;  // negative d counts from the end
    int64_t numel() const { return shape_numel(impl().shape); }
    DType dtype() const { return impl().dtype; }
    Device device() const { return impl().storage->device; }
    bool is_contiguous() const;
    int64_t offset() const { return impl().offset; }
    const std::shared_ptr<Storage>& storage() const { return impl().storage; }
    std::string str() const;  // "f32[2, 3]" (+ " cuda")

    // Typed pointer to the first element (at the view's offset). T must match the dtype's size.
    template <typename T>
    T* data() const {
        TG_CHECK(sizeof(T) == dtype_size(dtype()), "data<T>(): element size ", sizeof(T), " != ", dtype_name(dtype()));
        return reinterpret_cast<T*>(static_cast<uint8_t*>(impl().storage->data) + impl().offset * int64_t(sizeof(T)));
    }
    void* raw_data() const {
        return static_cast<uint8_t*>(impl().storage->data) + impl().offset * int64_t(dtype_size(dtype()));
    }
    float item() const;                   // the single element, as float
    std::vector<float> to_vector() const;  // all elements in row-major order, converted to f32
    std::vector<int64_t> to_ints() const;

    // ---- views and copies (differentiable) ----
    Tensor reshape(const Shape& shape) const;  // one entry may be -1; a view when the layout allows
    Tensor view(const Shape& shape) const;     // like reshape, but never copies (throws instead)
    Tensor permute(const std::vector<int64_t>& dims) const;
    Tensor transpose(int64_t d0, int64_t d1) const;
    Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;  // [start, end)
    Tensor select(int64_t dim, int64_t index) const;                                // drops dim
    Tensor expand(const Shape& shape) const;  // broadcast size-1 dims (stride 0); may add leading dims
    Tensor unsqueeze(int64_t dim) const;
    Tensor squeeze(int64_t dim) const;
    Tensor contiguous() const;  // self if already contiguous
    Tensor clone() const;       // always a fresh contiguous copy
    Tensor to(DType dtype) const;
    Tensor to(Device device) const;

    // ---- autograd ----
    bool requires_grad() const { return impl().requires_grad; }
    Tensor& set_requires_grad(bool on = true);   // leaves only
    Tensor grad() const;                         // undefined until a backward reached this leaf
    void set_grad(const Tensor& g);
    void zero_grad();                            // drops the gradient
    const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }
    bool is_leaf() const { return !impl().grad_fn; }
    void backward(const Tensor& seed = Tensor()) const;  // seed defaults to 1 for a one-element tensor
    Tensor detach() const;                       // same storage, no history, requires_grad = false
    Tensor& set_name(const std::string& n);
    const std::string& name() const { return impl().name; }

    // In-place data updates for optimizers and initializers (never recorded by autograd).
    void copy_(const Tensor& src);  // same shape; converts dtype
    void fill_(float value);

    TensorImpl& impl() const {
        TG_CHECK(impl_, "use of an undefined Tensor");
        return *impl_;
    }
    const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

   private:
    std::shared_ptr<TensorImpl> impl_;
};

// Element access through a view's strides (slow path for tests and references).
double get_element(const Tensor& t, int64_t flat_index);  // row-major flat index into the view

// Fail with "op <op>: not implemented on cuda" unless every tensor is on the cpu.
void require_cpu(const char* op, std::initializer_list<const Tensor*> ts);
// Fail unless the tensor has the given dtype, naming the op and argument.
void require_dtype(const char* op, const char* arg, const Tensor& t, DType want);

}  // namespace tg
