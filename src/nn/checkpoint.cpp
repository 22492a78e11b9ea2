// checkpoint.cpp — see checkpoint.h.
#include "nn/checkpoint.h"

#include <cstring>
#include <set>

#include "tensor/autograd.h"
#include "tensor/safetensors.h"

namespace tg::nn {

void save_checkpoint(const std::string& path, const NamedTensors& tensors,
                     const std::vector<std::pair<std::string, std::string>>& metadata) {
    NoGradGuard no_grad;
    std::vector<Tensor> keep;  // contiguous copies must outlive serialization
    std::vector<SafeTensorWrite> w;
    for (const auto& [name, t] : tensors) {
        TG_CHECK(t.defined(), "save_checkpoint ", path, ": tensor '", name, "' is undefined");
        require_cpu("save_checkpoint", {&t});
        Tensor c = t.contiguous();
        keep.push_back(c);
        w.push_back({name, c.dtype(), c.shape(), c.raw_data(), size_t(c.numel()) * dtype_size(c.dtype())});
    }
    save_safetensors(path, w, metadata);
}

static Tensor to_owned(const SafeTensor& st) {
    Tensor t = Tensor::empty(st.shape, st.dtype);
    if (st.nbytes) std::memcpy(t.raw_data(), st.data, st.nbytes);  // mapping may be unaligned: copy bytes
    return t;
}

std::map<std::string, Tensor> load_checkpoint(const std::string& path) {
    SafeTensorsFile f(path);
    std::map<std::string, Tensor> out;
    for (const SafeTensor& st : f.tensors()) out[st.name] = to_owned(st);
    return out;
}

void load_into(const std::string& path, const NamedTensors& into, bool strict) {
    SafeTensorsFile f(path);
    std::set<std::string> used;
    for (const auto& [name, t] : into) {
        const SafeTensor* st = f.find(name);
        if (!st) {
            TG_CHECK(!strict, "load_into ", path, ": no tensor '", name, "' in the file");
            continue;
        }
        TG_CHECK(st->dtype == t.dtype() && st->shape == t.shape(), "load_into ", path, ": tensor '", name, "' is ",
                 dtype_name(st->dtype), shape_str(st->shape), ", expected ", t.str());
        Tensor dst = t;  // a handle to the same storage
        dst.copy_(to_owned(*st));
        used.insert(name);
    }
    if (strict)
        for (const SafeTensor& st : f.tensors())
            TG_CHECK(used.count(st.name), "load_into ", path, ": unexpected tensor '", st.name, "' in the file");
}

}  // namespace tg::nn
