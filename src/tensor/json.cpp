// json.cpp — recursive-descent JSON parser with depth limit; see json.h.
#include "tensor/json.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>

#include "tensor/common.h"

namespace tg::json {

int64_t utf8_invalid_at(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    size_t n = s.size(), i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c < 0x80) { i++; continue; }
        int len;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
        else return int64_t(i);
        if (i + len > n) return int64_t(i);
        for (int k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return int64_t(i);
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return int64_t(i);
        i += len;
    }
    return -1;
}

namespace {

struct Parser {
    std::string_view t;
    const std::string& src;
    size_t pos = 0;

    [[noreturn]] void error(const std::string& what) const {
        // The line only helps in a multi-line document (a JSONL line, a one-line header: byte is enough).
        size_t line = 1;
        for (size_t k = 0; k < pos && k < t.size(); k++) line += t[k] == '\n';
        std::string at = t.find('\n') == std::string_view::npos ? std::string() : str(" (line ", line, ")");
        throw Error(str(src, ": invalid JSON at byte ", pos, at, ": ", what));
    }
    void ws() {
        while (pos < t.size() && (t[pos] == ' ' || t[pos] == '\t' || t[pos] == '\n' || t[pos] == '\r')) pos++;
    }
    bool eat(char c) {
        if (pos < t.size() && t[pos] == c) { pos++; return true; }
        return false;
    }
    void expect_word(const char* w) {
        size_t n = std::strlen(w);
        if (t.substr(pos, n) != w) error(str("expected '", w, "'"));
        pos += n;
    }

    Value value(int depth) {
        if (depth > kMaxDepth) error("nesting deeper than " + std::to_string(kMaxDepth));
        ws();
        if (pos >= t.size()) error("unexpected end of input");
        Value v;
        char c = t[pos];
        if (c == '{') {
            v.type = Type::object;
            pos++;
            ws();
            if (eat('}')) return v;
            std::set<std::string> seen;
            for (;;) {
                ws();
                if (pos >= t.size() || t[pos] != '"') error("expected a string key");
                std::string key = string();
                if (!seen.insert(key).second) error("duplicate key \"" + key + "\"");
                ws();
                if (!eat(':')) error("expected ':'");
                Value item = value(depth + 1);
                v.obj.emplace_back(std::move(key), std::move(item));
                ws();
                if (eat(',')) continue;
                if (eat('}')) break;
                error("expected ',' or '}'");
            }
        } else if (c == '[') {
            v.type = Type::array;
            pos++;
            ws();
            if (eat(']')) return v;
            for (;;) {
                v.arr.push_back(value(depth + 1));
                ws();
                if (eat(',')) continue;
                if (eat(']')) break;
                error("expected ',' or ']'");
            }
        } else if (c == '"') {
            v.type = Type::string;
            v.s = string();
        } else if (c == 't') {
            expect_word("true");
            v.type = Type::boolean;
            v.b = true;
        } else if (c == 'f') {
            expect_word("false");
            v.type = Type::boolean;
        } else if (c == 'n') {
            expect_word("null");
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            number(v);
        } else {
            error(str("unexpected character '", c, "'"));
        }
        return v;
    }

    void number(Value& v) {
        size_t start = pos;
        bool integral = true;
        eat('-');
        if (pos >= t.size()) error("truncated number");
        if (t[pos] == '0') {
            pos++;
        } else if (t[pos] >= '1' && t[pos] <= '9') {
            while (pos < t.size() && std::isdigit((unsigned char)t[pos])) pos++;
        } else {
            error("invalid number");
        }
        if (pos < t.size() && t[pos] == '.') {
            integral = false;
            pos++;
            if (pos >= t.size() || !std::isdigit((unsigned char)t[pos])) error("digit expected after '.'");
            while (pos < t.size() && std::isdigit((unsigned char)t[pos])) pos++;
        }
        if (pos < t.size() && (t[pos] == 'e' || t[pos] == 'E')) {
            integral = false;
            pos++;
            if (pos < t.size() && (t[pos] == '+' || t[pos] == '-')) pos++;
            if (pos >= t.size() || !std::isdigit((unsigned char)t[pos])) error("digit expected in exponent");
            while (pos < t.size() && std::isdigit((unsigned char)t[pos])) pos++;
        }
        std::string tok(t.substr(start, pos - start));
        v.type = Type::number;
        v.num = std::strtod(tok.c_str(), nullptr);
        if (!std::isfinite(v.num)) error("number out of range");
        if (integral) {
            errno = 0;
            char* end = nullptr;
            long long x = std::strtoll(tok.c_str(), &end, 10);
            if (errno == 0 && end && *end == 0) {
                v.is_int = true;
                v.i = x;
            }
        }
    }

    unsigned hex4() {
        if (pos + 4 > t.size()) error("truncated \\u escape");
        unsigned x = 0;
        for (int k = 0; k < 4; k++) {
            char c = t[pos++];
            x <<= 4;
            if (c >= '0' && c <= '9') x |= unsigned(c - '0');
            else if (c >= 'a' && c <= 'f') x |= unsigned(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') x |= unsigned(c - 'A' + 10);
            else error("bad hex digit in \\u escape");
        }
        return x;
    }

    static void put_utf8(std::string& out, uint32_t cp) {
        if (cp < 0x80) out += char(cp);
        else if (cp < 0x800) { out += char(0xC0 | (cp >> 6)); out += char(0x80 | (cp & 0x3F)); }
        else if (cp < 0x10000) {
            out += char(0xE0 | (cp >> 12)); out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F));
        } else {
            out += char(0xF0 | (cp >> 18)); out += char(0x80 | ((cp >> 12) & 0x3F));
            out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F));
        }
    }

    std::string string() {
        pos++;  // opening quote
        std::string out;
        size_t run = pos;
        for (;;) {
            if (pos >= t.size()) error("unterminated string");
            unsigned char c = (unsigned char)t[pos];
            if (c == '"') {
                out.append(t.substr(run, pos - run));
                pos++;
                break;
            }
            if (c < 0x20) error("control character in string");
            if (c == '\\') {
                out.append(t.substr(run, pos - run));
                pos++;
                if (pos >= t.size()) error("truncated escape");
                char e = t[pos++];
                switch (e) {
                    case '"': out += '"'; break;
                    case '\\': out += '\\'; break;
                    case '/': out += '/'; break;
                    case 'b': out += '\b'; break;
                    case 'f': out += '\f'; break;
                    case 'n': out += '\n'; break;
                    case 'r': out += '\r'; break;
                    case 't': out += '\t'; break;
                    case 'u': {
                        uint32_t cp = hex4();
                        if (cp >= 0xD800 && cp <= 0xDBFF) {
                            if (pos + 2 > t.size() || t[pos] != '\\' || t[pos + 1] != 'u') error("lone high surrogate");
                            pos += 2;
                            uint32_t lo = hex4();
                            if (lo < 0xDC00 || lo > 0xDFFF) error("bad low surrogate");
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                            error("lone low surrogate");
                        }
                        put_utf8(out, cp);
                        break;
                    }
                    default: error(str("bad escape '\\", e, "'"));
                }
                run = pos;
                continue;
            }
            pos++;
        }
        return out;
    }
};

}  // namespace

Value parse(std::string_view text, const std::string& source) {
    int64_t bad = utf8_invalid_at(text);
    if (bad >= 0) throw Error(str(source, ": invalid UTF-8 at byte ", bad));
    Parser p{text, source};
    Value v = p.value(0);
    p.ws();
    if (p.pos != text.size()) p.error("trailing characters after the document");
    return v;
}

const Value* Value::find(std::string_view key) const {
    if (type != Type::object) return nullptr;
    for (auto& kv : obj)
        if (kv.first == key) return &kv.second;
    return nullptr;
}
const std::string& Value::as_string(const char* what) const {
    if (type != Type::string) throw Error(str(what, ": expected a string"));
    return s;
}
double Value::as_number(const char* what) const {
    if (type != Type::number) throw Error(str(what, ": expected a number"));
    return num;
}
int64_t Value::as_int(const char* what) const {
    if (type != Type::number || !is_int) throw Error(str(what, ": expected an integer"));
    return i;
}
bool Value::as_bool(const char* what) const {
    if (type != Type::boolean) throw Error(str(what, ": expected true or false"));
    return b;
}
std::string Value::get_string(std::string_view key, const std::string& d) const {
    const Value* v = find(key);
    return v && v->is_string() ? v->s : d;
}
double Value::get_number(std::string_view key, double d) const {
    const Value* v = find(key);
    return v && v->is_number() ? v->num : d;
}
int64_t Value::get_int(std::string_view key, int64_t d) const {
    const Value* v = find(key);
    return v && v->is_number() && v->is_int ? v->i : d;
}
bool Value::get_bool(std::string_view key, bool d) const {
    const Value* v = find(key);
    return v && v->is_bool() ? v->b : d;
}

void write_string(std::string& out, std::string_view s) {
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += char(c);
                }
        }
    }
    out += '"';
}

static void dump_into(std::string& out, const Value& v, int prec) {
    switch (v.type) {
        case Type::null: out += "null"; break;
        case Type::boolean: out += v.b ? "true" : "false"; break;
        case Type::number: {
            char buf[64];
            if (v.is_int) std::snprintf(buf, sizeof buf, "%lld", (long long)v.i);
            else std::snprintf(buf, sizeof buf, "%.*g", prec, v.num);
            out += buf;
            // A non-integer number that %g printed without '.' or exponent ("-0", "100") would parse
            // back as an integer (losing -0.0's sign): keep it a decimal.
            if (!v.is_int && !std::strpbrk(buf, ".e")) out += ".0";
            break;
        }
        case Type::string: write_string(out, v.s); break;
        case Type::array:
            out += '[';
            for (size_t k = 0; k < v.arr.size(); k++) {
                if (k) out += ',';
                dump_into(out, v.arr[k], prec);
            }
            out += ']';
            break;
        case Type::object:
            out += '{';
            for (size_t k = 0; k < v.obj.size(); k++) {
                if (k) out += ',';
                write_string(out, v.obj[k].first);
                out += ':';
                dump_into(out, v.obj[k].second, prec);
            }
            out += '}';
            break;
    }
}

std::string dump(const Value& v, int precision) {
    std::string out;
    dump_into(out, v, precision);
    return out;
}

}  // namespace tg::json
