// textio.cpp — line, JSONL and CSV/TSV readers; see textio.h for the dialect.
#include "tensor/textio.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>

#include "tensor/common.h"

namespace tg {

// ---- TextInput: buffered bytes ------------------------------------------------------------------

static constexpr size_t kBufSize = size_t(1) << 20;

TextInput::TextInput(const std::string& path) : path_(path == "-" ? "<stdin>" : path) {
    if (path == "-") {
        fd_ = 0;
    } else {
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) throw Error(str(path, ": cannot open (", std::strerror(errno), ")"));
        own_fd_ = true;
    }
}

TextInput::TextInput(std::string text, std::string name) : path_(std::move(name)), buf_(std::move(text)) {
    len_ = buf_.size();
    if (buf_.compare(0, 3, "\xEF\xBB\xBF") == 0) pos_ = 3;
}

TextInput::~TextInput() {
    if (own_fd_) ::close(fd_);
}

TextInput::TextInput(TextInput&& o) noexcept
    : path_(std::move(o.path_)), fd_(o.fd_), own_fd_(o.own_fd_), buf_(std::move(o.buf_)), pos_(o.pos_),
      len_(o.len_), line_(o.line_), started_(o.started_) {
    o.fd_ = -1;
    o.own_fd_ = false;
    o.pos_ = o.len_ = 0;
}

// Read the next chunk from the file descriptor. On the first read, while what arrived could still be
// the start of a byte-order mark, read on until 3 bytes are there (or the input ended) so the mark can
// be recognised and skipped; other input is returned as soon as it arrives (interactive pipes).
bool TextInput::refill() {
    if (fd_ < 0) return false;
    if (buf_.size() < kBufSize) buf_.resize(kBufSize);
    pos_ = len_ = 0;
    for (;;) {
        ssize_t n = ::read(fd_, buf_.data() + len_, kBufSize - len_);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw Error(str(path_, ": read error (", std::strerror(errno), ")"));
        }
        len_ += size_t(n);
        if (n == 0 || started_ || len_ >= 3 || std::memcmp(buf_.data(), "\xEF\xBB\xBF", len_) != 0) break;
    }
    if (!started_) {
        started_ = true;
        if (len_ >= 3 && std::memcmp(buf_.data(), "\xEF\xBB\xBF", 3) == 0) pos_ = 3;
        if (pos_ == len_ && len_ > 0) return refill();  // the input was just a BOM (so far)
    }
    return pos_ < len_;
}

bool TextInput::read_line(std::string& out) {
    out.clear();
    bool any = false;
    for (;;) {
        if (pos_ == len_ && !refill()) return any;
        any = true;
        const char* b = buf_.data() + pos_;
        const void* nl = std::memchr(b, '\n', len_ - pos_);
        if (nl) {
            size_t k = size_t(static_cast<const char*>(nl) - b);
            out.append(b, k);
            pos_ += k + 1;
            line_++;
            return true;
        }
        out.append(b, len_ - pos_);
        pos_ = len_;
    }
}

// ---- LineReader / JsonlReader -------------------------------------------------------------------

bool LineReader::next(std::string& line) {
    line_ = in_.line();
    if (!in_.read_line(line)) return false;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    int64_t bad = json::utf8_invalid_at(line);
    if (bad >= 0) throw Error(str(path(), ":", line_, ": invalid UTF-8 at byte ", bad + 1, " of the line"));
    return true;
}

bool JsonlReader::next(json::Value& v) {
    for (;;) {
        if (!lines_.next(buf_)) return false;
        if (buf_.find_first_not_of(" \t") == std::string::npos) continue;  // blank line
        v = json::parse(buf_, str(path(), ":", line()));
        return true;
    }
}

// ---- CsvReader ----------------------------------------------------------------------------------

char csv_separator_for(std::string_view path) {
    auto ends = [&](std::string_view suf) {
        return path.size() >= suf.size() && path.substr(path.size() - suf.size()) == suf;
    };
    return ends(".tsv") || ends(".TSV") || ends(".tab") ? '\t' : ',';
}

CsvReader::CsvReader(const std::string& path, char sep, bool has_header)
    : CsvReader(TextInput(path), CsvOptions{sep, has_header}) {}

CsvReader::CsvReader(const std::string& path, const CsvOptions& opt) : CsvReader(TextInput(path), opt) {}

CsvReader CsvReader::from_string(std::string text, std::string name, const CsvOptions& opt) {
    return CsvReader(TextInput(std::move(text), std::move(name)), opt);
}

CsvReader::CsvReader(TextInput in, const CsvOptions& opt) : in_(std::move(in)), opt_(opt) {
    TG_CHECK(opt.sep != '"' && opt.sep != '\n' && opt.sep != '\r', "CSV separator must not be a quote or newline");
    if (opt_.header) {
        if (!read_record(header_)) throw Error(str(path(), ": empty file (expected a header row)"));
        nfields_ = int64_t(header_.size());
    }
}

// Parse one record. Returns false at end of input. Skips empty lines.
bool CsvReader::read_record(std::vector<std::string>& fields) {
    const int sep = (unsigned char)opt_.sep;
    for (;;) {
        fields.clear();
        int64_t start = in_.line();
        int c = in_.get();
        if (c == -1) return false;  // (line() keeps naming the last record)
        record_line_ = start;
        bool quoted_any = false;
        std::string field;
        for (;;) {  // one field per iteration; `c` is its first byte
            field.clear();
            if (opt_.quoting && c == '"') {
                quoted_any = true;
                int64_t open_line = in_.line();
                for (;;) {
                    c = in_.get();
                    if (c == -1)
                        throw Error(str(path(), ":", open_line, ": unterminated quoted field (column ",
                                        fields.size() + 1, ") runs to the end of the file"));
                    if (c == '"') {
                        c = in_.get();
                        if (c == '"') {  // "" inside quotes = one literal quote
                            field += '"';
                            continue;
                        }
                        break;
                    }
                    field += char(c);
                }
                if (c == '\r' && (in_.peek() == '\n' || in_.peek() == -1)) c = in_.get() == '\n' ? '\n' : -1;
                if (c != sep && c != '\n' && c != -1)
                    throw Error(str(path(), ":", in_.line(), ": column ", fields.size() + 1,
                                    ": unexpected character '", char(c),
                                    "' after a closing quote (a literal quote inside a quoted field is written \"\")"));
            } else {
                while (c != sep && c != '\n' && c != -1) {
                    if (c == '\r' && (in_.peek() == '\n' || in_.peek() == -1)) {  // CRLF (or CR at EOF)
                        c = in_.get() == '\n' ? '\n' : -1;
                        break;
                    }
                    field += char(c);
                    c = in_.get();
                }
            }
            fields.push_back(field);
            if (c != sep) break;  // end of line or input
            c = in_.get();
        }
        if (fields.size() == 1 && fields[0].empty() && !quoted_any) continue;  // empty line
        for (size_t k = 0; k < fields.size(); k++) {
            int64_t bad = json::utf8_invalid_at(fields[k]);
            if (bad >= 0)
                throw Error(str(where(int(k)), ": invalid UTF-8 at byte ", bad + 1, " of the field"));
        }
        return true;
    }
}

bool CsvReader::next(std::vector<std::string>& fields) {
    if (!read_record(fields)) return false;
    if (!opt_.ragged) {
        if (nfields_ < 0) {
            nfields_ = int64_t(fields.size());
        } else if (int64_t(fields.size()) != nfields_) {
            throw Error(str(path(), ":", record_line_, ": ", fields.size(), " fields, expected ", nfields_,
                            opt_.header ? " (as in the header)" : " (as in the first record)",
                            int64_t(fields.size()) > nfields_
                                ? str("; a field containing '", opt_.sep == '\t' ? std::string("\\t")
                                                                                 : std::string(1, opt_.sep),
                                      "' must be quoted")
                                : std::string()));
        }
    }
    return true;
}

int CsvReader::column(std::string_view name) const {
    for (size_t k = 0; k < header_.size(); k++)
        if (header_[k] == name) return int(k);
    return -1;
}

int CsvReader::require_column(std::string_view name) const {
    int c = column(name);
    if (c >= 0) return c;
    std::string cols;
    for (size_t k = 0; k < header_.size(); k++) cols += (k ? ", " : "") + header_[k];
    if (!opt_.header) throw Error(str(path(), ": no column '", name, "' (the file was read without a header row)"));
    throw Error(str(path(), ": no column '", name, "' (columns: ", cols, ")"));
}

std::string CsvReader::where(int col) const {
    if (col >= 0 && size_t(col) < header_.size())
        return str(path(), ":", record_line_, ", column '", header_[size_t(col)], "'");
    return str(path(), ":", record_line_, ", column ", col + 1);
}

static std::string_view trim_spaces(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

int64_t CsvReader::field_int(const std::vector<std::string>& fields, int col) const {
    if (col < 0 || size_t(col) >= fields.size())
        throw Error(str(where(col), ": no such field (the record has ", fields.size(), ")"));
    std::string_view s = trim_spaces(fields[size_t(col)]);
    int64_t v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size())
        throw Error(str(where(col), ": expected an integer, got \"", fields[size_t(col)], "\"",
                        r.ec == std::errc::result_out_of_range ? " (out of 64-bit range)" : ""));
    return v;
}

double CsvReader::field_double(const std::vector<std::string>& fields, int col) const {
    if (col < 0 || size_t(col) >= fields.size())
        throw Error(str(where(col), ": no such field (the record has ", fields.size(), ")"));
    std::string_view s = trim_spaces(fields[size_t(col)]);
    double v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(v))
        throw Error(str(where(col), ": expected a finite number, got \"", fields[size_t(col)], "\""));
    return v;
}

}  // namespace tg
