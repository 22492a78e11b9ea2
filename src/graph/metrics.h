// metrics.h — full-ranking evaluation of a recommender: Recall, NDCG, Precision and HR at K.
//
// Protocol (as in the LightGCN authors' code, Procedure.Test + utils.py):
//   * every user with a non-empty test list is evaluated against ALL items; the user's training items
//     are masked out (score -inf) before ranking;
//   * the top max(K) items are taken in descending score (ties: lower item index first);
//   * with r_j = 1 if the j-th ranked item is in the user's test set (j = 0, 1, ...):
//       hits@K      = Σ_{j<K} r_j
//       Recall@K    = hits@K / |test_u|
//       Precision@K = hits@K / K
//       NDCG@K      = DCG / IDCG,  DCG = Σ_{j<K} r_j / log2(j+2),  IDCG = Σ_{j<min(|test_u|,K)} 1 / log2(j+2)
//       HR@K        = 1 if hits@K > 0 else 0           (hit ratio; not in the authors' code)
//   * each metric is averaged over the evaluated users.
//
// Models that score by a dot product (LightGCN, GCN, GAT, PureSVD, popularity) hand over user and item
// embeddings; the scores are computed in blocks of users with gemm_f32 [B x D]·[D x I] and each row is
// reduced to its top-K by a bounded heap, in parallel over users.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "graph/csr.h"

namespace tg::graph {

struct Metrics {
    std::vector<int> ks;                                   // e.g. {10, 20, 50}
    std::vector<double> recall, ndcg, precision, hr;       // [ks.size()], averages over users
    int64_t n_users = 0;                                   // users evaluated (non-empty test)
    double seconds = 0;                                    // wall time of the evaluation

    double get(const std::string& name, int k) const;      // name = recall|ndcg|precision|hr; throws if absent
    std::string to_json() const;                           // {"recall@10":..,"ndcg@10":..,...,"users":N}
    std::string table() const;                             // human-readable table
};

inline const std::vector<int>& default_ks() {
    static const std::vector<int> k = {10, 20, 50};
    return k;
}

// Per-user accumulation, exposed for tests: `ranked` is the user's top list (best first, at least
// max(ks) long unless fewer items exist), `test` the user's held-out items (sorted). Adds this user's
// recall/ndcg/precision/hr for each K into the sums (same layout as Metrics).
void accumulate_user(const int32_t* ranked, int64_t n_ranked, const std::vector<int32_t>& test,
                     const std::vector<int>& ks, double* recall, double* ndcg, double* precision, double* hr);

// Top-K of one score row with masked items excluded: writes min(K, n - |mask|) indices to out in
// descending score (ties: lower index first) and returns how many. mask = sorted items to skip.
int64_t topk_row(const float* scores, int64_t n, const int32_t* mask, int64_t n_mask, int64_t K, int32_t* out);

// Evaluate dot-product scores  score(u, i) = U[u] · V[i]  (U [n_users, D], V [n_items, D]) against
// `test` (per-user lists), masking `train`'s items per user.
Metrics evaluate_embeddings(const float* U, const float* V, int64_t n_users, int64_t n_items, int64_t D,
                            const Csr& train, const std::vector<std::vector<int32_t>>& test,
                            const std::vector<int>& ks = default_ks());

// Brute-force reference: full scores in double, full stable sort per user. For tests (small data).
Metrics evaluate_embeddings_ref(const float* U, const float* V, int64_t n_users, int64_t n_items, int64_t D,
                                const Csr& train, const std::vector<std::vector<int32_t>>& test,
                                const std::vector<int>& ks = default_ks());

}  // namespace tg::graph
