// io.cpp — see io.h.
#include "tensor/io.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "tensor/common.h"

namespace tg {

static std::string errno_text() { return std::strerror(errno); }

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(str(path, ": cannot open (", errno_text(), ")"));
    std::ostringstream ss;
    ss << f.rdbuf();
    if (f.bad()) throw Error(str(path, ": read error"));
    return ss.str();
}

bool file_exists(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

static void fsync_dir_of(const std::string& path) {
    auto slash = path.find_last_of('/');
    std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

AtomicFile::AtomicFile(const std::string& path) : path_(path) {
    tmp_ = path + ".tmp." + std::to_string(::getpid());
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(str(path, ": cannot create temporary file ", tmp_, " (", errno_text(), ")"));
}

AtomicFile::~AtomicFile() {
    if (fd_ >= 0) {
        ::close(fd_);
        ::unlink(tmp_.c_str());
    }
}

void AtomicFile::write(const void* data, size_t n) {
    TG_CHECK(fd_ >= 0, path_, ": write after commit");
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
        ssize_t w = ::write(fd_, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            throw Error(str(path_, ": write failed (", errno_text(), ")"));
        }
        p += w;
        n -= size_t(w);
    }
}

void AtomicFile::commit() {
    TG_CHECK(fd_ >= 0, path_, ": committed twice");
    if (::fsync(fd_) != 0) throw Error(str(path_, ": fsync failed (", errno_text(), ")"));
    if (::close(fd_) != 0) {
        fd_ = -1;
        ::unlink(tmp_.c_str());
        throw Error(str(path_, ": close failed (", errno_text(), ")"));
    }
    fd_ = -1;
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
        std::string e = errno_text();
        ::unlink(tmp_.c_str());
        throw Error(str(path_, ": rename failed (", e, ")"));
    }
    fsync_dir_of(path_);
}

void write_file_atomic(const std::string& path, std::string_view data) {
    AtomicFile f(path);
    f.write(data);
    f.commit();
}

MappedFile::MappedFile(const std::string& path) : path_(path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(str(path, ": cannot open (", errno_text(), ")"));
    struct stat st;
    if (::fstat(fd, &st) != 0) {
        ::close(fd);
        throw Error(str(path, ": cannot stat (", errno_text(), ")"));
    }
    size_ = size_t(st.st_size);
    if (size_ > 0) {
        void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            ::close(fd);
            throw Error(str(path, ": mmap failed (", errno_text(), ")"));
        }
        data_ = static_cast<uint8_t*>(p);
    }
    ::close(fd);
}

MappedFile::~MappedFile() {
    if (data_) ::munmap(data_, size_);
}

MappedFile::MappedFile(MappedFile&& o) noexcept : path_(std::move(o.path_)), data_(o.data_), size_(o.size_) {
    o.data_ = nullptr;
    o.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
    if (this != &o) {
        if (data_) ::munmap(data_, size_);
        path_ = std::move(o.path_);
        data_ = o.data_;
        size_ = o.size_;
        o.data_ = nullptr;
        o.size_ = 0;
    }
    return *this;
}

}  // namespace tg
