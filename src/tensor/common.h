// common.h — error type, check macros and small helpers shared by the whole engine.
//
// The library never calls exit(): every failure throws tg::Error with a message that
// names what was wrong (file, line, field, shape ...). The CLI catches it, prints it and
// exits non-zero, so a host application embedding the library can recover instead.
#pragma once
#include <cstdint>
#include <cstddef>
#include <sstream>
#include <stdexcept>
#include <string>

namespace tg {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Build a message from any streamable pieces: tg::str("bad shape ", n, "x", m).
template <typename... Args>
std::string str(const Args&... args) {
    std::ostringstream os;
    (os << ... << args);
    return os.str();
}

[[noreturn]] inline void fail_at(const char* file, int line, const std::string& msg) {
    throw Error(str(msg, "  [", file, ":", line, "]"));
}

}  // namespace tg

// TG_CHECK(cond, pieces...): throw tg::Error naming the failed condition and the caller's message.
#define TG_CHECK(cond, ...)                                                                 \
    do {                                                                                    \
        if (!(cond)) ::tg::fail_at(__FILE__, __LINE__, ::tg::str(__VA_ARGS__));            \
    } while (0)

// TG_FAIL(pieces...): unconditional error.
#define TG_FAIL(...) ::tg::fail_at(__FILE__, __LINE__, ::tg::str(__VA_ARGS__))
