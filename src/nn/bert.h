// bert.h — BERT encoder inference (HuggingFace BertModel), f32 or bf16, on packed variable-length batches.
//
// Dimension letters: B sequences in a batch, T = total tokens (all sequences concatenated), C hidden size,
// NH heads, D = C/NH head size, I intermediate (FFN) size, V vocabulary, P max positions, L layers.
//
// Forward pass (what transformers' BertModel computes, dropout off):
//   x = LayerNorm(word_emb[id] + pos_emb[position] + type_emb[token_type])                  [T, C]
//   for each of the L layers:
//     qkv = x Wqkvᵀ + bqkv    (query, value and key rows, in that order, fused into one [3C, C] matrix) [T, 3C]
//     kt  = (x Wkᵀ + bk)ᵀ     (its key columns, stored transposed for attention by the epilogue)       [C, T]
//     a   = attention(q, k, v) per sequence, head (bert_attention.h: tiled, online softmax)      [T, C]
//     x   = LayerNorm(a Woᵀ + bo + x)             (BertSelfOutput)                              [T, C]
//     f   = gelu(x W1ᵀ + b1)                      (BertIntermediate)                            [T, I]
//     x   = LayerNorm(f W2ᵀ + b2 + x)             (BertOutput)                                  [T, C]
//   pooler[b] = tanh(Wp x[first token of b] + bp)  (BertPooler, on [CLS])                        [B, C]
//
// Every linear layer is Y = X Wᵀ + b with W stored [out, in] as PyTorch stores it, i.e. one gemm with
// transB = true, packed once at load (GemmPackedB). The fused layer's epilogue writes the key columns transposed,
// Kᵀ [C, T] (from the block of the product still in cache), so that attention reads each
// feature of 64 consecutive keys as one contiguous run.
//
// Packed batches: sequences are concatenated without padding (PackedBatch.offsets delimits them), so the
// linear layers run on sum(len) rows, and attention only ever pairs tokens of the same sequence — the exact
// effect of BERT's padding mask, at no cost. pack() turns a padded tokenizer Batch into this form.
//
// Precision: f32 runs everything in f32. bf16 converts the linear-layer weights to bf16 at load (embeddings,
// LayerNorm and biases stay f32); how they are multiplied is the GEMM's bf16 choice (tensor/gemm.h):
//   wide (Intel, and AVX-512 without avx512_bf16): f32 activations times the bf16 weights widened in registers,
//        f32 FMAs; attention in f32: f32 speed with half the weight bytes to read, and A is not rounded.
//   dot (vdpbf16ps): the activations are rounded to bf16 too (a bf16 copy of each GEMM input, written by the
//        epilogue of the layer before), f32 accumulation; attention on bf16-rounded q, k, v and probabilities
//        with an f32 softmax (attention_forward_bf16).
// Without AVX-512 the bf16 weights are widened to f32 when packed. Biases, residuals, GELU and LayerNorm are f32.
//
// Fused epilogues: bias, residual, GELU, LayerNorm and the bf16 casts run in the GEMMs' hooks (tensor/gemm.h
// GemmHooks) on blocks of the output that are still in cache, instead of separate passes over memory. Outputs that
// only an epilogue reads (qkv's [T, 3C]: q, v and kᵀ are made from it; the pre-LayerNorm sums; ffn_in's f32
// output when only its bf16 copy is used) are never stored: the GEMM hands them over in per-thread scratch blocks.
// In large batches everything after attention runs kFfnRows tokens at a time per thread (set_ffn_rows), so that
// f [rows, I] stays in L2 too; in smaller ones (one sequence, a few) one block of T / threads tokens per thread, so
// that each thread reads back the rows it wrote. With the bf16 attention the qkv epilogue writes q (head-major) and
// k (transposed feature pairs) directly in bf16, the layouts the attention multiplies (bert_attention.h
// AttnInput::q16, kp).
//
// Memory: the linear layers' weights are packed once at load into the GEMM's panel layout (GemmPackedB: one
// f32 or bf16 copy each, what the products read); embeddings, LayerNorm and biases are used in place from the
// memory-mapped safetensors file. Activations live in a BertWorkspace that the caller keeps between calls: buffers grow
// to the largest batch seen and are reused, nothing is allocated per layer, and no autograd state is kept.
//
// Usage:
//     auto bert = tg::BertEncoder::load("weights/all-MiniLM-L6-v2", tg::DType::f32);
//     tg::PackedBatch in = tg::pack(tokenizer.encode_batch(texts));
//     tg::BertWorkspace ws;
//     bert.forward(in, ws);            // ws.hidden(): [T, C]; ws.pooler(): [B, C]
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/gemm.h"

namespace tg {

struct Batch;            // nn/tokenizer.h
class SafeTensorsFile;   // tensor/safetensors.h

// Hyper-parameters. Sizes come from the weight shapes; heads, eps and activation from config.json.
struct BertDims {
    int64_t V = 0, P = 0, TV = 0;  // vocabulary, max positions, token types
    int64_t C = 0, NH = 0, D = 0;  // hidden, heads, head size
    int64_t I = 0, L = 0;          // intermediate size, layers
    float ln_eps = 1e-12f;
    bool gelu_tanh = false;        // hidden_act "gelu_new"/"gelu_pytorch_tanh" (else exact erf "gelu")
    bool has_pooler = false;
};

// Sequences concatenated without padding: sequence b = tokens offsets[b] .. offsets[b+1]-1.
struct PackedBatch {
    std::vector<int32_t> ids;        // [T]
    std::vector<int32_t> type_ids;   // [T]
    std::vector<int64_t> offsets{0}; // [B+1]
    int64_t B() const { return int64_t(offsets.size()) - 1; }
    int64_t T() const { return offsets.back(); }
    void add(const int32_t* id, const int32_t* type, int64_t len);  // type may be nullptr (all 0)
};
// Drop the padding of a tokenizer batch (rows keep their order).
PackedBatch pack(const Batch& b);

// Activation memory for forward(); reuse one per thread of callers. Grows to the largest batch, never shrinks.
class BertWorkspace {
   public:
    const float* hidden() const { return x_.data(); }   // [T, C] last hidden state of the last forward()
    const float* pooler() const { return pool_.data(); } // [B, C] (only when forward(..., want_pooler))
    size_t bytes() const;                                 // activation memory held

   private:
    friend class BertEncoder;
    // [T,C] [C,T] [T,C] [T,C] [T,I] [B,C] [B,C]; f_ is [T,2C] when only the bf16 copy of ffn_in's output is kept,
    // and not allocated with the bf16 attention (q16_ holds q and v then, kp_ the keys).
    // (The qkv GEMM's own output is never stored: its epilogue makes the head-major q, v and kᵀ from scratch blocks.)
    std::vector<float> x_, kt_, ctx_, h_, f_, cls_, pool_;
    std::vector<uint16_t> x16_, a16_;  // bf16 "dot": copy of x [T, C]; input of attn_out / ffn_out [T, max(C, I)]
    std::vector<float> ffn_f_;         // feed-forward by row blocks: one block's [rows, I] per thread (f32)
    std::vector<uint16_t> ffn_f16_;    //   or its bf16 copy (bf16 activations)
    std::vector<uint16_t> q16_;        // bf16 attention: queries | values, head-major [2 NH, T, D] (kt_ not used)
    std::vector<uint32_t> kp_;         //   and keys as transposed bf16 pairs [C/2, ldkt] (bert_attention.h)
};

class BertEncoder {
   public:
    // From a model directory: config.json + model.safetensors (names with or without the "bert." prefix).
    static BertEncoder load(const std::string& model_dir, DType dtype = DType::f32);
    // From an opened weight file and explicit heads/eps/activation (tests; converters).
    static BertEncoder from_file(std::shared_ptr<const SafeTensorsFile> file, int64_t num_heads, float ln_eps,
                                 bool gelu_tanh, DType dtype = DType::f32);

    BertEncoder(BertEncoder&&) noexcept;
    BertEncoder& operator=(BertEncoder&&) noexcept;
    ~BertEncoder();

    const BertDims& dims() const { return dims_; }
    DType dtype() const { return dtype_; }
    size_t weight_bytes_owned() const;  // memory we allocated for weights (fused query/value/key, bf16 copies)

    // Run the encoder on a packed batch. Results in ws (hidden, and pooler when asked and present).
    // layer_outputs (tests): when non-null, receives L+1 copies of x ([T, C] each): after the embeddings and
    // after every layer.
    void forward(const PackedBatch& in, BertWorkspace& ws, bool want_pooler = true,
                 std::vector<std::vector<float>>* layer_outputs = nullptr) const;

    // The rest of each layer after the attention (output projection and LayerNorm, ffn_in, GELU, ffn_out,
    // LayerNorm) runs row block by row block, each thread taking blocks of this many tokens through all three GEMMs
    // (each GEMM on one thread). -1 (the default): kFfnRows when the batch has at least 8 such blocks per thread's
    // share, so that the [rows, I] intermediate stays in L2 instead of a [T, I] one going out to memory and back;
    // below that, with more than one thread, one block of T / threads rows per thread (rounded up); one thread: all T
    // rows at once. 0: always all at once (the GEMMs then split their columns among the threads); > 0: blocks of that
    // many rows whatever T (tests). The results are the same bits either way.
    //   One block per thread rather than all rows at once with the columns split: each thread then reads the rows it
    // wrote itself (its LayerNorm's output is its next GEMM's input) instead of half of every GEMM's input coming from
    // the other core's cache, and there is no barrier between the three GEMMs. Measured with the variants alternating
    // forward by forward on 2 threads (Zen 4): 1 x 128 tokens f32 -4.8 % (median), 8 x 32 f32 -13 %, 8 x 128 and
    // 32 x 32 -1.5 to -2 % (f32 and bf16), 1 x 32 bf16 -20 %; at 32 x 128 kFfnRows stays ahead (T / 2 rows: +2 %).
    static constexpr int64_t kFfnRows = 96;
    void set_ffn_rows(int64_t rows) { ffn_rows_ = rows; }

    // The name map, for documentation and error messages: HuggingFace name (layer index as {l}) -> our module.
    struct NameMapEntry {
        const char* hf;     // e.g. "encoder.layer.{l}.attention.self.query.weight" (optionally "bert."-prefixed)
        const char* ours;   // e.g. "layers[l].qkv.w rows [0, C)"
        const char* shape;  // e.g. "[C, C]"
    };
    static const std::vector<NameMapEntry>& name_map();

    struct Linear {              // Y = X Wᵀ + b
        const float* w = nullptr;      // [out, in] f32 (f32 mode)
        const uint16_t* w16 = nullptr; // [out, in] bf16 (bf16 mode)
        const float* b = nullptr;      // [out]
        int64_t out = 0, in = 0;
        GemmPackedB wp;                // Wᵀ packed for the GEMM at load (w or w16, whichever is used)
    };
    struct Norm {
        const float* w = nullptr;  // [C]
        const float* b = nullptr;  // [C]
    };
    struct Layer {
        Linear qkv;        // [3C, C]  query rows, value rows, key rows (the key output is also stored as Kᵀ)
        Linear attn_out;   // [C, C]
        Norm ln_attn;
        Linear ffn_in;     // [I, C]
        Linear ffn_out;    // [C, I]
        Norm ln_ffn;
    };

   private:
    BertEncoder() = default;

    BertDims dims_;
    DType dtype_ = DType::f32;
    std::shared_ptr<const SafeTensorsFile> file_;   // keeps the mapping alive
    std::vector<std::vector<float>> owned_f32_;     // fused query/value/key, non-f32/unaligned tensors converted
    std::vector<std::vector<uint16_t>> owned_bf16_; // bf16 weight copies
    const float* word_ = nullptr;   // [V, C]
    const float* pos_ = nullptr;    // [P, C]
    const float* type_ = nullptr;   // [TV, C]
    Norm ln_emb_;
    std::vector<Layer> layers_;
    Linear pooler_;                 // [C, C]
    int64_t ffn_rows_ = -1;         // set_ffn_rows
};

}  // namespace tg
