// gnn.h — GCN and GAT recommenders on the user–item graph, BPR-trained, forward/backward by hand.
//
// Same setting as LightGCN (lightgcn.h): nodes = users then items (N = U + I), ego embeddings
// E0 [N, D], BPR loss + L2 on the batch's ego embeddings, Philox-sampled triples (sample_bpr), Adam,
// final embeddings F = mean over layers k = 0..K of H_k, score(u, i) = F[u] · F[U+i]. What differs is
// the layer (weights W_k [D, D] per layer, and a non-linearity σ = LeakyReLU(0.2)):
//
//   GCN (Kipf & Welling 2017):  Z_k = Â H_{k-1}            Â = D^-1/2 A D^-1/2 (bipartite_norm_adj)
//                               P_k = Z_k W_k,   H_k = σ(P_k)
//   GAT (Veličković et al. 2018, with scaled dot-product edge scores, multi-head):
//                               Q_k = H_{k-1} W_k                                   [N, D], heads of Dh = D / nh
//                               s[e,h] = Q_k[r]·Q_k[c] / sqrt(Dh) over head h        SDDMM on A's edges (r <- c)
//                               α = edge_softmax(s)   (each node normalizes over its neighbours)
//                               P_k[r, h-block] = Σ_e α[e,h] Q_k[c, h-block]         SpMM with per-head weights
//                               H_k = σ(P_k)
//
// Backward (one layer; dH_k arrives from the mean (dF / (K+1)) and from layer k+1):
//   dP = dH_k ⊙ σ'(P_k)
//   GCN: dW_k = Z_kᵀ dP;  dZ = dP W_kᵀ;  dH_{k-1} += Âᵀ dZ = Â dZ (Â symmetric)
//   GAT: dQ, dα from the SpMM (spmm_backward);  ds = edge_softmax_backward(α, dα) / sqrt(Dh);
//        dQ += both sides of the SDDMM (sddmm_backward);  dW_k = H_{k-1}ᵀ dQ;  dH_{k-1} += dQ W_kᵀ
// Parameters live in one flat vector  params = [E0 (N·D) | W_1 (D·D) | ... | W_K]  so one Adam covers all.
// Node features (optional, node_features.h): the input layer becomes H_0 = E0 + [X_u W_u ; X_i W_i]
// (W in `feat`, with its own Adam in lockstep); the L2 term is on the batch rows of H_0, and the
// backward ends with dE0 = dH_0, dW = Xᵀ dH_0.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "graph/csr.h"
#include "graph/lightgcn.h"
#include "graph/node_features.h"
#include "graph/sparse.h"

namespace tg::graph {

struct GnnConfig {
    LightGcnConfig base;  // dim, layers, lr, reg, batch, seed, init_std
    bool attention = false;  // false: GCN, true: GAT
    int heads = 4;           // GAT heads (dim must be a multiple)
};

struct Gnn {
    GnnConfig cfg;
    int64_t U = 0, I = 0;
    Csr R;                        // [U x I] training interactions
    Csr Ahat;                     // GCN: normalized adjacency; GAT: same structure, weights unused
    CsrT AT;                      // GAT: transpose with the edge permutation (for the backward)
    std::vector<int32_t> active;  // users with training items
    HugeVector<float> params;     // [N·D + K·D·D] (on 2 MiB pages: rows are gathered at random)
    Adam adam;
    FeatureProj feat;             // optional node features and their projection (own Adam, same t)
    int64_t epoch = 0;

    void init(const Csr& train, const GnnConfig& c);
    // After init: use node features (either may have F = 0); draws W from the seed (params unchanged).
    void set_features(NodeFeatures user, NodeFeatures item);
    void build_graph(const Csr& train);
    int64_t batches_per_epoch() const { return (R.nnz() + cfg.base.batch - 1) / cfg.base.batch; }
    int64_t n_params() const;
    // Loss on a batch and d(loss)/d(params) into grad [n_params] (overwritten); with features, also feat.dW.
    double loss_and_grad(const Triple* batch, int64_t B, float* grad);
    double train_batch(int64_t b);
    std::vector<float> final_embeddings() const;  // F [N, D]

   private:
    // Forward through all layers; keeps what the backward needs in the cache vectors when `keep`.
    void forward(std::vector<float>& F, bool keep) const;
    mutable std::vector<HugeVector<float>> H_, P_, Z_, S_;  // per layer caches (H_0 = E0 not stored)
    mutable HugeVector<float> ego_;                         // H_0 = E0 + X W with node features
    const float* input_layer() const;                        // H_0: params or ego_ (after forward)
    HugeVector<float> grad_;
    HugeVector<float> cur_, next_, dP_, dZ_, tmp_;  // [N, D] backward scratch (loss_and_grad)
    std::vector<Triple> trip_;
};

}  // namespace tg::graph
