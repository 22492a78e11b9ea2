// adam.h — Adam on a flat parameter array, shared by the graph recommenders (LightGCN, GCN/GAT and the
// node-feature projections of node_features.h).
//
// Adam (Kingma & Ba) as torch.optim.Adam without weight decay:
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²;  p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
// The update is elementwise, so two Adam objects stepped together (same t) over two arrays are exactly
// one Adam over their concatenation: a model may keep its parameters in several arrays.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tg::graph {

struct Adam {
    float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
    int64_t t = 0;             // steps taken
    std::vector<float> m, v;   // [n] moments
    void init(size_t n) { m.assign(n, 0.f), v.assign(n, 0.f), t = 0; }
    void step(float* p, const float* g, size_t n);  // parallel, elementwise (deterministic)
};

}  // namespace tg::graph
