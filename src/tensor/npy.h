// npy.h — NumPy .npy files: write (atomically) what numpy.save writes, read them back zero-copy.
//
// Format (numpy/lib/format.py, version 1.0):
//   "\x93NUMPY" 0x01 0x00  uint16-LE HEADER_LEN  HEADER  data
//   HEADER = "{'descr': '<f4', 'fortran_order': False, 'shape': (N, D), }" + spaces + "\n"
// numpy pads HEADER with spaces so that the data starts at a multiple of 64 bytes, after first adding
// 21 - len(str(shape[0])) spaces of "growth room" (so the first dimension can be rewritten in place);
// we do the same, so our files are byte-identical to numpy.save's for the same array.
// Data: C order (row-major), little-endian.
//
//   tg::save_npy("emb.npy", ptr, {n, d});               // float32 [n, d]
//   tg::NpyWriter w("emb.npy", tg::DType::f32, {n, d});   // streaming: rows as they are computed
//   w.write(rows, bytes); ... w.commit();                // commit checks that exactly n*d*4 bytes came
//   tg::NpyFile f("emb.npy");  f.dtype(), f.shape(), f.data<float>()
//
// The reader accepts versions 1.0, 2.0 and 3.0, C order, little-endian (or byte-order-free) f4, f2,
// i8, i4, u1 and b1; anything else (Fortran order, big-endian, object arrays, a size that does not
// match the file) is rejected with an error naming the file and the reason.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/io.h"

namespace tg {

// numpy's descr for a dtype: "<f4", "<f2", "<i8", "<i4", "|u1", "|b1". bf16 has none (throws).
const char* npy_descr(DType t);
// The full header (magic .. trailing "\n") numpy.save writes for this dtype and shape.
std::string npy_header(DType t, const std::vector<int64_t>& shape);

class NpyWriter {
   public:
    NpyWriter(const std::string& path, DType t, const std::vector<int64_t>& shape);
    void write(const void* data, size_t nbytes);  // appends; throws when more than the shape holds
    void commit();                                // throws unless exactly the shape's bytes were written
   private:
    std::string path_;
    AtomicFile file_;
    uint64_t expect_ = 0, written_ = 0;
};

void save_npy(const std::string& path, const float* data, const std::vector<int64_t>& shape);
void save_npy(const std::string& path, const int64_t* data, const std::vector<int64_t>& shape);

class NpyFile {
   public:
    explicit NpyFile(const std::string& path);  // mmap + validate
    // Validate a buffer that the caller keeps alive (tests, fuzzing). `name` is used in messages.
    static NpyFile from_memory(const uint8_t* data, size_t n, std::string name);
    DType dtype() const { return dtype_; }
    const std::vector<int64_t>& shape() const { return shape_; }
    int64_t numel() const;
    const uint8_t* bytes() const { return data_; }  // 64-byte aligned for files numpy (or we) wrote
    size_t nbytes() const { return nbytes_; }
    template <typename T>
    const T* data() const { return reinterpret_cast<const T*>(data_); }

   private:
    NpyFile() = default;
    void parse(const uint8_t* p, size_t n, const std::string& path);
    MappedFile map_;
    DType dtype_ = DType::f32;
    std::vector<int64_t> shape_;
    const uint8_t* data_ = nullptr;
    size_t nbytes_ = 0;
};

}  // namespace tg
