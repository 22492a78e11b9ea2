// io.h — file helpers: whole-file reads, memory maps and atomic writes.
//
// Atomic write = write a temporary file beside the target, fsync it, rename() over the target, fsync
// the directory. A crash at any point leaves either the old file or the new one, never a torn file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tg {

std::string read_file(const std::string& path);  // throws tg::Error naming the path

// Write `data` to `path` atomically (see above).
void write_file_atomic(const std::string& path, std::string_view data);

// Streaming variant for large outputs: write to path + ".tmp.<pid>", then commit() renames.
// Destroying an uncommitted AtomicFile removes the temporary.
class AtomicFile {
   public:
    explicit AtomicFile(const std::string& path);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;
    void write(const void* data, size_t n);
    void write(std::string_view s) { write(s.data(), s.size()); }
    void commit();  // flush, fsync, rename, fsync dir
   private:
    std::string path_, tmp_;
    int fd_ = -1;
};

// Read-only memory map of a whole file. Empty files map to data()==nullptr, size()==0.
class MappedFile {
   public:
    MappedFile() = default;
    explicit MappedFile(const std::string& path);
    ~MappedFile();
    MappedFile(MappedFile&& o) noexcept;
    MappedFile& operator=(MappedFile&& o) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    const std::string& path() const { return path_; }
   private:
    std::string path_;
    uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

bool file_exists(const std::string& path);

}  // namespace tg
