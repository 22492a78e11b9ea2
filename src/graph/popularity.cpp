// popularity.cpp — item popularity baseline (see popularity.h).
#include "graph/popularity.h"

namespace tg::graph {

void popularity_factors(const Csr& R, std::vector<float>& user_emb, std::vector<float>& item_emb) {
    user_emb.assign(size_t(R.rows), 1.f);
    item_emb.assign(size_t(R.cols), 0.f);
    for (int32_t i : R.indices) item_emb[size_t(i)] += 1.f;  // counts are exact in float up to 2^24
}

}  // namespace tg::graph
