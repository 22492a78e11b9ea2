// metrics.cpp — top-K ranking metrics (see metrics.h for the exact definitions).
#include "graph/metrics.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

#include "tensor/common.h"
#include "tensor/gemm.h"
#include "tensor/parallel.h"

namespace tg::graph {

double Metrics::get(const std::string& name, int k) const {
    for (size_t j = 0; j < ks.size(); j++) {
        if (ks[j] != k) continue;
        if (name == "recall") return recall[j];
        if (name == "ndcg") return ndcg[j];
        if (name == "precision") return precision[j];
        if (name == "hr") return hr[j];
    }
    TG_FAIL("metric ", name, "@", k, " was not computed");
}

std::string Metrics::to_json() const {
    std::string s = "{";
    char buf[64];
    const char* names[4] = {"recall", "ndcg", "precision", "hr"};
    const std::vector<double>* vals[4] = {&recall, &ndcg, &precision, &hr};
    for (size_t j = 0; j < ks.size(); j++)
        for (int m = 0; m < 4; m++) {
            std::snprintf(buf, sizeof buf, "\"%s@%d\":%.6f,", names[m], ks[j], (*vals[m])[j]);
            s += buf;
        }
    std::snprintf(buf, sizeof buf, "\"users\":%lld,\"eval_seconds\":%.3f}", (long long)n_users, seconds);
    return s + buf;
}

std::string Metrics::table() const {
    std::string s;
    char buf[128];
    std::snprintf(buf, sizeof buf, "%-6s %10s %10s %10s %10s\n", "K", "Recall", "NDCG", "Precision", "HR");
    s += buf;
    for (size_t j = 0; j < ks.size(); j++) {
        std::snprintf(buf, sizeof buf, "%-6d %10.4f %10.4f %10.4f %10.4f\n", ks[j], recall[j], ndcg[j], precision[j],
                      hr[j]);
        s += buf;
    }
    std::snprintf(buf, sizeof buf, "(%lld users with test items, %.2f s)\n", (long long)n_users, seconds);
    return s + buf;
}

void accumulate_user(const int32_t* ranked, int64_t n_ranked, const std::vector<int32_t>& test,
                     const std::vector<int>& ks, double* recall, double* ndcg, double* precision, double* hr) {
    if (test.empty()) return;
    const int kmax = *std::max_element(ks.begin(), ks.end());
    // r[j] = 1 if the j-th ranked item is a test item (test is sorted -> binary search).
    std::vector<char> r(static_cast<size_t>(kmax), 0);
    for (int64_t j = 0; j < std::min<int64_t>(n_ranked, kmax); j++)
        r[size_t(j)] = std::binary_search(test.begin(), test.end(), ranked[j]);
    for (size_t q = 0; q < ks.size(); q++) {
        const int K = ks[q];
        double hits = 0, dcg = 0, idcg = 0;
        for (int j = 0; j < K; j++) {
            const double disc = 1.0 / std::log2(double(j) + 2.0);
            if (r[size_t(j)]) hits += 1, dcg += disc;
            if (j < int64_t(test.size())) idcg += disc;
        }
        recall[q] += hits / double(test.size());
        precision[q] += hits / double(K);
        ndcg[q] += dcg / idcg;
        hr[q] += hits > 0 ? 1.0 : 0.0;
    }
}

// "a ranks before b": higher score, ties broken by lower index.
static inline bool better(float sa, int32_t ia, float sb, int32_t ib) { return sa > sb || (sa == sb && ia < ib); }

int64_t topk_row(const float* scores, int64_t n, const int32_t* mask, int64_t n_mask, int64_t K, int32_t* out) {
    // A bounded min-heap (worst of the kept items on top): each candidate costs one comparison with the
    // heap top unless it enters. The masked items are skipped by walking the sorted mask alongside.
    std::vector<std::pair<float, int32_t>> heap;
    heap.reserve(size_t(K));
    auto worse_first = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
        return better(a.first, a.second, b.first, b.second);  // heap top = the worst kept
    };
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        while (m < n_mask && mask[m] < i) m++;
        if (m < n_mask && mask[m] == i) continue;
        const float s = scores[i];
        if (int64_t(heap.size()) < K) {
            heap.emplace_back(s, int32_t(i));
            std::push_heap(heap.begin(), heap.end(), worse_first);
        } else if (K > 0 && better(s, int32_t(i), heap.front().first, heap.front().second)) {
            std::pop_heap(heap.begin(), heap.end(), worse_first);
            heap.back() = {s, int32_t(i)};
            std::push_heap(heap.begin(), heap.end(), worse_first);
        }
    }
    std::sort_heap(heap.begin(), heap.end(), worse_first);  // best first
    for (size_t j = 0; j < heap.size(); j++) out[j] = heap[j].second;
    return int64_t(heap.size());
}

static void check_inputs(int64_t n_users, int64_t n_items, const Csr& train,
                         const std::vector<std::vector<int32_t>>& test, const std::vector<int>& ks) {
    TG_CHECK(train.rows == n_users && train.cols == n_items, "evaluate: train matrix is ", train.rows, "x",
             train.cols, " but the model has ", n_users, " users x ", n_items, " items");
    TG_CHECK(int64_t(test.size()) <= n_users, "evaluate: test has ", test.size(), " users, model ", n_users);
    TG_CHECK(!ks.empty(), "evaluate: no K given");
    for (int k : ks) TG_CHECK(k > 0, "evaluate: K must be positive, got ", k);
    for (size_t u = 0; u < test.size(); u++)
        for (int32_t i : test[u])
            TG_CHECK(i >= 0 && i < n_items, "evaluate: test item ", i, " of user ", u, " is outside 0..", n_items - 1);
}

static Metrics finish(const std::vector<int>& ks, const std::vector<double>& sums, int64_t n_users, double secs) {
    Metrics M;
    M.ks = ks;
    const size_t nk = ks.size();
    const double div = n_users > 0 ? double(n_users) : 1.0;
    for (size_t q = 0; q < nk; q++) {
        M.recall.push_back(sums[q] / div);
        M.ndcg.push_back(sums[nk + q] / div);
        M.precision.push_back(sums[2 * nk + q] / div);
        M.hr.push_back(sums[3 * nk + q] / div);
    }
    M.n_users = n_users;
    M.seconds = secs;
    return M;
}

Metrics evaluate_embeddings(const float* U, const float* V, int64_t n_users, int64_t n_items, int64_t D,
                            const Csr& train, const std::vector<std::vector<int32_t>>& test,
                            const std::vector<int>& ks) {
    check_inputs(n_users, n_items, train, test, ks);
    const auto t0 = std::chrono::steady_clock::now();
    const int kmax = *std::max_element(ks.begin(), ks.end());
    const size_t nk = ks.size();
    // Users to evaluate, compacted so every block is full of real work.
    std::vector<int32_t> users;
    for (size_t u = 0; u < test.size(); u++)
        if (!test[u].empty()) users.push_back(int32_t(u));
    const int64_t n_eval = int64_t(users.size());

    const int64_t B = 256;  // users per block: scores [B, I] floats (40 MB for 40k items)
    std::vector<float> Ub(static_cast<size_t>(B * D)), S(static_cast<size_t>(B * n_items));
    std::vector<int32_t> top(static_cast<size_t>(B * kmax));
    // Per-user metric rows, summed in user order at the end (deterministic for any thread count).
    std::vector<double> per_user(static_cast<size_t>(n_eval) * 4 * nk, 0.0);
    for (int64_t b0 = 0; b0 < n_eval; b0 += B) {
        const int64_t nb = std::min(B, n_eval - b0);
        for (int64_t j = 0; j < nb; j++)
            std::copy(U + int64_t(users[size_t(b0 + j)]) * D, U + int64_t(users[size_t(b0 + j)] + 1) * D,
                      Ub.begin() + j * D);
        // S[nb, I] = Ub[nb, D] · Vᵀ   (V stored [I, D])
        gemm_f32(false, true, nb, n_items, D, 1.f, Ub.data(), D, V, D, 0.f, S.data(), n_items);
#pragma omp parallel for schedule(dynamic, 4) num_threads(tg::num_threads())
        for (int64_t j = 0; j < nb; j++) {
            const int64_t u = users[size_t(b0 + j)];
            const int32_t* mask = train.indices.data() + train.row_begin(u);
            const int64_t n_mask = train.row_end(u) - train.row_begin(u);
            int32_t* t = top.data() + j * kmax;
            const int64_t n = topk_row(S.data() + j * n_items, n_items, mask, n_mask, kmax, t);
            double* row = per_user.data() + size_t(b0 + j) * 4 * nk;
            accumulate_user(t, n, test[size_t(u)], ks, row, row + nk, row + 2 * nk, row + 3 * nk);
        }
    }
    std::vector<double> sums(4 * nk, 0.0);
    for (int64_t j = 0; j < n_eval; j++)
        for (size_t q = 0; q < 4 * nk; q++) sums[q] += per_user[size_t(j) * 4 * nk + q];
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return finish(ks, sums, n_eval, secs);
}

Metrics evaluate_embeddings_ref(const float* U, const float* V, int64_t n_users, int64_t n_items, int64_t D,
                                const Csr& train, const std::vector<std::vector<int32_t>>& test,
                                const std::vector<int>& ks) {
    check_inputs(n_users, n_items, train, test, ks);
    const size_t nk = ks.size();
    std::vector<double> sums(4 * nk, 0.0);
    int64_t n_eval = 0;
    for (size_t u = 0; u < test.size(); u++) {
        if (test[u].empty()) continue;
        n_eval++;
        // Full double scores, training items removed, then a full sort (score desc, index asc).
        std::vector<std::pair<double, int32_t>> cand;
        for (int64_t i = 0; i < n_items; i++) {
            bool in_train = false;
            for (int64_t e = train.row_begin(int64_t(u)); e < train.row_end(int64_t(u)); e++)
                in_train |= train.indices[size_t(e)] == i;
            if (in_train) continue;
            double s = 0;
            for (int64_t d = 0; d < D; d++) s += double(U[int64_t(u) * D + d]) * V[i * D + d];
            cand.emplace_back(s, int32_t(i));
        }
        std::sort(cand.begin(), cand.end(), [](auto& a, auto& b) {
            return a.first > b.first || (a.first == b.first && a.second < b.second);
        });
        std::vector<int32_t> ranked;
        for (auto& c : cand) ranked.push_back(c.second);
        // Metrics from their definitions, written out again independently of accumulate_user.
        for (size_t q = 0; q < nk; q++) {
            const int K = ks[q];
            double hits = 0, dcg = 0, idcg = 0;
            for (int j = 0; j < K && j < int(ranked.size()); j++) {
                bool hit = false;
                for (int32_t t : test[u]) hit |= (t == ranked[size_t(j)]);
                if (hit) hits++, dcg += 1.0 / std::log2(j + 2.0);
            }
            for (int j = 0; j < std::min<int>(K, int(test[u].size())); j++) idcg += 1.0 / std::log2(j + 2.0);
            sums[q] += hits / double(test[u].size());
            sums[nk + q] += dcg / idcg;
            sums[2 * nk + q] += hits / K;
            sums[3 * nk + q] += hits > 0;
        }
    }
    return finish(ks, sums, n_eval, 0.0);
}

}  // namespace tg::graph
