// test_split.cpp — the committed train/valid/test split of the Chinese shopping reviews is sound.
//
// tests/fixtures/shopping_split/{train,valid,test,excluded}.idx hold 0-based data-row indices into
// ../shared/data/chinese-online-shopping-10cats/online_shopping_10_cats.csv (written by
// tools/ref/make_split.py; the text itself may not be committed). Checked here, independently of that script:
//   - the index files are disjoint and together with excluded.idx cover every row exactly once; the
//     train/valid/test files are in shuffled order (so their first N lines are a random sample, which is
//     what --limit N takes): checked by requiring both categories and both labels in the first 200 lines;
//   - (with the CSV) the excluded rows are exactly the empty reviews, each (cat, label) stratum is split
//     80/10/10 within a tolerance, and identical review texts never straddle two splits (no test leakage).
// The CSV part skips with a MESSAGE when ../shared is absent.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "tensor/json.h"
#include "test_util.h"

namespace {

const std::string kSplits[] = {"train", "valid", "test", "excluded"};

std::vector<int64_t> read_idx(const std::string& path) {
    std::ifstream f(path);
    REQUIRE_MESSAGE(f.good(), "cannot open " << path);
    std::vector<int64_t> v;
    std::string line;
    int64_t bad = 0;
    while (std::getline(f, line)) {
        if (line.empty() || line.find_first_not_of("0123456789") != std::string::npos) { bad++; continue; }
        v.push_back(std::stoll(line));
    }
    CHECK_MESSAGE(bad == 0, path << ": " << bad << " lines are not a plain index");
    return v;
}

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// Minimal RFC 4180 reader (quoted fields with "" and embedded separators/newlines; LF or CRLF), written
// here on purpose so this check does not share code with the engine's CSV reader.
std::vector<std::vector<std::string>> parse_csv(const std::string& s) {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> row;
    std::string field;
    size_t i = 0;
    bool any = false;   // current record has started
    while (i < s.size()) {
        char c = s[i];
        if (c == '"' && field.empty()) {                       // quoted field
            ++i;
            while (i < s.size()) {
                if (s[i] == '"') {
                    if (i + 1 < s.size() && s[i + 1] == '"') { field += '"'; i += 2; continue; }
                    ++i;
                    break;
                }
                field += s[i++];
            }
            any = true;
        } else if (c == ',') {
            row.push_back(std::move(field)); field.clear(); ++i; any = true;
        } else if (c == '\n' || c == '\r') {
            if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
            ++i;
            if (any || !field.empty()) { row.push_back(std::move(field)); rows.push_back(std::move(row)); }
            field.clear(); row.clear(); any = false;
        } else {
            field += c; ++i; any = true;
        }
    }
    if (any || !field.empty()) { row.push_back(std::move(field)); rows.push_back(std::move(row)); }
    return rows;
}

bool blank_review(const std::string& r) {   // empty after dropping U+FEFF (EF BB BF) and ASCII white space
    for (size_t i = 0; i < r.size(); ++i) {
        if (r.compare(i, 3, "\xEF\xBB\xBF") == 0) { i += 2; continue; }
        if (r[i] != ' ' && r[i] != '\t' && r[i] != '\n' && r[i] != '\r') return false;
    }
    return true;
}

}  // namespace

TEST_CASE("split: shopping index files are disjoint and complete") {
    const std::string dir = tg::test::fixture("shopping_split/");
    auto meta = tg::json::parse(read_file(dir + "split.json"), "split.json");
    const int64_t rows = meta.find("rows")->as_int();
    CHECK(rows == 62774);
    std::vector<int> owner(size_t(rows), -1);
    for (int s = 0; s < 4; ++s) {
        auto idx = read_idx(dir + kSplits[s] + ".idx");
        if (s < 3) CHECK(int64_t(idx.size()) == meta.find("counts")->find(kSplits[s])->as_int());
        int64_t out_of_range = 0, unordered = 0, twice = 0;
        for (size_t k = 0; k < idx.size(); ++k) {
            if (idx[k] < 0 || idx[k] >= rows) { out_of_range++; continue; }
            if (s == 3 && k && idx[k] <= idx[k - 1]) unordered++;   // excluded.idx is ascending
            if (owner[size_t(idx[k])] != -1) {
                if (twice++ == 0)
                    MESSAGE("row " << idx[k] << " in " << kSplits[s] << " and " << kSplits[owner[size_t(idx[k])]]);
            }
            owner[size_t(idx[k])] = s;
        }
        INFO(kSplits[s] << ".idx");
        CHECK(out_of_range == 0);
        CHECK(unordered == 0);
        CHECK(twice == 0);
    }
    int64_t missing = 0;
    for (int o : owner) missing += (o == -1);
    CHECK(missing == 0);
}

TEST_CASE("split: shopping split is stratified by category x label and leak-free (needs ../shared)") {
    const std::string csv = tg::test::shared_dir() +
                            "/data/chinese-online-shopping-10cats/online_shopping_10_cats.csv";
    if (!std::ifstream(csv).good()) {
        MESSAGE("skipped: " << csv << " not found");
        return;
    }
    auto table = parse_csv(read_file(csv));
    REQUIRE(table.size() == 62775);
    REQUIRE(table[0] == std::vector<std::string>{"cat", "label", "review"});
    const size_t n = table.size() - 1;
    const std::string dir = tg::test::fixture("shopping_split/");
    std::vector<int> owner(n, -1);
    for (int s = 0; s < 4; ++s)
        for (int64_t i : read_idx(dir + kSplits[s] + ".idx"))
            if (i >= 0 && size_t(i) < n) owner[size_t(i)] = s;   // out-of-range: first test case

    std::map<std::string, std::array<int64_t, 3>> strata;   // "cat/label" -> rows per split
    std::unordered_map<std::string, int> split_of_text;
    int64_t leaks = 0, ncat = 0, wrong_exclusion = 0, bad_rows = 0;
    for (size_t i = 0; i < n; ++i) {
        const auto& r = table[i + 1];
        if (r.size() != 3) { bad_rows++; continue; }
        // Exactly the blank reviews are excluded.
        if (owner[i] < 0) { bad_rows++; continue; }   // not in any file (the first test case names it)
        if ((owner[i] == 3) != blank_review(r[2]) && wrong_exclusion++ == 0)
            MESSAGE("row " << i << (owner[i] == 3 ? " excluded but not blank" : " blank but not excluded"));
        if (owner[i] == 3) continue;
        strata[r[0] + "/" + r[1]][size_t(owner[i])]++;
        auto [it, fresh] = split_of_text.emplace(r[2], owner[i]);
        if (!fresh && it->second != owner[i]) leaks++;
    }
    CHECK(bad_rows == 0);
    CHECK(wrong_exclusion == 0);
    CHECK(leaks == 0);
    CHECK(strata.size() == 20);   // 10 categories x 2 labels
    for (const auto& [key, c] : strata) {
        const double total = double(c[0] + c[1] + c[2]);
        ncat++;
        // Rounding per stratum plus whole duplicate groups moving together: allow 1% of the stratum or 2 rows.
        const double tol = std::max(2.0, 0.01 * total);
        INFO("stratum " << key << ": " << c[0] << "/" << c[1] << "/" << c[2]);
        CHECK(std::abs(double(c[1]) - 0.1 * total) <= tol);
        CHECK(std::abs(double(c[2]) - 0.1 * total) <= tol);
        CHECK(std::abs(double(c[0]) - 0.8 * total) <= 2 * tol);
        CHECK(c[1] > 0);
        CHECK(c[2] > 0);
    }
    CHECK(ncat == 20);

    // Shuffled file order: the first 200 lines of each split already mix categories and labels.
    for (int s = 0; s < 3; ++s) {
        auto idx = read_idx(dir + kSplits[s] + ".idx");
        std::map<std::string, int> cats, labels;
        for (size_t k = 0; k < std::min<size_t>(200, idx.size()); ++k) {
            if (idx[k] < 0 || size_t(idx[k]) >= n) continue;   // reported by the first test case
            cats[table[size_t(idx[k]) + 1][0]]++;
            labels[table[size_t(idx[k]) + 1][1]]++;
        }
        INFO(kSplits[s] << ".idx, first 200 lines");
        CHECK(cats.size() >= 8);
        CHECK(labels.size() == 2);
    }
}
