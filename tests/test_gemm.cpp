// test_gemm.cpp — the packed/blocked GEMM (gemm_f32, gemm_batched_f32, gemm_bf16, and the _hooked epilogue
// variants) against the scalar references gemm_f32_ref / gemm_bf16_ref, under every ISA path the CPU has
// (scalar, avx2, avx512).
//
// Two kinds of inputs:
//  - small integers (and alpha/beta that are small dyadic numbers): every product and partial sum is
//    exactly representable, so the blocked result must equal the reference BIT FOR BIT whatever the
//    summation order (the CUTLASS trick);
//  - uniform floats in [-1, 1): the result must match within a tolerance scaled by K.
// Shapes cover tiny and odd sizes (edge tiles in both M and N), K larger than one K block, all four
// transpose combinations, leading dimensions larger than the width (the gap must stay untouched),
// and beta == 0 with NaN in C (C must not be read).
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "tensor/common.h"
#include "tensor/cpu_isa.h"
#include "tensor/dtype.h"
#include "tensor/gemm.h"
#include "tensor/parallel.h"
#include "test_util.h"

using namespace tg;

namespace {

constexpr float kGuard = -12345.f;  // value in C's padding that the kernels must never change

// Restores the ISA and thread count chosen by the environment when a test leaves.
struct Restore {
    Isa isa = cpu_isa();
    int threads = num_threads();
    Bf16Gemm bf16 = gemm_bf16_kernel();
    ~Restore() {
        set_cpu_isa(isa);
        set_num_threads(threads);
        set_gemm_bf16_kernel(bf16);
    }
};

std::vector<Isa> isas() {
    std::vector<Isa> v;
    for (Isa i : {Isa::scalar, Isa::avx2, Isa::avx512})
        if (int(i) <= int(cpu_isa_max())) v.push_back(i);
    return v;
}

// Small integers in [-3, 3] (exact in f32 and bf16).
std::vector<float> int_vec(size_t n, uint64_t seed) {
    auto v = test::rand_vec(n, seed, -3.f, 4.f);
    for (auto& x : v) x = std::floor(x);
    return v;
}

std::vector<uint16_t> to_bf16(const std::vector<float>& v) {
    std::vector<uint16_t> h(v.size());
    for (size_t i = 0; i < v.size(); i++) h[i] = f32_to_bf16(v[i]);
    return h;
}

struct Case {
    int64_t M, N, K;
    bool tA, tB;
    int64_t pad;  // extra leading-dimension columns for A, B and C
    float alpha, beta;
    bool ints;
};

// One problem: op(A)[M,K], op(B)[K,N], C[M,N] with leading dimensions width + pad.
struct Problem {
    Case c;
    int64_t lda, ldb, ldc;
    std::vector<float> A, B, C0;
    explicit Problem(const Case& cs, uint64_t seed) : c(cs) {
        lda = (c.tA ? c.M : c.K) + c.pad;
        ldb = (c.tB ? c.K : c.N) + c.pad;
        ldc = c.N + c.pad;
        const size_t na = size_t((c.tA ? c.K : c.M) * lda), nb = size_t((c.tB ? c.N : c.K) * ldb);
        A = c.ints ? int_vec(na, seed) : test::rand_vec(na, seed);
        B = c.ints ? int_vec(nb, seed + 1) : test::rand_vec(nb, seed + 1);
        C0 = c.ints ? int_vec(size_t(c.M * ldc), seed + 2) : test::rand_vec(size_t(c.M * ldc), seed + 2);
        for (int64_t i = 0; i < c.M; i++)
            for (int64_t j = c.N; j < ldc; j++) C0[size_t(i * ldc + j)] = kGuard;
        if (c.beta == 0.f)  // C must not be read: a NaN there would poison the result
            for (int64_t i = 0; i < c.M; i++)
                for (int64_t j = 0; j < c.N; j++) C0[size_t(i * ldc + j)] = NAN;
    }
};

// Compare C against the reference: exact for integer problems, else |d| <= tol * (1 + |ref|).
void expect_close(const Problem& p, const std::vector<float>& got, const std::vector<float>& ref, const char* what) {
    const float tol = 2e-6f * float(std::sqrt(double(p.c.K)) + 4.0);
    int64_t bad = 0;
    float worst = 0;
    for (int64_t i = 0; i < p.c.M; i++) {
        for (int64_t j = 0; j < p.ldc; j++) {
            const float g = got[size_t(i * p.ldc + j)], r = ref[size_t(i * p.ldc + j)];
            if (j >= p.c.N) {
                bad += g != kGuard;
                continue;
            }
            const float d = std::fabs(g - r);
            const bool ok = p.c.ints ? g == r : d <= tol * (1.f + std::fabs(r));
            if (!ok) bad++, worst = std::max(worst, d);
        }
    }
    INFO(std::string(what), " isa=", std::string(isa_name(cpu_isa())), " M=", p.c.M, " N=", p.c.N, " K=", p.c.K,
         " tA=", p.c.tA, " tB=", p.c.tB, " pad=", p.c.pad, " alpha=", p.c.alpha, " beta=", p.c.beta, " ints=", p.c.ints,
         " worst diff=", worst);
    CHECK(bad == 0);
}

std::vector<Case> cases() {
    const int64_t shapes[][3] = {{1, 1, 1},   {2, 3, 4},     {17, 33, 5}, {12, 32, 256}, {13, 31, 257},
                                 {5, 70, 300}, {129, 65, 257}, {100, 1, 9}, {1, 100, 40},  {37, 97, 513}};
    std::vector<Case> v;
    int n = 0;
    for (auto& s : shapes)
        for (int t = 0; t < 4; t++) {
            const bool ints = (n % 2) == 0;
            const float alpha = n % 3 == 0 ? 1.f : n % 3 == 1 ? 0.5f : -2.f;
            const float beta = n % 4 == 0 ? 0.f : n % 4 == 1 ? 1.f : n % 4 == 2 ? -0.5f : 2.f;
            v.push_back({s[0], s[1], s[2], bool(t & 1), bool(t & 2), n % 5 == 0 ? 0 : 3, alpha, beta, ints});
            v.push_back({s[0], s[1], s[2], bool(t & 1), bool(t & 2), 7, 1.f, 0.f, !ints});
            n++;
        }
    return v;
}

}  // namespace

TEST_CASE("gemm_f32 matches the reference on odd shapes, transposes, alpha/beta, ld, every ISA") {
    Restore restore;
    uint64_t seed = 1;
    for (const Case& cs : cases()) {
        Problem p(cs, seed++);
        std::vector<float> ref = p.C0;
        gemm_f32_ref(cs.tA, cs.tB, cs.M, cs.N, cs.K, cs.alpha, p.A.data(), p.lda, p.B.data(), p.ldb, cs.beta,
                     ref.data(), p.ldc);
        for (Isa isa : isas()) {
            set_cpu_isa(isa);
            std::vector<float> got = p.C0;
            gemm_f32(cs.tA, cs.tB, cs.M, cs.N, cs.K, cs.alpha, p.A.data(), p.lda, p.B.data(), p.ldb, cs.beta,
                     got.data(), p.ldc);
            expect_close(p, got, ref, "gemm_f32");
        }
    }
}

TEST_CASE("gemm_bf16 matches the bf16 reference (vdpbf16ps path and f32 fallbacks)") {
    Restore restore;
    uint64_t seed = 100;
    for (const Case& cs : cases()) {
        Problem p(cs, seed++);
        const auto A16 = to_bf16(p.A), B16 = to_bf16(p.B);
        std::vector<float> ref = p.C0;
        gemm_bf16_ref(cs.tA, cs.tB, cs.M, cs.N, cs.K, cs.alpha, A16.data(), p.lda, B16.data(), p.ldb, cs.beta,
                      ref.data(), p.ldc);
        for (Isa isa : isas()) {
            set_cpu_isa(isa);
            std::vector<float> got = p.C0;
            gemm_bf16(cs.tA, cs.tB, cs.M, cs.N, cs.K, cs.alpha, A16.data(), p.lda, B16.data(), p.ldb, cs.beta,
                      got.data(), p.ldc);
            // vdpbf16ps flushes denormals and adds the pair before the accumulator; with inputs in
            // [-1, 1] that stays within the f32 tolerance used here.
            expect_close(p, got, ref, cpu_has_avx512_bf16() ? "gemm_bf16 (vdpbf16ps)" : "gemm_bf16 (f32)");
        }
    }
}

TEST_CASE("gemm_batched_f32 matches per-matrix references, across-batch and sequential modes") {
    Restore restore;
    const int64_t batch = 5, M = 19, N = 40, K = 33;
    for (bool tB : {false, true}) {
        const int64_t lda = K, ldb = tB ? K : N, ldc = N + 2;
        const int64_t sA = M * lda + 3, sB = (tB ? N : K) * ldb + 1, sC = M * ldc + 5;
        const auto A = int_vec(size_t(batch * sA), 7), B = int_vec(size_t(batch * sB), 8);
        const auto C0 = int_vec(size_t(batch * sC), 9);
        std::vector<float> ref = C0;
        for (int64_t b = 0; b < batch; b++)
            gemm_f32_ref(false, tB, M, N, K, 0.5f, A.data() + b * sA, lda, B.data() + b * sB, ldb, 2.f,
                         ref.data() + b * sC, ldc);
        for (Isa isa : isas())
            for (int threads : {1, 2}) {
                set_cpu_isa(isa);
                set_num_threads(threads);
                std::vector<float> got = C0;
                gemm_batched_f32(false, tB, batch, M, N, K, 0.5f, A.data(), lda, sA, B.data(), ldb, sB, 2.f,
                                 got.data(), ldc, sC);
                INFO("isa=", std::string(isa_name(isa)), " threads=", threads, " tB=", tB);
                CHECK(got == ref);  // integer inputs: exact, gaps between matrices untouched too
            }
    }
}

TEST_CASE("gemm results are bit-identical for 1 and 2 threads") {
    Restore restore;
    // Several row blocks, K blocks and column blocks, with edge tiles in M and N.
    const int64_t M = 203, N = 301, K = 600;
    for (bool tB : {false, true}) {
        const auto A = test::rand_vec(size_t(M * K), 11), B = test::rand_vec(size_t(K * N), 12);
        const auto A16 = to_bf16(A), B16 = to_bf16(B);
        const int64_t ldb = tB ? K : N;
        for (Isa isa : isas()) {
            set_cpu_isa(isa);
            std::vector<float> c1(size_t(M * N)), c2(size_t(M * N)), h1(size_t(M * N)), h2(size_t(M * N));
            set_num_threads(1);
            gemm_f32(false, tB, M, N, K, 1.f, A.data(), K, B.data(), ldb, 0.f, c1.data(), N);
            gemm_bf16(false, tB, M, N, K, 1.f, A16.data(), K, B16.data(), ldb, 0.f, h1.data(), N);
            set_num_threads(2);
            gemm_f32(false, tB, M, N, K, 1.f, A.data(), K, B.data(), ldb, 0.f, c2.data(), N);
            gemm_bf16(false, tB, M, N, K, 1.f, A16.data(), K, B16.data(), ldb, 0.f, h2.data(), N);
            INFO("isa=", std::string(isa_name(isa)), " tB=", tB);
            CHECK(std::memcmp(c1.data(), c2.data(), c1.size() * 4) == 0);
            CHECK(std::memcmp(h1.data(), h2.data(), h1.size() * 4) == 0);
        }
    }
}

TEST_CASE("gemm: a row's bits do not depend on the row panel it falls in (edge panels of 1..MR rows)") {
    // The micro-kernels have versions for edge panels (AVX-512: m <= 8 and m <= 4 rows computed instead of 12);
    // each must run row r's FMA chain exactly as a full panel does. Rows [r0, r0 + m) multiplied on their own
    // (one panel of m rows) must give the bits they get inside a product of 36 rows (full panels on every ISA).
    // Random floats: a different order of the products would show in the last bits.
    Restore restore;
    const int64_t M = 36, N = 70, K = 300, r0 = 12;
    const auto A = test::rand_vec(size_t(M * K), 31), B = test::rand_vec(size_t(N * K), 32);  // B: [N, K]
    const auto A16 = to_bf16(A), B16 = to_bf16(B);
    for (Isa isa : isas()) {
        set_cpu_isa(isa);
        for (int threads : {1, 2}) {
            set_num_threads(threads);
            // f32, bf16, f32 x packed f32 B, packed bf16 B in the "wide" and the "dot" layout (where the ISA has them)
            for (int kind = 0; kind < 5; kind++) {
                if (kind >= 3) set_gemm_bf16_kernel(kind == 3 ? Bf16Gemm::wide : Bf16Gemm::dot);
                auto run = [&](int64_t i0, int64_t m, float* C) {
                    if (kind == 0) gemm_f32(false, true, m, N, K, 1.f, A.data() + i0 * K, K, B.data(), K, 0.f, C, N);
                    if (kind == 1)
                        gemm_bf16(false, true, m, N, K, 1.f, A16.data() + i0 * K, K, B16.data(), K, 0.f, C, N);
                    if (kind == 2)
                        gemm_f32_packed(false, m, N, K, 1.f, A.data() + i0 * K, K,
                                        gemm_pack_b_f32(true, N, K, B.data(), K), 0.f, C, N);
                    if (kind >= 3) {
                        const GemmPackedB pb = gemm_pack_b_bf16(true, N, K, B16.data(), K);
                        if (pb.wide) gemm_f32_packed(false, m, N, K, 1.f, A.data() + i0 * K, K, pb, 0.f, C, N);
                        else gemm_bf16_packed(false, m, N, K, 1.f, A16.data() + i0 * K, K, pb, 0.f, C, N);
                    }
                };
                std::vector<float> full(size_t(M * N));
                run(0, M, full.data());
                for (int64_t m = 1; m <= 13; m++) {
                    std::vector<float> part(size_t(m * N));
                    run(r0, m, part.data());
                    INFO("isa=", std::string(isa_name(isa)), " threads=", threads, " kind=", kind, " rows=", m);
                    CHECK(std::memcmp(part.data(), full.data() + r0 * N, part.size() * 4) == 0);
                }
            }
        }
    }
}

TEST_CASE("gemm edge cases: K == 0, empty matrices, bad leading dimensions") {
    std::vector<float> A(6, 1.f), B(6, 1.f), C = {1, 2, 3, 4};
    gemm_f32(false, false, 2, 2, 0, 1.f, A.data(), 1, B.data(), 2, 3.f, C.data(), 2);
    CHECK(C == std::vector<float>{3, 6, 9, 12});
    gemm_f32(false, false, 2, 2, 0, 1.f, A.data(), 1, B.data(), 2, 0.f, C.data(), 2);
    CHECK(C == std::vector<float>{0, 0, 0, 0});
    gemm_f32(false, false, 0, 2, 3, 1.f, A.data(), 3, B.data(), 2, 0.f, C.data(), 2);  // no-op
    CHECK_THROWS_AS(gemm_f32(false, false, 2, 2, 3, 1.f, A.data(), 2, B.data(), 2, 0.f, C.data(), 2), tg::Error);
    CHECK_THROWS_AS(gemm_f32(false, true, 2, 2, 3, 1.f, A.data(), 3, B.data(), 2, 0.f, C.data(), 2), tg::Error);
    CHECK_THROWS_AS(gemm_f32(false, false, 2, 3, 3, 1.f, A.data(), 3, B.data(), 3, 0.f, C.data(), 2), tg::Error);
}

// Hooks: every element is seen by exactly one block call, after its final value is there, and every row by
// exactly one rows call, after all of its block calls. Shapes: many row blocks (items own whole rows), and
// few rows (column groups: rows hooks after the barrier), with edge tiles.
namespace {
struct HookLog {
    const float* C;
    int64_t ldc, N;
    const std::vector<float>* ref;
    std::vector<int> block_seen, rows_seen, bad_value, early_rows;
};
void log_block(void* ctx, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    auto& L = *static_cast<HookLog*>(ctx);
    for (int64_t i = i0; i < i1; i++)
        for (int64_t j = j0; j < j1; j++) {
            L.block_seen[size_t(i * L.N + j)]++;  // disjoint ranges: no race
            const float g = L.C[i * L.ldc + j], r = (*L.ref)[size_t(i * L.N + j)];
            if (std::fabs(g - r) > 1e-3f * (1.f + std::fabs(r))) L.bad_value[size_t(i)] = 1;
        }
}
void log_rows(void* ctx, int64_t i0, int64_t i1) {
    auto& L = *static_cast<HookLog*>(ctx);
    for (int64_t i = i0; i < i1; i++) {
        L.rows_seen[size_t(i)]++;
        for (int64_t j = 0; j < L.N; j++)
            if (L.block_seen[size_t(i * L.N + j)] != 1) L.early_rows[size_t(i)] = 1;
    }
}
}  // namespace

TEST_CASE("gemm hooks: each block once with final values, each row once after its blocks") {
    Restore restore;
    for (auto [M, N, K] : {std::array<int64_t, 3>{803, 301, 600}, {30, 1000, 64}, {5, 7, 3}, {64, 64, 64}}) {
        const auto A = test::rand_vec(size_t(M * K), 31), B = test::rand_vec(size_t(N * K), 32);
        const auto A16 = to_bf16(A), B16 = to_bf16(B);
        std::vector<float> ref(size_t(M * N)), ref16(size_t(M * N));
        gemm_f32_ref(false, true, M, N, K, 1.f, A.data(), K, B.data(), K, 0.f, ref.data(), N);
        gemm_bf16_ref(false, true, M, N, K, 1.f, A16.data(), K, B16.data(), K, 0.f, ref16.data(), N);
        for (int threads : {1, 2})
            for (bool bf16 : {false, true}) {
                set_num_threads(threads);
                std::vector<float> C(size_t(M * N), NAN);
                HookLog L{C.data(), N, N, bf16 ? &ref16 : &ref, std::vector<int>(size_t(M * N)),
                          std::vector<int>(size_t(M)), std::vector<int>(size_t(M)), std::vector<int>(size_t(M))};
                GemmHooks hk;
                hk.block = log_block;
                hk.rows = log_rows;
                hk.ctx = &L;
                if (bf16)
                    gemm_bf16_hooked(false, true, M, N, K, 1.f, A16.data(), K, B16.data(), K, 0.f, C.data(), N, hk);
                else
                    gemm_f32_hooked(false, true, M, N, K, 1.f, A.data(), K, B.data(), K, 0.f, C.data(), N, hk);
                INFO("M=" << M << " N=" << N << " K=" << K << " threads=" << threads << " bf16=" << bf16);
                CHECK(std::count(L.block_seen.begin(), L.block_seen.end(), 1) == M * N);
                CHECK(std::count(L.rows_seen.begin(), L.rows_seen.end(), 1) == M);
                CHECK(std::count(L.bad_value.begin(), L.bad_value.end(), 1) == 0);
                CHECK(std::count(L.early_rows.begin(), L.early_rows.end(), 1) == 0);
            }
    }
}

namespace {
struct ScratchLog {
    int64_t N;
    std::vector<float> got;  // [M, N] the values handed over
    std::vector<int> seen;   // [M, N] how often
};
void copy_scratch_rows(void* ctx, int64_t i0, int64_t i1, float* c, int64_t ldc);
void copy_scratch_block(void* ctx, int64_t i0, int64_t i1, int64_t j0, int64_t j1, float* c, int64_t ldc) {
    auto& L = *static_cast<ScratchLog*>(ctx);
    for (int64_t i = i0; i < i1; i++)
        for (int64_t j = j0; j < j1; j++) {
            L.got[size_t(i * L.N + j)] = c[(i - i0) * ldc + (j - j0)];
            L.seen[size_t(i * L.N + j)]++;
            c[(i - i0) * ldc + (j - j0)] = NAN;  // the block is the hook's to overwrite
        }
}
void copy_scratch_rows(void* ctx, int64_t i0, int64_t i1, float* c, int64_t ldc) {
    copy_scratch_block(ctx, i0, i1, 0, static_cast<ScratchLog*>(ctx)->N, c, ldc);
}
}  // namespace

TEST_CASE("gemm block_scratch and rows_scratch hooks: every element once, the bits C would hold; C is not written") {
    Restore restore;
    set_gemm_bf16_kernel(Bf16Gemm::dot);
    // several row blocks, column blocks and K blocks; few rows (N split among the threads); one tile; K = 0 (C = 0)
    for (auto [M, N, K] : {std::array<int64_t, 3>{403, 601, 800}, {40, 1536, 384}, {5, 7, 3}, {9, 300, 0}})
        for (Isa isa : isas())
            for (int threads : {1, 2}) {
                set_cpu_isa(isa);
                set_num_threads(threads);
                const auto A = test::rand_vec(size_t(M * K), 61), W = test::rand_vec(size_t(N * K), 62);
                const auto A16 = to_bf16(A), W16 = to_bf16(W);
                const int64_t ld = std::max<int64_t>(1, K);
                std::vector<float> c32(size_t(M * N)), c16(size_t(M * N));
                gemm_f32(false, true, M, N, K, 1.f, A.data(), ld, W.data(), ld, 0.f, c32.data(), N);
                gemm_bf16(false, true, M, N, K, 1.f, A16.data(), ld, W16.data(), ld, 0.f, c16.data(), N);
                const GemmPackedB p32 = gemm_pack_b_f32(true, N, K, W.data(), ld);
                const GemmPackedB p16 = gemm_pack_b_bf16(true, N, K, W16.data(), ld);
                for (int variant = 0; variant < 8; variant++) {  // 4..7: the same with rows_scratch
                    ScratchLog L{N, std::vector<float>(size_t(M * N), NAN), std::vector<int>(size_t(M * N))};
                    GemmHooks hk;
                    if (variant < 4) hk.block_scratch = copy_scratch_block;
                    else hk.rows_scratch = copy_scratch_rows;
                    hk.ctx = &L;
                    std::vector<float> C(size_t(M * N), 7.f);  // must stay untouched
                    if (variant % 4 == 0)
                        gemm_f32_hooked(false, true, M, N, K, 1.f, A.data(), ld, W.data(), ld, 0.f, C.data(), N, hk);
                    else if (variant % 4 == 1)
                        gemm_bf16_hooked(false, true, M, N, K, 1.f, A16.data(), ld, W16.data(), ld, 0.f, C.data(), N, hk);
                    else if (variant % 4 == 2)
                        gemm_f32_packed(false, M, N, K, 1.f, A.data(), ld, p32, 0.f, nullptr, N, hk);
                    else
                        gemm_bf16_packed(false, M, N, K, 1.f, A16.data(), ld, p16, 0.f, nullptr, N, hk);
                    const std::vector<float>& want = variant % 2 ? c16 : c32;
                    INFO("isa=", std::string(isa_name(isa)), " threads=", threads, " M=", M, " N=", N, " K=", K,
                         " variant=", variant);
                    CHECK(std::count(L.seen.begin(), L.seen.end(), 1) == M * N);
                    CHECK(std::memcmp(L.got.data(), want.data(), want.size() * 4) == 0);
                    CHECK(std::count(C.begin(), C.end(), 7.f) == M * N);
                }
            }
    // misuse is refused: it would silently drop the beta term or a hook
    const auto A = test::rand_vec(64, 63);
    std::vector<float> C(64);
    ScratchLog L{8, std::vector<float>(64), std::vector<int>(64)};
    GemmHooks hk;
    hk.block_scratch = copy_scratch_block;
    hk.ctx = &L;
    CHECK_THROWS_AS(gemm_f32_hooked(false, true, 8, 8, 8, 1.f, A.data(), 8, A.data(), 8, 1.f, C.data(), 8, hk),
                    tg::Error);
    hk.rows = log_rows;
    CHECK_THROWS_AS(gemm_f32_hooked(false, true, 8, 8, 8, 1.f, A.data(), 8, A.data(), 8, 0.f, C.data(), 8, hk),
                    tg::Error);
    hk.rows = nullptr;
    hk.rows_scratch = copy_scratch_rows;  // both scratch hooks at once
    CHECK_THROWS_AS(gemm_f32_hooked(false, true, 8, 8, 8, 1.f, A.data(), 8, A.data(), 8, 0.f, C.data(), 8, hk),
                    tg::Error);
}

TEST_CASE("gemm packed B: bit-identical to gemm_f32 / gemm_bf16, every ISA; stale packs are refused") {
    Restore restore;
    set_gemm_bf16_kernel(Bf16Gemm::dot);  // the layouts gemm_bf16 uses too (the wide one: next test case)
    for (auto [M, N, K] : {std::array<int64_t, 3>{203, 301, 600}, {1, 33, 5}, {40, 1536, 384}, {7, 384, 1536}})
        for (Isa isa : isas()) {
            set_cpu_isa(isa);
            const auto A = test::rand_vec(size_t(M * K), 41), W = test::rand_vec(size_t(N * K), 42);
            const auto A16 = to_bf16(A), W16 = to_bf16(W);
            std::vector<float> c1(size_t(M * N)), c2(size_t(M * N), NAN), h1(size_t(M * N)), h2(size_t(M * N), NAN);
            gemm_f32(false, true, M, N, K, 1.f, A.data(), K, W.data(), K, 0.f, c1.data(), N);
            gemm_bf16(false, true, M, N, K, 1.f, A16.data(), K, W16.data(), K, 0.f, h1.data(), N);
            const GemmPackedB p32 = gemm_pack_b_f32(true, N, K, W.data(), K);
            const GemmPackedB p16 = gemm_pack_b_bf16(true, N, K, W16.data(), K);
            CHECK(gemm_packed_usable(p32));
            gemm_f32_packed(false, M, N, K, 1.f, A.data(), K, p32, 0.f, c2.data(), N);
            gemm_bf16_packed(false, M, N, K, 1.f, A16.data(), K, p16, 0.f, h2.data(), N);
            INFO("isa=", std::string(isa_name(isa)), " M=", M, " N=", N, " K=", K);
            CHECK(std::memcmp(c1.data(), c2.data(), c1.size() * 4) == 0);
            CHECK(std::memcmp(h1.data(), h2.data(), h1.size() * 4) == 0);
            if (isa != Isa::scalar) {  // packed for another kernel: refused, not misread
                set_cpu_isa(Isa::scalar);
                CHECK_FALSE(gemm_packed_usable(p32));
                CHECK_THROWS_AS(gemm_f32_packed(false, M, N, K, 1.f, A.data(), K, p32, 0.f, c2.data(), N), tg::Error);
            }
            CHECK_THROWS_AS(gemm_f32_packed(false, M, N + 1, K, 1.f, A.data(), K, p32, 0.f, c2.data(), N + 1),
                            tg::Error);
        }
}

TEST_CASE("gemm packed bf16 B, wide layout: the f32 kernel's products on the widened values; the choice is enforced") {
    Restore restore;
    if (cpu_isa_max() != Isa::avx512) return;  // the wide layout is AVX-512 only
    set_cpu_isa(Isa::avx512);
    auto widen = [](const std::vector<uint16_t>& h) {
        std::vector<float> f(h.size());
        for (size_t i = 0; i < h.size(); i++) f[i] = bf16_to_f32(h[i]);
        return f;
    };
    // N: whole panels, a partial last panel (columns >= 16 of it are the interleaved high halves), one column;
    // K: one block, several blocks, odd; transposed (weights, [N, K]) and plain ([K, N]) B
    for (auto [M, N, K] : {std::array<int64_t, 3>{203, 301, 600}, {1, 33, 5}, {40, 1536, 384}, {7, 384, 1536},
                           {13, 1, 9}, {30, 47, 800}})
        for (bool tB : {true, false}) {
            const auto A = test::rand_vec(size_t(M * K), 51), W = test::rand_vec(size_t(N * K), 52);
            const auto A16 = to_bf16(A), W16 = to_bf16(W);
            const auto Aw = widen(A16), Ww = widen(W16);
            const int64_t ldb = tB ? K : N;
            std::vector<float> ref(size_t(M * N)), ref16(size_t(M * N)), got(size_t(M * N), NAN),
                got16(size_t(M * N), NAN);
            gemm_f32(false, tB, M, N, K, 1.f, A.data(), K, Ww.data(), ldb, 0.f, ref.data(), N);
            gemm_f32(false, tB, M, N, K, 1.f, Aw.data(), K, Ww.data(), ldb, 0.f, ref16.data(), N);
            set_gemm_bf16_kernel(Bf16Gemm::wide);
            const GemmPackedB p = gemm_pack_b_bf16(tB, N, K, W16.data(), ldb);
            INFO("M=", M, " N=", N, " K=", K, " transB=", tB);
            REQUIRE(p.wide);
            CHECK(gemm_packed_usable(p));
            gemm_f32_packed(false, M, N, K, 1.f, A.data(), K, p, 0.f, got.data(), N);     // f32 A
            gemm_bf16_packed(false, M, N, K, 1.f, A16.data(), K, p, 0.f, got16.data(), N);  // bf16 A, widened
            CHECK(std::memcmp(got.data(), ref.data(), ref.size() * 4) == 0);
            CHECK(std::memcmp(got16.data(), ref16.data(), ref16.size() * 4) == 0);
            // with the other choice in force, the wide pack is refused, and a dot pack is not taken as f32 A's B
            set_gemm_bf16_kernel(Bf16Gemm::dot);
            CHECK_FALSE(gemm_packed_usable(p));
            CHECK_THROWS_AS(gemm_f32_packed(false, M, N, K, 1.f, A.data(), K, p, 0.f, got.data(), N), tg::Error);
            const GemmPackedB d = gemm_pack_b_bf16(tB, N, K, W16.data(), ldb);
            CHECK_FALSE(d.wide);
            CHECK_THROWS_AS(gemm_f32_packed(false, M, N, K, 1.f, A.data(), K, d, 0.f, got.data(), N), tg::Error);
            set_cpu_isa(Isa::avx2);  // and a wide pack is refused on another ISA
            set_gemm_bf16_kernel(Bf16Gemm::wide);
            CHECK_FALSE(gemm_packed_usable(p));
            set_cpu_isa(Isa::avx512);
        }
}
