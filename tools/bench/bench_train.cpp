// bench_train.cpp — time one BERT fine-tuning step (forward, backward, clipping, AdamW) on fixed batches; one
// JSON line. tools/bench/bench_train.py (`make bench-train`) writes the data and runs this beside PyTorch.
//
//   bench_train --model weights/all-MiniLM-L6-v2 --work DIR [--threads 2] [--batch 32] [--warmup 3]
//               [--steps 10] [--lr 5e-5] [--matmul f32|bf16]
//
// DIR holds what bench_train.py wrote from real reviews: ids.npy and mask.npy int32 [N, T] (cut or padded to
// exactly T), labels.npy int64 [N] (10 classes), head_w.npy f32 [10, C] (the head's initial weight; bias 0).
// The step, as `tastegraph finetune` runs it (nn/finetune.cpp) with dropout off:
//   h = BertTrainable(ids, mask, 0) [B, T, C];  z = masked mean of h [B, C];  loss = CE(z Wᵀ + b, y)
//   loss.backward();  clip_grad_norm(all, 1.0);  AdamW (wd 0.01 on matrices/embeddings, 0 on vectors);  zero_grad
// --matmul bf16 runs the encoder's Linears on bf16 GEMM operands (BertTrainable::bf16_matmul, autocast style).
// Step s uses rows [s·B, (s+1)·B) mod N. After --warmup steps, --steps timed steps; prints
//   {"impl":"tastegraph","threads":2,"batch":B,"seq":T,"steps":S,"ms_per_step":..(median),"samples_per_s":..,
//    "fwd_ms":..,"bwd_ms":..,"opt_ms":..,"peak_rss_mb":..,"page_faults_per_step":..,"alloc_misses_per_step":..,
//    "alloc_evictions_per_step":..,"losses":[every step's loss]}
// peak_rss_mb is the process's peak resident set (VmHWM): weights, activations, gradients and Adam moments.
// page_faults_per_step (minor faults over the timed steps / steps) counts fresh zeroed 4 KiB pages, i.e. memory
// the caching allocator (tensor/allocator.h) did not reuse; alloc_* are its misses and evictions per step.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <sys/resource.h>

#include "nn/bert_train.h"
#include "nn/finetune.h"
#include "nn/heads.h"
#include "nn/optim.h"
#include "tensor/allocator.h"
#include "tensor/npy.h"
#include "tensor/parallel.h"
#include "bench_util.h"

using namespace tg;

// Minor page faults so far (each one a fresh 4 KiB page the kernel zeroed: memory that was not reused).
static long minor_faults() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

static Tensor load_npy(const std::string& path) {
    NpyFile f(path);
    Tensor t = Tensor::empty(f.shape(), f.dtype());
    std::memcpy(t.raw_data(), f.bytes(), f.nbytes());
    return t;
}

static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n == 0 ? 0.0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char** argv) {
    std::string model = "weights/all-MiniLM-L6-v2", work, matmul = "f32";
    int threads = 2;
    int64_t B = 32, warmup = 3, steps = 10;
    float lr = 5e-5f;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string k = argv[i], v = argv[i + 1];
        if (k == "--model") model = v;
        else if (k == "--work") work = v;
        else if (k == "--threads") threads = std::stoi(v);
        else if (k == "--batch") B = std::stoll(v);
        else if (k == "--warmup") warmup = std::stoll(v);
        else if (k == "--steps") steps = std::stoll(v);
        else if (k == "--lr") lr = std::stof(v);
        else if (k == "--matmul") matmul = v;
        else {
            std::fprintf(stderr, "bench_train: unknown option %s\n", k.c_str());
            return 2;
        }
    }
    if (work.empty() || B < 1 || steps < 1 || warmup < 0 || (matmul != "f32" && matmul != "bf16")) {
        std::fprintf(stderr, "usage: bench_train --model DIR --work DIR [--threads N] [--batch B] [--warmup W] "
                             "[--steps S] [--lr LR] [--matmul f32|bf16]\n");
        return 2;
    }
    try {
        set_num_threads(threads);
        const Tensor ids = load_npy(work + "/ids.npy"), mask = load_npy(work + "/mask.npy");
        const Tensor labels = load_npy(work + "/labels.npy"), head_w = load_npy(work + "/head_w.npy");
        TG_CHECK(ids.dim() == 2 && ids.dtype() == DType::i32 && mask.shape() == ids.shape() &&
                     labels.shape() == Shape{ids.size(0)} && labels.dtype() == DType::i64 && head_w.dim() == 2,
                 "bench_train: ", work, ": unexpected ids ", ids.str(), ", mask ", mask.str(), ", labels ",
                 labels.str(), ", head_w ", head_w.str());
        const int64_t N = ids.size(0), T = ids.size(1);

        auto bert = nn::BertTrainable::load(model);
        bert->hidden_dropout = bert->attention_dropout = 0.0f;
        bert->bf16_matmul = matmul == "bf16";
        const int64_t C = bert->config().hidden_size;
        TG_CHECK(head_w.size(1) == C, "bench_train: head_w ", head_w.str(), " for hidden size ", C);
        nn::LinearHead head(nn::TaskKind::softmax, C, head_w.size(0), 1);
        head.weight.copy_(head_w);
        head.bias.fill_(0.0f);

        // parameter groups as nn/finetune.cpp: weight decay on matrices and embeddings only
        std::vector<std::pair<std::string, Tensor>> decay, no_decay;
        auto params = bert->named_parameters();
        for (auto& [n, p] : head.named_parameters()) params.emplace_back("head." + n, p);
        for (auto& [n, p] : params) (p.dim() >= 2 ? decay : no_decay).emplace_back(n, p);
        nn::AdamWState opt_d(decay, 0.01f), opt_n(no_decay, 0.0f);
        std::vector<Tensor> all = opt_d.params;
        all.insert(all.end(), opt_n.params.begin(), opt_n.params.end());

        const Tensor tt = Tensor::zeros({B, T}, DType::i64);
        std::vector<double> losses, step_ms, fwd_ms, bwd_ms, opt_ms;
        using clock = std::chrono::steady_clock;
        auto ms = [](clock::time_point a, clock::time_point b) {
            return 1e3 * std::chrono::duration<double>(b - a).count();
        };
        long faults0 = 0;
        AllocatorStats alloc0;
        for (int64_t s = 0; s < warmup + steps; ++s) {
            const Tensor x = Tensor::empty({B, T}, DType::i32), m = Tensor::empty({B, T}, DType::i32);
            const Tensor y = Tensor::empty({B}, DType::i64);
            for (int64_t i = 0; i < B; ++i) {
                const int64_t r = (s * B + i) % N;
                std::memcpy(x.data<int32_t>() + i * T, ids.data<int32_t>() + r * T, size_t(T) * 4);
                std::memcpy(m.data<int32_t>() + i * T, mask.data<int32_t>() + r * T, size_t(T) * 4);
                y.data<int64_t>()[i] = labels.data<int64_t>()[r];
            }

            if (s == warmup) faults0 = minor_faults(), alloc0 = cpu_allocator_stats();
            const auto t0 = clock::now();
            Tensor h = bert->forward(x, m, tt);
            Tensor z = bert->pool(h, m, PoolMode::mean);
            Tensor loss = head.loss(head.forward(z), y);
            const float lv = loss.item();
            const auto t1 = clock::now();
            loss.backward();
            const auto t2 = clock::now();
            nn::clip_grad_norm(all, 1.0f);
            opt_d.step(lr);
            opt_n.step(lr);
            for (Tensor& p : all) p.zero_grad();
            const auto t3 = clock::now();
            losses.push_back(lv);
            if (s >= warmup) {
                step_ms.push_back(ms(t0, t3));
                fwd_ms.push_back(ms(t0, t1));
                bwd_ms.push_back(ms(t1, t2));
                opt_ms.push_back(ms(t2, t3));
            }
        }
        const double med = median(step_ms);
        const AllocatorStats alloc1 = cpu_allocator_stats();
        const double per = 1.0 / double(steps);
        std::string ls;
        for (double l : losses) {
            char b[32];
            std::snprintf(b, sizeof b, "%s%.7f", ls.empty() ? "" : ",", l);
            ls += b;
        }
        std::printf("{\"impl\":\"tastegraph\",\"matmul\":\"%s\",\"threads\":%d,\"batch\":%lld,\"seq\":%lld,\"steps\":%lld,"
                    "\"ms_per_step\":%.2f,\"samples_per_s\":%.2f,\"fwd_ms\":%.2f,\"bwd_ms\":%.2f,\"opt_ms\":%.2f,"
                    "\"peak_rss_mb\":%.1f,\"page_faults_per_step\":%.0f,\"alloc_misses_per_step\":%.1f,"
                    "\"alloc_evictions_per_step\":%.1f,\"losses\":[%s]}\n",
                    matmul.c_str(), threads, (long long)B, (long long)T, (long long)steps, med, 1e3 * double(B) / med,
                    median(fwd_ms), median(bwd_ms), median(opt_ms), peak_rss_mb(), per * double(minor_faults() - faults0),
                    per * double(alloc1.misses - alloc0.misses), per * double(alloc1.evictions - alloc0.evictions),
                    ls.c_str());
        std::fflush(stdout);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_train: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
