// bert.cpp — BERT encoder: weight loading through the HuggingFace name map, and the forward pass.
// See bert.h for the math, the packed layout and the memory rules.
#include "nn/bert.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <string_view>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "nn/bert_attention.h"
#include "nn/bert_fused.h"
#include "nn/model_config.h"
#include "nn/tokenizer.h"
#include "tensor/common.h"
#include "tensor/cpu_isa.h"
#include "tensor/gemm.h"
#include "tensor/kernels.h"
#include "tensor/parallel.h"
#include "tensor/safetensors.h"

namespace tg {

// ================================================================================================
// Packed batches
// ================================================================================================

void PackedBatch::add(const int32_t* id, const int32_t* type, int64_t len) {
    ids.insert(ids.end(), id, id + len);
    if (type)
        type_ids.insert(type_ids.end(), type, type + len);
    else
        type_ids.insert(type_ids.end(), size_t(len), 0);
    offsets.push_back(offsets.back() + len);
}

PackedBatch pack(const Batch& b) {
    PackedBatch p;
    p.ids.reserve(size_t(b.B * b.T));
    p.type_ids.reserve(size_t(b.B * b.T));
    for (int64_t r = 0; r < b.B; r++) {
        // real tokens = the mask's ones; the tokenizer pads on the right, so they are a prefix of the row
        int64_t len = 0;
        while (len < b.T && b.mask[size_t(r * b.T + len)]) len++;
        p.add(b.ids.data() + r * b.T, b.type_ids.data() + r * b.T, len);
    }
    return p;
}

size_t BertWorkspace::bytes() const {
    return 4 * (x_.capacity() + kt_.capacity() + ctx_.capacity() + h_.capacity() + f_.capacity() + cls_.capacity() +
                pool_.capacity()) +
           2 * (x16_.capacity() + a16_.capacity() + q16_.capacity() + ffn_f16_.capacity()) +
           4 * (kp_.capacity() + ffn_f_.capacity());
}

// ================================================================================================
// The name map: HuggingFace BertModel tensor names -> our modules
// ================================================================================================
// Names are looked up with and without the "bert." prefix that task heads (BertForMaskedLM, ...) add.
// Shapes use the letters of bert.h. The fused qkv matrix stacks query rows, then value rows, then key rows.

namespace {
enum class Slot {
    word, pos, type, emb_ln_w, emb_ln_b,
    q_w, q_b, k_w, k_b, v_w, v_b,
    ao_w, ao_b, aln_w, aln_b, fi_w, fi_b, fo_w, fo_b, fln_w, fln_b,
    pool_w, pool_b,
};
struct MapRow {
    BertEncoder::NameMapEntry e;
    Slot slot;
    bool per_layer, optional;
};
// clang-format off
const MapRow kNameMap[] = {
    // HuggingFace name                                  our module                         shape
    {{"embeddings.word_embeddings.weight",                "word_emb",                        "[V, C]"},  Slot::word,     false, false},
    {{"embeddings.position_embeddings.weight",            "pos_emb",                         "[P, C]"},  Slot::pos,      false, false},
    {{"embeddings.token_type_embeddings.weight",          "type_emb",                        "[TV, C]"}, Slot::type,     false, false},
    {{"embeddings.LayerNorm.weight",                      "ln_emb.w",                        "[C]"},     Slot::emb_ln_w, false, false},
    {{"embeddings.LayerNorm.bias",                        "ln_emb.b",                        "[C]"},     Slot::emb_ln_b, false, false},
    {{"encoder.layer.{l}.attention.self.query.weight",    "layers[l].qkv.w rows [0, C)",     "[C, C]"},  Slot::q_w,      true,  false},
    {{"encoder.layer.{l}.attention.self.query.bias",      "layers[l].qkv.b [0, C)",          "[C]"},     Slot::q_b,      true,  false},
    {{"encoder.layer.{l}.attention.self.key.weight",      "layers[l].qkv.w rows [2C, 3C), Kᵀ","[C, C]"},  Slot::k_w,      true,  false},
    {{"encoder.layer.{l}.attention.self.key.bias",        "layers[l].qkv.b [2C, 3C)",        "[C]"},     Slot::k_b,      true,  false},
    {{"encoder.layer.{l}.attention.self.value.weight",    "layers[l].qkv.w rows [C, 2C)",    "[C, C]"},  Slot::v_w,      true,  false},
    {{"encoder.layer.{l}.attention.self.value.bias",      "layers[l].qkv.b [C, 2C)",         "[C]"},     Slot::v_b,      true,  false},
    {{"encoder.layer.{l}.attention.output.dense.weight",  "layers[l].attn_out.w",            "[C, C]"},  Slot::ao_w,     true,  false},
    {{"encoder.layer.{l}.attention.output.dense.bias",    "layers[l].attn_out.b",            "[C]"},     Slot::ao_b,     true,  false},
    {{"encoder.layer.{l}.attention.output.LayerNorm.weight", "layers[l].ln_attn.w",          "[C]"},     Slot::aln_w,    true,  false},
    {{"encoder.layer.{l}.attention.output.LayerNorm.bias",   "layers[l].ln_attn.b",          "[C]"},     Slot::aln_b,    true,  false},
    {{"encoder.layer.{l}.intermediate.dense.weight",      "layers[l].ffn_in.w",              "[I, C]"},  Slot::fi_w,     true,  false},
    {{"encoder.layer.{l}.intermediate.dense.bias",        "layers[l].ffn_in.b",              "[I]"},     Slot::fi_b,     true,  false},
    {{"encoder.layer.{l}.output.dense.weight",            "layers[l].ffn_out.w",             "[C, I]"},  Slot::fo_w,     true,  false},
    {{"encoder.layer.{l}.output.dense.bias",              "layers[l].ffn_out.b",             "[C]"},     Slot::fo_b,     true,  false},
    {{"encoder.layer.{l}.output.LayerNorm.weight",        "layers[l].ln_ffn.w",              "[C]"},     Slot::fln_w,    true,  false},
    {{"encoder.layer.{l}.output.LayerNorm.bias",          "layers[l].ln_ffn.b",              "[C]"},     Slot::fln_b,    true,  false},
    {{"pooler.dense.weight",                              "pooler.w",                        "[C, C]"},  Slot::pool_w,   false, true},
    {{"pooler.dense.bias",                                "pooler.b",                        "[C]"},     Slot::pool_b,   false, true},
};
// clang-format on

std::string layer_name(const char* pattern, int64_t l) {
    std::string s = pattern;
    size_t at = s.find("{l}");
    if (at != std::string::npos) s.replace(at, 3, std::to_string(l));
    return s;
}

// "[I, C]" -> {dims.I, dims.C}
std::vector<int64_t> shape_of(const char* spec, const BertDims& d) {
    std::vector<int64_t> out;
    std::string_view s(spec);
    s = s.substr(1, s.size() - 2);
    while (!s.empty()) {
        size_t comma = s.find(", ");
        std::string_view tok = s.substr(0, comma);
        if (tok == "V") out.push_back(d.V);
        else if (tok == "P") out.push_back(d.P);
        else if (tok == "TV") out.push_back(d.TV);
        else if (tok == "C") out.push_back(d.C);
        else if (tok == "I") out.push_back(d.I);
        else TG_FAIL("bert name map: bad shape letter '", tok, "'");
        s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 2);
    }
    return out;
}

std::string shape_str(const std::vector<int64_t>& s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); i++) r += (i ? ", " : "") + std::to_string(s[i]);
    return r + "]";
}

}  // namespace

const std::vector<BertEncoder::NameMapEntry>& BertEncoder::name_map() {
    static const std::vector<NameMapEntry> m = [] {
        std::vector<NameMapEntry> v;
        for (const auto& r : kNameMap) v.push_back(r.e);
        return v;
    }();
    return m;
}

// ================================================================================================
// Loading
// ================================================================================================

BertEncoder::BertEncoder(BertEncoder&&) noexcept = default;
BertEncoder& BertEncoder::operator=(BertEncoder&&) noexcept = default;
BertEncoder::~BertEncoder() = default;

size_t BertEncoder::weight_bytes_owned() const {
    size_t n = 0;
    auto packed = [](const Linear& l) {  // bf16 pairs and wide bf16 panels: 2 bytes an element; f32 panels 4
        return l.wp.data ? size_t(l.wp.K * l.wp.N) * (l.wp.pairs || l.wp.wide ? 2 : 4) : 0;
    };
    for (const Layer& L : layers_)
        n += packed(L.qkv) + packed(L.attn_out) + packed(L.ffn_in) + packed(L.ffn_out);
    n += packed(pooler_);
    for (auto& v : owned_f32_) n += 4 * v.size();
    for (auto& v : owned_bf16_) n += 2 * v.size();
    return n;
}

BertEncoder BertEncoder::load(const std::string& model_dir, DType dtype) {
    const ModelFiles mf = load_model_dir(model_dir);  // config.json (+ sentence-transformers files), checked
    const BertConfig& cfg = mf.config;
    auto file = std::make_shared<const SafeTensorsFile>(mf.weights);
    BertEncoder e = from_file(file, cfg.num_attention_heads, float(cfg.layer_norm_eps), cfg.gelu_tanh(), dtype);
    const BertDims& d = e.dims_;
    TG_CHECK(d.V == cfg.vocab_size && d.C == cfg.hidden_size && d.L == cfg.num_hidden_layers &&
                 d.I == cfg.intermediate_size && d.P == cfg.max_position_embeddings && d.TV == cfg.type_vocab_size,
             cfg.path, " disagrees with ", mf.weights, ": config (V ", cfg.vocab_size, ", C ", cfg.hidden_size, ", L ",
             cfg.num_hidden_layers, ", I ", cfg.intermediate_size, ", P ", cfg.max_position_embeddings, ", TV ",
             cfg.type_vocab_size, ") vs weights (V ", d.V, ", C ", d.C, ", L ", d.L, ", I ", d.I, ", P ", d.P, ", TV ",
             d.TV, ")");
    return e;
}

BertEncoder BertEncoder::from_file(std::shared_ptr<const SafeTensorsFile> file, int64_t num_heads, float ln_eps,
                                   bool gelu_tanh, DType dtype) {
    TG_CHECK(dtype == DType::f32 || dtype == DType::bf16, "BERT: dtype must be f32 or bf16, got ", dtype_name(dtype));
    BertEncoder e;
    e.file_ = file;
    e.dtype_ = dtype;
    const SafeTensorsFile& f = *file;

    // "bert." prefix or none, decided by where the word embeddings are
    std::string prefix;
    if (f.find("bert.embeddings.word_embeddings.weight")) prefix = "bert.";
    else TG_CHECK(f.find("embeddings.word_embeddings.weight"), f.path(),
                  ": not a BERT checkpoint (no tensor 'embeddings.word_embeddings.weight', with or without 'bert.')");

    // Sizes from the shapes: V, C from the word embeddings; P, TV from theirs; I from layer 0; L by counting.
    BertDims& d = e.dims_;
    auto shape2 = [&](const std::string& name) {
        const SafeTensor& t = f.get(prefix + name);
        TG_CHECK(t.shape.size() == 2, f.path(), ": tensor '", t.name, "' should be 2-D, is ", shape_str(t.shape));
        return std::pair<int64_t, int64_t>(t.shape[0], t.shape[1]);
    };
    std::tie(d.V, d.C) = shape2("embeddings.word_embeddings.weight");
    d.P = shape2("embeddings.position_embeddings.weight").first;
    d.TV = shape2("embeddings.token_type_embeddings.weight").first;
    d.I = shape2("encoder.layer.0.intermediate.dense.weight").first;
    while (f.find(prefix + layer_name("encoder.layer.{l}.attention.self.query.weight", d.L))) d.L++;
    d.has_pooler = f.find(prefix + "pooler.dense.weight") != nullptr;
    TG_CHECK(num_heads > 0 && d.C % num_heads == 0, f.path(), ": hidden size ", d.C, " is not divisible by ",
             num_heads, " attention heads");
    d.NH = num_heads;
    d.D = d.C / num_heads;
    d.ln_eps = ln_eps;
    d.gelu_tanh = gelu_tanh;

    // f32 view of a tensor: the mapping itself when it is aligned f32, else a converted copy we own
    auto as_f32 = [&](const SafeTensor& t) -> const float* {
        if (t.dtype == DType::f32 && reinterpret_cast<uintptr_t>(t.data) % alignof(float) == 0)
            return reinterpret_cast<const float*>(t.data);
        std::vector<float> v(size_t(t.numel()));
        for (int64_t i = 0; i < t.numel(); i++) {
            uint16_t h = 0;
            switch (t.dtype) {
                case DType::f32: std::memcpy(&v[size_t(i)], t.data + 4 * i, 4); break;
                case DType::bf16: std::memcpy(&h, t.data + 2 * i, 2); v[size_t(i)] = bf16_to_f32(h); break;
                case DType::f16: std::memcpy(&h, t.data + 2 * i, 2); v[size_t(i)] = f16_to_f32(h); break;
                default: TG_FAIL(f.path(), ": tensor '", t.name, "' has dtype ", dtype_name(t.dtype), ", expected a float type");
            }
        }
        e.owned_f32_.push_back(std::move(v));
        return e.owned_f32_.back().data();
    };

    e.layers_.resize(size_t(d.L));
    std::vector<const float*> qkv_parts(size_t(6 * d.L), nullptr);  // per layer: q_w v_w k_w q_b v_b k_b
    for (const MapRow& r : kNameMap) {
        const int64_t nl = r.per_layer ? d.L : 1;
        for (int64_t l = 0; l < nl; l++) {
            const std::string name = prefix + layer_name(r.e.hf, l);
            const SafeTensor* t = f.find(name);
            if (!t && r.optional) continue;
            TG_CHECK(t, f.path(), ": missing tensor '", name, "' (BERT module ", r.e.ours, ")");
            const std::vector<int64_t> want = shape_of(r.e.shape, d);
            TG_CHECK(t->shape == want, f.path(), ": tensor '", name, "' has shape ", shape_str(t->shape), ", expected ",
                     shape_str(want), " = ", r.e.shape);
            const float* p = as_f32(*t);
            Layer& L = e.layers_[size_t(l)];
            switch (r.slot) {
                case Slot::word: e.word_ = p; break;
                case Slot::pos: e.pos_ = p; break;
                case Slot::type: e.type_ = p; break;
                case Slot::emb_ln_w: e.ln_emb_.w = p; break;
                case Slot::emb_ln_b: e.ln_emb_.b = p; break;
                case Slot::q_w: qkv_parts[size_t(6 * l + 0)] = p; break;
                case Slot::v_w: qkv_parts[size_t(6 * l + 1)] = p; break;
                case Slot::k_w: qkv_parts[size_t(6 * l + 2)] = p; break;
                case Slot::q_b: qkv_parts[size_t(6 * l + 3)] = p; break;
                case Slot::v_b: qkv_parts[size_t(6 * l + 4)] = p; break;
                case Slot::k_b: qkv_parts[size_t(6 * l + 5)] = p; break;
                case Slot::ao_w: L.attn_out.w = p; break;
                case Slot::ao_b: L.attn_out.b = p; break;
                case Slot::aln_w: L.ln_attn.w = p; break;
                case Slot::aln_b: L.ln_attn.b = p; break;
                case Slot::fi_w: L.ffn_in.w = p; break;
                case Slot::fi_b: L.ffn_in.b = p; break;
                case Slot::fo_w: L.ffn_out.w = p; break;
                case Slot::fo_b: L.ffn_out.b = p; break;
                case Slot::fln_w: L.ln_ffn.w = p; break;
                case Slot::fln_b: L.ln_ffn.b = p; break;
                case Slot::pool_w: e.pooler_.w = p; break;
                case Slot::pool_b: e.pooler_.b = p; break;
            }
        }
    }
    TG_CHECK(!d.has_pooler || e.pooler_.b, f.path(), ": pooler.dense.weight without pooler.dense.bias");

    // Linear shapes, and in bf16 mode bf16 copies of the weights (the f32 pointers are then dropped, so the
    // mapped f32 pages are not read again at run time).
    auto finish = [&](Linear& lin, int64_t out, int64_t in) {
        lin.out = out;
        lin.in = in;
        if (dtype == DType::bf16) {
            std::vector<uint16_t> w16(size_t(out * in));
            detail::bert_fused().cast_bf16(w16.data(), lin.w, out * in);
            e.owned_bf16_.push_back(std::move(w16));
            lin.w16 = e.owned_bf16_.back().data();
            lin.w = nullptr;
            lin.wp = gemm_pack_b_bf16(true, out, in, lin.w16, in);
        } else {
            lin.wp = gemm_pack_b_f32(true, out, in, lin.w, in);
        }
    };
    // Fuse query, value and key into one [3C, C] matrix and [3C] bias: one GEMM instead of three, with one pass
    // of packing x and one parallel region. (The key rows come last: their output is stored transposed, see bert.h.)
    const int64_t C = d.C;
    for (int64_t l = 0; l < d.L; l++) {
        Layer& L = e.layers_[size_t(l)];
        std::vector<float> w(size_t(3 * C * C)), b(size_t(3 * C));
        for (int k = 0; k < 3; k++) {
            std::memcpy(w.data() + k * C * C, qkv_parts[size_t(6 * l + k)], size_t(C * C) * 4);
            std::memcpy(b.data() + k * C, qkv_parts[size_t(6 * l + 3 + k)], size_t(C) * 4);
        }
        L.qkv.w = w.data();
        finish(L.qkv, 3 * C, C);
        if (dtype == DType::f32) e.owned_f32_.push_back(std::move(w));  // bf16: only the bf16 copy is kept
        e.owned_f32_.push_back(std::move(b));
        L.qkv.b = e.owned_f32_.back().data();
        finish(L.attn_out, C, C);
        finish(L.ffn_in, d.I, C);
        finish(L.ffn_out, C, d.I);
    }
    if (d.has_pooler) finish(e.pooler_, C, C);
    return e;
}

// ================================================================================================
// Forward
// ================================================================================================

// Every linear layer is one GEMM whose epilogue runs in its hooks (tensor/gemm.h), on blocks of the output
// that are still in cache: no pass over memory before (bias fill) or after (GELU, cast, LayerNorm) it. Where
// only the epilogue reads the GEMM's output, the output is not stored at all (block_scratch / rows_scratch: the
// GEMM hands over blocks of a per-thread scratch buffer that stays in L2; a full-size output would go out to
// memory and come back although nothing else reads it).
//   block hook, per block of rows [i0, i1) x columns [j0, j1):
//       kᵀ = (out + bias)ᵀ                       (qkv, columns >= t0: the keys, transposed; see bert.h)
//       out_h = head-major (out + bias)          (qkv, the query and value columns, for attention; see
//                                                bert_attention.h; the qkv output itself is not stored)
//       out = gelu(out + bias)                   (ffn_in)
//       out16 = bf16(out)                        (bf16 mode: the next GEMM's input; ffn_in's f32 output is then
//                                                not stored, and its GELU is the bf16 one, gelu_bf16 in bert_fused.h)
//   rows hook, once all columns of rows [i0, i1) are final (attn_out, ffn_out; their output is not stored):
//       ln_out = LayerNorm(out + bias + residual), ln16 = bf16(ln_out)     (row by row, each row in L1)
namespace {
struct Epilogue {
    float* out = nullptr;              // [M, ldo] the GEMM's C; nullptr: C is not stored (block_scratch /
    int64_t ldo = 0;                   //   rows_scratch, gemm.h); ldo: the row stride of out16, res and ln_out
    const float* bias = nullptr;       // [N]
    const float* res = nullptr;        // [M, ldo] residual, or nullptr
    float* out_t = nullptr;            // when set: out_t[(j - t0) * ldt + i] = out[i, j] + bias[j] for j >= t0 (keys)
    int64_t ldt = 0, t0 = 0;
    float* out_h = nullptr;            // when set, for columns j < t0 (queries, values), in pieces of hd:
    int64_t hd = 0, hs = 0;            //   out_h[(j / hd) * hs + i * hd + j % hd] = out[i, j] + bias[j]
    uint16_t* out_h16 = nullptr;       // when set, columns j < tq (the queries; the bf16 attention: queries and
                                       //   values, tq = t0) go there instead, as bf16:
    int64_t tq = 0;                    //   out_h16[(j / hd) * hs + i * hd + j % hd] = bf16(out[i, j] + bias[j])
    uint32_t* out_kp = nullptr;        // when set, the keys go there instead of out_t, as bf16 pairs (j - t0 even):
                                       //   out_kp[(j - t0) / 2 * ldt + i] = bf16(key j) | bf16(key j + 1) << 16
    bool gelu = false, gelu_tanh = false;
    uint16_t* out16 = nullptr;         // [M, ldo] bf16 copy of out, or nullptr
    const float* ln_w = nullptr;       // LayerNorm in the rows hook when set
    const float* ln_b = nullptr;
    float ln_eps = 0.f;
    float* ln_out = nullptr;           // [M, ldo]
    uint16_t* ln16 = nullptr;          // [M, ldo] bf16 copy of ln_out, or nullptr
    const detail::BertFusedFns* fn = nullptr;
};

// The block epilogue on block rows [i0, i1) x columns [j0, j1) of C, whose element (i, j) is at
// c[(i - i0) * ldc + (j - j0)]: C itself (c = out + i0 * ldo + j0) or the GEMM's scratch block (block_scratch).
void epilogue_apply(const Epilogue& e, float* c, int64_t ldc, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    if (e.out_kp && j1 > e.t0) {  // keys as transposed bf16 pairs (block edges are even: nc and t0 are)
        const int64_t jk = std::max(j0, e.t0);
        detail::keys_to_bf16_pairs_avx512(e.out_kp + (jk - e.t0) / 2 * e.ldt + i0, e.ldt, c + (jk - j0), ldc,
                                          e.bias + jk, i1 - i0, j1 - jk);
        j1 = jk;  // what is left of the block is before the keys
    }
    if (e.out_t && j1 > e.t0) {  // transposed copy: contiguous writes along i, reads from the cached block
        for (int64_t j = std::max(j0, e.t0); j < j1; j++) {
            const float b = e.bias[j];
            float* t = e.out_t + (j - e.t0) * e.ldt;
            const float* cj = c + (j - j0);
            for (int64_t i = i0; i < i1; i++) t[i] = cj[(i - i0) * ldc] + b;
        }
        j1 = std::max(j0, e.t0);  // what is left of the block is before the keys
    }
    if (e.out_h || e.out_h16) {  // queries and values: out + bias straight to the head-major copy (out is not needed)
        for (int64_t j = j0; j < j1;) {
            const int64_t h = j / e.hd, jn = std::min(j1, (h + 1) * e.hd), w = jn - j;  // the block's part of head h
            const float* b = e.bias + j;
            const int64_t o0 = h * e.hs + (j - h * e.hd);  // element (0, j) of the head-major copy
            if (j < e.tq) {  // (bf16: only with the bf16 attention, on avx512_bf16)
                detail::rows_to_bf16_avx512(e.out_h16 + o0 + i0 * e.hd, e.hd, c + (j - j0), ldc, b, i1 - i0, w);
            } else {
                for (int64_t i = i0; i < i1; i++) {  // reads from the block still in cache, writes runs of w floats
                    const float* src = c + (i - i0) * ldc + (j - j0);
                    float* o = e.out_h + o0 + i * e.hd;
#pragma omp simd
                    for (int64_t k = 0; k < w; k++) o[k] = src[k] + b[k];
                }
            }
            j = jn;
        }
        return;
    }
    const int64_t n = j1 - j0;
    if (n <= 0) return;
    if (e.gelu && !e.gelu_tanh && e.out16 && !e.out) {  // only the bf16 copy is kept: the cheaper bf16 GELU
        for (int64_t i = i0; i < i1; i++)
            e.fn->gelu_bf16(e.out16 + i * e.ldo + j0, c + (i - i0) * ldc, e.bias + j0,
                            e.res ? e.res + i * e.ldo + j0 : nullptr, n);
        return;
    }
    for (int64_t i = i0; i < i1; i++) {
        const int act = e.gelu ? (e.gelu_tanh ? 2 : 1) : 0;
        e.fn->bias_act(c + (i - i0) * ldc, e.bias + j0, e.res ? e.res + i * e.ldo + j0 : nullptr, act,
                       e.out16 ? e.out16 + i * e.ldo + j0 : nullptr, n);
    }
}

void epilogue_block(void* ctx, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    const Epilogue& e = *static_cast<const Epilogue*>(ctx);
    epilogue_apply(e, e.out + i0 * e.ldo + j0, e.ldo, i0, i1, j0, j1);
}

void epilogue_scratch(void* ctx, int64_t i0, int64_t i1, int64_t j0, int64_t j1, float* c, int64_t ldc) {
    epilogue_apply(*static_cast<const Epilogue*>(ctx), c, ldc, i0, i1, j0, j1);
}

// rows [i0, i1) of C, row i at c + (i - i0) * ldc: C itself or the GEMM's scratch rows (rows_scratch)
void epilogue_rows_scratch(void* ctx, int64_t i0, int64_t i1, float* c, int64_t ldc) {
    const Epilogue& e = *static_cast<const Epilogue*>(ctx);
    e.fn->layernorm_rows(e.ln_out + i0 * e.ldo, e.ln16 ? e.ln16 + i0 * e.ldo : nullptr, c, ldc, e.bias,
                         e.res ? e.res + i0 * e.ldo : nullptr, e.ln_w, e.ln_b, i1 - i0, e.ldo, e.ln_eps);
}

// out[T, lin.out] = X[T, lin.in] Wᵀ, then the epilogue e (e.out must be out). X is x (f32) or x16 (bf16).
// The weight packed at load (lin.wp) is used while the CPU's kernel choice is the one it was packed for.
// bf16 weights packed "wide" (tensor/gemm.h) take the f32 activations x; the other bf16 kernels take x16.
void linear(const BertEncoder::Linear& lin, DType dtype, const float* x, const uint16_t* x16, int64_t T,
            Epilogue& e) {
    const int64_t N = lin.out, K = lin.in;
    GemmHooks hk;
    if (e.ln_w)  // the output goes through the LayerNorm only: never stored
        hk.rows_scratch = epilogue_rows_scratch;
    else if (e.out)
        hk.block = epilogue_block;
    else
        hk.block_scratch = epilogue_scratch;
    hk.ctx = &e;
    const bool packed = gemm_packed_usable(lin.wp);
    if (dtype == DType::bf16) {
        if (packed && lin.wp.wide)
            gemm_f32_packed(false, T, N, K, 1.0f, x, K, lin.wp, 0.0f, e.out, e.ldo, hk);
        else if (packed)
            gemm_bf16_packed(false, T, N, K, 1.0f, x16, K, lin.wp, 0.0f, e.out, e.ldo, hk);
        else
            gemm_bf16_hooked(false, true, T, N, K, 1.0f, x16, K, lin.w16, K, 0.0f, e.out, e.ldo, hk);
    } else {
        if (packed)
            gemm_f32_packed(false, T, N, K, 1.0f, x, K, lin.wp, 0.0f, e.out, e.ldo, hk);
        else
            gemm_f32_hooked(false, true, T, N, K, 1.0f, x, K, lin.w, K, 0.0f, e.out, e.ldo, hk);
    }
}
}  // namespace

void BertEncoder::forward(const PackedBatch& in, BertWorkspace& ws, bool want_pooler,
                          std::vector<std::vector<float>>* layer_outputs) const {
    const BertDims& d = dims_;
    const int64_t B = in.B(), T = in.T(), C = d.C;
    TG_CHECK(int64_t(in.ids.size()) == T && int64_t(in.type_ids.size()) == T, "BERT forward: batch has ", T,
             " tokens by its offsets but ", in.ids.size(), " ids and ", in.type_ids.size(), " type ids");
    for (int64_t b = 0; b < B; b++) {
        const int64_t len = in.offsets[size_t(b + 1)] - in.offsets[size_t(b)];
        TG_CHECK(len >= 1 && len <= d.P, "BERT forward: sequence ", b, " has ", len, " tokens; it needs 1 to ", d.P,
                 " (the model's positions: truncate the input)");
    }
    for (int64_t t = 0; t < T; t++) {
        TG_CHECK(in.ids[size_t(t)] >= 0 && in.ids[size_t(t)] < d.V, "BERT forward: token id ", in.ids[size_t(t)],
                 " at position ", t, " is outside the vocabulary [0, ", d.V, ")");
        TG_CHECK(in.type_ids[size_t(t)] >= 0 && in.type_ids[size_t(t)] < d.TV, "BERT forward: token type ",
                 in.type_ids[size_t(t)], " at position ", t, " is outside [0, ", d.TV, ")");
    }

    // workspace: grows to the largest batch seen, then is reused as is
    auto grow = [](auto& v, int64_t n) {
        if (v.size() < size_t(n)) v.resize(size_t(n));
    };
    // bf16 weights: the activations are also kept as bf16 copies (x16, a16) for the vdpbf16ps GEMMs and
    // attention, unless the weights are packed "wide" (tensor/gemm.h), whose GEMMs take the f32 activations.
    // (All weights are packed alike, and a pack goes stale for all of them at once, so layer 0 tells.)
    const bool bf16 = dtype_ == DType::bf16;
    const bool act16 =
        bf16 && !(!layers_.empty() && layers_[0].qkv.wp.wide && gemm_packed_usable(layers_[0].qkv.wp));
    const bool att16 = act16 && attention_bf16_supported(d.D);  // bf16 attention (avx512_bf16, D % 32 == 0)
    grow(ws.x_, T * C);
    // kᵀ row stride: T rounded up to 16 floats, plus 16 when that is a multiple of 4 KiB. With a 4 KiB-multiple
    // stride (T = 1024, 4096, ...) the D rows of one key tile all fall in the same L1 set and evict each other
    // on every pass of the score loop (32 x 128 tokens: attention 14.6% of the forward before, see bench-bert).
    // (The bf16 attention's key pairs use the same stride, + 32 first: it reads up to 31 keys past a sequence's end,
    // straight from kp_.)
    const int64_t ldkt0 = (T + 15) / 16 * 16 + (att16 ? 32 : 0), ldkt = ldkt0 + (ldkt0 % 1024 == 0 ? 16 : 0);
    if (att16) {
        grow(ws.q16_, 2 * T * C);
        grow(ws.kp_, C / 2 * ldkt);
    } else {
        grow(ws.kt_, C * ldkt);
    }
    grow(ws.ctx_, T * C);
    grow(ws.h_, T * C);
    // The feed-forward block by row blocks (set_ffn_rows) or all at once.
    const int64_t nt = num_threads();
    const int64_t ffn_rows = ffn_rows_ > 0  ? ffn_rows_
                             : ffn_rows_ == 0 ? 0
                             : T >= 8 * kFfnRows * nt ? kFfnRows
                             : nt > 1 ? (T + nt - 1) / nt
                                      : 0;
    // f_: the head-major q | v of attention, then ffn_in's output (when the block runs on all rows at once and
    // not only its bf16 copy is kept); ffn_f_ / ffn_f16_: one row block's intermediate per thread
    if (!att16) grow(ws.f_, T * (act16 || ffn_rows ? 2 * C : std::max(d.I, 2 * C)));
    if (ffn_rows) {
        if (act16) grow(ws.ffn_f16_, nt * ffn_rows * d.I);
        else grow(ws.ffn_f_, nt * ffn_rows * d.I);
    }
    if (act16) {
        grow(ws.x16_, T * C);
        grow(ws.a16_, T * (ffn_rows ? C : std::max(C, d.I)));
    }
    if (layer_outputs) layer_outputs->clear();
    auto snapshot = [&] {
        if (layer_outputs) layer_outputs->emplace_back(ws.x_.begin(), ws.x_.begin() + T * C);
    };
    float* x = ws.x_.data();
    float* h = ws.h_.data();
    uint16_t* x16 = act16 ? ws.x16_.data() : nullptr;  // bf16 copy of x (the input of qkv and ffn_in)
    uint16_t* a16 = act16 ? ws.a16_.data() : nullptr;  // bf16 input of attn_out / ffn_out
    const detail::BertFusedFns& fn = detail::bert_fused();
    if (B == 0) return;

    // ---- embeddings: h[t] = word[id] + pos[t - start of its sequence] + type[tt]; x = LayerNorm(h)
    const int64_t* off = in.offsets.data();
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t b = 0; b < B; b++) {
        for (int64_t t = off[b]; t < off[b + 1]; t++) {
            const float* we = word_ + int64_t(in.ids[size_t(t)]) * C;
            const float* pe = pos_ + (t - off[b]) * C;
            const float* te = type_ + int64_t(in.type_ids[size_t(t)]) * C;
            float* o = h + t * C;
#pragma omp simd
            for (int64_t c = 0; c < C; c++) o[c] = we[c] + pe[c] + te[c];
        }
    }
    layernorm_forward(x, nullptr, nullptr, h, ln_emb_.w, ln_emb_.b, T, C, d.ln_eps);
    if (act16) fn.cast_bf16(x16, x, T * C);
    snapshot();

    // ---- encoder layers
    for (const Layer& L : layers_) {
        Epilogue e;
        e.fn = &fn;
        e.out = nullptr, e.ldo = 3 * C, e.bias = L.qkv.b, e.out_t = ws.kt_.data(), e.ldt = ldkt, e.t0 = 2 * C;
        e.out_h = ws.f_.data(), e.hd = d.D, e.hs = T * d.D;
        if (att16) {  // the bf16 attention's own layouts: q and v head-major bf16, k as transposed bf16 pairs
            e.out_h = nullptr, e.out_h16 = ws.q16_.data(), e.tq = 2 * C;
            e.out_t = nullptr, e.out_kp = ws.kp_.data();
        }
        // [T, 3C] = q | v | k, not stored: from its blocks, q and v head-major [2 NH, T, D] and kᵀ [C, T]
        linear(L.qkv, dtype_, x, x16, T, e);
        AttnInput ain{};
        if (att16) {
            ain.q16 = ws.q16_.data(), ain.hsq16 = T * d.D;
            ain.v16 = ws.q16_.data() + d.NH * T * d.D, ain.hsv16 = T * d.D;
            ain.kp = ws.kp_.data(), ain.ldkp = ldkt;
            attention_forward_bf16(a16, ain, off, B, d.NH, d.D);        // [T, C] bf16
        } else {
            const float* qh = ws.f_.data();
            ain = AttnInput{qh, d.D, ws.kt_.data(), ldkt, qh + d.NH * T * d.D, d.D, T * d.D, T * d.D};
            attention_forward(ws.ctx_.data(), ain, off, B, d.NH, d.D);   // [T, C]
            if (act16) fn.cast_bf16(a16, ws.ctx_.data(), T * C);
        }
        // the rest of the layer on rows [r0, r0 + R) (f: R x I f32, f16: R x I bf16, whichever this mode uses):
        //   x = LayerNorm(a Woᵀ + bo + x)   (a: the attention's output, ctx or its bf16 copy a16)
        //   f = gelu(x W1ᵀ + b1)            (with bf16 activation copies, only its bf16 copy f16 is made)
        //   x = LayerNorm(f W2ᵀ + b2 + x)
        auto post_attention = [&](int64_t r0, int64_t R, float* f, uint16_t* f16) {
            // A row block's residual rows were last touched a layer ago and come from L3 or memory; the output
            // projection's LayerNorm reads them first, after the GEMM: ask for them now, into L2.
            if (ffn_rows)
                for (int64_t k = 0; k < R * C; k += 16) __builtin_prefetch(x + r0 * C + k, 0, 2);
            Epilogue e0;
            e0.fn = &fn;
            e0.out = nullptr, e0.ldo = C, e0.bias = L.attn_out.b, e0.res = x + r0 * C;
            e0.ln_w = L.ln_attn.w, e0.ln_b = L.ln_attn.b, e0.ln_eps = d.ln_eps, e0.ln_out = x + r0 * C;
            e0.ln16 = x16 ? x16 + r0 * C : nullptr;
            linear(L.attn_out, dtype_, ws.ctx_.data() + r0 * C, a16 ? a16 + r0 * C : nullptr, R, e0);
            Epilogue e1;
            e1.fn = &fn;
            e1.out = act16 ? nullptr : f, e1.ldo = d.I, e1.bias = L.ffn_in.b, e1.gelu = true;
            e1.gelu_tanh = d.gelu_tanh, e1.out16 = f16;
            linear(L.ffn_in, dtype_, x + r0 * C, x16 ? x16 + r0 * C : nullptr, R, e1);
            Epilogue e2;
            e2.fn = &fn;
            e2.out = nullptr, e2.ldo = C, e2.bias = L.ffn_out.b, e2.res = x + r0 * C;
            e2.ln_w = L.ln_ffn.w, e2.ln_b = L.ln_ffn.b, e2.ln_eps = d.ln_eps, e2.ln_out = x + r0 * C;
            e2.ln16 = x16 ? x16 + r0 * C : nullptr;
            linear(L.ffn_out, dtype_, f, f16, R, e2);
        };
        if (ffn_rows == 0) {
            post_attention(0, T, ws.f_.data(), a16);
        } else {  // each thread one row block at a time, its intermediate in its own slice of ffn_f_ / ffn_f16_
            const int64_t nblocks = (T + ffn_rows - 1) / ffn_rows;
            std::exception_ptr err;
#pragma omp parallel for schedule(dynamic, 1) num_threads(int(nt))
            for (int64_t blk = 0; blk < nblocks; blk++) {
                try {
                    int tid = 0;
#ifdef _OPENMP
                    tid = omp_get_thread_num();
#endif
                    const int64_t r0 = blk * ffn_rows, R = std::min(ffn_rows, T - r0);
                    post_attention(r0, R, act16 ? nullptr : ws.ffn_f_.data() + tid * ffn_rows * d.I,
                        act16 ? ws.ffn_f16_.data() + tid * ffn_rows * d.I : nullptr);
                } catch (...) {
#pragma omp critical(tg_bert_ffn_error)
                    if (!err) err = std::current_exception();
                }
            }
            if (err) std::rethrow_exception(err);
        }
        snapshot();
    }

    // ---- pooler: tanh(Wp x[CLS] + bp)
    if (want_pooler && d.has_pooler) {
        grow(ws.cls_, B * C);
        grow(ws.pool_, B * C);
        for (int64_t b = 0; b < B; b++) std::memcpy(ws.cls_.data() + b * C, x + off[b] * C, size_t(C) * 4);
        if (act16) fn.cast_bf16(a16, ws.cls_.data(), B * C);
        Epilogue e;
        e.fn = &fn;
        e.out = ws.pool_.data(), e.ldo = C, e.bias = pooler_.b;
        linear(pooler_, dtype_, ws.cls_.data(), a16, B, e);
        vtanh(ws.pool_.data(), ws.pool_.data(), B * C);
    }
}

}  // namespace tg
