// graph_io.h — the interest graph as built by `tastegraph graph build`, and its binary file format.
//
// An InterestGraph is a small heterogeneous graph (a knowledge graph) with four node types —
// user, item, category, brand — and typed relations between them:
//
//   data.train      user -> item  "interacts"  weight = sum over the pair's events of
//                                               event_weight(type) * row_weight * 0.5^(age / half_life)
//   relations[k]    item -> category "in_category", item -> brand "has_brand" (weight 1),
//                   item -> item "co_occurs" (symmetric; weight = number of users who used both items
//                   within the co-occurrence window; built from training events only)
//
// plus the held-out test split (data.test), the id maps for every node type, item titles, and a JSON
// text recording how the graph was built (options and counts).
//
// File format (little-endian), version 1:
//
//   offset 0   8 bytes   magic "TGGRAPH\0"
//          8   u32       format version (1)
//         12   u32       reserved (0)
//         16   u64       payload size P in bytes
//         24   u64       FNV-1a 64-bit hash of the payload bytes
//         32   P bytes   payload: a fixed sequence of fields (see graph_io.cpp), each array written as
//                        u64 count followed by its raw elements, each string as u64 length + bytes
//
// Files are written atomically (tg::AtomicFile: temp file, fsync, rename). The loader checks magic,
// version, size (truncation or trailing bytes), checksum, and then every count and index while
// decoding, and throws tg::Error naming the file and what was wrong.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "graph/csr.h"
#include "graph/dataset.h"

namespace tg::graph {

struct Relation {
    std::string name;      // "in_category", "has_brand", "co_occurs", ...
    std::string src, dst;  // node type names: "item", "category", "brand"
    Csr adj;               // [n_src x n_dst]
};

struct InterestGraph {
    Dataset data;                          // users, items, train (user -> item weights), test split
    IdMap categories, brands;              // attribute node ids (original strings)
    std::vector<std::string> item_titles;  // [n_items] (empty strings where unknown)
    std::vector<Relation> relations;       // typed relations besides user -> item
    std::string meta_json;                 // build options and counts, a JSON object

    const Relation* find_relation(std::string_view name) const;  // nullptr if absent
    int32_t node_count(std::string_view type) const;             // "user", "item", "category", "brand"
};

constexpr uint32_t kGraphFormatVersion = 1;

uint64_t fnv1a64(const void* data, size_t n, uint64_t h = 0xcbf29ce484222325ULL);

// Serialize to bytes / write atomically / read back. load_graph throws on any inconsistency.
std::string serialize_graph(const InterestGraph& g);
InterestGraph deserialize_graph(std::string_view bytes, const std::string& name);
void save_graph(const std::string& path, const InterestGraph& g);
InterestGraph load_graph(const std::string& path);

// Write the graph's tables into `dir` (created if missing) for people and other tools:
//   users.csv  index,user_id            items.csv  index,item_id,category,brand,title
//   train.txt, test.txt                 the split in LightGCN format (dense indices; see dataset.h)
void export_graph_tables(const InterestGraph& g, const std::string& dir);

// True if the file starts with the graph magic (cheap check used by load_dataset and the CLI).
bool is_graph_file(const std::string& path);

}  // namespace tg::graph
