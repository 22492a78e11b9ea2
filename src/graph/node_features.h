// node_features.h — optional node features for the graph recommenders (LightGCN, GCN, GAT): loading a
// feature matrix X [n, F] aligned to the graph's dense node ids, and the learned projection that adds it
// to the ego embeddings.
//
// Files. The features are a float32 .npy [R, F] (e.g. item-title vectors from `tastegraph embed`,
// one row per input text) and an ids file naming the original node id of each row, in row order:
//   .txt                one id per line (row r = line r+1)
//   .csv / .tsv         header row; the id is in column `id_column` (e.g. gen-shop's items.csv, the very
//                       file `tastegraph embed -i items.csv --column title` embedded)
//   .jsonl              one object per line; the id is field `id_column` (a string or an integer)
// The ids file must name exactly R ids, all distinct and non-empty. Alignment to the graph: node v gets
// the row whose id is v's original id; rows whose id the graph does not know are ignored (counted:
// `unknown`), and graph nodes that no row names get a zero feature row (counted: `missing`), so their
// ego embedding is their free embedding alone.
//
// Projection. With user features X_u [U, F_u] and/or item features X_i [I, F_i] (either may be absent):
//   E0 = E + [X_u W_u ; X_i W_i]          E [N, D] free ego embeddings (users first), W_u [F_u, D],
//                                         W_i [F_i, D] learned; E0 is what the model propagates
// Backward, from dE0 [N, D] (the gradient of the loss with respect to the propagation's input):
//   dE = dE0,   dW_u = X_uᵀ dE0[users],   dW_i = X_iᵀ dE0[items]
// The models' L2 term is on the batch rows of E0 (LightGCN's "ego embeddings" are the propagation's
// input), so it reaches W through the same chain rule; with X = 0 everything equals the featureless
// model bit for bit.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "graph/adam.h"
#include "graph/dataset.h"

namespace tg::graph {

// Where one node type's features come from.
struct FeatureSpec {
    std::string npy;        // float32 .npy [R, F]; empty = no features
    std::string ids;        // ids file (.txt / .csv / .tsv / .jsonl), R ids in row order
    std::string id_column;  // CSV column / JSONL field holding the id
    bool given() const { return !npy.empty(); }
};

// Features of one node type, aligned to the graph's dense ids.
struct NodeFeatures {
    int64_t n = 0, F = 0;       // graph nodes of this type, feature width (F = 0: none)
    std::vector<float> X;       // [n, F]: row v = features of dense node v (zeros when missing)
    int64_t rows = 0;           // rows in the file
    int64_t matched = 0;        // rows whose id is a graph node
    int64_t unknown = 0;        // rows whose id is not in the graph (ignored)
    int64_t missing = 0;        // graph nodes no row names (zero features)
    std::string source;         // the .npy path
    uint64_t checksum = 0;      // FNV-1a of X's bytes: a resumed run must see the same features
    // "items: 3000 x 384 from FILE: 2990 rows matched, 10 ids not in the graph (ignored), 12 graph items
    // without a row (zero features)"
    std::string summary(const std::string& what) const;
};

// The ids of an ids file, in row order. Errors name file:line (empty id, missing column or field).
std::vector<std::string> read_feature_ids(const std::string& path, const std::string& id_column);

// Load spec.npy + spec.ids and align them to `nodes` (n = nodes.size()). `what` ("item" / "user")
// is used in messages. Errors name the file and the row: not a 2-D float32 array, row count and id
// count differ, a duplicate id, a non-finite value.
NodeFeatures load_node_features(const FeatureSpec& spec, const IdMap& nodes, const std::string& what);

// FNV-1a 64 over the bytes of X (checksum of aligned features).
uint64_t feature_checksum(const std::vector<float>& X);

// ---- the projection, forward and backward ---------------------------------------------------------
// E0 [n, D] += X [n, F] W [F, D]              (GEMM, thread-count independent)
void feature_proj_forward(const float* X, int64_t n, int64_t F, const float* W, int64_t D, float* E0);
// dW [F, D] = Xᵀ [F, n] dE0 [n, D]            (overwritten)
void feature_proj_backward(const float* X, int64_t n, int64_t F, const float* dE0, int64_t D, float* dW);
// Scalar references (double accumulation), for tests.
void feature_proj_forward_ref(const float* X, int64_t n, int64_t F, const float* W, int64_t D, float* E0);
void feature_proj_backward_ref(const float* X, int64_t n, int64_t F, const float* dE0, int64_t D, float* dW);

// The projections of a model: user and item features, their weights W = [W_u | W_i] and an Adam that
// steps in lockstep with the model's own (same t).
struct FeatureProj {
    NodeFeatures user, item;   // F = 0: that node type has no features
    int64_t D = 0;
    std::vector<float> W;      // [F_u·D | F_i·D]
    std::vector<float> dW;     // [F_u·D | F_i·D] gradient of the last ego_backward
    Adam adam;

    bool enabled() const { return user.F > 0 || item.F > 0; }
    int64_t size() const { return (user.F + item.F) * D; }
    // Take the features and draw W ~ N(0, σ²) from `seed` with σ = init_std / rms_row_norm(X) per node
    // type, so x W starts at the scale of the free embeddings (N(0, init_std²) entries); Adam reset.
    void init(NodeFeatures u, NodeFeatures i, int64_t dim, uint64_t seed, float init_std, float lr);
    // E0 [U+I, D] = E + [X_u W_u ; X_i W_i]   (E0 and E must not alias)
    void ego_forward(const float* E, int64_t U, int64_t I, float* E0) const;
    // dW = [X_uᵀ dE0[users] | X_iᵀ dE0[items]]  (the gradient for E is dE0 itself)
    void ego_backward(const float* dE0, int64_t U);
    // Adam step on W with dW.
    void step(float lr);
};

}  // namespace tg::graph
