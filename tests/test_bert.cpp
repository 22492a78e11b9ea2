// test_bert.cpp — the BERT encoder against independent references.
//
//   attention     tiled online-softmax attention (every ISA path) vs the materializing double reference
//   pooling       CLS / mean / max / L2 on hand-computed numbers
//   tiny          tests/fixtures/bert/tiny: a random 2-layer BERT written by tools/ref/bert_reference.py with
//                 PyTorch's float64 outputs of every layer, the pooler and the poolings (no download needed)
//   minilm (b)    weights/all-MiniLM-L6-v2 (`make weights`) vs tests/fixtures/bert/minilm: 64 real English and
//                 Chinese sentences, f32 and bf16
//   minilm (a)    the same weights vs ../shared/models/all-MiniLM-L6-v2-reference-outputs (TEI's snapshots)
// Tests that need the real weights print a MESSAGE and return when weights/all-MiniLM-L6-v2 is absent.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <sstream>

#include "nn/bert.h"
#include "nn/bert_attention.h"
#include "nn/bert_fused.h"
#include "nn/pooling.h"
#include "nn/tokenizer.h"
#include "tensor/common.h"
#include "tensor/cpu_isa.h"
#include "tensor/dtype.h"
#include "tensor/io.h"
#include "tensor/json.h"
#include "tensor/parallel.h"
#include "tensor/safetensors.h"
#include "tensor/textio.h"
#include "test_util.h"

using namespace tg;

namespace {

std::vector<float> f32_tensor(const SafeTensorsFile& f, const std::string& name) {
    const SafeTensor& t = f.get(name);
    REQUIRE(t.dtype == DType::f32);
    std::vector<float> v(size_t(t.numel()));
    std::memcpy(v.data(), t.data, t.nbytes);
    return v;
}
std::vector<int32_t> i32_tensor(const SafeTensorsFile& f, const std::string& name) {
    const SafeTensor& t = f.get(name);
    REQUIRE(t.dtype == DType::i32);
    std::vector<int32_t> v(size_t(t.numel()));
    std::memcpy(v.data(), t.data, t.nbytes);
    return v;
}

// The fixture's packed inputs (ids, token types, per-sequence lengths) as a PackedBatch.
PackedBatch fixture_batch(const SafeTensorsFile& f, const char* ids_name = "input_ids",
                          const char* len_name = "lengths", bool types = true) {
    auto ids = i32_tensor(f, ids_name);
    auto lens = i32_tensor(f, len_name);
    std::vector<int32_t> tt = types ? i32_tensor(f, "token_type_ids") : std::vector<int32_t>(ids.size(), 0);
    PackedBatch p;
    int64_t at = 0;
    for (int32_t n : lens) {
        p.add(ids.data() + at, tt.data() + at, n);
        at += n;
    }
    REQUIRE(at == int64_t(ids.size()));
    return p;
}

struct Diff {
    double max_abs = 0, min_cos = 1;
};
// Compare rows of width C: max |a-b| and the smallest per-row cosine.
Diff compare_rows(const float* a, const float* b, int64_t rows, int64_t C) {
    Diff d;
    for (int64_t r = 0; r < rows; r++) {
        double ab = 0, aa = 0, bb = 0;
        for (int64_t c = 0; c < C; c++) {
            const double x = a[r * C + c], y = b[r * C + c];
            d.max_abs = std::max(d.max_abs, std::fabs(x - y));
            ab += x * y;
            aa += x * x;
            bb += y * y;
        }
        d.min_cos = std::min(d.min_cos, ab / std::sqrt(aa * bb + 1e-300));
    }
    return d;
}

std::string minilm_dir() { return test::source_dir() + "/weights/all-MiniLM-L6-v2"; }
bool have_minilm() {
    if (file_exists(minilm_dir() + "/model.safetensors")) return true;
    MESSAGE("SKIPPED: " << minilm_dir() << " is absent; run `make weights` to test against the real MiniLM weights");
    return false;
}

// in with q and v copied head-major into buf ([NH, T, D] queries, then [NH, T, D] values); kt shared.
AttnInput head_major_copy(const AttnInput& in, int64_t T, int64_t NH, int64_t D, std::vector<float>& buf) {
    buf.assign(size_t(2 * NH * T * D), NAN);
    for (int64_t h = 0; h < NH; h++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t d = 0; d < D; d++) {
                buf[size_t((h * T + t) * D + d)] = in.q[t * in.ldq + h * D + d];
                buf[size_t(((NH + h) * T + t) * D + d)] = in.v[t * in.ldv + h * D + d];
            }
    return AttnInput{buf.data(), D, in.kt, in.ldk, buf.data() + NH * T * D, D, T * D, T * D};
}

}  // namespace

TEST_CASE("bert attention: tiled online softmax == materializing reference, every ISA") {
    const Isa saved = cpu_isa();
    for (int64_t D : {8, 32, 64}) {
        const int64_t NH = 3, C = NH * D;
        const std::vector<int64_t> lens = {1, 5, 64, 65, 130, 0, 200};
        std::vector<int64_t> off{0};
        for (int64_t n : lens) off.push_back(off.back() + n);
        const int64_t T = off.back();
        std::vector<float> qv_heads;
        // spread of 4 so the softmax is far from uniform (stresses the running max/rescale)
        std::vector<float> qkv = test::rand_vec(size_t(T * 3 * C), 11 + uint64_t(D), -2.f, 2.f);
        // q and v as strided views of one [T, 3C] buffer (as the encoder's [T, 2C] is), k transposed [C, T]
        std::vector<float> kt(size_t(C * T));
        for (int64_t t = 0; t < T; t++)
            for (int64_t c = 0; c < C; c++) kt[size_t(c * T + t)] = qkv[size_t(t * 3 * C + C + c)];
        const AttnInput in{qkv.data(), 3 * C, kt.data(), T, qkv.data() + 2 * C, 3 * C};
        // the same q and v head-major, [NH, T, D] each (the encoder's layout)
        const AttnInput hm = head_major_copy(in, T, NH, D, qv_heads);
        std::vector<float> ref(size_t(T * C)), out(size_t(T * C)), out_hm(size_t(T * C));
        attention_forward_ref(ref.data(), in, off.data(), int64_t(lens.size()), NH, D);
        attention_forward_ref(out_hm.data(), hm, off.data(), int64_t(lens.size()), NH, D);
        CHECK(out_hm == ref);
        for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512}) {
            if (isa > cpu_isa_max()) continue;
            set_cpu_isa(isa);
            std::fill(out.begin(), out.end(), NAN);
            attention_forward(out.data(), in, off.data(), int64_t(lens.size()), NH, D);
            Diff d = compare_rows(out.data(), ref.data(), T, C);
            INFO("D=" << D << " isa=" << std::string(isa_name(isa)));
            CHECK(d.max_abs < 2e-5);
            std::fill(out_hm.begin(), out_hm.end(), NAN);
            attention_forward(out_hm.data(), hm, off.data(), int64_t(lens.size()), NH, D);
            CHECK(out_hm == out);  // the same arithmetic, only the addresses differ
        }
    }
    set_cpu_isa(saved);
}

TEST_CASE("bert attention bf16: vdpbf16ps path == reference on bf16-rounded inputs") {
    for (int64_t D : {32, 64}) {
        if (!attention_bf16_supported(D)) {
            MESSAGE("SKIPPED: no avx512_bf16 on this CPU");
            return;
        }
        const int64_t NH = 3, C = NH * D;
        const std::vector<int64_t> lens = {1, 5, 64, 65, 130, 0, 33};
        std::vector<int64_t> off{0};
        for (int64_t n : lens) off.push_back(off.back() + n);
        const int64_t T = off.back();
        std::vector<float> qv_heads;
        std::vector<float> qkv = test::rand_vec(size_t(T * 3 * C), 21 + uint64_t(D), -2.f, 2.f);
        for (float& x : qkv) x = bf16_to_f32(f32_to_bf16(x));  // the kernel rounds its inputs to bf16 too
        std::vector<float> kt(size_t(C * T));
        for (int64_t t = 0; t < T; t++)
            for (int64_t c = 0; c < C; c++) kt[size_t(c * T + t)] = qkv[size_t(t * 3 * C + C + c)];
        const AttnInput in{qkv.data(), 3 * C, kt.data(), T, qkv.data() + 2 * C, 3 * C};
        std::vector<float> ref(size_t(T * C)), out(size_t(T * C));
        std::vector<uint16_t> out16(size_t(T * C), 0xFFFF);  // NaN pattern: every element must be written
        attention_forward_ref(ref.data(), in, off.data(), int64_t(lens.size()), NH, D);
        attention_forward_bf16(out16.data(), in, off.data(), int64_t(lens.size()), NH, D);
        std::vector<uint16_t> out16_hm(size_t(T * C), 0xFFFF);  // head-major q and v: the same bits
        attention_forward_bf16(out16_hm.data(), head_major_copy(in, T, NH, D, qv_heads), off.data(),
                               int64_t(lens.size()), NH, D);
        CHECK(out16_hm == out16);
        // q, k and v pre-rounded by the caller (as the encoder's qkv epilogue does): the same bits, from rounded and
        // from unrounded inputs alike; the pairs' row padding, read past each sequence's end, holds NaN bit patterns,
        // which must not matter
        for (bool unrounded : {false, true}) {
            std::vector<float> raw = qkv;
            if (unrounded) raw = test::rand_vec(size_t(T * 3 * C), 91 + uint64_t(D), -2.f, 2.f);
            std::vector<float> rkt(size_t(C * T));
            for (int64_t t = 0; t < T; t++)
                for (int64_t c = 0; c < C; c++) rkt[size_t(c * T + t)] = raw[size_t(t * 3 * C + C + c)];
            const AttnInput rin{raw.data(), 3 * C, rkt.data(), T, raw.data() + 2 * C, 3 * C};
            const int64_t ldkp = T + 32;
            std::vector<uint16_t> q16(size_t(T * C)), v16(size_t(T * C));
            std::vector<uint32_t> kp(size_t(C / 2 * ldkp), 0xFFFFFFFFu);
            for (int64_t t = 0; t < T; t++)
                for (int64_t c = 0; c < C; c++) {
                    q16[size_t((c / D * T + t) * D + c % D)] = f32_to_bf16(raw[size_t(t * 3 * C + c)]);
                    v16[size_t((c / D * T + t) * D + c % D)] = f32_to_bf16(raw[size_t(t * 3 * C + 2 * C + c)]);
                    if (c % 2 == 0)
                        kp[size_t(c / 2 * ldkp + t)] = uint32_t(f32_to_bf16(raw[size_t(t * 3 * C + C + c)])) |
                                                       uint32_t(f32_to_bf16(raw[size_t(t * 3 * C + C + c + 1)])) << 16;
                }
            AttnInput pre = rin;
            pre.q = nullptr, pre.kt = nullptr, pre.v = nullptr;  // must not be read
            pre.q16 = q16.data(), pre.hsq16 = T * D, pre.kp = kp.data(), pre.ldkp = ldkp;
            pre.v16 = v16.data(), pre.hsv16 = T * D;
            std::vector<uint16_t> a(size_t(T * C), 0xFFFF), b(size_t(T * C), 0xFFFF);
            attention_forward_bf16(a.data(), rin, off.data(), int64_t(lens.size()), NH, D);
            attention_forward_bf16(b.data(), pre, off.data(), int64_t(lens.size()), NH, D);
            INFO("D=" << D << " unrounded=" << unrounded);
            CHECK(a == b);
        }
        for (size_t i = 0; i < out.size(); i++) out[i] = bf16_to_f32(out16[i]);
        // left: probabilities and output rounded to bf16 (relative 2^-9 each); |out| <= 2
        Diff d = compare_rows(out.data(), ref.data(), T, C);
        INFO("D=" << D << " max_abs " << d.max_abs << " min_cos " << d.min_cos);
        CHECK(d.max_abs < 0.03);
        CHECK(d.min_cos > 0.9995);
    }
}

namespace {
// The fused-epilogue tables (bert_fused.h) this CPU can run: baseline, AVX2, AVX-512.
struct FusedTable {
    const char* name;
    const detail::BertFusedFns& fn;
};
std::vector<FusedTable> fused_tables() {
    std::vector<FusedTable> t{{"base", detail::bert_fused_base()}};
    if (cpu_isa_max() >= Isa::avx2) t.push_back({"avx2", detail::bert_fused_avx2()});
    if (cpu_isa_max() >= Isa::avx512) t.push_back({"avx512", detail::bert_fused_avx512()});
    return t;
}
}  // namespace

TEST_CASE("bert fused epilogue: bias + GELU (erf) and its bf16 copy against double precision, every ISA") {
    // x from -8 to 8 (the erf approximation clamps at |x / sqrt 2| = 4) plus a residual; n not a multiple of 16
    const int64_t n = 1000;
    std::vector<float> c0(static_cast<size_t>(n)), bias(static_cast<size_t>(n)), res(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; j++) {
        c0[size_t(j)] = -8.f + 16.f * float(j) / float(n - 1);
        bias[size_t(j)] = 0.01f * float(j % 7) - 0.03f;
        res[size_t(j)] = 0.002f * float(j % 5);
    }
    for (const FusedTable& t : fused_tables()) {
        for (bool with_res : {false, true}) {
            std::vector<float> c = c0;
            std::vector<uint16_t> c16(size_t(n) + 1, 0xABCD);  // one past the end: must stay
            t.fn.bias_act(c.data(), bias.data(), with_res ? res.data() : nullptr, 1, c16.data(), n);
            double worst = 0;
            for (int64_t j = 0; j < n; j++) {
                const double x = double(c0[size_t(j)]) + double(bias[size_t(j)]) + (with_res ? double(res[size_t(j)]) : 0);
                const double want = 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
                // f32 itself: 1 + erf cancels for x < 0, erf is 1 to f32 precision for |x| > 5.7 (clamped)
                worst = std::max(worst, std::fabs(double(c[size_t(j)]) - want) / std::max(1.0, std::fabs(x)));
                CHECK(c16[size_t(j)] == f32_to_bf16(c[size_t(j)]));  // the copy is the result, rounded to nearest even
            }
            INFO(std::string(t.name) << " res " << with_res << ": worst error / max(1, |x|) " << worst);
            CHECK(worst < 2e-6);
            CHECK(c16[size_t(n)] == 0xABCD);
        }
    }
}

TEST_CASE("bert fused epilogue: the bf16 GELU (erf_bf16, bf16 output only) against double precision, every ISA") {
    // x from -10 to 10 in steps of ~1e-3 (erf_bf16 clamps at |x / sqrt 2| = 3.4), rows of 997 values (not a
    // multiple of 16), with and without a residual. Bound: half a bf16 step (up to 2^-8 of the value) of the exact
    // value, + 0.01 % (vrcp14ps), + 2.5e-6 |x| (erf_bf16's 4.5e-6) + a little f32 rounding. erf_fast's coefficients, a
    // clamp at 4 (erf_bf16 grows past it) or a missing factor would all break it.
    const int64_t n = 997, rows = 20;
    std::vector<float> c0(static_cast<size_t>(n * rows)), bias(static_cast<size_t>(n)), res(static_cast<size_t>(n * rows));
    for (int64_t i = 0; i < n * rows; i++) {
        c0[size_t(i)] = -10.f + 20.f * float(i) / float(n * rows - 1);
        res[size_t(i)] = 0.001f * float(i % 5);
    }
    for (int64_t j = 0; j < n; j++) bias[size_t(j)] = 0.001f * float(j % 7) - 0.003f;
    for (const FusedTable& t : fused_tables()) {
        for (bool with_res : {false, true}) {
            std::vector<uint16_t> c16(size_t(n) + 1, 0xABCD);  // one past the end: must stay
            double worst = 0;  // error over the bound's own size, must stay below 1
            int64_t bad = 0;
            for (int64_t r = 0; r < rows; r++) {
                t.fn.gelu_bf16(c16.data(), c0.data() + r * n, bias.data(), with_res ? res.data() + r * n : nullptr, n);
                for (int64_t j = 0; j < n; j++) {
                    const size_t i = size_t(r * n + j);
                    const double x = double(c0[i]) + double(bias[size_t(j)]) + (with_res ? double(res[i]) : 0);
                    const double want = 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
                    const double got = double(bf16_to_f32(c16[size_t(j)]));
                    const double bound = (1.0 / 256 + 1e-4) * std::fabs(want) + 2.5e-6 * std::fabs(x) + 1e-7;
                    worst = std::max(worst, std::fabs(got - want) / bound);
                    bad += std::fabs(got - want) > bound;
                }
                CHECK(c16[size_t(n)] == 0xABCD);
            }
            INFO(std::string(t.name) << " res " << with_res << ": worst error / bound " << worst);
            CHECK(bad == 0);
            CHECK(worst > 0.3);  // the bound is not loose either: bf16 rounding alone reaches most of it
        }
    }
}

TEST_CASE("bert fused epilogue: LayerNorm rows (+ bias + residual in place) and the bf16 copy, every ISA") {
    // The encoder's use: inp is the GEMM's scratch rows (ldi > C), made inp + bias + res in place; res and out
    // are the same rows (the residual stream). C = 384 (MiniLM) and 100 (a tail of 4 past the 16-wide vectors).
    // Against double precision; the bf16 copy must be the f32 output rounded to nearest even, bit for bit, and
    // nothing past a row's C values (ldi padding, out16's end) may be written.
    for (int64_t C : {int64_t(384), int64_t(128), int64_t(100)}) {
        const int64_t rows = 7, ldi = C + 20;
        std::vector<float> inp0(size_t(rows * ldi)), res0(size_t(rows * C)), bias(static_cast<size_t>(C)), w(static_cast<size_t>(C)), b(static_cast<size_t>(C));
        for (int64_t i = 0; i < rows * ldi; i++) inp0[size_t(i)] = std::sin(0.37f * float(i)) * (1.f + float(i % 5));
        for (int64_t i = 0; i < rows * C; i++) res0[size_t(i)] = 0.5f * std::cos(0.11f * float(i)) + 3.f;
        for (int64_t c = 0; c < C; c++) {
            bias[size_t(c)] = 0.01f * float(c % 9) - 0.04f;
            w[size_t(c)] = 0.5f + 0.01f * float(c % 13);
            b[size_t(c)] = 0.02f * float(c % 3) - 0.02f;
        }
        for (const FusedTable& t : fused_tables()) {
            for (bool with16 : {false, true}) {
                std::vector<float> inp = inp0, io = res0;  // io: res in, out out
                std::vector<uint16_t> o16(size_t(rows * C) + 1, 0xABCD);
                t.fn.layernorm_rows(io.data(), with16 ? o16.data() : nullptr, inp.data(), ldi, bias.data(), io.data(),
                                    w.data(), b.data(), rows, C, 1e-12f);
                double worst = 0;
                for (int64_t n = 0; n < rows; n++) {
                    std::vector<double> x(static_cast<size_t>(C));
                    double m = 0, v = 0;
                    for (int64_t c = 0; c < C; c++) {
                        x[size_t(c)] = double(inp0[size_t(n * ldi + c)]) + double(bias[size_t(c)]) +
                                       double(res0[size_t(n * C + c)]);
                        m += x[size_t(c)];
                    }
                    m /= double(C);
                    for (int64_t c = 0; c < C; c++) v += (x[size_t(c)] - m) * (x[size_t(c)] - m);
                    const double r = 1.0 / std::sqrt(v / double(C) + 1e-12);
                    for (int64_t c = 0; c < C; c++) {
                        const size_t i = size_t(n * C + c);
                        const double want = (x[size_t(c)] - m) * r * double(w[size_t(c)]) + double(b[size_t(c)]);
                        worst = std::max(worst, std::fabs(double(io[i]) - want));
                        if (with16) CHECK(o16[i] == f32_to_bf16(io[i]));
                    }
                    for (int64_t c = C; c < ldi; c++) CHECK(inp[size_t(n * ldi + c)] == inp0[size_t(n * ldi + c)]);
                }
                INFO(std::string(t.name) << " C " << C << " bf16 copy " << with16 << ": max abs error " << worst);
                CHECK(worst < 2e-6);
                CHECK(o16[size_t(rows * C)] == 0xABCD);
                if (!with16) CHECK(o16[0] == 0xABCD);
            }
        }
    }
}

TEST_CASE("bert pooling: cls / mean / max / l2 on hand-computed values") {
    // two sequences of C=2: rows {1,2},{3,-4} and {5,6}; then an empty one
    const float hidden[] = {1, 2, 3, -4, 5, 6};
    const int64_t off[] = {0, 2, 3, 3};
    float out[6];
    pool_forward(out, hidden, off, 3, 2, PoolMode::cls);
    CHECK(std::vector<float>(out, out + 6) == std::vector<float>{1, 2, 5, 6, 0, 0});
    pool_forward(out, hidden, off, 3, 2, PoolMode::mean);
    CHECK(std::vector<float>(out, out + 6) == std::vector<float>{2, -1, 5, 6, 0, 0});
    pool_forward(out, hidden, off, 3, 2, PoolMode::max);
    CHECK(std::vector<float>(out, out + 6) == std::vector<float>{3, 2, 5, 6, 0, 0});
    float v[] = {3, 4, 0, 0};
    l2_normalize_rows(v, 2, 2);
    CHECK(v[0] == doctest::Approx(0.6));
    CHECK(v[1] == doctest::Approx(0.8));
    CHECK(v[2] == 0.0f);  // a zero vector stays zero (norm clamped at 1e-12), no NaN
    CHECK(pool_mode_parse("max") == PoolMode::max);
    CHECK_THROWS_AS(pool_mode_parse("sum"), Error);
}

TEST_CASE("bert tiny: every layer, pooler and poolings match PyTorch (f32), bf16 close") {
    const std::string dir = test::fixture("bert/tiny");
    SafeTensorsFile ref(dir + "/reference.safetensors");
    PackedBatch in = fixture_batch(ref);
    BertEncoder bert = BertEncoder::load(dir, DType::f32);
    const BertDims& d = bert.dims();
    CHECK(d.C == 32);
    CHECK(d.L == 2);
    CHECK(d.NH == 4);
    CHECK(d.has_pooler);
    const int64_t T = in.T(), B = in.B(), C = d.C;

    BertWorkspace ws;
    std::vector<std::vector<float>> layers;
    bert.forward(in, ws, true, &layers);
    REQUIRE(int64_t(layers.size()) == d.L + 1);
    for (int64_t l = 0; l <= d.L; l++) {
        Diff df = compare_rows(layers[size_t(l)].data(), f32_tensor(ref, "layer_" + std::to_string(l)).data(), T, C);
        INFO("layer " << l << " (0 = embeddings): max abs diff " << df.max_abs);
        CHECK(df.max_abs < 1e-4);
    }
    Diff dh = compare_rows(ws.hidden(), f32_tensor(ref, "hidden").data(), T, C);
    Diff dp = compare_rows(ws.pooler(), f32_tensor(ref, "pooler").data(), B, C);
    CHECK(dh.max_abs < 1e-4);
    CHECK(dp.max_abs < 1e-4);
    std::vector<float> pooled(size_t(B * C));
    for (PoolMode m : {PoolMode::cls, PoolMode::mean, PoolMode::max}) {
        pool_forward(pooled.data(), ws.hidden(), in.offsets.data(), B, C, m);
        Diff dm = compare_rows(pooled.data(), f32_tensor(ref, pool_mode_name(m)).data(), B, C);
        INFO("pool " << std::string(pool_mode_name(m)));
        CHECK(dm.max_abs < 1e-4);
        CHECK(dm.min_cos > 0.99999);
    }

    // The same result one sequence at a time, and in a second call on a reused workspace.
    BertWorkspace ws1;
    for (int64_t b = 0; b < B; b++) {
        PackedBatch one;
        const int64_t t0 = in.offsets[size_t(b)], n = in.offsets[size_t(b + 1)] - t0;
        one.add(in.ids.data() + t0, in.type_ids.data() + t0, n);
        bert.forward(one, ws1, false);
        Diff d1 = compare_rows(ws1.hidden(), ws.hidden() + t0 * C, n, C);
        CHECK(d1.max_abs < 1e-5);
    }

    // Results do not depend on the thread count (every output element has one writer, fixed order).
    {
        const int saved = num_threads();
        set_num_threads(1);
        BertWorkspace ws_1t;
        bert.forward(in, ws_1t);
        set_num_threads(saved);
        CHECK(std::memcmp(ws_1t.hidden(), ws.hidden(), size_t(T * C) * 4) == 0);
        CHECK(std::memcmp(ws_1t.pooler(), ws.pooler(), size_t(B * C) * 4) == 0);
    }

    // The rest of each layer after attention by row blocks (any size, here not a multiple of the GEMM's row
    // panel) gives the same bits as on all rows at once
    for (int64_t rows : {5, 16}) {
        bert.set_ffn_rows(rows);
        BertWorkspace wsr;
        bert.forward(in, wsr);
        INFO("rows " << rows);
        CHECK(std::memcmp(wsr.hidden(), ws.hidden(), size_t(T * C) * 4) == 0);
    }
    bert.set_ffn_rows(-1);

    // bf16: weights converted at load, f32 accumulation
    BertEncoder bert16 = BertEncoder::load(dir, DType::bf16);
    BertWorkspace ws16;
    bert16.forward(in, ws16);
    {
        bert16.set_ffn_rows(7);
        BertWorkspace wsr;
        bert16.forward(in, wsr);
        CHECK(std::memcmp(wsr.hidden(), ws16.hidden(), size_t(T * C) * 4) == 0);
        bert16.set_ffn_rows(-1);
    }
    Diff d16 = compare_rows(ws16.hidden(), f32_tensor(ref, "hidden").data(), T, C);
    MESSAGE("tiny bf16: hidden max abs diff " << d16.max_abs << ", min cosine " << d16.min_cos);
    CHECK(d16.min_cos > 0.999);
    CHECK(compare_rows(ws16.pooler(), f32_tensor(ref, "pooler").data(), B, C).min_cos > 0.999);
}

TEST_CASE("bert tiny: tokenizer ids of the fixture texts, and errors") {
    const std::string dir = test::fixture("bert/tiny");
    SafeTensorsFile ref(dir + "/reference.safetensors");
    PackedBatch in = fixture_batch(ref);
    json::Value texts = json::parse(read_file(dir + "/texts.json"));
    BertTokenizer tok = BertTokenizer::from_model_dir(dir);
    std::vector<std::string> t;
    for (const auto& v : texts.find("texts")->arr) t.push_back(v.s);
    PackedBatch p = pack(tok.encode_batch(t));
    for (int64_t b = 0; b < p.B(); b++) {
        std::vector<int32_t> got(p.ids.begin() + p.offsets[size_t(b)], p.ids.begin() + p.offsets[size_t(b + 1)]);
        std::vector<int32_t> want(in.ids.begin() + in.offsets[size_t(b)], in.ids.begin() + in.offsets[size_t(b + 1)]);
        CHECK(got == want);
    }

    BertEncoder bert = BertEncoder::load(dir);
    BertWorkspace ws;
    PackedBatch bad;
    const int32_t big[] = {2, 9999, 3};
    bad.add(big, nullptr, 3);
    CHECK_THROWS_WITH_AS(bert.forward(bad, ws), doctest::Contains("outside the vocabulary"), Error);
    PackedBatch too_long;
    std::vector<int32_t> ids(size_t(bert.dims().P + 1), 5);
    too_long.add(ids.data(), nullptr, int64_t(ids.size()));
    CHECK_THROWS_WITH_AS(bert.forward(too_long, ws), doctest::Contains("positions"), Error);
    PackedBatch empty_seq;
    empty_seq.add(big, nullptr, 0);
    CHECK_THROWS_WITH_AS(bert.forward(empty_seq, ws), doctest::Contains("has 0 tokens"), Error);
    CHECK_THROWS_AS(BertEncoder::load(dir + "/no-such-dir"), Error);
}

TEST_CASE("bert minilm (b): 64 en/zh sentences vs PyTorch float64, f32 and bf16") {
    if (!have_minilm()) return;
    SafeTensorsFile ref(test::fixture("bert/minilm/reference.safetensors"));
    PackedBatch in = fixture_batch(ref);
    const int64_t B = in.B();
    BertEncoder bert = BertEncoder::load(minilm_dir(), DType::f32);
    const int64_t C = bert.dims().C;
    BertWorkspace ws;
    bert.forward(in, ws);
    std::vector<float> hidden(ws.hidden(), ws.hidden() + in.T() * C);

    // per-token states of the stored subset
    auto subset = i32_tensor(ref, "hidden_seqs");
    std::vector<float> sub;
    for (int32_t s : subset)
        sub.insert(sub.end(), hidden.begin() + in.offsets[size_t(s)] * C, hidden.begin() + in.offsets[size_t(s + 1)] * C);
    const auto ref_hidden = f32_tensor(ref, "hidden");
    REQUIRE(sub.size() == ref_hidden.size());
    Diff dh = compare_rows(sub.data(), ref_hidden.data(), int64_t(sub.size()) / C, C);
    Diff dp = compare_rows(ws.pooler(), f32_tensor(ref, "pooler").data(), B, C);
    MESSAGE("minilm f32: hidden max abs " << dh.max_abs << " min cos " << dh.min_cos << "; pooler max abs "
                                          << dp.max_abs << " min cos " << dp.min_cos);
    CHECK(dh.max_abs <= 1e-4);
    CHECK(dh.min_cos >= 0.99999);
    CHECK(dp.max_abs <= 1e-4);
    CHECK(dp.min_cos >= 0.99999);
    std::vector<float> pooled(size_t(B * C));
    for (PoolMode m : {PoolMode::cls, PoolMode::mean, PoolMode::max}) {
        pool_forward(pooled.data(), hidden.data(), in.offsets.data(), B, C, m);
        Diff dm = compare_rows(pooled.data(), f32_tensor(ref, pool_mode_name(m)).data(), B, C);
        MESSAGE("minilm f32 " << std::string(pool_mode_name(m)) << ": max abs " << dm.max_abs << " min cos " << dm.min_cos);
        CHECK(dm.max_abs <= 1e-4);
        CHECK(dm.min_cos >= 0.99999);
    }

    BertEncoder bert16 = BertEncoder::load(minilm_dir(), DType::bf16);
    BertWorkspace ws16;
    bert16.forward(in, ws16);
    std::vector<float> mean16(size_t(B * C));
    pool_forward(mean16.data(), ws16.hidden(), in.offsets.data(), B, C, PoolMode::mean);
    Diff d16 = compare_rows(mean16.data(), f32_tensor(ref, "mean").data(), B, C);
    Diff d16p = compare_rows(ws16.pooler(), f32_tensor(ref, "pooler").data(), B, C);
    MESSAGE("minilm bf16: mean max abs " << d16.max_abs << " min cos " << d16.min_cos << "; pooler min cos "
                                         << d16p.min_cos);
    CHECK(d16.min_cos >= 0.999);
    CHECK(d16p.min_cos >= 0.999);

    // The feed-forward block by row blocks (the default: kFfnRows for large batches, T / threads below) or on all rows
    // at once: the same bits, f32 and bf16, with blocks that are and are not a multiple of the GEMM's row panel, on 1
    // and 2 threads; on the 64 sentences (6,181 tokens: the default is kFfnRows) and on 3 short ones (22 tokens: the
    // default is one block per thread).
    PackedBatch small = fixture_batch(ref, "tei_ids", "tei_lengths", false);
    const int saved = num_threads();
    for (PackedBatch* batch : {&in, &small})
        for (BertEncoder* enc : {&bert, &bert16})
            for (int threads : {1, 2}) {
                set_num_threads(threads);
                enc->set_ffn_rows(0);
                BertWorkspace w0;
                enc->forward(*batch, w0);
                for (int64_t rows : {96, 37, -1}) {
                    enc->set_ffn_rows(rows);
                    BertWorkspace w1;
                    enc->forward(*batch, w1);
                    INFO("tokens " << batch->T() << " dtype " << (enc == &bert ? "f32" : "bf16") << " threads "
                                   << threads << " rows " << rows);
                    CHECK(std::memcmp(w0.hidden(), w1.hidden(), size_t(batch->T() * C) * 4) == 0);
                }
                enc->set_ffn_rows(-1);
            }
    set_num_threads(saved);
}

namespace {
// TEI's insta snapshots: after the second '---', each vector starts "- - x" and continues "  - x".
std::vector<std::vector<float>> read_snap(const std::string& path) {
    std::string text = read_file(path);
    size_t a = text.find("---");
    size_t b = text.find("---", a + 3);
    REQUIRE(b != std::string::npos);
    std::istringstream in(text.substr(b + 3));
    std::vector<std::vector<float>> rows;
    std::string line;
    while (std::getline(in, line)) {
        size_t p = line.find_first_not_of(' ');
        if (p == std::string::npos) continue;
        if (line.compare(p, 4, "- - ") == 0) {
            rows.push_back({std::stof(line.substr(p + 4))});
        } else if (line.compare(p, 2, "- ") == 0) {
            REQUIRE(!rows.empty());
            rows.back().push_back(std::stof(line.substr(p + 2)));
        }
    }
    return rows;
}
}  // namespace

TEST_CASE("bert minilm (a): TEI reference snapshots (mean, CLS, per-token)") {
    if (!have_minilm()) return;
    const std::string snaps = test::shared_dir() + "/models/all-MiniLM-L6-v2-reference-outputs/";
    if (!file_exists(snaps + "test_bert__bert_batch_raw.snap")) {
        MESSAGE("SKIPPED: " << snaps << " is absent");
        return;
    }
    SafeTensorsFile ref(test::fixture("bert/minilm/reference.safetensors"));
    PackedBatch in = fixture_batch(ref, "tei_ids", "tei_lengths", false);  // 3 sentences: 7, 8, 7 tokens
    BertEncoder bert = BertEncoder::load(minilm_dir(), DType::f32);
    const int64_t C = bert.dims().C, B = in.B();
    BertWorkspace ws;
    bert.forward(in, ws);
    std::vector<float> mean(size_t(B * C)), cls(size_t(B * C));
    pool_forward(mean.data(), ws.hidden(), in.offsets.data(), B, C, PoolMode::mean);
    pool_forward(cls.data(), ws.hidden(), in.offsets.data(), B, C, PoolMode::cls);

    struct Case {
        const char* file;
        const float* ours;
        int64_t rows;
    };
    const Case cases[] = {
        {"test_bert__bert_single.snap", mean.data(), 1},       {"test_bert__bert_batch.snap", mean.data(), 3},
        {"test_bert__bert_single_pooled.snap", cls.data(), 1}, {"test_bert__bert_batch_pooled.snap", cls.data(), 3},
        {"test_bert__bert_single_raw.snap", ws.hidden(), 7},   {"test_bert__bert_batch_raw.snap", ws.hidden(), 22},
    };
    double worst_abs = 0, worst_cos = 1;
    for (const Case& c : cases) {
        auto rows = read_snap(snaps + c.file);
        REQUIRE(int64_t(rows.size()) == c.rows);
        std::vector<float> flat;
        for (auto& r : rows) {
            REQUIRE(int64_t(r.size()) == C);
            flat.insert(flat.end(), r.begin(), r.end());
        }
        Diff d = compare_rows(c.ours, flat.data(), c.rows, C);
        INFO(c.file << ": max abs " << d.max_abs << " min cos " << d.min_cos);
        CHECK(d.min_cos >= 0.9999);
        worst_abs = std::max(worst_abs, d.max_abs);
        worst_cos = std::min(worst_cos, d.min_cos);
    }
    MESSAGE("minilm vs TEI snapshots: max abs diff " << worst_abs << ", min cosine " << worst_cos);
}

TEST_CASE("bert minilm: tokenizer + encoder end to end on the fixture's sentences from ../shared") {
    if (!have_minilm()) return;
    json::Value s = json::parse(read_file(test::fixture("bert/minilm/sentences.json")));
    SafeTensorsFile ref(test::fixture("bert/minilm/reference.safetensors"));
    PackedBatch want = fixture_batch(ref);
    // read the referenced rows (file, 1-based line, field) back from ../shared with the project's readers
    std::map<std::string, std::map<int64_t, std::string>> want_rows;  // file -> line -> text (filled below)
    for (const auto& row : s.find("rows")->arr) want_rows[row.find("file")->s][row.find("line")->i] = "";
    for (auto& [rel, rows] : want_rows) {
        const std::string file = test::shared_dir() + "/" + rel;
        if (!file_exists(file)) {
            MESSAGE("SKIPPED: " << file << " is absent");
            return;
        }
        if (rel.size() > 4 && rel.substr(rel.size() - 4) == ".csv") {
            CsvReader csv(file);
            const int col = csv.require_column("review");
            std::vector<std::string> f;
            while (csv.next(f))
                if (rows.count(csv.line())) rows[csv.line()] = f[size_t(col)];
        } else {
            JsonlReader in(file);
            json::Value v;
            while (in.next(v))
                if (rows.count(in.line())) rows[in.line()] = v.find("reviewText")->s;
        }
    }
    std::vector<std::string> texts;
    for (const auto& row : s.find("rows")->arr) texts.push_back(want_rows[row.find("file")->s][row.find("line")->i]);
    BertTokenizer tok = BertTokenizer::from_model_dir(minilm_dir());
    PackedBatch got = pack(tok.encode_batch(texts, s.find("max_length")->i));
    CHECK(got.offsets == want.offsets);
    CHECK(got.ids == want.ids);
}
