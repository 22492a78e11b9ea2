// lightgcn.cpp — LightGCN forward/backward, BPR sampling and Adam (see lightgcn.h for the math).
#include "graph/lightgcn.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "graph/sparse.h"
#include "tensor/common.h"
#include "tensor/parallel.h"
#include "tensor/rng.h"

namespace tg::graph {

// ---- sampling -----------------------------------------------------------------------------------

// Uniform integer in [0, n) from 32 random bits (multiply-shift; bias < n / 2^32, negligible here).
static inline int64_t below(uint32_t r, int64_t n) { return int64_t((uint64_t(r) * uint64_t(n)) >> 32); }

void sample_bpr(const Csr& R, const std::vector<int32_t>& active, uint64_t seed, int64_t epoch, int64_t s0,
                int64_t count, Triple* out) {
    TG_CHECK(!active.empty(), "sample_bpr: no user has training items");
#pragma omp parallel for schedule(static) num_threads(tg::num_threads())
    for (int64_t k = 0; k < count; k++) {
        const uint64_t s = uint64_t(s0 + k);
        auto r = philox4x32({uint32_t(s), uint32_t(s >> 32), uint32_t(epoch), 0u}, seed);
        const int32_t u = active[size_t(below(r[0], int64_t(active.size())))];
        const int64_t b = R.row_begin(u), n = R.row_end(u) - b;
        const int32_t i = R.indices[size_t(b + below(r[1], n))];
        const int32_t* items = R.indices.data() + b;
        int32_t j = int32_t(below(r[2], R.cols));
        // Redraw while j is a training item of u (the user cannot own every item: checked by callers).
        for (uint32_t attempt = 1; std::binary_search(items, items + n, j); attempt++) {
            auto q = philox4x32({uint32_t(s), uint32_t(s >> 32), uint32_t(epoch), attempt}, seed);
            j = int32_t(below(q[0], R.cols));
        }
        out[k] = {u, i, j};
    }
}

// ---- propagation --------------------------------------------------------------------------------

void lightgcn_propagate(const Csr& Ahat, const float* X, int64_t D, int K, float* out, float* work) {
    const int64_t N = Ahat.rows;
    TG_CHECK(Ahat.cols == N, "lightgcn_propagate: adjacency is ", Ahat.rows, "x", Ahat.cols, ", not square");
    // out = E_0; then for k = 1..K: E_k = Â E_{k-1} (into a ping-pong buffer), out += E_k;
    // the last layer folds in the 1/(K+1) of the mean and does not store E_K.
    std::copy(X, X + N * D, out);
    if (K == 0) return;
    float* buf[2] = {work, work + N * D};
    const float* cur = X;
    for (int k = 1; k <= K; k++) {
        float* nxt = k == K ? nullptr : buf[k % 2];
        spmm_acc_forward(Ahat, cur, D, nxt, out, k == K ? 1.f / float(K + 1) : 1.f);
        cur = nxt;
    }
}

void lightgcn_propagate_ref(const Csr& Ahat, const float* X, int64_t D, int K, float* out) {
    const int64_t N = Ahat.rows;
    std::vector<float> cur(X, X + N * D), nxt(static_cast<size_t>(N * D));
    std::vector<double> sum(cur.begin(), cur.end());
    for (int k = 1; k <= K; k++) {
        spmm_forward_ref(Ahat, nullptr, 1, cur.data(), D, nxt.data());
        for (size_t q = 0; q < sum.size(); q++) sum[q] += nxt[q];
        cur.swap(nxt);
    }
    for (size_t q = 0; q < sum.size(); q++) out[q] = float(sum[q] / (K + 1));
}

// ---- BPR ----------------------------------------------------------------------------------------

double bpr_forward_backward(const float* F, int64_t U, int64_t D, const Triple* batch, int64_t B, float* dF) {
    // x_b = F_u·F_i - F_u·F_j;  L = (1/B) Σ softplus(-x_b);  dL/dx_b = -sigmoid(-x_b) / B
    //   dF_u += g (F_i - F_j),  dF_i += g F_u,  dF_j -= g F_u       (g = dL/dx_b)
    // The scatter is sequential in batch order: rows repeat within a batch, and a fixed order keeps
    // the sums deterministic. (B x D work, small next to the propagation.)
    std::vector<double> gx(static_cast<size_t>(B));
    double loss = 0;
    for (int64_t b = 0; b < B; b++) {
        const float* fu = F + int64_t(batch[b].u) * D;
        const float* fi = F + (U + batch[b].i) * D;
        const float* fj = F + (U + batch[b].j) * D;
        double x = 0;
        for (int64_t d = 0; d < D; d++) x += double(fu[d]) * (double(fi[d]) - double(fj[d]));
        // softplus(-x) = log(1 + e^{-x}), computed stably
        loss += x > 0 ? std::log1p(std::exp(-x)) : -x + std::log1p(std::exp(x));
        gx[size_t(b)] = -1.0 / (1.0 + std::exp(x)) / double(B);
    }
    for (int64_t b = 0; b < B; b++) {
        const float g = float(gx[size_t(b)]);
        const int64_t ou = int64_t(batch[b].u) * D, oi = (U + batch[b].i) * D, oj = (U + batch[b].j) * D;
        for (int64_t d = 0; d < D; d++) {
            const float fu = F[ou + d];
            dF[ou + d] += g * (F[oi + d] - F[oj + d]);
            dF[oi + d] += g * fu;
            dF[oj + d] -= g * fu;
        }
    }
    return loss / double(B);
}

// ---- model --------------------------------------------------------------------------------------

void LightGcn::build_graph(const Csr& train) {
    R = train;
    U = train.rows;
    I = train.cols;
    Ahat = bipartite_norm_adj(R);
    active.clear();
    for (int64_t u = 0; u < U; u++) {
        const int64_t n = R.row_end(u) - R.row_begin(u);
        TG_CHECK(n < I, "LightGCN: user ", u, " has interacted with every item; no negative can be sampled");
        if (n > 0) active.push_back(int32_t(u));
    }
    TG_CHECK(!active.empty(), "LightGCN: the training matrix has no interactions");
}

void LightGcn::init(const Csr& train, const LightGcnConfig& c) {
    cfg = c;
    TG_CHECK(cfg.dim > 0 && cfg.layers >= 0 && cfg.batch > 0, "LightGCN: bad config dim=", cfg.dim,
             " layers=", cfg.layers, " batch=", cfg.batch);
    build_graph(train);
    const int64_t N = U + I, D = cfg.dim;
    E0.resize(size_t(N * D));
    const uint64_t key = cfg.seed ^ 0x4c6967687447434eull;  // "LightGCN": a stream apart from sampling
    for (int64_t k = 0; k < N * D; k++) E0[size_t(k)] = cfg.init_std * philox_normal(key, uint64_t(k));
    adam = Adam{};
    adam.lr = cfg.lr;
    adam.init(E0.size());
    feat = FeatureProj{};
    epoch = 0;
}

void LightGcn::set_features(NodeFeatures user, NodeFeatures item) {
    feat.init(std::move(user), std::move(item), cfg.dim, cfg.seed, cfg.init_std, cfg.lr);
}

const float* LightGcn::ego(HugeVector<float>& buf) const {
    if (!feat.enabled()) return E0.data();
    buf.resize(E0.size());
    feat.ego_forward(E0.data(), U, I, buf.data());
    return buf.data();
}

int64_t LightGcn::batches_per_epoch() const {
    return (R.nnz() + cfg.batch - 1) / cfg.batch;
}

double LightGcn::train_batch(int64_t b) {
    const int64_t N = U + I, D = cfg.dim;
    const size_t ND = size_t(N * D);
    if (F_.size() != ND) F_.resize(ND), dF_.resize(ND), G_.resize(ND), work_.resize(2 * ND);
    const int64_t s0 = b * cfg.batch, B = std::min(cfg.batch, R.nnz() - s0);
    TG_CHECK(B > 0, "LightGCN: batch ", b, " is past the end of the epoch");
    trip_.resize(size_t(B));
    sample_bpr(R, active, cfg.seed, epoch, s0, B, trip_.data());
    const double loss = loss_and_grad(trip_.data(), B, G_.data());
    adam.lr = cfg.lr;
    adam.step(E0.data(), G_.data(), ND);
    if (feat.enabled()) feat.step(cfg.lr);
    return loss;
}

// Balls around the batch nodes S: ball_0 = S, ball_j = ball_{j-1} ∪ N(ball_{j-1}), as flags [N] and
// sorted row lists. They bound where each layer's values are needed (forward) or non-zero (backward).
// Each ball grows from the previous one in whichever direction reads fewer edges ("direction-optimizing"
// breadth-first search, Beamer, Asanović & Patterson, SC 2012):
//   push: mark every neighbour of every row in ball_{j-1}          (reads the edges of ball_{j-1})
//   pull: a row outside ball_{j-1} joins if one of its neighbours   (reads the edges of the rows outside,
//         is in ball_{j-1} (stop at the first)                      each only up to its first hit)
// Pull is right because A's pattern is symmetric (c is a neighbour of r iff r is one of c). On Yelp2018 a
// batch of 2048 has |ball_1| = 82 % of the nodes: pushing from it read ~2 M edges (3.6 ms a batch, 5 % of
// it), pulling into the 18 % outside reads about one edge per row.
static void batch_balls(const Csr& A, const Triple* batch, int64_t B, int64_t U, int K,
                        std::vector<std::vector<uint8_t>>& flag, std::vector<std::vector<int32_t>>& list) {
    const int64_t N = A.rows;
    flag.assign(size_t(std::max(K, 1)), std::vector<uint8_t>(size_t(N), 0));
    list.assign(flag.size(), {});
    for (int64_t b = 0; b < B; b++) {
        flag[0][size_t(batch[b].u)] = 1;
        flag[0][size_t(U + batch[b].i)] = 1;
        flag[0][size_t(U + batch[b].j)] = 1;
    }
    for (size_t j = 0; j < flag.size(); j++) {
        if (j > 0) {
            const std::vector<uint8_t>& prev = flag[j - 1];
            std::vector<uint8_t>& cur = flag[j];
            cur = prev;
            int64_t push_edges = 0;
            for (int32_t r : list[j - 1]) push_edges += A.row_end(r) - A.row_begin(r);
            if (2 * push_edges <= A.nnz()) {
                // threads may mark the same neighbour: relaxed atomic byte stores (plain stores on x86)
                const std::vector<int32_t>& from = list[j - 1];
                const int64_t n_from = int64_t(from.size());
#pragma omp parallel for schedule(dynamic, 256) num_threads(tg::num_threads()) if (push_edges > 65536)
                for (int64_t k = 0; k < n_from; k++) {
                    const int32_t r = from[size_t(k)];
                    for (int64_t e = A.row_begin(r); e < A.row_end(r); e++)
                        std::atomic_ref<uint8_t>(cur[size_t(A.indices[size_t(e)])]).store(1, std::memory_order_relaxed);
                }
            } else {
#pragma omp parallel for schedule(dynamic, 1024) num_threads(tg::num_threads())
                for (int64_t r = 0; r < N; r++) {
                    if (prev[size_t(r)]) continue;
                    for (int64_t e = A.row_begin(r); e < A.row_end(r); e++)
                        if (prev[size_t(A.indices[size_t(e)])]) {
                            cur[size_t(r)] = 1;
                            break;
                        }
                }
            }
        }
        for (int64_t r = 0; r < N; r++)
            if (flag[j][size_t(r)]) list[j].push_back(int32_t(r));
    }
}

double LightGcn::loss_and_grad(const Triple* batch, int64_t B, float* grad) {
    const int64_t N = U + I, D = cfg.dim;
    const int K = cfg.layers;
    const size_t ND = size_t(N * D);
    if (F_.size() != ND) F_.resize(ND), dF_.resize(ND), G_.resize(ND), work_.resize(2 * ND);
    // The batch only needs F on its nodes S, and dF is zero outside S, so each layer is computed only
    // where it matters (same numbers as the full propagation on those rows, a fraction of the work):
    //   forward layer k (1..K):   rows ball_{K-k}                      (layer K: just S)
    //   backward layer j (1..K):  rows ball_j (all rows for j = K), sources ball_{j-1}
    batch_balls(Ahat, batch, B, U, K, ball_flag_, ball_list_);
    // forward: F = P E0 on S (E0 = E + X W with node features). F is needed on S only, so the running sum
    // over layers is kept on S only: layers 1..K-1 write their output (the next layer's input) on their
    // ball, and S's rows of it are added to F here; layer K adds to F itself, on S. (The same float
    // operations in the same order as accumulating on every row: F = ((E0 + y1) + y2 ...) * 1/(K+1).)
    const auto& S = ball_list_[0];
    const float* e0 = ego(ego_);
    for (int32_t r : S) std::copy(e0 + int64_t(r) * D, e0 + int64_t(r + 1) * D, F_.data() + int64_t(r) * D);
    const float inv = 1.f / float(K + 1);
    {
        const float* cur = e0;
        float* buf[2] = {work_.data(), work_.data() + ND};
        for (int k = 1; k <= K; k++) {
            const auto& rows = ball_list_[size_t(K - k)];
            float* nxt = k == K ? nullptr : buf[k % 2];
            spmm_acc_forward_rows(Ahat, cur, D, nxt, k == K ? F_.data() : nullptr, inv, rows.data(),
                                  int64_t(rows.size()), nullptr);
            if (nxt) {
                const int64_t nS = int64_t(S.size());
#pragma omp parallel for schedule(static) num_threads(tg::num_threads())
                for (int64_t k = 0; k < nS; k++) {
                    float* f = F_.data() + int64_t(S[size_t(k)]) * D;
                    const float* y = nxt + int64_t(S[size_t(k)]) * D;
                    for (int64_t d = 0; d < D; d++) f[d] += y[d];  // = (f + y) * 1, the kernel's scale-1 step
                }
            }
            cur = nxt;
        }
    }
    // loss and dF. dF is non-zero on S only, and only S's rows of it are ever read (the first backward
    // layer masks its sources to S), so only those rows are cleared. (Keeping F and dF to S's rows instead
    // of copying, clearing and accumulating whole [N, D] arrays, with the pull-grown balls above: a
    // Yelp2018 batch of 2048 went from ~78 to ~67 ms on 2 threads, bit for bit the same results.)
    for (int32_t r : S) std::fill(dF_.data() + int64_t(r) * D, dF_.data() + int64_t(r + 1) * D, 0.f);
    double loss = bpr_forward_backward(F_.data(), U, D, batch, B, dF_.data());
    // backward through the propagation: dE0 = P dF (P symmetric), sparse sources first
    std::fill(grad, grad + ND, 0.f);
    for (int32_t r : S) std::copy(dF_.data() + int64_t(r) * D, dF_.data() + int64_t(r + 1) * D, grad + int64_t(r) * D);
    if (K == 0) {
        // nothing to propagate
    } else {
        const float* cur = dF_.data();
        float* buf[2] = {work_.data(), work_.data() + ND};
        for (int j = 1; j <= K; j++) {
            const uint8_t* src = ball_flag_[size_t(j - 1)].data();
            float* nxt = j == K ? nullptr : buf[j % 2];
            if (j < K) {
                const auto& rows = ball_list_[size_t(j)];
                spmm_acc_forward_rows(Ahat, cur, D, nxt, grad, 1.f, rows.data(), int64_t(rows.size()), src);
            } else {
                spmm_acc_forward_rows(Ahat, cur, D, nullptr, grad, inv, nullptr, N, src);
            }
            cur = nxt;
        }
    }
    // L2 on the ego embeddings of the batch: reg * (|e_u|² + |e_i|² + |e_j|²) / 2 / B
    // (rows of E0 + X W with node features: W is regularized through the rows it makes)
    // The columns are split into pieces of 16 (one cache line), one piece per task: a row that several triples
    // share gets its additions in batch order within each piece, so the gradient is the serial loop's bits, and
    // the sum of squares is summed per piece, then over the pieces in order (whatever the thread count).
    const float rs = cfg.reg / float(B);
    constexpr int64_t kPiece = 16;
    const int64_t pieces = (D + kPiece - 1) / kPiece;
    std::vector<double> reg_piece(size_t(pieces), 0.0);
#pragma omp parallel for schedule(static) num_threads(tg::num_threads()) if (B * D >= 16384)
    for (int64_t p = 0; p < pieces; p++) {
        const int64_t d0 = p * kPiece, d1 = std::min(D, d0 + kPiece);
        double sq = 0;
        for (int64_t k = 0; k < B; k++) {
            const int64_t rows[3] = {batch[k].u, U + batch[k].i, U + batch[k].j};
            for (int64_t r : rows) {
                const float* e = e0 + r * D;
                float* g = grad + r * D;
                for (int64_t d = d0; d < d1; d++) {
                    sq += double(e[d]) * e[d];
                    g[d] += rs * e[d];
                }
            }
        }
        reg_piece[size_t(p)] = sq;
    }
    double reg = 0;
    for (double sq : reg_piece) reg += sq;
    // grad = dE0; with features it is also dE, and dW = Xᵀ dE0.
    if (feat.enabled()) feat.ego_backward(grad, U);
    return loss + double(cfg.reg) * reg / 2 / double(B);
}

std::vector<float> LightGcn::final_embeddings() const {
    const int64_t N = U + I, D = cfg.dim;
    std::vector<float> F(static_cast<size_t>(N * D));
    HugeVector<float> work(static_cast<size_t>(2 * N * D)), buf;
    lightgcn_propagate(Ahat, ego(buf), D, cfg.layers, F.data(), work.data());
    return F;
}

}  // namespace tg::graph
