// textio.h — streaming readers for the text inputs: plain lines, CSV/TSV (RFC 4180) and JSONL.
//
// Every reader streams through a 1 MiB buffer (files of any size, or "-" for stdin), skips a UTF-8
// byte-order mark at the very start of the input, accepts LF and CRLF line ends, checks that the text
// is valid UTF-8, and throws tg::Error with "path:LINE: what" (plus the column for CSV) on bad input.
// Line numbers are physical lines, 1-based, so an editor jumps to the right place.
//
//   tg::CsvReader csv("reviews.csv");                 // header row read at construction
//   int text = csv.require_column("review");          // throws listing the columns there are
//   std::vector<std::string> f;
//   while (csv.next(f)) use(f[text]);                  // csv.line() = line where this record began
//
//   tg::JsonlReader in("reviews.jsonl");
//   tg::json::Value v;
//   while (in.next(v)) ... v.find("reviewText") ...    // blank lines are skipped
//
// CSV dialect (what Python's csv module and pandas write): fields separated by `sep`; a field that
// starts with '"' is quoted and may contain the separator, CR/LF and "" (one literal quote); after the
// closing quote only a separator or line end may follow. A '"' inside an unquoted field is taken
// literally (as Python does). Empty lines are skipped. Each record must have as many fields as the
// header (or, without a header, as the first record) unless `ragged` is set.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/json.h"

namespace tg {

// Buffered byte input from a file, stdin ("-") or a string; tracks the physical line number.
class TextInput {
   public:
    explicit TextInput(const std::string& path);                 // "-" reads stdin
    TextInput(std::string text, std::string name);               // in-memory input (tests, fuzzing)
    ~TextInput();
    TextInput(TextInput&& o) noexcept;
    TextInput& operator=(TextInput&&) = delete;
    TextInput(const TextInput&) = delete;
    // Next byte, or -1 at end of input.
    int get() {
        if (pos_ == len_ && !refill()) return -1;
        int c = (unsigned char)buf_[pos_++];
        if (c == '\n') line_++;
        return c;
    }
    int peek() {
        if (pos_ == len_ && !refill()) return -1;
        return (unsigned char)buf_[pos_];
    }
    // Read one physical line (without "\n" or "\r\n") into `out`; false at end of input.
    bool read_line(std::string& out);
    int64_t line() const { return line_; }           // line of the next byte to be read
    const std::string& path() const { return path_; }

   private:
    bool refill();
    std::string path_;
    int fd_ = -1;            // -1: in-memory input
    bool own_fd_ = false;    // false for stdin
    std::string buf_;
    size_t pos_ = 0, len_ = 0;
    int64_t line_ = 1;
    bool started_ = false;   // first read done (byte-order mark handled)
};

// One text per line (.txt inputs). CRLF is stripped; empty lines are returned (callers decide).
class LineReader {
   public:
    explicit LineReader(const std::string& path) : in_(path) {}
    LineReader(std::string text, std::string name) : in_(std::move(text), std::move(name)) {}
    bool next(std::string& line);                // false at end of input; throws on invalid UTF-8
    int64_t line() const { return line_; }       // line number of the line last returned
    const std::string& path() const { return in_.path(); }

   private:
    TextInput in_;
    int64_t line_ = 0;
};

// JSON Lines: one JSON document per line; whitespace-only lines are skipped.
class JsonlReader {
   public:
    explicit JsonlReader(const std::string& path) : lines_(path) {}
    JsonlReader(std::string text, std::string name) : lines_(std::move(text), std::move(name)) {}
    bool next(json::Value& v);                   // throws "path:LINE: invalid JSON at byte ..."
    int64_t line() const { return lines_.line(); }
    const std::string& path() const { return lines_.path(); }

   private:
    LineReader lines_;
    std::string buf_;
};

struct CsvOptions {
    char sep = ',';
    bool header = true;   // first record names the columns
    bool quoting = true;  // '"' starts a quoted field (false: quotes are ordinary characters)
    bool ragged = false;  // allow records with differing field counts
};

// ',' for anything but *.tsv / *.tab, which get '\t'.
char csv_separator_for(std::string_view path);

class CsvReader {
   public:
    explicit CsvReader(const std::string& path, char sep = ',', bool has_header = true);
    CsvReader(const std::string& path, const CsvOptions& opt);
    static CsvReader from_string(std::string text, std::string name, const CsvOptions& opt = {});

    const std::vector<std::string>& header() const { return header_; }
    int column(std::string_view name) const;           // -1 if absent
    int require_column(std::string_view name) const;   // throws "path: no column 'x' (columns: a, b)"
    // Next record into `fields`; false at end of input.
    bool next(std::vector<std::string>& fields);
    int64_t line() const { return record_line_; }       // line where the last record began
    const std::string& path() const { return in_.path(); }

    // "path:LINE, column 'name'" (or "column 3" without a header) for error messages.
    std::string where(int col) const;
    // Typed field access with errors naming file, line and column.
    int64_t field_int(const std::vector<std::string>& fields, int col) const;
    double field_double(const std::vector<std::string>& fields, int col) const;

   private:
    CsvReader(TextInput in, const CsvOptions& opt);
    bool read_record(std::vector<std::string>& fields);
    TextInput in_;
    CsvOptions opt_;
    std::vector<std::string> header_;
    int64_t record_line_ = 0;
    int64_t nfields_ = -1;  // expected field count (-1: not known yet)
};

}  // namespace tg
