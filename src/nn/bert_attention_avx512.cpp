// bert_attention_avx512.cpp — bert_attention_impl.h compiled with AVX-512 flags (CMake adds them by file
// name); ask GCC for full 512-bit vectors (its default tuning stays at 256 bits).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("prefer-vector-width=512")
#endif
#define TG_ATTN_TILES attention_tiles_avx512
#include "nn/bert_attention_impl.h"
