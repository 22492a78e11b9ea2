// bench_graph.cpp — `make bench-graph`: LightGCN epoch, evaluation and PureSVD on Gowalla, ours vs
// PyTorch / scipy in the same run with the same thread count.
//
//   ./build/bench_graph [--data DIR] [--batches N] [--no-peer] [--svd-only] [--no-svd] [--svd-repeats N]
//
// LightGCN: times N batches of 2048 (after one warm-up batch) and extrapolates to an epoch
// (ceil(n_train / 2048) batches), for us and for tools/ref/lightgcn_torch.py (torch.sparse propagation
// as in the official code). Both sides do the same work per batch: sample, propagate (3 layers), BPR +
// L2, backward through the propagation, Adam on all embeddings. Eval: full-ranking top-20 for every
// Gowalla user (train items masked). PureSVD: rank-64 krylov_svd (block Krylov, src/graph/svd.h) vs
// scipy.sparse.linalg.svds with its defaults (ARPACK, tol=0), measured alternately N times (median
// reported), and the accuracy of both: the largest relative error of the 64 singular values against a
// reference computed once by tools/ref/svds_peer.py --reference (svds basis + long-double
// Rayleigh–Ritz, ~1e-18) and cached next to this binary.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

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

// Run a command and parse the last JSON object it prints.
static json::Value run_json(const std::string& cmd) {
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) throw Error("cannot run " + cmd);
    std::string out;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    if (pclose(p) != 0 || out.rfind('{') == std::string::npos) throw Error("peer failed: " + cmd + "\n" + out);
    return json::parse(out.substr(out.rfind('{')), cmd);
}

static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// largest |s_i - ref_i| / ref_i over the leading min(|s|, |ref|) values
static double max_rel_err(const std::vector<double>& s, const std::vector<double>& ref) {
    double e = 0;
    for (size_t i = 0; i < s.size() && i < ref.size(); i++) e = std::max(e, std::fabs(s[i] - ref[i]) / ref[i]);
    return e;
}

int main(int argc, char** argv) {
    std::string data = std::string(TG_SOURCE_DIR) + "/../shared/data/lightgcn-gowalla";
    int batches = 20, svd_repeats = 3;
    bool peer = true, svd_only = false, no_svd = false;
    for (int i = 1; i < argc; i++) {
        if (!std::strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
        else if (!std::strcmp(argv[i], "--batches") && i + 1 < argc) batches = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--no-peer")) peer = false;
        else if (!std::strcmp(argv[i], "--svd-only")) svd_only = true;
        else if (!std::strcmp(argv[i], "--no-svd")) no_svd = true;
        else if (!std::strcmp(argv[i], "--svd-repeats") && i + 1 < argc) svd_repeats = std::max(1, std::atoi(argv[++i]));
        else {
            const bool help = !std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h");
            std::fprintf(help ? stdout : stderr,
                         "%s%s"
                         "usage: bench_graph [--data DIR] [--batches N] [--no-peer] [--no-svd | --svd-only]\n"
                         "                   [--svd-repeats N]\n"
                         "  LightGCN epoch (N timed batches, default 20) and top-20 eval vs PyTorch (--no-peer: ours\n"
                         "  only), PureSVD rank 64 vs scipy svds; DIR defaults to ../shared/data/lightgcn-gowalla.\n",
                         help ? "" : "bench_graph: unknown option ", help ? "" : (std::string(argv[i]) + "\n").c_str());
            return help ? 0 : 2;
        }
    }
    try {
        const int threads = num_threads();
        Dataset ds = load_lightgcn_dir(data);
        std::printf("bench-graph: %s: %d users, %d items, %lld train; %d threads\n", data.c_str(), ds.n_users,
                    ds.n_items, (long long)ds.n_train(), threads);

        if (!svd_only) {
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

            std::printf("\n%-34s %12s\n", "ours", "seconds");
            std::printf("%-34s %12.3f\n", "LightGCN batch (2048)", ours_batch);
            std::printf("%-34s %12.1f   (%lld batches, extrapolated from %d)\n", "LightGCN epoch", ours_epoch,
                        (long long)m.batches_per_epoch(), batches);
            std::printf("%-34s %12.2f   (%lld users)\n", "eval: top-20 for every user", eval_s, (long long)M.n_users);
            if (peer) {
                // ---- peer: PyTorch LightGCN, same threads ----
                const int torch_batches = std::max(3, batches / 4);
                auto j = run_json("python3 " + std::string(TG_SOURCE_DIR) + "/tools/ref/lightgcn_torch.py --data '" +
                                  data + "' --bench " + std::to_string(torch_batches) + " --threads " +
                                  std::to_string(threads));
                const double torch_epoch = j.find("epoch_seconds_extrapolated")->as_number();
                std::printf("\n%-34s %12s %12s %10s\n", "same run, same threads", "ours (s)", "peer (s)", "speed-up");
                std::printf("%-34s %12.1f %12.1f %9.1fx   (PyTorch torch.sparse, %d batches timed)\n",
                            "LightGCN epoch (batch 2048)", ours_epoch, torch_epoch, torch_epoch / ours_epoch, torch_batches);
            }
        }

        if (no_svd) return 0;
        // ---- PureSVD rank 64: ours and scipy svds alternately, svd_repeats times each ----
        Csr B = ds.train;
        B.values.clear();  // binary, as puresvd_factors
        const int64_t k = 64;
        KrylovSvdOptions opt;  // oversample 16, tol 1e-14, seed 0
        const std::string peer_cmd = "OPENBLAS_NUM_THREADS=" + std::to_string(threads) + " python3 " +
                                     std::string(TG_SOURCE_DIR) + "/tools/ref/svds_peer.py --data '" + data + "'";
        std::vector<double> ours_t, peer_t, peer_err;
        std::vector<std::vector<double>> peer_sig;
        SvdResult s;
        for (int rep = 0; rep < svd_repeats; rep++) {
            auto t0 = Clock::now();
            s = krylov_svd(B, k, opt);
            ours_t.push_back(since(t0));
            if (peer) {
                auto j = run_json(peer_cmd + " --time " + std::to_string(k));
                peer_t.push_back(j.find("svds_seconds")->as_number());
                peer_sig.emplace_back();
                for (const auto& v : j.find("svds_sigma")->arr) peer_sig.back().push_back(v.as_number());
            }
        }
        std::printf("\n%-34s %12s %12s %10s\n", "PureSVD rank 64, median of", "ours (s)", "svds (s)", "speed-up");
        if (!peer) {
            std::printf("%-34s %12.2f   (block Krylov: %lld steps, basis %lld, oversample %lld, tol %.0e)\n",
                        (std::to_string(svd_repeats) + " runs").c_str(), median(ours_t), (long long)s.iters,
                        (long long)s.krylov_dim, (long long)opt.oversample, opt.tol);
            return 0;
        }
        const std::string cache = (std::filesystem::path(argv[0]).parent_path() / "svd_reference_k64.json").string();
        auto jr = run_json(peer_cmd + " --reference " + std::to_string(k) + " --cache '" + cache + "'");
        std::vector<double> ref;
        for (const auto& v : jr.find("reference_sigma")->arr) ref.push_back(v.as_number());
        for (const auto& ps : peer_sig) peer_err.push_back(max_rel_err(ps, ref));
        const double ours_med = median(ours_t), peer_med = median(peer_t);
        std::printf("%-34s %12.2f %12.2f %9.2fx   (scipy svds defaults: ARPACK, tol=0)\n",
                    (std::to_string(svd_repeats) + " alternating runs").c_str(), ours_med, peer_med, peer_med / ours_med);
        std::printf("%-34s %12.1e %12.1e %10s   (max |s_i - ref_i| / ref_i, i < 64; svds: worst run)\n",
                    "sigma error vs reference", max_rel_err(s.s, ref), *std::max_element(peer_err.begin(), peer_err.end()),
                    "");
        std::printf("%-34s block Krylov: %lld steps (2 sparse products each, 8 wide), basis %lld, oversample %lld, tol %.0e\n",
                    "ours", (long long)s.iters, (long long)s.krylov_dim, (long long)opt.oversample, opt.tol);
        std::printf("%-34s ours:", "all times (s)");
        for (double t : ours_t) std::printf(" %.2f", t);
        std::printf("   svds:");
        for (double t : peer_t) std::printf(" %.2f", t);
        std::printf("\n");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_graph: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
