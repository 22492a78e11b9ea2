// bert_attention.h — multi-head self-attention over packed (padding-free) sequences, tile by tile.
//
// Dimension letters: T = total tokens of the batch (all sequences concatenated, no padding),
// B = sequences, NH = heads, D = head size, C = NH * D, L = one sequence's length.
//
// Inputs: queries q and values v as row-major [T, C] views with row strides ldq / ldv (head h in columns
// h*D .. h*D+D-1, as HuggingFace's BertSelfAttention reshapes them) or head-major (see AttnInput), and the
// keys TRANSPOSED, kt [C, ldk] (kt[c, t] = k[t, c], ldk >= T): the encoder's qkv GEMM writes kt from its
// epilogue, so the score loop reads 64 consecutive keys of one feature as one contiguous run and no key
// tile is ever transposed here.
// offsets [B+1] delimit the sequences: sequence b owns tokens offsets[b] .. offsets[b+1]-1. A token attends
// only to the tokens of its own sequence — exactly what BERT's additive padding mask does for a padded batch
// (masked keys get weight 0), without spending any work on padding.
//
//   out[t, h*D:(h+1)*D] = sum_j softmax_j(q_t · k_j / sqrt(D)) v_j      (j over t's sequence)
//
// attention_forward computes this flash-attention style: for a tile of 64 queries it walks the keys in
// tiles of 64, keeping a running max m, running sum l and unnormalized output O per query (online softmax,
// Milakov & Gimelshein 2018; Dao et al. 2022):
//     m' = max(m, max_j s_j);  l = l e^{m-m'} + sum_j e^{s_j-m'};  O = O e^{m-m'} + sum_j e^{s_j-m'} v_j
// and divides O by l at the end. Memory per thread is O(tile² + tile·D): the [NH, L, L] score matrix is
// never materialized, whatever L is. Work is split over (sequence, head, query tile) tasks with OpenMP.
// The loops live once in bert_attention_impl.h and are compiled for baseline x86-64, AVX2 and AVX-512
// (chosen at run time by tg::cpu_isa()).
//
// attention_forward_ref is the readable specification: per sequence and head, materialize the scores,
// softmax in double, multiply by V. Tests compare the two.
#pragma once
#include <cstdint>

namespace tg {

// Where the inputs are: head h of q row t at q + h*hsq + t*ldq (D floats), of v row t at v + h*hsv + t*ldv,
// and kt[c, t] at kt + c*ldk + t. Head strides hsq / hsv = 0 mean D: the heads side by side in a [T, C] row
// (ldq >= C), as a Linear layer writes them. The encoder instead passes HEAD-MAJOR q and v, [NH, T, D]
// (ldq = D, hsq = T*D; its qkv GEMM's epilogue writes them so): a task's 64 query rows and its value rows
// are then one contiguous run each, which the hardware prefetchers follow, where the [T, C] rows of one
// head are 128-byte pieces 1.5 KiB apart (4.5 KiB in the encoder's fused [T, 3C] output), one per 4 KiB
// page, freshly written by the GEMM. (MiniLM-L6, 32 x 128 tokens, 2 threads: attention 69 -> 48 ms of a
// ~450 ms forward, the epilogue's copy no dearer than its bias pass was; the same bits.)
//
// The bf16 attention can also take q, k and v already rounded to bf16 and laid out as it multiplies them (the bf16
// encoder's qkv epilogue writes them so: half the bytes there, no conversion here). Then q, kt and v are not read:
//   q16  head-major [NH, T, D] bf16: head h of row t at q16 + h*hsq16 + t*D;
//   v16  the same for the values: head h of row t at v16 + h*hsv16 + t*D;
//   kp   key feature PAIRS, transposed: kp[(c/2)*ldkp + t] = bf16(k[t, c]) | bf16(k[t, c+1]) << 16 (c even),
//        ldkp >= T + 31: the score loop reads keys in runs of 32, up to 31 past a sequence's end (those scores are
//        never used, whatever the bits there, but the memory must be readable).
struct AttnInput {
    const float* q;
    int64_t ldq;
    const float* kt;
    int64_t ldk;
    const float* v;
    int64_t ldv;
    int64_t hsq = 0, hsv = 0;  // head strides in floats (0: D)
    const uint16_t* q16 = nullptr;  // bf16 attention only: pre-rounded queries (see above), or nullptr
    int64_t hsq16 = 0;
    const uint32_t* kp = nullptr;   // bf16 attention only: pre-rounded key pairs (see above), or nullptr
    int64_t ldkp = 0;
    const uint16_t* v16 = nullptr;  // bf16 attention only: pre-rounded values (see above), or nullptr
    int64_t hsv16 = 0;
};

// out [T, C] (overwritten, row stride C), offsets [B+1] (offsets[0] = 0, offsets[B] = T, non-decreasing).
void attention_forward(float* out, const AttnInput& in, const int64_t* offsets, int64_t B, int64_t NH, int64_t D);
void attention_forward_ref(float* out, const AttnInput& in, const int64_t* offsets, int64_t B, int64_t NH, int64_t D);

// The bf16 variant for the bf16 encoder: q, k, v and the probabilities rounded to bf16, products by vdpbf16ps
// with f32 accumulation, f32 softmax; out16 [T, C] bf16 (row stride C), ready to be the output projection's
// input. Needs tg::attention_bf16_supported(D): an avx512_bf16 CPU and D % 32 == 0.
bool attention_bf16_supported(int64_t D);
void attention_forward_bf16(uint16_t* out16, const AttnInput& in, const int64_t* offsets, int64_t B, int64_t NH,
                            int64_t D);

namespace detail {
// One task = (sequence start, sequence length, head, first query of the tile); see attention_forward.
struct AttnTask {
    int64_t seq_start, seq_len, head, q0;
};
constexpr int64_t kAttnTile = 64;  // queries per task and keys per inner tile
// Scratch floats one thread needs for head size D: the transposed query tile, scores, output, and per query
// the running max, the running sum and the tile's rescaling factor.
inline int64_t attn_scratch_floats(int64_t D) {
    return D * kAttnTile + kAttnTile * kAttnTile + kAttnTile * D + 3 * kAttnTile;
}
using AttnTilesFn = void (*)(float* out, const AttnInput& in, const AttnTask* tasks, int64_t ntasks, int64_t NH,
                             int64_t D, float* scratch, int64_t scratch_per_thread);
void attention_tiles_base(float*, const AttnInput&, const AttnTask*, int64_t, int64_t, int64_t, float*, int64_t);
void attention_tiles_avx2(float*, const AttnInput&, const AttnTask*, int64_t, int64_t, int64_t, float*, int64_t);
void attention_tiles_avx512(float*, const AttnInput&, const AttnTask*, int64_t, int64_t, int64_t, float*, int64_t);
// bf16: one task per (sequence, head) (q0 unused); scratch per thread: attn_bf16_scratch_floats(D, max L).
void attention_bf16_avx512(uint16_t*, const AttnInput&, const AttnTask*, int64_t, int64_t, int64_t, float*, int64_t);
inline int64_t attn_bf16_scratch_floats(int64_t D, int64_t L) {
    const int64_t Lp = (L + 31) / 32 * 32;
    return D / 2 * Lp + Lp / 2 * D + 8 * Lp + 8 * Lp / 2 + 8 * D / 2;  // Kp, Vp, S, Pp, Qp
}
// The bf16 encoder's qkv epilogue for the keys (avx512_bf16 only): for rows i < rows and even columns j < ncols,
//     kp[(j / 2) * ldkp + i] = bf16(c[i * ldc + j] + bias[j]) | bf16(c[i * ldc + j + 1] + bias[j + 1]) << 16
// (the key-pair layout of AttnInput::kp), 16 rows x 16 pairs at a time through a register transpose.
void keys_to_bf16_pairs_avx512(uint32_t* kp, int64_t ldkp, const float* c, int64_t ldc, const float* bias,
                               int64_t rows, int64_t ncols);
// ... and for the queries: dst[i * ldd + j] = bf16(c[i * ldc + j] + bias[j]) for i < rows, j < n.
void rows_to_bf16_avx512(uint16_t* dst, int64_t ldd, const float* c, int64_t ldc, const float* bias, int64_t rows,
                         int64_t n);
}  // namespace detail

}  // namespace tg
