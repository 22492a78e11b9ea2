// pooling.h — sentence embeddings from a BERT's last hidden state: CLS / masked mean / max, L2 norm.
//
// Works on the packed layout of bert.h: hidden [T, C] holds every sequence's real tokens back to back and
// offsets [B+1] delimit them, so "masked" pooling is simply pooling over a sequence's own rows (padding is
// never there to be masked). Matches sentence-transformers' Pooling module:
//   cls   out[b] = hidden[offsets[b]]                       (the [CLS] row, before BERT's pooler)
//   mean  out[b] = sum_t hidden[t] / max(len_b, 1e-9)       (pooling_mode_mean_tokens)
//   max   out[b] = max_t hidden[t]                           (pooling_mode_max_tokens)
// and its Normalize module: x / max(||x||_2, 1e-12) (torch.nn.functional.normalize).
// An empty sequence (len 0) pools to zeros.
#pragma once
#include <cstdint>
#include <string>

namespace tg {

enum class PoolMode { cls, mean, max };

const char* pool_mode_name(PoolMode m);
PoolMode pool_mode_parse(const std::string& s);  // "cls" | "mean" | "max", else throws

// out [B, C] (overwritten), hidden [T, C], offsets [B+1].
void pool_forward(float* out, const float* hidden, const int64_t* offsets, int64_t B, int64_t C, PoolMode mode);
// x [B, C] in place: each row divided by max(its L2 norm, 1e-12).
void l2_normalize_rows(float* x, int64_t B, int64_t C);

}  // namespace tg
