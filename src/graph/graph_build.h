// graph_build.h — from interaction events to the interest graph: sparse building blocks and the builder.
//
// Building blocks (each with a plain, testable definition):
//   Coo / coo_to_csr     triplets (r, c, w) -> CSR with sorted unique columns; duplicates aggregated
//                        (sum or max). Rows without entries are fine.
//   transpose            CSR [R x C] -> CSR [C x R]
//   bipartite_adjacency  R [U x I] -> A = [[0, R], [Rᵀ, 0]]  of shape [(U+I) x (U+I)]
//   sym_normalize        Â = D^-1/2 A D^-1/2 with D = diag(row sums of A); rows of degree 0 stay empty
//   sym_normalize_bipartite  the off-diagonal block of that for A = bipartite_adjacency(R):
//                        R̂[u,i] = R[u,i] / sqrt(d_u · d_i), d_u = Σ_i R[u,i], d_i = Σ_u R[u,i]
//                        (LightGCN's propagation matrix, without materializing the (U+I)² matrix)
//   EventWeights         per event type weights, "pv=1,fav=2,cart=3,buy=4"
//   decay_weight         exponential time decay 0.5^((t_ref - t) / half_life)
//
// kcore_filter (optional, before building): the usual "N-core" preprocessing of public benchmarks —
// repeatedly drop items that fewer than N distinct users touched and users that touched fewer than N
// distinct items, until every remaining user and item has at least N. Ids are re-densified.
//
// The builder (build_graph) turns an EventLog (ingest.h) into an InterestGraph (graph_io.h):
//
// 1. Train/test split, per user, by time. Each user's DISTINCT items are ordered by the time the user
//    first touched them (ties: file order). The last ceil(test_ratio · n) of them (or the last
//    test_last_n, if set) are held out, but never all of them: a user keeps at least one training
//    item, and users with fewer than min_user_items distinct items are kept whole in train. Every event
//    on a held-out (user, item) pair leaves the training graph, so nothing about a test item leaks into
//    train. Without timestamps the file order stands in for time. test_ratio = 0 disables the split.
// 2. Edge weights. Every training event contributes
//        w = event_weight(type) · row_weight · 0.5^((t_newest - t) / half_life)
//    where t_newest is the newest timestamp in the whole log (half_life <= 0: no decay, factor 1), and
//    the contributions of one (user, item) pair are aggregated (sum by default, or max).
// 3. Knowledge-graph relations from item side data: item -> category "in_category", item -> brand
//    "has_brand" (weight 1).
// 4. Optional item -> item "co_occurs" edges: for each user, two different training items whose events
//    lie within cooc_window seconds of each other (each event is paired with at most cooc_max_pairs
//    following events, which bounds the cost on very active users); a user counts once per item pair,
//    so the symmetric weight is the number of users who co-used the two items.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "graph/csr.h"
#include "graph/graph_io.h"

namespace tg::graph {

struct EventLog;  // ingest.h

// ---- sparse building blocks ------------------------------------------------------------------

struct Coo {
    int64_t rows = 0, cols = 0;
    std::vector<int32_t> row, col;  // [n] coordinates
    std::vector<float> val;         // [n] weights
    void add(int32_t r, int32_t c, float w = 1.f) {
        row.push_back(r);
        col.push_back(c);
        val.push_back(w);
    }
    size_t size() const { return row.size(); }
};

enum class DupAgg { Sum, Max };

Csr coo_to_csr(const Coo& coo, DupAgg agg = DupAgg::Sum);
Csr transpose(const Csr& m);
Csr bipartite_adjacency(const Csr& R);
Csr sym_normalize(const Csr& A);
Csr sym_normalize_bipartite(const Csr& R);

double decay_weight(int64_t t, int64_t t_ref, double half_life_seconds);

struct EventWeights {
    std::vector<std::pair<std::string, float>> table;  // event type -> weight
    float fallback = -1.f;  // weight of types not in the table; < 0: such a type is an error
    static EventWeights parse(const std::string& spec);  // "pv=1,fav=2,cart=3,buy=4[,*=1]"
    static EventWeights shop_default() { return parse("pv=1,fav=2,cart=3,buy=4"); }
    float get(const std::string& type) const;  // throws naming the type and the table if unknown
    std::string to_string() const;
};

// ---- the builder -----------------------------------------------------------------------------

struct BuildOptions {
    EventWeights event_weights = EventWeights::shop_default();
    double half_life_days = 0;     // <= 0: no time decay
    DupAgg agg = DupAgg::Sum;
    double test_ratio = 0.2;       // fraction of each user's distinct items held out (0: no split)
    int32_t test_last_n = 0;       // > 0: hold out exactly the last N instead of a ratio
    int32_t min_user_items = 3;    // users with fewer distinct items are not split
    int64_t cooc_window_s = 0;     // > 0: add item -> item co-occurrence edges
    int32_t cooc_max_pairs = 20;   // per event, pair with at most this many following events
};

InterestGraph build_graph(const EventLog& log, const BuildOptions& opt);

EventLog kcore_filter(const EventLog& log, int32_t n);

// Summary lines for `graph build` / `graph info`: node counts, edges per relation, split sizes.
std::string graph_summary(const InterestGraph& g);

}  // namespace tg::graph
