// lightgcn.h — LightGCN (He et al., SIGIR 2020) with BPR loss, written out forward and backward.
//
// Graph: the user–item bipartite graph as one (U+I) x (U+I) symmetric-normalized adjacency
//   Â = D^-1/2 [[0, R], [Rᵀ, 0]] D^-1/2      (bipartite_norm_adj, sparse.h)
// Model: ego embeddings E0 [N, D] (N = U + I; users first) are the only parameters.
//   E_k = Â E_{k-1},   F = (E_0 + E_1 + ... + E_K) / (K+1)          ("mean over layers")
//   score(u, i) = F[u] · F[U+i]
// Loss per batch of B triples (u, i, j) with i a training item of u and j a sampled non-item:
//   x_b  = F[u]·F[i] - F[u]·F[j]
//   L    = mean_b softplus(-x_b)  +  reg * Σ_b (|E0[u]|² + |E0[i]|² + |E0[j]|²) / 2 / B
// (exactly the LightGCN authors' bpr_loss + weight_decay * reg_loss).
//
// Node features (optional, node_features.h): the ego embeddings become E0 = E + [X_u W_u ; X_i W_i]
// with E the free embeddings (the member E0 below) and W learned; the L2 term above is then on the batch
// rows of that sum, and the backward ends with dE = dE0, dW = Xᵀ dE0 (FeatureProj::ego_backward).
//
// Backward. F = P E0 with P = (I + Â + ... + Â^K)/(K+1), and P is symmetric because Â is, so
//   dE0 = Pᵀ dF = P dF:  the backward is the same propagation applied to the (sparse) gradient dF.
// Per batch: one propagation of E0 (forward), one of dF (backward), i.e. 2K SpMMs, as in the official
// code (which re-propagates over the full graph for every batch), then Adam on all of E0. We compute
// each layer only on the rows that can matter: the forward's top layer is needed on the batch nodes
// only, and the backward starts from dF, which is zero outside them (see loss_and_grad); F and dF
// themselves are kept on the batch nodes only. The numbers are those of the full propagation; the work is
// roughly halved for batch 2048 on Gowalla.
//
// Sampling (the authors' UniformSample_original): an epoch has n_train samples; sample s draws a
// user uniformly among users with training items, one of the user's items uniformly, and a negative
// uniformly among all items, redrawn while it is one of the user's training items. Every random number
// is Philox(key = seed, counter = (s, epoch, attempt)), so batches do not depend on the thread count,
// and resuming at an epoch boundary needs no generator state.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tensor/huge_pages.h"

#include "graph/adam.h"
#include "graph/csr.h"
#include "graph/node_features.h"

namespace tg::graph {

// One BPR triple.
struct Triple {
    int32_t u, i, j;  // user, positive item, negative item (item indices 0..I-1)
};

// Sample `count` triples starting at epoch sample index s0 (see header). R is the training matrix,
// `active` the users that have at least one training item.
void sample_bpr(const Csr& R, const std::vector<int32_t>& active, uint64_t seed, int64_t epoch, int64_t s0,
                int64_t count, Triple* out);

// F = P E0:  out [N, D] = mean over k = 0..K of Â^k X.   work: 2 * N * D floats of scratch.
void lightgcn_propagate(const Csr& Ahat, const float* X, int64_t D, int K, float* out, float* work);
// Reference: K separate spmm_forward_ref calls and a double-precision mean. For tests.
void lightgcn_propagate_ref(const Csr& Ahat, const float* X, int64_t D, int K, float* out);

// BPR loss on final embeddings F [N, D] (users first, items at offset U) for a batch; adds its gradient
// to dF [N, D] on the batch rows (the caller zeroes them first) and returns the mean BPR term.
double bpr_forward_backward(const float* F, int64_t U, int64_t D, const Triple* batch, int64_t B, float* dF);

struct LightGcnConfig {
    int dim = 64, layers = 3;
    float lr = 1e-3f, reg = 1e-4f;
    int64_t batch = 2048;
    uint64_t seed = 2020;
    float init_std = 0.1f;  // N(0, 0.1²) like the official code's nn.init.normal_(std=0.1)
};

struct LightGcn {
    LightGcnConfig cfg;
    int64_t U = 0, I = 0;            // users, items; N = U + I
    Csr R;                           // [U x I] training interactions
    Csr Ahat;                        // [N x N] normalized adjacency
    std::vector<int32_t> active;     // users with >= 1 training item
    HugeVector<float> E0;            // [N, D] ego embeddings (the parameters); with node features, the
                                     // free part E of E0 = E + X W. On 2 MiB pages (huge_pages.h):
                                     // the propagation gathers its rows at random.
    Adam adam;
    FeatureProj feat;                // optional node features and their projection (own Adam, same t)
    int64_t epoch = 0;               // completed epochs

    // Build graph structures and initialize E0 ~ N(0, init_std²) from cfg.seed (Philox).
    void init(const Csr& train, const LightGcnConfig& c);
    // After init: use node features (either may have F = 0); draws W from cfg.seed (E0 is unchanged).
    void set_features(NodeFeatures user, NodeFeatures item);
    // Structures only (E0/Adam supplied by the caller, e.g. from a checkpoint).
    void build_graph(const Csr& train);
    int64_t batches_per_epoch() const;
    // Loss of a batch of triples and its gradient w.r.t. E0 into grad [N, D] (overwritten); with
    // features, also feat.dW. No update.
    double loss_and_grad(const Triple* batch, int64_t B, float* grad);
    // Run batch `b` of the current epoch (forward, backward, Adam). Returns the batch's mean loss
    // (BPR + reg term).
    double train_batch(int64_t b);
    // Final embeddings F [N, D].
    std::vector<float> final_embeddings() const;
    // The propagation's input: E0 itself, or E0 + X W (into `buf`) with features.
    const float* ego(HugeVector<float>& buf) const;

   private:
    HugeVector<float> F_, dF_, G_, work_, ego_;  // [N, D] scratch (gathered at random rows too)
    std::vector<Triple> trip_;
    std::vector<std::vector<uint8_t>> ball_flag_;   // per batch: nodes within j hops of the batch
    std::vector<std::vector<int32_t>> ball_list_;
};

}  // namespace tg::graph
