// dataset.cpp — see dataset.h. The LightGCN reader is a hand-written tokenizer over a memory map
// (Gowalla's 4.6 MB train.txt parses in a few milliseconds); it is not a CSV parser — the CSV/TSV/JSONL
// logs go through src/tensor/textio.h in ingest.cpp.
#include "graph/dataset.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include "graph/graph_io.h"
#include "tensor/common.h"
#include "tensor/io.h"

namespace tg::graph {

int32_t IdMap::get_or_add(const std::string& name) {
    auto it = index.find(name);
    if (it != index.end()) return it->second;
    TG_CHECK(names.size() < size_t(INT32_MAX), "IdMap: more than 2^31-1 ids");
    int32_t id = int32_t(names.size());
    names.push_back(name);
    index.emplace(name, id);
    return id;
}

int32_t IdMap::find(const std::string& name) const {
    auto it = index.find(name);
    return it == index.end() ? -1 : it->second;
}

IdMap IdMap::identity(int32_t n) {
    IdMap m;
    m.names.reserve(size_t(n));
    m.index.reserve(size_t(n));
    for (int32_t i = 0; i < n; i++) {
        m.names.push_back(std::to_string(i));
        m.index.emplace(m.names.back(), i);
    }
    return m;
}

int64_t Dataset::n_test() const {
    int64_t n = 0;
    for (auto& t : test) n += int64_t(t.size());
    return n;
}

// ---- LightGCN text format -------------------------------------------------------------------
//
// Each non-blank line: "user item item ..." separated by spaces or tabs (CRLF tolerated). A line
// with only a user is allowed (a user with nothing held out). Ids are non-negative decimal integers.

std::vector<std::vector<int32_t>> parse_lightgcn_lists(const char* text, size_t len, const std::string& name,
                                                       int32_t* max_user, int32_t* max_item) {
    std::vector<std::vector<int32_t>> lists;
    const char* p = text;
    const char* end = text + len;
    int64_t line = 0;
    while (p < end) {
        line++;
        const char* eol = static_cast<const char*>(std::memchr(p, '\n', size_t(end - p)));
        if (!eol) eol = end;
        int64_t user = -1;
        int ntok = 0;
        const char* q = p;
        while (q < eol) {
            while (q < eol && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
            if (q == eol) break;
            const char* tok = q;
            int64_t v = 0;
            while (q < eol && *q >= '0' && *q <= '9') {
                v = v * 10 + (*q - '0');
                if (v > INT32_MAX) break;
                q++;
            }
            bool sep_next = q == eol || *q == ' ' || *q == '\t' || *q == '\r';
            if (q == tok || !sep_next || v > INT32_MAX) {
                const char* te = tok;
                while (te < eol && *te != ' ' && *te != '\t' && *te != '\r') te++;
                TG_FAIL(name, ":", line, ": ", ntok == 0 ? "user id" : "item id", " #", ntok, " is '",
                        std::string(tok, size_t(std::min<ptrdiff_t>(te - tok, 40))),
                        "', expected a non-negative integer below 2^31");
            }
            if (ntok == 0) {
                user = v;
                if (size_t(user) >= lists.size()) lists.resize(size_t(user) + 1);
                if (int32_t(user) > *max_user) *max_user = int32_t(user);
            } else {
                lists[size_t(user)].push_back(int32_t(v));
                if (int32_t(v) > *max_item) *max_item = int32_t(v);
            }
            ntok++;
        }
        p = eol + 1;
    }
    for (auto& l : lists) {
        std::sort(l.begin(), l.end());
        l.erase(std::unique(l.begin(), l.end()), l.end());
    }
    return lists;
}

std::vector<std::vector<int32_t>> read_lightgcn_file(const std::string& path, int32_t* max_user,
                                                     int32_t* max_item) {
    MappedFile f(path);
    return parse_lightgcn_lists(reinterpret_cast<const char*>(f.data()), f.size(), path, max_user, max_item);
}

static bool is_dir(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Dataset load_lightgcn_dir(const std::string& dir) {
    std::string train_path = dir + "/train.txt", test_path = dir + "/test.txt";
    TG_CHECK(file_exists(train_path), dir, ": not a LightGCN data directory (no train.txt)");
    int32_t max_user = -1, max_item = -1;
    auto train_lists = read_lightgcn_file(train_path, &max_user, &max_item);
    std::vector<std::vector<int32_t>> test_lists;
    if (file_exists(test_path)) test_lists = read_lightgcn_file(test_path, &max_user, &max_item);

    Dataset ds;
    ds.source = dir;
    ds.n_users = max_user + 1;
    ds.n_items = max_item + 1;
    train_lists.resize(size_t(ds.n_users));
    test_lists.resize(size_t(ds.n_users));

    // Per-user sorted lists are already CSR rows: prefix-sum the lengths, then copy.
    Csr& R = ds.train;
    R.rows = ds.n_users;
    R.cols = ds.n_items;
    R.indptr.assign(size_t(ds.n_users) + 1, 0);
    for (int32_t u = 0; u < ds.n_users; u++) R.indptr[size_t(u) + 1] = R.indptr[size_t(u)] + int64_t(train_lists[size_t(u)].size());
    R.indices.reserve(size_t(R.indptr.back()));
    for (auto& l : train_lists) R.indices.insert(R.indices.end(), l.begin(), l.end());
    R.values.assign(R.indices.size(), 1.f);
    ds.test = std::move(test_lists);
    ds.users = IdMap::identity(ds.n_users);
    ds.items = IdMap::identity(ds.n_items);
    return ds;
}

Dataset load_dataset(const std::string& path) {
    if (is_dir(path)) return load_lightgcn_dir(path);
    TG_CHECK(file_exists(path), path, ": no such file or directory");
    return load_graph(path).data;
}

void write_lightgcn_lists(const std::string& path, const std::vector<std::vector<int32_t>>& lists) {
    std::string out;
    for (size_t u = 0; u < lists.size(); u++) {
        if (lists[u].empty()) continue;
        out += std::to_string(u);
        for (int32_t i : lists[u]) {
            out += ' ';
            out += std::to_string(i);
        }
        out += '\n';
    }
    write_file_atomic(path, out);
}

void write_lightgcn_dir(const std::string& dir, const Dataset& ds) {
    std::vector<std::vector<int32_t>> train(size_t(ds.n_users));
    for (int32_t u = 0; u < ds.n_users; u++)
        train[size_t(u)].assign(ds.train.indices.begin() + ds.train.row_begin(u),
                                ds.train.indices.begin() + ds.train.row_end(u));
    write_lightgcn_lists(dir + "/train.txt", train);
    write_lightgcn_lists(dir + "/test.txt", ds.test);
}

}  // namespace tg::graph
