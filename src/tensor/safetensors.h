// safetensors.h — read (zero-copy, fully validated) and write the safetensors format.
//
// The format (https://github.com/huggingface/safetensors), all of it:
//
//   bytes [0, 8)          N = header length, unsigned 64-bit little-endian
//   bytes [8, 8+N)        UTF-8 JSON object (may end with spaces, writers pad N to a multiple of 8):
//                           {"__metadata__": {"key": "value", ...},            <- optional, str -> str
//                            "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
//                            ...}
//   bytes [8+N, EOF)      the data buffer; tensor bytes are buffer[begin, end), row-major, little-endian
//
// The reader maps the file (tg::MappedFile) and points into the mapping: nothing is copied, so the
// SafeTensorsFile must outlive every pointer taken from it. It rejects, naming the file, the tensor
// and the reason: a file shorter than 8 bytes; N over 100 MB or past the end of the file; invalid
// UTF-8 or JSON (duplicate names included); a header that is not an object, or an entry with missing,
// extra or mistyped fields; a dtype that is unknown or not supported here; negative dims; an element
// count or byte size that overflows 64 bits; end - begin != elements x element size; offsets past the
// buffer; tensors that overlap or leave a gap between them; bytes after the last tensor; __metadata__
// values that are not strings.
//
// Supported dtypes: F32, F16, BF16, I64, I32, U8, BOOL (tg::DType). Others that the format defines
// (F64, I8, I16, U16, U32, U64, F8_*, ...) are rejected with "dtype F64 is not supported".
//
// The writer produces what Python's safetensors writes, byte for byte for the same input (tensors
// sorted by dtype then name, header padded with spaces to a multiple of 8), atomically (io.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/io.h"

namespace tg {

struct SafeTensor {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;  // [] for a scalar
    const uint8_t* data;         // points into the mapping; may be unaligned for the dtype
    size_t nbytes;
    int64_t numel() const { return int64_t(nbytes / dtype_size(dtype)); }
};

class SafeTensorsFile {
   public:
    explicit SafeTensorsFile(const std::string& path);  // mmap + validate
    // Validate a buffer that the caller keeps alive (tests, fuzzing). `name` is used in messages.
    static SafeTensorsFile from_memory(const uint8_t* data, size_t n, std::string name);

    const std::string& path() const { return name_; }
    // In header order.
    const std::vector<SafeTensor>& tensors() const { return tensors_; }
    const SafeTensor* find(std::string_view name) const;  // nullptr when absent
    const SafeTensor& get(std::string_view name) const;   // throws "file: no tensor 'x'"
    // get() that also checks dtype and shape: "file: tensor 'x': shape [2, 3], expected [3, 2]".
    const SafeTensor& get(std::string_view name, DType dtype, const std::vector<int64_t>& shape) const;
    // __metadata__ entries in header order.
    const std::vector<std::pair<std::string, std::string>>& metadata() const { return metadata_; }

   private:
    SafeTensorsFile() = default;
    void parse(const uint8_t* data, size_t n);
    std::string name_;
    MappedFile map_;
    std::vector<SafeTensor> tensors_;
    std::map<std::string, size_t, std::less<>> index_;
    std::vector<std::pair<std::string, std::string>> metadata_;
};

// The format's dtype names ("F32", "BF16", ...) and back. parse throws on unknown/unsupported names.
const char* safetensors_dtype_name(DType t);
DType safetensors_dtype_parse(std::string_view s, const std::string& where);

struct SafeTensorWrite {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    const void* data;  // nbytes bytes, little-endian, row-major
    size_t nbytes;
};

// Serialize to bytes (what save_safetensors writes).
std::string safetensors_serialize(const std::vector<SafeTensorWrite>& tensors,
                                  const std::vector<std::pair<std::string, std::string>>& metadata = {});
// Write atomically (temporary file, fsync, rename). Checks names (unique, not "__metadata__"),
// shapes and byte sizes first and throws naming the tensor.
void save_safetensors(const std::string& path, const std::vector<SafeTensorWrite>& tensors,
                      const std::vector<std::pair<std::string, std::string>>& metadata = {});

}  // namespace tg
