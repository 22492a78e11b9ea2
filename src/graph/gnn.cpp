// gnn.cpp — GCN / GAT forward and backward for BPR training (see gnn.h for the math).
#include "graph/gnn.h"

#include <algorithm>
#include <cmath>

#include "tensor/common.h"
#include "tensor/gemm.h"
#include "tensor/parallel.h"
#include "tensor/rng.h"

namespace tg::graph {

namespace {

constexpr float kSlope = 0.2f;  // LeakyReLU negative slope

void lrelu_forward(const float* P, float* H, int64_t n) {
#pragma omp parallel for schedule(static) num_threads(tg::num_threads())
    for (int64_t k = 0; k < n; k++) H[k] = P[k] > 0 ? P[k] : kSlope * P[k];
}

// dP = dH ⊙ σ'(P)
void lrelu_backward(const float* P, const float* dH, float* dP, int64_t n) {
#pragma omp parallel for schedule(static) num_threads(tg::num_threads())
    for (int64_t k = 0; k < n; k++) dP[k] = P[k] > 0 ? dH[k] : kSlope * dH[k];
}

}  // namespace

int64_t Gnn::n_params() const {
    const int64_t D = cfg.base.dim;
    return (U + I) * D + int64_t(cfg.base.layers) * D * D;
}

void Gnn::build_graph(const Csr& train) {
    R = train;
    U = train.rows;
    I = train.cols;
    Ahat = bipartite_norm_adj(R);
    if (cfg.attention) AT = transpose_csr(Ahat);
    active.clear();
    for (int64_t u = 0; u < U; u++) {
        const int64_t n = R.row_end(u) - R.row_begin(u);
        TG_CHECK(n < I, "GNN: user ", u, " has interacted with every item; no negative can be sampled");
        if (n > 0) active.push_back(int32_t(u));
    }
    TG_CHECK(!active.empty(), "GNN: the training matrix has no interactions");
}

void Gnn::init(const Csr& train, const GnnConfig& c) {
    cfg = c;
    const int64_t D = cfg.base.dim;
    TG_CHECK(D > 0 && cfg.base.layers >= 1 && cfg.base.batch > 0, "GNN: bad config dim=", D, " layers=",
             cfg.base.layers, " batch=", cfg.base.batch);
    TG_CHECK(!cfg.attention || (cfg.heads >= 1 && D % cfg.heads == 0), "GAT: dim ", D, " is not a multiple of ",
             cfg.heads, " heads");
    build_graph(train);
    params.resize(size_t(n_params()));
    const int64_t NE = (U + I) * D;
    const uint64_t key = cfg.base.seed ^ 0x474e4e00474e4e00ull;
    for (int64_t k = 0; k < NE; k++) params[size_t(k)] = cfg.base.init_std * philox_normal(key, uint64_t(k));
    // Glorot-normal weights: std = sqrt(2 / (fan_in + fan_out)) = 1 / sqrt(D)
    const float ws = 1.f / std::sqrt(float(D));
    for (int64_t k = NE; k < n_params(); k++) params[size_t(k)] = ws * philox_normal(key, uint64_t(k));
    adam = Adam{};
    adam.lr = cfg.base.lr;
    adam.init(params.size());
    feat = FeatureProj{};
    epoch = 0;
}

void Gnn::set_features(NodeFeatures user, NodeFeatures item) {
    feat.init(std::move(user), std::move(item), cfg.base.dim, cfg.base.seed, cfg.base.init_std, cfg.base.lr);
}

const float* Gnn::input_layer() const { return feat.enabled() ? ego_.data() : params.data(); }

void Gnn::forward(std::vector<float>& F, bool keep) const {
    const int64_t N = U + I, D = cfg.base.dim, ND = N * D;
    const int K = cfg.base.layers, nh = cfg.heads;
    const int64_t E = Ahat.nnz();
    H_.resize(size_t(K)), P_.resize(size_t(K)), Z_.resize(size_t(K)), S_.resize(size_t(K));
    if (feat.enabled()) {
        ego_.resize(size_t(ND));
        feat.ego_forward(params.data(), U, I, ego_.data());  // H_0 = E0 + X W
    }
    const float* H0 = input_layer();
    F.assign(H0, H0 + ND);
    std::vector<float> s;
    for (int k = 1; k <= K; k++) {
        const float* Hp = k == 1 ? H0 : H_[size_t(k - 2)].data();
        const float* W = params.data() + ND + int64_t(k - 1) * D * D;
        auto& Z = Z_[size_t(k - 1)];
        auto& P = P_[size_t(k - 1)];
        auto& H = H_[size_t(k - 1)];
        Z.resize(size_t(ND)), P.resize(size_t(ND)), H.resize(size_t(ND));
        if (!cfg.attention) {
            spmm_forward(Ahat, nullptr, 1, Hp, D, Z.data());                                       // Z = Â H
            gemm_f32(false, false, N, D, D, 1.f, Z.data(), D, W, D, 0.f, P.data(), D);             // P = Z W
        } else {
            auto& alpha = S_[size_t(k - 1)];
            alpha.resize(size_t(E * nh));
            s.resize(size_t(E * nh));
            gemm_f32(false, false, N, D, D, 1.f, Hp, D, W, D, 0.f, Z.data(), D);                   // Q = H W
            sddmm_forward(Ahat, nh, Z.data(), Z.data(), D, s.data());                               // s = Q_r·Q_c
            const float sc = 1.f / std::sqrt(float(D / nh));
            for (auto& x : s) x *= sc;
            edge_softmax_forward(Ahat, nh, s.data(), alpha.data());                                 // α
            spmm_forward(Ahat, alpha.data(), nh, Z.data(), D, P.data());                           // P = α Q
        }
        lrelu_forward(P.data(), H.data(), ND);
        for (int64_t q = 0; q < ND; q++) F[size_t(q)] += H[size_t(q)];
    }
    const float inv = 1.f / float(K + 1);
    for (auto& f : F) f *= inv;
    if (!keep) H_.clear(), P_.clear(), Z_.clear(), S_.clear();
}

double Gnn::loss_and_grad(const Triple* batch, int64_t B, float* grad) {
    const int64_t N = U + I, D = cfg.base.dim, ND = N * D;
    const int K = cfg.base.layers, nh = cfg.heads;
    const int64_t E = Ahat.nnz();
    std::vector<float> F, dF(static_cast<size_t>(ND), 0.f);
    forward(F, true);
    double loss = bpr_forward_backward(F.data(), U, D, batch, B, dF.data());
    std::fill(grad, grad + n_params(), 0.f);
    const float inv = 1.f / float(K + 1);
    // cur = dL/dH_k, starting at the top layer with the mean's share.
    // Scratch kept between batches (each is fully overwritten before it is read): fresh 2 MiB-page buffers
    // every batch would pay the page faults and the kernel's zeroing again and again.
    for (auto* v : {&cur_, &next_, &dP_, &dZ_, &tmp_}) v->resize(size_t(ND));
    auto &cur = cur_, &next = next_, &dP = dP_, &dZ = dZ_, &tmp = tmp_;
    for (int64_t q = 0; q < ND; q++) cur[size_t(q)] = dF[size_t(q)] * inv;
    std::vector<float> dalpha, ds;
    const float* H0 = input_layer();
    for (int k = K; k >= 1; k--) {
        const float* Hp = k == 1 ? H0 : H_[size_t(k - 2)].data();
        const float* W = params.data() + ND + int64_t(k - 1) * D * D;
        float* dW = grad + ND + int64_t(k - 1) * D * D;
        const auto& Z = Z_[size_t(k - 1)];
        lrelu_backward(P_[size_t(k - 1)].data(), cur.data(), dP.data(), ND);
        for (int64_t q = 0; q < ND; q++) next[size_t(q)] = dF[size_t(q)] * inv;  // H_{k-1}'s share of the mean
        if (!cfg.attention) {
            gemm_f32(true, false, D, D, N, 1.f, Z.data(), D, dP.data(), D, 0.f, dW, D);       // dW = Zᵀ dP
            gemm_f32(false, true, N, D, D, 1.f, dP.data(), D, W, D, 0.f, dZ.data(), D);       // dZ = dP Wᵀ
            spmm_forward(Ahat, nullptr, 1, dZ.data(), D, tmp.data());                           // Â dZ
            for (int64_t q = 0; q < ND; q++) next[size_t(q)] += tmp[size_t(q)];
        } else {
            const auto& alpha = S_[size_t(k - 1)];
            dalpha.assign(size_t(E * nh), 0.f);
            ds.assign(size_t(E * nh), 0.f);
            std::fill(dZ.begin(), dZ.end(), 0.f);  // dQ
            spmm_backward(Ahat, AT, alpha.data(), nh, Z.data(), D, dP.data(), dZ.data(), dalpha.data());
            edge_softmax_backward(Ahat, nh, alpha.data(), dalpha.data(), ds.data());
            const float sc = 1.f / std::sqrt(float(D / nh));
            for (auto& x : ds) x *= sc;
            sddmm_backward(Ahat, AT, nh, Z.data(), Z.data(), D, ds.data(), dZ.data(), dZ.data());
            gemm_f32(true, false, D, D, N, 1.f, Hp, D, dZ.data(), D, 0.f, dW, D);             // dW = Hᵀ dQ
            gemm_f32(false, true, N, D, D, 1.f, dZ.data(), D, W, D, 1.f, next.data(), D);     // += dQ Wᵀ
        }
        cur.swap(next);
    }
    // cur = dL/dH_0 (through the network); add the L2 term on the batch's rows of H_0 (the ego
    // embeddings, plus X W with features).
    std::copy(cur.begin(), cur.end(), grad);
    const float rs = cfg.base.reg / float(B);
    double reg = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t r : {int64_t(batch[b].u), U + batch[b].i, U + batch[b].j}) {
            const float* e = H0 + r * D;
            for (int64_t d = 0; d < D; d++) {
                reg += double(e[d]) * e[d];
                grad[r * D + d] += rs * e[d];
            }
        }
    // dE0 = dH_0 (already in grad); with features dW = Xᵀ dH_0.
    if (feat.enabled()) feat.ego_backward(grad, U);
    return loss + double(cfg.base.reg) * reg / 2 / double(B);
}

double Gnn::train_batch(int64_t b) {
    const int64_t s0 = b * cfg.base.batch, B = std::min(cfg.base.batch, R.nnz() - s0);
    TG_CHECK(B > 0, "GNN: batch ", b, " is past the end of the epoch");
    trip_.resize(size_t(B));
    sample_bpr(R, active, cfg.base.seed, epoch, s0, B, trip_.data());
    grad_.resize(params.size());
    const double loss = loss_and_grad(trip_.data(), B, grad_.data());
    adam.lr = cfg.base.lr;
    adam.step(params.data(), grad_.data(), params.size());
    if (feat.enabled()) feat.step(cfg.base.lr);
    return loss;
}

std::vector<float> Gnn::final_embeddings() const {
    std::vector<float> F;
    forward(F, false);
    return F;
}

}  // namespace tg::graph
