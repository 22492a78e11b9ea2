// adam.cpp — Adam on a flat parameter array (see adam.h).
#include "graph/adam.h"

#include <cmath>

#include "tensor/common.h"
#include "tensor/parallel.h"

namespace tg::graph {

void Adam::step(float* p, const float* g, size_t n) {
    TG_CHECK(m.size() == n && v.size() == n, "Adam: state has ", m.size(), " entries, parameters ", n);
    t++;
    const float bc1 = 1.f - std::pow(beta1, float(t)), bc2 = 1.f - std::pow(beta2, float(t));
    const float b1 = beta1, b2 = beta2, step = lr / bc1, ib2 = 1.f / std::sqrt(bc2), e = eps;
    float* M = m.data();
    float* V = v.data();
    // torch: denom = sqrt(v) / sqrt(bc2) + eps;  p -= (lr / bc1) * m / denom
#pragma omp parallel for schedule(static) num_threads(tg::num_threads())
    for (int64_t k = 0; k < int64_t(n); k++) {
        const float gk = g[k];
        M[k] = b1 * M[k] + (1.f - b1) * gk;
        V[k] = b2 * V[k] + (1.f - b2) * gk * gk;
        p[k] -= step * M[k] / (std::sqrt(V[k]) * ib2 + e);
    }
}

}  // namespace tg::graph
