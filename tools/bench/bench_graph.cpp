// bench_graph.cpp — `make bench-graph`: LightGCN epoch, evaluation and PureSVD on Gowalla, ours vs
// PyTorch / scipy in the same run with the same thread count.
//
//   ./build/bench_graph [--data DIR] [--batches N] [--no-peer]
//
// LightGCN: times N batches of 2048 (after one warm-up batch) and extrapolates to an epoch
// (ceil(n_train / 2048) batches), for us and for tools/ref/lightgcn_torch.py (torch.sparse propagation
// as in the official code). Both sides do the same work per batch: sample, propagate (3 layers), BPR +
// L2, backward through the propagation, Adam on all embeddings. Eval: full-ranking top-20 for every
// Gowalla user (train items masked). PureSVD: rank-64 randomized SVD vs scipy.sparse.linalg.svds, with
// the largest relative difference of the 64 singular values.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "graph/dataset.h"
#include "graph/lightgcn.h"
#include "graph/metrics.h"
#include "graph/svd.h"
#include "tensor/common.h"
#include "tensor/json.h"
#include "tensor/parallel.h"

using namespace tg;
using namespace tg::graph;
using Clock = std::chrono::steady_clock;

static double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int main(int argc, char** argv) {
    std::string data = std::string(TG_SOURCE_DIR) + "/../shared/data/lightgcn-gowalla";
    int batches = 20;
    bool peer = true;
    for (int i = 1; i < argc; i++) {
        if (!std::strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
        else if (!std::strcmp(argv[i], "--batches") && i + 1 < argc) batches = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--no-peer")) peer = false;
    }
    try {
        const int threads = num_threads();
        Dataset ds = load_lightgcn_dir(data);
        std::printf("bench-graph: %s: %d users, %d items, %lld train; %d threads\n", data.c_str(), ds.n_users,
                    ds.n_items, (long long)ds.n_train(), threads);

        // ---- LightGCN epoch ----
        LightGcnConfig cfg;  // dim 64, 3 layers, batch 2048, lr 1e-3, reg 1e-4
        LightGcn m;
        m.init(ds.train, cfg);
        m.train_batch(0);  // warm-up (allocations, page faults)
        auto t0 = Clock::now();
        for (int b = 1; b <= batches; b++) m.train_batch(b);
        const double ours_batch = since(t0) / batches;
        const double ours_epoch = ours_batch * double(m.batches_per_epoch());

        // ---- evaluation (top-20 for every user) ----
        auto F = m.final_embeddings();
        t0 = Clock::now();
        Metrics M = evaluate_embeddings(F.data(), F.data() + int64_t(ds.n_users) * 64, ds.n_users, ds.n_items, 64,
                                        ds.train, ds.test, {20});
        const double eval_s = since(t0);

        // ---- PureSVD rank 64 ----
        t0 = Clock::now();
        SvdResult s = randomized_svd([&] { Csr b = ds.train; b.values.clear(); return b; }(), 64, 16, 8, 0);
        const double svd_s = since(t0);

        std::printf("\n%-34s %12s\n", "ours", "seconds");
        std::printf("%-34s %12.3f\n", "LightGCN batch (2048)", ours_batch);
        std::printf("%-34s %12.1f   (%lld batches, extrapolated from %d)\n", "LightGCN epoch", ours_epoch,
                    (long long)m.batches_per_epoch(), batches);
        std::printf("%-34s %12.2f   (%lld users)\n", "eval: top-20 for every user", eval_s, (long long)M.n_users);
        std::printf("%-34s %12.2f   (oversample 16, 8 power iterations)\n", "PureSVD rank 64", svd_s);
        if (!peer) return 0;

        // ---- peers: PyTorch LightGCN and scipy svds, same threads ----
        std::string cmd = "python3 " + std::string(TG_SOURCE_DIR) + "/tools/ref/lightgcn_torch.py --data '" + data +
                          "' --bench " + std::to_string(std::max(3, batches / 4)) + " --svd 64 --threads " +
                          std::to_string(threads);
        FILE* p = popen(cmd.c_str(), "r");
        if (!p) throw Error("cannot run " + cmd);
        std::string out;
        char buf[4096];
        while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
        if (pclose(p) != 0) throw Error("peer failed: " + cmd + "\n" + out);
        auto j = json::parse(out.substr(out.rfind('{')), "lightgcn_torch.py output");
        const double torch_epoch = j.find("epoch_seconds_extrapolated")->as_number();
        const double svds_s = j.find("svds_seconds")->as_number();
        double max_rel = 0;
        const auto& sig = j.find("svds_sigma")->arr;
        for (size_t k = 0; k < sig.size() && k < s.s.size(); k++)
            max_rel = std::max(max_rel, std::fabs(s.s[k] - sig[k].as_number()) / sig[k].as_number());
        std::printf("\n%-34s %12s %12s %10s\n", "same run, same threads", "ours (s)", "peer (s)", "speed-up");
        std::printf("%-34s %12.1f %12.1f %9.1fx   (PyTorch torch.sparse, %s batches timed)\n", "LightGCN epoch (batch 2048)",
                    ours_epoch, torch_epoch, torch_epoch / ours_epoch, std::to_string(std::max(3, batches / 4)).c_str());
        std::printf("%-34s %12.2f %12.2f %9.1fx   (max rel. sigma diff %.1e)\n", "PureSVD rank 64 vs scipy svds", svd_s,
                    svds_s, svds_s / svd_s, max_rel);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_graph: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
