// bench_gemm.cpp — GEMM benchmark: our f32 and bf16 kernels vs OpenBLAS sgemm on the BERT shapes.
//
//   make bench                                   (runs ./build/bench_gemm with OpenBLAS's own CPU detection)
//   ./build-x/bench_gemm [--reps N] [--threads 1,2] [--nn-only] [--quick] [--cpu-time] [--peak-only] [--rows M]
//                        [--packed]
//
// What it does, in order:
//   1. measures this machine's f32 FMA peak for each thread count: every thread runs a loop of
//      independent FMAs (24 accumulators, enough to cover 2 pipes x 4 cycles latency), so
//      "% of peak" is relative to what the cores really do here (clock, SMT and VM included); with
//      avx512_bf16 also the vdpbf16ps peak (the bf16 GEMM's ceiling). --peak-only stops here and prints
//      {"bench":"peak","threads":T,"f32_gflops":..,"bf16_gflops":..} per thread count on stdout;
//   2. for each shape (M,N,K) of a BERT-base layer with 4096 tokens (--rows M: M tokens instead, e.g.
//      128 for the batch-1 shapes, where each packed weight block is reused by only M / 12 row panels),
//      each layout (NN: C = X·W with W [K,N]; NT: C = X·Wᵀ with W [N,K], the PyTorch Linear layout the
//      encoder uses) and each thread count: checks our f32 and bf16 results against OpenBLAS (max |diff| /
//      max |C|), then times ours f32, ours bf16 and OpenBLAS sgemm (one warm-up, then best of --reps runs,
//      default 7).
//      The load average is printed at the start and the end: timings on a busy machine are noisy.
//   --packed instead times the encoder's path: the weight ([N, K], NT) packed once ahead (gemm_pack_b_*), then
//      gemm_f32_packed / gemm_bf16_packed per call, for f32 and for both bf16 kernels of tensor/gemm.h ("dot",
//      vdpbf16ps on bf16 A; "wide", bf16 weights widened in registers, f32 A), with one JSON line per case:
//      {"bench":"gemm_packed","m":..,"n":..,"k":..,"threads":T,"f32_gflops":..,"dot_gflops":..,"wide_gflops":..}
// A readable table goes to stderr; stdout gets one JSON object per case and line:
//   {"bench":"gemm","m":4096,"n":384,"k":384,"threads":2,"dtype":"f32","gflops":..,"peak_gflops":..,
//    "openblas_gflops":..,"transB":false}
// Built without OpenBLAS, openblas_gflops is 0 and the correctness check is skipped.
// GCC 12's AVX-512 intrinsic headers trip -W(maybe-)uninitialized on their internal
// _mm512_undefined_ps() pass-through (GCC bug 105593); the warning is about the header, not this file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <time.h>
#include <vector>

#include "tensor/cpu_isa.h"
#include "tensor/dtype.h"
#include "tensor/gemm.h"
#include "tensor/parallel.h"
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef TG_HAVE_OPENBLAS
#include <cblas.h>
#endif

using namespace tg;
// Timing: wall clock by default. With --cpu-time, the process CPU time instead: on a machine shared
// with other jobs that counts only the time our threads actually ran, so one-thread figures measure
// the kernel rather than the scheduler (with 2 threads it also counts time spent waiting at barriers).
static bool g_cpu_time = false;
static double now_seconds() {
    if (g_cpu_time) {
        timespec t;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
        return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ---- FMA peak ---------------------------------------------------------------------------------
// 24 independent accumulator chains per thread; flops = iters * 24 chains * 16 lanes * 2.
__attribute__((target("avx512f,fma"))) static float fma_loop_avx512(int64_t iters) {
    __m512 acc[24];
    for (int i = 0; i < 24; i++) acc[i] = _mm512_set1_ps(float(i) * 1e-3f);
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int64_t it = 0; it < iters; it++)
#pragma GCC unroll 24
        for (int i = 0; i < 24; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    float s = 0;
    for (int i = 0; i < 24; i++) s += _mm512_reduce_add_ps(acc[i]);
    return s;
}
// AVX2 machines: 12 chains of 8 lanes.
__attribute__((target("avx2,fma"))) static float fma_loop_avx2(int64_t iters) {
    __m256 acc[12];
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps(float(i) * 1e-3f);
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (int64_t it = 0; it < iters * 4; it++)
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    float s = 0;
    float tmp[8];
    for (int i = 0; i < 12; i++) {
        _mm256_storeu_ps(tmp, acc[i]);
        for (float x : tmp) s += x;
    }
    return s;
}

// avx512_bf16: 24 chains of vdpbf16ps, each instruction 16 lanes x 2 products = 64 flops, the bf16
// GEMM's inner instruction. Where it issues at the f32 FMA's rate this peak is twice the f32 one; at
// half that rate the two are equal, and at a quarter (the Xeon of README's figures) bf16 compute is
// half as fast as f32 and bf16 cannot beat f32.
__attribute__((target("avx512f,avx512bf16"))) static float dpbf16_loop(int64_t iters) {
    __m512 acc[24];
    for (int i = 0; i < 24; i++) acc[i] = _mm512_set1_ps(float(i) * 1e-3f);
    const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(2e-3f));
    const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-4f), _mm512_set1_ps(3e-4f));
    for (int64_t it = 0; it < iters; it++)
#pragma GCC unroll 24
        for (int i = 0; i < 24; i++) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
    float s = 0;
    for (int i = 0; i < 24; i++) s += _mm512_reduce_add_ps(acc[i]);
    return s;
}

// Best of 15 short runs (~10 ms each), so that one quiet moment on a shared machine is enough;
// returns GFLOP/s summed over `threads` threads. bf16 = true measures the vdpbf16ps loop (0 when
// the CPU lacks avx512_bf16).
static double measure_peak(int threads, bool bf16 = false) {
    const bool v512 = cpu_isa_max() == Isa::avx512;
    if (bf16 && !cpu_has_avx512_bf16()) return 0;
    const int64_t iters = 1'000'000;
    // the f32 loops: iters * 24 chains * 16 lanes * 2 flops (both ISAs do the same work); bf16 twice that
    const double flops_per_thread = double(iters) * 24 * 16 * 2 * (bf16 ? 2 : 1);
    double best = 0;
    float sink = 0;
    for (int rep = 0; rep < 15; rep++) {
        const double t0 = now_seconds();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
        sink += bf16 ? dpbf16_loop(iters) : v512 ? fma_loop_avx512(iters) : fma_loop_avx2(iters);
        best = std::max(best, flops_per_thread * threads / (now_seconds() - t0) * 1e-9);
    }
    if (sink == 12345.f) std::fprintf(stderr, " ");  // keep the loops from being optimized away
    return best;
}

// The 1-minute load average: on a shared machine, a number > cores means the timings are noisy.
static double loadavg() {
    double l = -1;
    if (FILE* f = std::fopen("/proc/loadavg", "r")) {
        if (std::fscanf(f, "%lf", &l) != 1) l = -1;
        std::fclose(f);
    }
    return l;
}

// ---- helpers ----------------------------------------------------------------------------------
static std::vector<float> rand_vec(size_t n, uint64_t seed) {
    std::vector<float> v(n);
    uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    for (auto& x : v) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x = -1.f + 2.f * float((s >> 40) & 0xFFFFFF) / float(1 << 24);
    }
    return v;
}

template <typename F>
static double best_seconds(int reps, F&& f) {
    f();  // warm-up: page in buffers, grow packing scratch, spin up threads
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        const double t0 = now_seconds();
        f();
        best = std::min(best, (now_seconds() - t0));
    }
    return best;
}

static double max_rel_diff(const std::vector<float>& x, const std::vector<float>& ref) {
    double md = 0, mr = 0;
    for (size_t i = 0; i < x.size(); i++) {
        md = std::max(md, double(std::fabs(x[i] - ref[i])));
        mr = std::max(mr, double(std::fabs(ref[i])));
    }
    return md / std::max(mr, 1e-30);
}

int main(int argc, char** argv) {
    int reps = 7;
    bool nn_only = false, quick = false, peak_only = false, packed = false;
    int rows = 4096;  // M of every shape (--rows)
    std::vector<int> thread_counts = {1, 2};
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--reps" && i + 1 < argc) reps = std::max(1, std::atoi(argv[++i]));
        else if (a == "--nn-only") nn_only = true;
        else if (a == "--quick") quick = true;
        else if (a == "--cpu-time") g_cpu_time = true;
        else if (a == "--peak-only") peak_only = true;
        else if (a == "--packed") packed = true;
        else if (a == "--rows" && i + 1 < argc) rows = std::max(1, std::atoi(argv[++i]));
        else if (a == "--threads" && i + 1 < argc) {
            thread_counts.clear();
            for (const char* p = argv[++i]; *p;) {
                thread_counts.push_back(std::max(1, std::atoi(p)));
                while (*p && *p != ',') p++;
                if (*p == ',') p++;
            }
        } else {
            std::fprintf(stderr, "usage: bench_gemm [--reps N] [--threads 1,2] [--nn-only] [--quick] [--cpu-time] "
                                 "[--peak-only] [--rows M] [--packed]\n");
            return 2;
        }
    }

    struct Shape {
        int64_t m, n, k;
    };
    std::vector<Shape> shapes = {{4096, 384, 384},  {4096, 1536, 384},  {4096, 384, 1536},
                                 {4096, 768, 768},  {4096, 3072, 768},  {4096, 768, 3072}};
    if (quick) shapes.resize(2);
    for (Shape& s : shapes) s.m = rows;

    std::fprintf(stderr, "bench_gemm: isa=%s avx512_bf16=%d", isa_name(cpu_isa()), int(cpu_has_avx512_bf16()));
#ifdef TG_HAVE_OPENBLAS
    std::fprintf(stderr, " openblas=%s (%s)", openblas_get_corename(), openblas_get_config());
#else
    std::fprintf(stderr, " openblas=absent");
#endif
    std::fprintf(stderr, "\nload average at start: %.2f; timing: %s\n", loadavg(),
                 g_cpu_time ? "process CPU time (--cpu-time)" : "wall clock");

    // Peaks are measured from the largest thread count down: measured in the other order (1 then 2)
    // the 2-thread loop was seen to report the 1-thread figure on this VM, while 2 then 1 reads right.
    std::vector<double> peak(thread_counts.size());
    std::vector<size_t> order(thread_counts.size());
    for (size_t t = 0; t < order.size(); t++) order[t] = t;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return thread_counts[a] > thread_counts[b]; });
    std::vector<double> peak16(thread_counts.size());
    for (size_t t : order) peak[t] = measure_peak(thread_counts[t]);
    for (size_t t : order) peak16[t] = measure_peak(thread_counts[t], true);
    for (size_t t = 0; t < thread_counts.size(); t++) {
        std::fprintf(stderr, "FMA peak, %d thread(s): %.1f GFLOP/s f32", thread_counts[t], peak[t]);
        if (peak16[t] > 0) std::fprintf(stderr, ", %.1f GFLOP/s bf16 (vdpbf16ps)", peak16[t]);
        std::fprintf(stderr, "\n");
    }
    if (peak_only) {  // for tools/bench/bench_bert.py: the ceilings its goals are measured against
        for (size_t t = 0; t < thread_counts.size(); t++)
            std::printf("{\"bench\":\"peak\",\"threads\":%d,\"f32_gflops\":%.1f,\"bf16_gflops\":%.1f}\n",
                        thread_counts[t], peak[t], peak16[t]);
        return 0;
    }
    if (packed) {  // the encoder's path: weights packed once, f32 and both bf16 kernels
        std::fprintf(stderr, "\npacked weights (NT)  thr |  f32 GF/s  %%peak | dot GF/s  %%peak | wide GF/s  %%peak\n");
        const Bf16Gemm keep = gemm_bf16_kernel();
        for (const Shape& s : shapes) {
            const int64_t M = s.m, N = s.n, K = s.k;
            const auto A = rand_vec(size_t(M * K), 1), W = rand_vec(size_t(K * N), 2);
            std::vector<uint16_t> A16(A.size()), W16(W.size());
            for (size_t i = 0; i < A.size(); i++) A16[i] = f32_to_bf16(A[i]);
            for (size_t i = 0; i < W.size(); i++) W16[i] = f32_to_bf16(W[i]);
            std::vector<float> C(size_t(M * N));
            const double flops = 2.0 * double(M) * double(N) * double(K);
            const GemmPackedB p32 = gemm_pack_b_f32(true, N, K, W.data(), K);
            set_gemm_bf16_kernel(Bf16Gemm::dot);
            const GemmPackedB pdot = gemm_pack_b_bf16(true, N, K, W16.data(), K);
            set_gemm_bf16_kernel(Bf16Gemm::wide);
            const GemmPackedB pwide = gemm_pack_b_bf16(true, N, K, W16.data(), K);
            for (size_t ti = 0; ti < thread_counts.size(); ti++) {
                set_num_threads(thread_counts[ti]);
                const double gf32 = flops / best_seconds(reps, [&] {
                    gemm_f32_packed(false, M, N, K, 1.f, A.data(), K, p32, 0.f, C.data(), N);
                }) * 1e-9;
                set_gemm_bf16_kernel(Bf16Gemm::dot);
                const double gfd = flops / best_seconds(reps, [&] {
                    gemm_bf16_packed(false, M, N, K, 1.f, A16.data(), K, pdot, 0.f, C.data(), N);
                }) * 1e-9;
                set_gemm_bf16_kernel(Bf16Gemm::wide);
                const double gfw = !pwide.wide ? 0.0 : flops / best_seconds(reps, [&] {
                    gemm_f32_packed(false, M, N, K, 1.f, A.data(), K, pwide, 0.f, C.data(), N);
                }) * 1e-9;
                const double pk = peak[ti];
                char shape[32];
                std::snprintf(shape, sizeof shape, "%lld,%lld,%lld", (long long)M, (long long)N, (long long)K);
                std::fprintf(stderr, "%-20s %3d | %9.1f %5.1f%% | %8.1f %5.1f%% | %9.1f %5.1f%%\n", shape,
                             thread_counts[ti], gf32, 100 * gf32 / pk, gfd, 100 * gfd / pk, gfw, 100 * gfw / pk);
                std::printf("{\"bench\":\"gemm_packed\",\"m\":%lld,\"n\":%lld,\"k\":%lld,\"threads\":%d,"
                            "\"f32_gflops\":%.1f,\"dot_gflops\":%.1f,\"wide_gflops\":%.1f}\n",
                            (long long)M, (long long)N, (long long)K, thread_counts[ti], gf32, gfd, gfw);
                std::fflush(stdout);
            }
        }
        set_gemm_bf16_kernel(keep);
        return 0;
    }
    std::fprintf(stderr, "\n%-20s %-3s %3s | %9s %6s | %9s %6s %6s | %9s | %7s %7s | %9s %9s\n", "shape M,N,K", "lay",
                 "thr", "f32 GF/s", "%peak", "bf16 GF/s", "%peak", "xf32", "BLAS GF/s", "f32/BL", "bf16/BL",
                 "relerr32", "relerr16");

    for (const Shape& s : shapes)
        for (bool tB : {false, true}) {
            if (tB && nn_only) continue;
            const int64_t M = s.m, N = s.n, K = s.k, ldb = tB ? K : N;
            const auto A = rand_vec(size_t(M * K), 1), B = rand_vec(size_t(K * N), 2);
            std::vector<uint16_t> A16(A.size()), B16(B.size());
            std::vector<float> Ar(A.size()), Br(B.size());  // bf16-rounded inputs, as f32 (for checking)
            for (size_t i = 0; i < A.size(); i++) A16[i] = f32_to_bf16(A[i]), Ar[i] = bf16_to_f32(A16[i]);
            for (size_t i = 0; i < B.size(); i++) B16[i] = f32_to_bf16(B[i]), Br[i] = bf16_to_f32(B16[i]);
            std::vector<float> C(size_t(M * N)), Cref(size_t(M * N));
            const double flops = 2.0 * double(M) * double(N) * double(K);

            for (size_t ti = 0; ti < thread_counts.size(); ti++) {
                const int T = thread_counts[ti];
                set_num_threads(T);
                auto ours32 = [&] { gemm_f32(false, tB, M, N, K, 1.f, A.data(), K, B.data(), ldb, 0.f, C.data(), N); };
                auto ours16 = [&] {
                    gemm_bf16(false, tB, M, N, K, 1.f, A16.data(), K, B16.data(), ldb, 0.f, C.data(), N);
                };
                double err32 = -1, err16 = -1, blas_gf = 0;
#ifdef TG_HAVE_OPENBLAS
                openblas_set_num_threads(T);
                auto blas = [&](const std::vector<float>& a, const std::vector<float>& b, std::vector<float>& c) {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, tB ? CblasTrans : CblasNoTrans, int(M), int(N), int(K),
                                1.f, a.data(), int(K), b.data(), int(ldb), 0.f, c.data(), int(N));
                };
                blas(A, B, Cref);
                ours32();
                err32 = max_rel_diff(C, Cref);
                blas(Ar, Br, Cref);
                ours16();
                err16 = max_rel_diff(C, Cref);
                blas_gf = flops / best_seconds(reps, [&] { blas(A, B, Cref); }) * 1e-9;
#endif
                const double gf32 = flops / best_seconds(reps, ours32) * 1e-9;
                const double gf16 = flops / best_seconds(reps, ours16) * 1e-9;
                char shape[32];
                std::snprintf(shape, sizeof shape, "%lld,%lld,%lld", (long long)M, (long long)N, (long long)K);
                std::fprintf(stderr,
                             "%-20s %-3s %3d | %9.1f %5.1f%% | %9.1f %5.1f%% %5.2fx | %9.1f | %6.2fx %6.2fx | %9.2e %9.2e\n",
                             shape, tB ? "NT" : "NN", T, gf32, 100 * gf32 / peak[ti], gf16, 100 * gf16 / peak[ti],
                             gf16 / gf32, blas_gf, blas_gf > 0 ? gf32 / blas_gf : 0.0,
                             blas_gf > 0 ? gf16 / blas_gf : 0.0, err32, err16);
                const char* dt[2] = {"f32", "bf16"};
                const double gf[2] = {gf32, gf16};
                for (int d = 0; d < 2; d++)
                    std::printf("{\"bench\":\"gemm\",\"m\":%lld,\"n\":%lld,\"k\":%lld,\"threads\":%d,\"dtype\":\"%s\","
                                "\"gflops\":%.1f,\"peak_gflops\":%.1f,\"openblas_gflops\":%.1f,\"transB\":%s}\n",
                                (long long)M, (long long)N, (long long)K, T, dt[d], gf[d], peak[ti], blas_gf,
                                tB ? "true" : "false");
                std::fflush(stdout);
                // Our f32 path must agree with OpenBLAS to f32 rounding (summation order differs).
                if (err32 > 1e-5 || err16 > 1e-5) {
                    std::fprintf(stderr, "bench_gemm: results differ from OpenBLAS (rel err %.2e / %.2e)\n", err32,
                                 err16);
                    return 1;
                }
            }
        }
    std::fprintf(stderr, "load average at end: %.2f\n", loadavg());
    return 0;
}
