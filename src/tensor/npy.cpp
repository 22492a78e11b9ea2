// npy.cpp — .npy header writer (numpy-identical) and a validating zero-copy reader; see npy.h.
#include "tensor/npy.h"

#include <cstring>

#include "tensor/common.h"

namespace tg {

const char* npy_descr(DType t) {
    switch (t) {
        case DType::f32: return "<f4";
        case DType::f16: return "<f2";
        case DType::i64: return "<i8";
        case DType::i32: return "<i4";
        case DType::u8: return "|u1";
        case DType::boolean: return "|b1";
        case DType::bf16: break;
    }
    throw Error(str("npy: dtype ", dtype_name(t), " has no NumPy equivalent (convert to f32 first)"));
}

// Python's repr of a shape tuple: "()", "(5,)", "(5, 3)".
static std::string shape_repr(const std::vector<int64_t>& shape) {
    std::string s = "(";
    for (size_t k = 0; k < shape.size(); k++) s += (k ? ", " : "") + std::to_string(shape[k]);
    return s + (shape.size() == 1 ? ",)" : ")");
}

std::string npy_header(DType t, const std::vector<int64_t>& shape) {
    for (int64_t d : shape) TG_CHECK(d >= 0, "npy: negative dimension in shape ", shape_repr(shape));
    std::string dict = str("{'descr': '", npy_descr(t), "', 'fortran_order': False, 'shape': ", shape_repr(shape), ", }");
    // numpy's growth room (format.py, GROWTH_AXIS_MAX_DIGITS = 21): spaces so that shape[0] can grow
    // to 21 digits in place.
    if (!shape.empty()) dict.append(21 - std::to_string(shape[0]).size(), ' ');
    // Pad so that magic(6) + version(2) + length(2) + dict + "\n" is a multiple of 64.
    size_t total = 10 + dict.size() + 1;
    dict.append((64 - total % 64) % 64, ' ');
    dict += '\n';
    TG_CHECK(dict.size() <= 65535, "npy: header too long for format version 1.0");
    std::string out = "\x93NUMPY";
    out += char(1);
    out += char(0);
    out += char(dict.size() & 0xff);
    out += char(dict.size() >> 8);
    return out + dict;
}

// ---- writer -------------------------------------------------------------------------------------

NpyWriter::NpyWriter(const std::string& path, DType t, const std::vector<int64_t>& shape) : path_(path), file_(path) {
    expect_ = dtype_size(t);
    for (int64_t d : shape)
        TG_CHECK(d >= 0 && !__builtin_mul_overflow(expect_, uint64_t(d), &expect_), path, ": bad shape ",
                 shape_repr(shape));
    file_.write(npy_header(t, shape));
}

void NpyWriter::write(const void* data, size_t nbytes) {
    TG_CHECK(written_ + nbytes <= expect_, path_, ": writing more than the declared shape holds (", expect_,
             " bytes)");
    file_.write(data, nbytes);
    written_ += nbytes;
}

void NpyWriter::commit() {
    TG_CHECK(written_ == expect_, path_, ": ", written_, " of ", expect_, " data bytes written");
    file_.commit();
}

static void save_npy_bytes(const std::string& path, DType t, const void* data, const std::vector<int64_t>& shape) {
    NpyWriter w(path, t, shape);
    uint64_t n = dtype_size(t);
    for (int64_t d : shape) n *= uint64_t(d);  // NpyWriter checked for overflow
    w.write(data, size_t(n));
    w.commit();
}

void save_npy(const std::string& path, const float* data, const std::vector<int64_t>& shape) {
    save_npy_bytes(path, DType::f32, data, shape);
}
void save_npy(const std::string& path, const int64_t* data, const std::vector<int64_t>& shape) {
    save_npy_bytes(path, DType::i64, data, shape);
}

// ---- reader -------------------------------------------------------------------------------------

namespace {

// The header is a Python dict literal; parse just what numpy writes: string, True/False and
// tuples of non-negative integers as values.
struct DictParser {
    std::string_view t;
    const std::string& path;
    size_t pos = 0;

    [[noreturn]] void error(const std::string& what) const {
        throw Error(str(path, ": bad .npy header at character ", pos, ": ", what));
    }
    void ws() {
        while (pos < t.size() && (t[pos] == ' ' || t[pos] == '\n' || t[pos] == '\t')) pos++;
    }
    bool eat(char c) {
        ws();
        if (pos < t.size() && t[pos] == c) {
            pos++;
            return true;
        }
        return false;
    }
    std::string quoted() {
        ws();
        if (pos >= t.size() || (t[pos] != '\'' && t[pos] != '"')) error("expected a quoted string");
        char q = t[pos++];
        size_t e = t.find(q, pos);
        if (e == std::string_view::npos) error("unterminated string");
        std::string s(t.substr(pos, e - pos));
        pos = e + 1;
        return s;
    }
    std::vector<int64_t> tuple() {
        if (!eat('(')) error("expected a shape tuple");
        std::vector<int64_t> v;
        for (;;) {
            if (eat(')')) return v;
            ws();
            if (pos >= t.size() || t[pos] < '0' || t[pos] > '9') error("expected a non-negative integer in the shape");
            int64_t x = 0;
            while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
                if (__builtin_mul_overflow(x, int64_t(10), &x) || __builtin_add_overflow(x, int64_t(t[pos] - '0'), &x))
                    error("shape dimension too large");
                pos++;
            }
            v.push_back(x);
            if (!eat(',')) {
                if (!eat(')')) error("expected ',' or ')' in the shape");
                return v;
            }
        }
    }
};

}  // namespace

NpyFile::NpyFile(const std::string& path) : map_(path) { parse(map_.data(), map_.size(), path); }

NpyFile NpyFile::from_memory(const uint8_t* data, size_t n, std::string name) {
    NpyFile f;
    f.parse(data, n, name);
    return f;
}

void NpyFile::parse(const uint8_t* p, size_t n, const std::string& path) {
    if (n < 10 || std::memcmp(p, "\x93NUMPY", 6) != 0) throw Error(str(path, ": not a .npy file (bad magic)"));
    int major = p[6];
    size_t hlen, start;
    if (major == 1) {
        hlen = size_t(p[8]) | size_t(p[9]) << 8;
        start = 10;
    } else if (major == 2 || major == 3) {
        if (n < 12) throw Error(str(path, ": truncated .npy header"));
        hlen = size_t(p[8]) | size_t(p[9]) << 8 | size_t(p[10]) << 16 | size_t(p[11]) << 24;
        start = 12;
    } else {
        throw Error(str(path, ": unsupported .npy format version ", major, ".", int(p[7])));
    }
    if (hlen > n - start) throw Error(str(path, ": .npy header runs past the end of the file"));
    std::string_view text(reinterpret_cast<const char*>(p + start), hlen);

    DictParser d{text, path};
    std::string descr;
    bool have_descr = false, have_order = false, have_shape = false;
    if (!d.eat('{')) d.error("expected '{'");
    while (!d.eat('}')) {
        std::string key = d.quoted();
        if (!d.eat(':')) d.error("expected ':'");
        if (key == "descr") {
            descr = d.quoted();
            have_descr = true;
        } else if (key == "fortran_order") {
            d.ws();
            if (text.substr(d.pos, 5) == "False") d.pos += 5;
            else if (text.substr(d.pos, 4) == "True") throw Error(str(path, ": Fortran-order arrays are not supported"));
            else d.error("expected True or False");
            have_order = true;
        } else if (key == "shape") {
            shape_ = d.tuple();
            have_shape = true;
        } else {
            d.error("unexpected key '" + key + "'");
        }
        if (!d.eat(',')) {
            if (!d.eat('}')) d.error("expected ',' or '}'");
            break;
        }
    }
    if (!have_descr || !have_order || !have_shape) throw Error(str(path, ": .npy header lacks descr, fortran_order or shape"));

    static const std::pair<const char*, DType> known[] = {
        {"<f4", DType::f32}, {"<f2", DType::f16}, {"<i8", DType::i64}, {"<i4", DType::i32},
        {"|u1", DType::u8},  {"<u1", DType::u8},  {"|b1", DType::boolean}};
    bool found = false;
    for (auto& [s, t] : known)
        if (descr == s) dtype_ = t, found = true;
    if (!found) throw Error(str(path, ": .npy dtype '", descr, "' is not supported (f4, f2, i8, i4, u1, b1 little-endian)"));

    uint64_t want = dtype_size(dtype_);
    for (int64_t x : shape_)
        if (__builtin_mul_overflow(want, uint64_t(x), &want)) throw Error(str(path, ": .npy shape overflows 64 bits"));
    size_t have = n - start - hlen;
    if (want != have)
        throw Error(str(path, ": .npy shape ", shape_repr(shape_), " of ", descr, " needs ", want, " data bytes, the file has ",
                        have));
    data_ = p + start + hlen;
    nbytes_ = have;
}

int64_t NpyFile::numel() const {
    int64_t n = 1;
    for (int64_t d : shape_) n *= d;
    return n;
}

}  // namespace tg
