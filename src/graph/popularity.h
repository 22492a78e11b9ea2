// popularity.h — the item-popularity baseline: every user gets the most-interacted items.
//
// score(u, i) = number of training users of item i (binary interactions), the same for every user.
// Expressed as embeddings of width 1 (user_emb = 1, item_emb = count) so it is evaluated and served
// like the other models; training items are still masked per user at ranking time.
#pragma once
#include <cstddef>
#include <vector>

#include "graph/csr.h"

namespace tg::graph {

void popularity_factors(const Csr& R, std::vector<float>& user_emb, std::vector<float>& item_emb);

}  // namespace tg::graph
