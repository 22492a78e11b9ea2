// safetensors.cpp — validating zero-copy reader and byte-exact writer; see safetensors.h.
#include "tensor/safetensors.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "tensor/common.h"
#include "tensor/json.h"

namespace tg {

static constexpr uint64_t kMaxHeader = 100'000'000;  // same limit as the reference implementation

static std::string shape_str(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t k = 0; k < shape.size(); k++) s += (k ? ", " : "") + std::to_string(shape[k]);
    return s + "]";
}

// ---- dtypes -------------------------------------------------------------------------------------

const char* safetensors_dtype_name(DType t) {
    switch (t) {
        case DType::f32: return "F32";
        case DType::bf16: return "BF16";
        case DType::f16: return "F16";
        case DType::i32: return "I32";
        case DType::i64: return "I64";
        case DType::u8: return "U8";
        case DType::boolean: return "BOOL";
    }
    return "?";
}

DType safetensors_dtype_parse(std::string_view s, const std::string& where) {
    static const std::pair<const char*, DType> ours[] = {{"F32", DType::f32}, {"F16", DType::f16},
                                                        {"BF16", DType::bf16}, {"I64", DType::i64},
                                                        {"I32", DType::i32}, {"U8", DType::u8},
                                                        {"BOOL", DType::boolean}};
    for (auto& [n, t] : ours)
        if (s == n) return t;
    // Defined by the format (safetensors 0.8) but without a tg::DType to hold them.
    static const char* theirs[] = {"F64", "I8",     "I16",      "U16",     "U32",     "U64",    "F8_E5M2",
                                   "F8_E4M3", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4",    "C64"};
    for (const char* n : theirs)
        if (s == n)
            throw Error(str(where, ": dtype ", s, " is not supported (supported: F32, F16, BF16, I64, I32, U8, BOOL)"));
    std::string shown(s.substr(0, 40));
    throw Error(str(where, ": unknown dtype \"", shown, s.size() > 40 ? "..." : "", "\""));
}

// Rank of each dtype in the reference implementation's Dtype enum (BOOL, U8, I8, F8_E5M2, F8_E4M3,
// I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64): its writer sorts tensors by this, descending.
static int writer_rank(DType t) {
    switch (t) {
        case DType::boolean: return 0;
        case DType::u8: return 1;
        case DType::f16: return 7;
        case DType::bf16: return 8;
        case DType::i32: return 9;
        case DType::f32: return 11;
        case DType::i64: return 13;
    }
    return -1;
}

// ---- reader -------------------------------------------------------------------------------------

SafeTensorsFile::SafeTensorsFile(const std::string& path) : name_(path), map_(path) {
    parse(map_.data(), map_.size());
}

SafeTensorsFile SafeTensorsFile::from_memory(const uint8_t* data, size_t n, std::string name) {
    SafeTensorsFile f;
    f.name_ = std::move(name);
    f.parse(data, n);
    return f;
}

// elements x element size, or false on 64-bit overflow.
static bool byte_size(const std::vector<int64_t>& shape, DType t, uint64_t& out) {
    uint64_t n = 1;
    for (int64_t d : shape)
        if (__builtin_mul_overflow(n, uint64_t(d), &n)) return false;
    return !__builtin_mul_overflow(n, uint64_t(dtype_size(t)), &out);
}

void SafeTensorsFile::parse(const uint8_t* data, size_t n) {
    const std::string& F = name_;
    if (n < 8) throw Error(str(F, ": not a safetensors file: ", n, " bytes, too short for the 8-byte header length"));
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--) hlen = (hlen << 8) | data[k];  // little-endian
    if (hlen > kMaxHeader)
        throw Error(str(F, ": header length ", hlen, " exceeds the 100 MB limit (damaged or not a safetensors file)"));
    if (hlen > n - 8)
        throw Error(str(F, ": header length ", hlen, " runs past the end of the file (", n, " bytes)"));
    std::string_view htext(reinterpret_cast<const char*>(data + 8), size_t(hlen));
    json::Value h = json::parse(htext, F + ": header");
    if (!h.is_object()) throw Error(str(F, ": header is not a JSON object"));

    const uint8_t* buf = data + 8 + hlen;  // data buffer
    const uint64_t buflen = n - 8 - hlen;
    std::vector<std::pair<uint64_t, uint64_t>> ranges;  // [begin, end) per tensor, same order as tensors_
    for (auto& [name, e] : h.obj) {
        if (name == "__metadata__") {
            if (!e.is_object()) throw Error(str(F, ": __metadata__ is not a JSON object"));
            for (auto& [k, v] : e.obj) {
                if (!v.is_string()) throw Error(str(F, ": __metadata__ '", k, "': value is not a string"));
                metadata_.emplace_back(k, v.s);
            }
            continue;
        }
        const std::string where = str(F, ": tensor '", name, "'");
        if (!e.is_object()) throw Error(str(where, ": entry is not a JSON object"));
        const json::Value *jd = nullptr, *js = nullptr, *jo = nullptr;
        for (auto& [k, v] : e.obj) {
            if (k == "dtype") jd = &v;
            else if (k == "shape") js = &v;
            else if (k == "data_offsets") jo = &v;
            else throw Error(str(where, ": unexpected field '", k, "'"));
        }
        if (!jd || !js || !jo)
            throw Error(str(where, ": missing field '", !jd ? "dtype" : !js ? "shape" : "data_offsets", "'"));
        if (!jd->is_string()) throw Error(str(where, ": dtype is not a string"));
        SafeTensor t{name, safetensors_dtype_parse(jd->s, where), {}, nullptr, 0};
        if (!js->is_array()) throw Error(str(where, ": shape is not an array"));
        for (auto& d : js->arr) {
            if (!d.is_number() || !d.is_int || d.i < 0)
                throw Error(str(where, ": shape entries must be non-negative integers"));
            t.shape.push_back(d.i);
        }
        if (!jo->is_array() || jo->arr.size() != 2)
            throw Error(str(where, ": data_offsets must be an array [begin, end]"));
        for (auto& d : jo->arr)
            if (!d.is_number() || !d.is_int || d.i < 0)
                throw Error(str(where, ": data_offsets must be non-negative integers"));
        uint64_t begin = uint64_t(jo->arr[0].i), end = uint64_t(jo->arr[1].i), want = 0;
        if (begin > end) throw Error(str(where, ": data_offsets [", begin, ", ", end, "] has begin > end"));
        if (end > buflen)
            throw Error(str(where, ": data_offsets [", begin, ", ", end, "] run past the end of the data (",
                            buflen, " bytes; the file may be truncated)"));
        if (!byte_size(t.shape, t.dtype, want))
            throw Error(str(where, ": shape ", shape_str(t.shape), " x ", jd->s, " overflows 64 bits"));
        if (end - begin != want)
            throw Error(str(where, ": data_offsets [", begin, ", ", end, "] hold ", end - begin, " bytes, but shape ",
                            shape_str(t.shape), " of ", jd->s, " needs ", want));
        t.data = buf + begin;
        t.nbytes = size_t(end - begin);
        index_.emplace(name, tensors_.size());
        tensors_.push_back(std::move(t));
        ranges.emplace_back(begin, end);
    }

    // The tensors must tile the data buffer exactly: sorted by offset, each begins where the
    // previous one ended, the first at 0 and the last at the end of the file.
    std::vector<size_t> order(tensors_.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ranges[a] < ranges[b]; });
    uint64_t expect = 0;
    const SafeTensor* prev = nullptr;
    for (size_t i : order) {
        auto [begin, end] = ranges[i];
        if (begin < expect)
            throw Error(str(F, ": tensor '", tensors_[i].name, "': data_offsets [", begin, ", ", end,
                            "] overlap tensor '", prev->name, "' (which ends at ", expect, ")"));
        if (begin > expect)
            throw Error(str(F, ": tensor '", tensors_[i].name, "': gap of ", begin - expect, " bytes before it (",
                            prev ? str("after tensor '", prev->name, "'") : std::string("at the start of the data"),
                            ")"));
        expect = end;
        prev = &tensors_[i];
    }
    if (expect != buflen)
        throw Error(str(F, ": ", buflen - expect, " trailing bytes after the last tensor",
                        prev ? str(" ('", prev->name, "')") : std::string(" (the header lists no tensors)")));
}

const SafeTensor* SafeTensorsFile::find(std::string_view name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
}

const SafeTensor& SafeTensorsFile::get(std::string_view name) const {
    if (const SafeTensor* t = find(name)) return *t;
    throw Error(str(name_, ": no tensor '", name, "' (the file has ", tensors_.size(), " tensors)"));
}

const SafeTensor& SafeTensorsFile::get(std::string_view name, DType dtype, const std::vector<int64_t>& shape) const {
    const SafeTensor& t = get(name);
    if (t.dtype != dtype)
        throw Error(str(name_, ": tensor '", name, "': dtype ", safetensors_dtype_name(t.dtype), ", expected ",
                        safetensors_dtype_name(dtype)));
    if (t.shape != shape)
        throw Error(str(name_, ": tensor '", name, "': shape ", shape_str(t.shape), ", expected ", shape_str(shape)));
    return t;
}

// ---- writer -------------------------------------------------------------------------------------

// Check the inputs, decide the order (the reference writer's: dtype rank descending, then name) and
// build the padded header. Returns the order of `tensors` in the data buffer.
static std::vector<size_t> build_header(const std::vector<SafeTensorWrite>& tensors,
                                        const std::vector<std::pair<std::string, std::string>>& metadata,
                                        std::string& header) {
    std::vector<size_t> order(tensors.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        int ra = writer_rank(tensors[a].dtype), rb = writer_rank(tensors[b].dtype);
        return ra != rb ? ra > rb : tensors[a].name < tensors[b].name;
    });
    for (size_t k = 0; k < order.size(); k++) {
        const SafeTensorWrite& t = tensors[order[k]];
        TG_CHECK(t.name != "__metadata__", "safetensors: a tensor cannot be named '__metadata__'");
        TG_CHECK(k == 0 || t.name != tensors[order[k - 1]].name, "safetensors: duplicate tensor name '", t.name, "'");
        TG_CHECK(json::utf8_invalid_at(t.name) < 0, "safetensors: tensor name is not valid UTF-8");
        uint64_t want = 0;
        for (int64_t d : t.shape) TG_CHECK(d >= 0, "safetensors: tensor '", t.name, "': negative dim in ", shape_str(t.shape));
        TG_CHECK(byte_size(t.shape, t.dtype, want) && want == t.nbytes, "safetensors: tensor '", t.name, "': ",
                 t.nbytes, " bytes given, shape ", shape_str(t.shape), " of ", safetensors_dtype_name(t.dtype),
                 " needs ", want);
        TG_CHECK(t.data || t.nbytes == 0, "safetensors: tensor '", t.name, "': null data");
    }
    for (auto& [k, v] : metadata)
        TG_CHECK(json::utf8_invalid_at(k) < 0 && json::utf8_invalid_at(v) < 0,
                 "safetensors: __metadata__ entry is not valid UTF-8");

    header = "{";
    if (!metadata.empty()) {
        header += "\"__metadata__\":{";
        for (size_t k = 0; k < metadata.size(); k++) {
            if (k) header += ',';
            json::write_string(header, metadata[k].first);
            header += ':';
            json::write_string(header, metadata[k].second);
        }
        header += '}';
    }
    uint64_t offset = 0;
    for (size_t k = 0; k < order.size(); k++) {
        const SafeTensorWrite& t = tensors[order[k]];
        if (k || !metadata.empty()) header += ',';
        json::write_string(header, t.name);
        header += str(":{\"dtype\":\"", safetensors_dtype_name(t.dtype), "\",\"shape\":[");
        for (size_t d = 0; d < t.shape.size(); d++) header += (d ? "," : "") + std::to_string(t.shape[d]);
        header += str("],\"data_offsets\":[", offset, ",", offset + t.nbytes, "]}");
        offset += t.nbytes;
    }
    header += '}';
    header.append((8 - header.size() % 8) % 8, ' ');  // data starts 8-byte aligned
    return order;
}

static std::string length_prefix(uint64_t n) {
    std::string s(8, '\0');
    for (int k = 0; k < 8; k++) s[size_t(k)] = char((n >> (8 * k)) & 0xff);
    return s;
}

std::string safetensors_serialize(const std::vector<SafeTensorWrite>& tensors,
                                  const std::vector<std::pair<std::string, std::string>>& metadata) {
    std::string header;
    auto order = build_header(tensors, metadata, header);
    std::string out = length_prefix(header.size()) + header;
    for (size_t i : order) out.append(static_cast<const char*>(tensors[i].data), tensors[i].nbytes);
    return out;
}

void save_safetensors(const std::string& path, const std::vector<SafeTensorWrite>& tensors,
                      const std::vector<std::pair<std::string, std::string>>& metadata) {
    std::string header;
    auto order = build_header(tensors, metadata, header);
    AtomicFile f(path);
    f.write(length_prefix(header.size()));
    f.write(header);
    for (size_t i : order) f.write(tensors[i].data, tensors[i].nbytes);
    f.commit();
}

}  // namespace tg
