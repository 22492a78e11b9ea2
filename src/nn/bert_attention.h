// bert_attention.h — multi-head self-attention over packed (padding-free) sequences, tile by tile.
//
// Dimension letters: T = total tokens of the batch (all sequences concatenated, no padding),
// B = sequences, NH = heads, D = head size, C = NH * D, L = one sequence's length.
//
// Input is the fused projection qkv [T, 3C] (row t = [q | k | v] of token t, head h in columns h*D..h*D+D-1
// of each third, as HuggingFace's BertSelfAttention reshapes them). offsets [B+1] delimit the sequences:
// sequence b owns tokens offsets[b] .. offsets[b+1]-1. A token attends only to the tokens of its own
// sequence — exactly what BERT's additive padding mask does for a padded batch (masked keys get weight 0),
// without spending any work on padding.
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

// out [T, C] (overwritten), qkv [T, 3C], offsets [B+1] (offsets[0] = 0, offsets[B] = T, non-decreasing).
void attention_forward(float* out, const float* qkv, const int64_t* offsets, int64_t B, int64_t NH, int64_t D);
void attention_forward_ref(float* out, const float* qkv, const int64_t* offsets, int64_t B, int64_t NH, int64_t D);

namespace detail {
// One task = (sequence start, sequence length, head, first query of the tile); see attention_forward.
struct AttnTask {
    int64_t seq_start, seq_len, head, q0;
};
constexpr int64_t kAttnTile = 64;  // queries per task and keys per inner tile
// Scratch floats one thread needs for head size D.
inline int64_t attn_scratch_floats(int64_t D) { return D * kAttnTile + kAttnTile * kAttnTile + kAttnTile * D + 4 * kAttnTile; }
using AttnTilesFn = void (*)(float* out, const float* qkv, const AttnTask* tasks, int64_t ntasks, int64_t NH,
                             int64_t D, float* scratch, int64_t scratch_per_thread);
void attention_tiles_base(float*, const float*, const AttnTask*, int64_t, int64_t, int64_t, float*, int64_t);
void attention_tiles_avx2(float*, const float*, const AttnTask*, int64_t, int64_t, int64_t, float*, int64_t);
void attention_tiles_avx512(float*, const float*, const AttnTask*, int64_t, int64_t, int64_t, float*, int64_t);
}  // namespace detail

}  // namespace tg
