// model_io.h — recommender model files: everything `eval` and `recommend` need, plus training state.
//
// One safetensors file (tensor/safetensors.h), written atomically:
//   user_emb       F32 [U, D]   scoring factors: score(u, i) = user_emb[u] · item_emb[i]
//   item_emb       F32 [I, D]     (LightGCN/GCN/GAT: final embeddings; PureSVD: UΣ and V; popularity:
//                                  [1] and the item's training count, D = 1)
//   train_indptr   I64 [U+1]    the user's training items, masked when ranking (CSR of the train matrix)
//   train_indices  I32 [nnz]
//   user_ids / item_ids      U8 [bytes]   original ids, concatenated
//   user_id_ends / item_id_ends  I64 [U] / [I]   end offset of each id in the blob
//   state.*        F32 [...]    optional training state for --resume: state.params (LightGCN: the ego
//                               embeddings; GCN/GAT: ego embeddings then layer weights), state.adam_m,
//                               state.adam_v
// __metadata__: format = "tastegraph.recmodel", version = "1", kind (lightgcn|gcn|gat|svd|pop),
// config (JSON object as a string: hyperparameters, epoch, adam_t, last metrics ...).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "graph/csr.h"
#include "graph/dataset.h"

namespace tg::graph {

struct RecModel {
    std::string kind;                  // lightgcn | gcn | gat | svd | pop
    int64_t n_users = 0, n_items = 0, dim = 0;
    std::vector<float> user_emb;       // [U, D]
    std::vector<float> item_emb;       // [I, D]
    Csr train;                         // [U x I] (values dropped)
    IdMap users, items;
    std::string config_json = "{}";    // free-form JSON object
    std::map<std::string, std::vector<float>> state;  // "params", "adam_m", ... (saved as state.<name>)

    // Dense index of an original user id, or -1.
    int32_t user_index(const std::string& id) const { return users.find(id); }
};

void save_model(const std::string& path, const RecModel& m);
// Loads and validates (shapes consistent, ids unique, indices in range); errors name the file.
RecModel load_model(const std::string& path);
// Only the config JSON of a model file (format and version checked; the tensors are mapped, not read).
std::string load_model_config(const std::string& path);

}  // namespace tg::graph
