// bert_fused_avx512.cpp — bert_fused_impl.h compiled with AVX-512 flags (CMake adds them by file name);
// ask GCC for full 512-bit vectors (its default tuning stays at 256 bits).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("prefer-vector-width=512")
// GCC 12's AVX-512 intrinsic headers trip -W(maybe-)uninitialized (GCC bug 105593; see tensor/gemm_avx512.cpp)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#define TG_BERT_FUSED_TABLE bert_fused_avx512
#include "nn/bert_fused_impl.h"
