// bert_attention_avx512.cpp — bert_attention_impl.h compiled with AVX-512 flags (CMake adds them by file
// name); ask GCC for full 512-bit vectors (its default tuning stays at 256 bits).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("prefer-vector-width=512")
// GCC 12's AVX-512 intrinsic headers trip -W(maybe-)uninitialized on their internal _mm512_undefined_*()
// pass-through (GCC bug 105593); the warning is about the header, not this file.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#define TG_ATTN_VW 16  // floats per vector register
#define TG_ATTN_TILES attention_tiles_avx512
#define TG_ATTN_BF16  // avx512_bf16 flags are on for this file: also build the bf16 attention
#include "nn/bert_attention_impl.h"
