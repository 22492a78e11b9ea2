// dataset.h — the user–item interaction data a recommender trains and is evaluated on.
//
// A Dataset is the common currency between the data side (ingest, graph build, gen-shop) and the
// learning side (LightGCN/GCN/GAT, PureSVD, popularity, evaluation):
//
//   train  [n_users x n_items] CSR, values = interaction weight (1 for implicit feedback)
//   test   per user: the held-out items (sorted, unique; may be empty)
//   users, items: dense index <-> original id (the string the log used)
//
// Two sources produce one:
//   load_lightgcn_dir(dir)  the LightGCN / NGCF benchmark split: dir/train.txt and dir/test.txt,
//                           one line per user "user item item ...", ids already dense and 0-based.
//   load_dataset(path)      a LightGCN directory, or a graph file written by `tastegraph graph build`
//                           (src/graph/graph_io.h), whose Dataset is returned.
// write_lightgcn_test() writes a Dataset's test split back in the LightGCN test.txt format (dense ids),
// which is what `tastegraph eval --test FILE` reads.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "graph/csr.h"

namespace tg::graph {

// Original id (any string) <-> dense index 0..size()-1, in order of first appearance.
struct IdMap {
    std::vector<std::string> names;                 // [size] dense index -> original id
    std::unordered_map<std::string, int32_t> index; // original id -> dense index

    int32_t get_or_add(const std::string& name);   // index of `name`, adding it if new
    int32_t find(const std::string& name) const;   // -1 if absent
    int32_t size() const { return int32_t(names.size()); }
    const std::string& name(int32_t i) const { return names[size_t(i)]; }
    // Identity map "0", "1", ..., "n-1" (LightGCN files, whose ids are already dense).
    static IdMap identity(int32_t n);
};

struct Dataset {
    int32_t n_users = 0, n_items = 0;
    Csr train;                                // [n_users x n_items] interaction weights
    std::vector<std::vector<int32_t>> test;   // [n_users] held-out items per user (sorted, unique)
    IdMap users, items;                       // dense index <-> original id
    std::string source;                       // where it came from (for messages)

    int64_t n_train() const { return train.nnz(); }
    int64_t n_test() const;                   // total held-out (user, item) pairs
};

// Load dir/train.txt and dir/test.txt (LightGCN format). Errors name file:line and the bad token.
// test.txt may be absent (then every test list is empty). A user or item id seen in either file
// counts: n_users / n_items = max id + 1 over both files. Duplicate items on a line are merged.
Dataset load_lightgcn_dir(const std::string& dir);

// Parse one LightGCN-format file into per-user lists (exposed for tests and for `eval --test FILE`).
// `name` is used in error messages. Lists are sorted and de-duplicated; users never mentioned get none.
std::vector<std::vector<int32_t>> parse_lightgcn_lists(const char* text, size_t len, const std::string& name,
                                                       int32_t* max_user, int32_t* max_item);
std::vector<std::vector<int32_t>> read_lightgcn_file(const std::string& path, int32_t* max_user,
                                                     int32_t* max_item);

// A LightGCN directory (has train.txt) or a graph file from `graph build`.
Dataset load_dataset(const std::string& path);

// Write per-user item lists in LightGCN format ("u i i i", one line per user with at least one item).
void write_lightgcn_lists(const std::string& path, const std::vector<std::vector<int32_t>>& lists);
// Write ds.train (column indices, weights dropped) and ds.test as dir/train.txt, dir/test.txt.
void write_lightgcn_dir(const std::string& dir, const Dataset& ds);

}  // namespace tg::graph
