// json.h — a small, strict JSON parser and writer (RFC 8259).
//
// Used for safetensors headers, HuggingFace config files, JSONL inputs and the CLI's JSON output.
// Strict: invalid UTF-8, lone surrogates, control characters in strings, trailing commas, leading
// zeros, NaN/Infinity, duplicate object keys and trailing garbage are all rejected with an error that
// gives the byte offset (and line) and what was expected. Nesting is limited (kMaxDepth) so hostile
// input cannot exhaust the stack. Objects keep their key order.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tg::json {

enum class Type { null, boolean, number, string, array, object };

// One object member, {key, value}; used like std::pair (m.first, m.second, auto& [k, v] = m). Not a
// std::pair because pair<string, Value> inside Value needs Value complete, which clang's library
// checks reject (the vector below may hold an incomplete type; a pair may not).
struct Member;

struct Value {
    Type type = Type::null;
    bool b = false;
    double num = 0;
    bool is_int = false;      // number was written without fraction/exponent and fits int64
    int64_t i = 0;            // exact value when is_int
    std::string s;
    std::vector<Value> arr;
    std::vector<Member> obj;  // in document order, keys unique

    bool is_null() const { return type == Type::null; }
    bool is_object() const { return type == Type::object; }
    bool is_array() const { return type == Type::array; }
    bool is_string() const { return type == Type::string; }
    bool is_number() const { return type == Type::number; }
    bool is_bool() const { return type == Type::boolean; }

    // Object lookup: nullptr when absent (or when this is not an object).
    const Value* find(std::string_view key) const;
    // Typed getters that throw tg::Error naming `what` on a type mismatch.
    const std::string& as_string(const char* what = "value") const;
    double as_number(const char* what = "value") const;
    int64_t as_int(const char* what = "value") const;
    bool as_bool(const char* what = "value") const;
    // Convenience: obj[key] if present and of the right type, else the default.
    std::string get_string(std::string_view key, const std::string& dflt) const;
    double get_number(std::string_view key, double dflt) const;
    int64_t get_int(std::string_view key, int64_t dflt) const;
    bool get_bool(std::string_view key, bool dflt) const;
};

struct Member {
    std::string first;
    Value second;
    Member() = default;
    Member(std::string key, Value value) : first(std::move(key)), second(std::move(value)) {}
};

constexpr int kMaxDepth = 256;

// Parse a whole document. `source` names the input in error messages (a file path, "header of X").
Value parse(std::string_view text, const std::string& source = "json");

// Serialize compactly (no spaces). Numbers: integers exactly, others with 9 significant digits
// (enough to round-trip float32); pass precision 17 for doubles.
std::string dump(const Value& v, int precision = 9);

// Append `s` as a JSON string literal (with quotes and escapes) to `out`.
void write_string(std::string& out, std::string_view s);

// Validate UTF-8 (no overlongs, no surrogates, <= U+10FFFF). Returns byte offset of the first bad
// byte, or -1 when valid.
int64_t utf8_invalid_at(std::string_view s);

}  // namespace tg::json
