// test_json.cpp — the strict JSON parser accepts valid documents and rejects invalid ones.
#include <doctest/doctest.h>

#include <cmath>

#include "tensor/common.h"
#include "tensor/json.h"

using namespace tg;

TEST_CASE("json: parses values, escapes and surrogate pairs") {
    auto v = json::parse(R"({"a":1,"b":[true,false,null],"c":"x\u00e9\ud83d\ude00\n","d":-1.5e2,"e":{}})");
    REQUIRE(v.is_object());
    CHECK(v.find("a")->as_int() == 1);
    CHECK(v.find("b")->arr.size() == 3);
    CHECK(v.find("c")->s == "x\xc3\xa9\xf0\x9f\x98\x80\n");
    CHECK(v.find("d")->as_number() == -150.0);
    CHECK(v.find("e")->obj.empty());
    CHECK(json::dump(json::parse(R"([1,"a\"b",{"k":2.5}])")) == R"([1,"a\"b",{"k":2.5}])");
}

TEST_CASE("json: rejects malformed input with a position") {
    const char* bad[] = {"",        "{",          "[1,]",          "{\"a\":1,}", "01",          "1.",
                         "\"\x01\"", "\"\\ud800\"", "{\"a\":1,\"a\":2}", "nul",   "[1] x",       "\"\xff\"",
                         "NaN",     "1e",         "\"\\x\"",       "{1:2}"};
    for (const char* s : bad) CHECK_THROWS_AS(json::parse(s, "t"), tg::Error);
    std::string deep(1000, '[');
    CHECK_THROWS_AS(json::parse(deep), tg::Error);
    try {
        json::parse("{\n\"a\": tru }", "cfg.json");
    } catch (const tg::Error& e) {
        CHECK(std::string(e.what()).find("cfg.json") != std::string::npos);
        CHECK(std::string(e.what()).find("line 2") != std::string::npos);
    }
}

// Found by tools/fuzz/fuzz_json (dump/parse round trip): -0.0 dumped as "-0", which parsed back as
// the integer 0 (sign lost, number type changed).
TEST_CASE("json: dump keeps non-integer numbers non-integer (fuzz finding)") {
    auto v = json::parse("[0,-0E0,7890E-400990,100.0,1e2,-3,2.5]");
    CHECK(json::dump(v, 17) == "[0,-0.0,0.0,100.0,100.0,-3,2.5]");
    auto w = json::parse(json::dump(v, 17));
    CHECK_FALSE(w.arr[1].is_int);
    CHECK(std::signbit(w.arr[1].num));
    CHECK(json::dump(w, 17) == json::dump(v, 17));
}

TEST_CASE("json: single-line documents (JSONL lines) get the byte offset without a line number") {
    CHECK_THROWS_WITH_AS(json::parse("[1,]", "d.jsonl:7"),
                         doctest::Contains("d.jsonl:7: invalid JSON at byte 3: unexpected character ']'"), tg::Error);
}
