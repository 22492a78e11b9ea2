// bench_bert.cpp — time our BERT encoder on fixed token ids; one JSON line per configuration.
//
//   bench_bert --model weights/all-MiniLM-L6-v2 --ids ids.npy [--dtype f32|bf16] [--threads 2]
//              [--batches 1,8,32] [--seqs 32,128] [--seconds 2] [--emb-out emb.npy]
//
// ids.npy: int32 [N, Smax] token ids of real sentences, each row exactly Smax tokens ([CLS] ... [SEP], the
// sentences chosen long enough to need no padding); tools/bench/bench_bert.py writes it from the data in
// ../shared and runs this program beside ONNX Runtime and PyTorch on the same ids. For seq S a row is cut to
// its first S-1 tokens plus its final [SEP], so every peer sees the same ids.
// For each batch size B and sequence length S it runs one warm-up batch, then consecutive batches of B rows
// (cycling through the N rows) for at least --seconds, and prints
//   {"impl":"tastegraph","dtype":"f32","threads":2,"batch":B,"seq":S,"ms_per_batch":..,"sent_per_s":..,
//    "peak_rss_mb":..,"gemm":".."}
// peak_rss_mb is the process's peak resident set so far (VmHWM), weights included. gemm names the GEMM kernel
// the weights were packed for: "f32", or for bf16 "wide", "dot" (vdpbf16ps) or "f32-widened" (tensor/gemm.h).
// --emb-out writes the mean-pooled embeddings of the first 32 rows at the last seq length (for the bf16-vs-f32
// cosine check).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "nn/bert.h"
#include "nn/pooling.h"
#include "tensor/common.h"
#include "tensor/gemm.h"
#include "tensor/npy.h"
#include "tensor/parallel.h"
#include "bench_util.h"

using namespace tg;

static std::vector<int64_t> parse_list(const std::string& s) {
    std::vector<int64_t> v;
    std::stringstream in(s);
    std::string tok;
    while (std::getline(in, tok, ',')) v.push_back(std::stoll(tok));
    return v;
}

// Append row r (Smax ids) cut to S tokens: its first S-1 ids and its final [SEP].
static void add_row(PackedBatch& p, const int32_t* r, int64_t Smax, int64_t S) {
    std::vector<int32_t> row(r, r + S);
    row[size_t(S - 1)] = r[Smax - 1];
    p.add(row.data(), nullptr, S);
}

int main(int argc, char** argv) {
    std::string model = "weights/all-MiniLM-L6-v2", ids_path, dtype_s = "f32", emb_out;
    std::string batches = "1,8,32", seqs = "32,128";
    int threads = 2;
    double seconds = 2.0;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string k = argv[i], v = argv[i + 1];
        if (k == "--model") model = v;
        else if (k == "--ids") ids_path = v;
        else if (k == "--dtype") dtype_s = v;
        else if (k == "--threads") threads = std::stoi(v);
        else if (k == "--batches") batches = v;
        else if (k == "--seqs") seqs = v;
        else if (k == "--seconds") seconds = std::stod(v);
        else if (k == "--emb-out") emb_out = v;
        else {
            std::fprintf(stderr, "bench_bert: unknown option %s\n", k.c_str());
            return 2;
        }
    }
    if (ids_path.empty()) {
        std::fprintf(stderr, "usage: bench_bert --model DIR --ids ids.npy [--dtype f32|bf16] [--threads N] "
                             "[--batches 1,8,32] [--seqs 32,128] [--seconds S] [--emb-out FILE]\n");
        return 2;
    }
    try {
        set_num_threads(threads);
        const DType dtype = dtype_s == "bf16" ? DType::bf16 : DType::f32;
        BertEncoder bert = BertEncoder::load(model, dtype);
        // the layout a weight packed now gets (what load just did): which GEMM kernel the timings are of
        const char* gemm_name = "f32";
        if (dtype == DType::bf16) {
            const uint16_t one[1] = {0x3f80};
            const GemmPackedB pb = gemm_pack_b_bf16(true, 1, 1, one, 1);
            gemm_name = pb.wide ? "wide" : pb.pairs ? "dot" : "f32-widened";
        }
        NpyFile ids(ids_path);
        TG_CHECK(ids.dtype() == DType::i32 && ids.shape().size() == 2, ids_path, ": expected int32 [N, S]");
        const int64_t N = ids.shape()[0], Smax = ids.shape()[1];
        const int32_t* all = ids.data<int32_t>();
        const int64_t C = bert.dims().C;
        BertWorkspace ws;
        std::vector<float> emb;
        int64_t emb_rows = 0;
        for (int64_t S : parse_list(seqs)) {
            TG_CHECK(S >= 2 && S <= Smax, "seq ", S, " outside [2, ", Smax, "]");
            for (int64_t B : parse_list(batches)) {
                int64_t next_row = 0;
                auto make_batch = [&] {
                    PackedBatch p;
                    for (int64_t b = 0; b < B; b++) add_row(p, all + (next_row++ % N) * Smax, Smax, S);
                    return p;
                };
                bert.forward(make_batch(), ws);  // warm-up: workspace sized, pages touched
                int64_t iters = 0;
                const auto t0 = std::chrono::steady_clock::now();
                double el = 0;
                do {
                    PackedBatch p = make_batch();
                    bert.forward(p, ws);
                    iters++;
                    el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                } while (el < seconds || iters < 3);
                const double ms = 1e3 * el / double(iters);
                std::printf("{\"impl\":\"tastegraph\",\"dtype\":\"%s\",\"threads\":%d,\"batch\":%lld,\"seq\":%lld,"
                            "\"ms_per_batch\":%.3f,\"sent_per_s\":%.2f,\"peak_rss_mb\":%.1f,\"gemm\":\"%s\"}\n",
                            dtype_s.c_str(), threads, (long long)B, (long long)S, ms, 1e3 * double(B) / ms,
                            peak_rss_mb(), gemm_name);
                std::fflush(stdout);
            }
            if (!emb_out.empty()) {  // mean-pooled embeddings of the first min(N, 32) rows at this S
                emb_rows = std::min<int64_t>(N, 32);
                PackedBatch p;
                for (int64_t b = 0; b < emb_rows; b++) add_row(p, all + b * Smax, Smax, S);
                bert.forward(p, ws, false);
                emb.assign(size_t(emb_rows * C), 0.0f);
                pool_forward(emb.data(), ws.hidden(), p.offsets.data(), emb_rows, C, PoolMode::mean);
            }
        }
        if (!emb_out.empty()) save_npy(emb_out, emb.data(), {emb_rows, C});
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_bert: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
