// test_textio.cpp — CSV/TSV, line and JSONL readers: RFC 4180 quoting, CRLF, BOM, line numbers,
// error messages that name file:line and column, and the real CSV/JSONL files in ../shared (the
// expected counts there were computed with Python's csv/json modules).
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tensor/common.h"
#include "tensor/io.h"
#include "tensor/textio.h"
#include "test_check.h"
#include "test_util.h"

using namespace tg;
using Row = std::vector<std::string>;

static std::vector<Row> read_all(CsvReader& r, std::vector<int64_t>* lines = nullptr) {
    std::vector<Row> out;
    Row f;
    while (r.next(f)) {
        out.push_back(f);
        if (lines) lines->push_back(r.line());
    }
    return out;
}

using tg::test::check_error;

static std::string temp_path(const std::string& name) {
    return "/tmp/tg_test_textio_" + std::to_string(::getpid()) + "_" + name;
}

TEST_CASE("csv: header, columns and plain records") {
    auto r = CsvReader::from_string("id,text,label\n1,hello,0\n2,world,1\n", "t.csv");
    CHECK(r.header() == Row{"id", "text", "label"});
    CHECK(r.column("text") == 1);
    CHECK(r.column("nope") == -1);
    CHECK(r.require_column("label") == 2);
    check_error([&] { r.require_column("review"); }, {"t.csv", "no column 'review'", "columns: id, text, label"});
    std::vector<int64_t> lines;
    auto rows = read_all(r, &lines);
    CHECK(rows == std::vector<Row>{{"1", "hello", "0"}, {"2", "world", "1"}});
    CHECK(lines == std::vector<int64_t>{2, 3});
}

TEST_CASE("csv: RFC 4180 quoting, embedded separators/newlines, CRLF, BOM, empty fields") {
    std::string text =
        "\xEF\xBB\xBF"
        "a,b,c\r\n"
        "\"x,y\",\"say \"\"hi\"\"\",\"two\r\nlines\"\r\n"
        "\r\n"                     // empty line: skipped
        ",,\r\n"                   // three empty fields
        "\"\",plain \"quote\",\"\xEF\xBB\xBFkept\"\r\n"  // a BOM inside a field is data
        "last,no,newline";
    auto r = CsvReader::from_string(text, "q.csv");
    CHECK(r.header() == Row{"a", "b", "c"});  // BOM skipped at the start only
    std::vector<int64_t> lines;
    auto rows = read_all(r, &lines);
    REQUIRE(rows.size() == 4);
    CHECK(rows[0] == Row{"x,y", "say \"hi\"", "two\r\nlines"});
    CHECK(rows[1] == Row{"", "", ""});
    CHECK(rows[2] == Row{"", "plain \"quote\"", "\xEF\xBB\xBFkept"});
    CHECK(rows[3] == Row{"last", "no", "newline"});
    CHECK(lines == std::vector<int64_t>{2, 5, 6, 7});  // the quoted newline makes record 1 span 2 lines
}

TEST_CASE("csv: TSV, no header, ragged, quoting off") {
    CHECK(csv_separator_for("x/y.tsv") == '\t');
    CHECK(csv_separator_for("x/y.csv") == ',');
    CsvOptions o;
    o.sep = '\t';
    o.header = false;
    auto r = CsvReader::from_string("1\t\"a\tb\"\n2\tc\n", "t.tsv", o);
    CHECK(r.header().empty());
    CHECK(read_all(r) == std::vector<Row>{{"1", "a\tb"}, {"2", "c"}});
    check_error([&] { r.require_column("x"); }, {"t.tsv", "no column 'x'", "without a header"});

    o.ragged = true;
    o.quoting = false;
    auto g = CsvReader::from_string("1\t\"2\n3\n", "g.tsv", o);
    CHECK(read_all(g) == std::vector<Row>{{"1", "\"2"}, {"3"}});
}

TEST_CASE("csv: errors name file, line and column") {
    check_error([] { CsvReader::from_string("", "e.csv"); }, {"e.csv", "empty file"});
    check_error(
        [] {
            auto r = CsvReader::from_string("a,b\n1,2\n3,\"open\nstill open\n", "u.csv");
            Row f;
            while (r.next(f)) {
            }
        },
        {"u.csv:3:", "unterminated quoted field", "column 2"});
    check_error(
        [] {
            auto r = CsvReader::from_string("a,b\n\"x\"y,2\n", "c.csv");
            Row f;
            r.next(f);
        },
        {"c.csv:2:", "column 1", "after a closing quote"});
    check_error(
        [] {
            auto r = CsvReader::from_string("a,b\n1,2\n1,2,3\n", "n.csv");
            Row f;
            while (r.next(f)) {
            }
        },
        {"n.csv:3:", "3 fields, expected 2", "header", "must be quoted"});
    check_error(
        [] {
            CsvOptions o;
            o.header = false;
            auto r = CsvReader::from_string("1,2\n1\n", "m.csv", o);
            Row f;
            while (r.next(f)) {
            }
        },
        {"m.csv:2:", "1 fields, expected 2", "first record"});
    check_error(
        [] {
            auto r = CsvReader::from_string("a,text\n1,ok\n2,b\xC3(\n", "b.csv");
            Row f;
            while (r.next(f)) {
            }
        },
        {"b.csv:3, column 'text'", "invalid UTF-8 at byte 2"});
}

TEST_CASE("csv: typed fields") {
    auto r = CsvReader::from_string("user,score\n 42 ,2.5\nx,1e400\n-9223372036854775808,-0.25\n", "n.csv");
    Row f;
    REQUIRE(r.next(f));
    CHECK(r.field_int(f, 0) == 42);
    CHECK(r.field_double(f, 1) == 2.5);
    check_error([&] { r.field_int(f, 2); }, {"n.csv:2, column 3", "no such field"});
    REQUIRE(r.next(f));
    check_error([&] { r.field_int(f, 0); }, {"n.csv:3, column 'user'", "expected an integer", "\"x\""});
    check_error([&] { r.field_double(f, 1); }, {"n.csv:3, column 'score'", "finite number"});
    REQUIRE(r.next(f));
    CHECK(r.field_int(f, 0) == INT64_MIN);
    CHECK(r.field_double(f, 1) == -0.25);
}

TEST_CASE("csv: file input across buffer boundaries") {
    // > 1 MiB so records (and a quoted field with "" and a newline) straddle the 1 MiB read buffer.
    std::string path = temp_path("big.csv");
    std::vector<Row> expect;
    std::string text = "k,v\n";
    for (int i = 0; i < 40000; i++) {
        std::string v = "val \"" + std::to_string(i) + "\",\n" + std::string(size_t(i % 17), 'z');
        expect.push_back({std::to_string(i), v});
        text += std::to_string(i) + ",\"";
        for (char c : v) text += c == '"' ? std::string("\"\"") : std::string(1, c);
        text += "\"\r\n";
    }
    REQUIRE(text.size() > (size_t(1) << 20));
    write_file_atomic(path, text);
    CsvReader r(path);
    std::vector<int64_t> lines;
    auto rows = read_all(r, &lines);
    std::remove(path.c_str());
    CHECK(rows == expect);
    CHECK(lines.back() == 2 + 2 * 39999);
    check_error([] { CsvReader r("/nonexistent/dir/x.csv"); }, {"/nonexistent/dir/x.csv", "cannot open"});
}

TEST_CASE("lines and jsonl: CRLF, BOM, blank lines, errors with file:line") {
    LineReader lr("\xEF\xBB\xBFone\r\n\ntwo\nthree", "l.txt");
    std::string s;
    std::vector<std::string> got;
    std::vector<int64_t> lines;
    while (lr.next(s)) {
        got.push_back(s);
        lines.push_back(lr.line());
    }
    CHECK(got == std::vector<std::string>{"one", "", "two", "three"});
    CHECK(lines == std::vector<int64_t>{1, 2, 3, 4});
    LineReader bad("ok\nbad \xFF\n", "b.txt");
    REQUIRE(bad.next(s));
    check_error([&] { bad.next(s); }, {"b.txt:2:", "invalid UTF-8 at byte 5"});

    JsonlReader jr("{\"a\":1}\r\n\n  \n\"x\"\n[1,\n", "d.jsonl");
    json::Value v;
    REQUIRE(jr.next(v));
    CHECK(v.find("a")->as_int() == 1);
    CHECK(jr.line() == 1);
    REQUIRE(jr.next(v));
    CHECK(v.as_string() == "x");
    CHECK(jr.line() == 4);
    check_error([&] { jr.next(v); }, {"d.jsonl:5:", "invalid JSON"});
}

TEST_CASE("csv/jsonl: real files in ../shared") {
    std::string zh = test::shared_dir() + "/data/chinese-online-shopping-10cats/online_shopping_10_cats.csv";
    std::string tb = test::shared_dir() + "/data/taobao-userbehavior-prefix/UserBehavior_prefix.csv";
    std::string beauty = test::shared_dir() + "/data/amazon2018-all-beauty-5core/All_Beauty_5.json";
    if (!file_exists(zh) || !file_exists(tb) || !file_exists(beauty)) {
        MESSAGE("../shared data not found; skipping");
        return;
    }
    // Python: rows = list(csv.reader(open(zh, encoding="utf-8", newline=""))) -> 62774 records,
    // labels sum to 31728, reviews total 10620488 UTF-8 bytes.
    CsvReader r(zh);
    int text = r.require_column("review"), label = r.require_column("label");
    Row f;
    int64_t n = 0, labels = 0, bytes = 0;
    while (r.next(f)) {
        n++;
        labels += r.field_int(f, label);
        bytes += int64_t(f[size_t(text)].size());
    }
    CHECK(n == 62774);
    CHECK(labels == 31728);
    CHECK(bytes == 10620488);

    CsvReader t(tb, ',', false);  // user,item,category,behavior,timestamp; 84475 lines, no header
    n = 0;
    while (t.next(f)) n++;
    CHECK(n == 84475);
    CHECK(t.line() == 84475);

    JsonlReader j(beauty);  // 5269 reviews
    json::Value v;
    n = 0;
    while (j.next(v)) n += v.find("overall") != nullptr;
    CHECK(n == 5269);
}
