// bert_attention_avx2.cpp — bert_attention_impl.h compiled with -mavx2 -mfma (CMake adds the flags by name).
#define TG_ATTN_VW 8  // floats per vector register
#define TG_ATTN_TILES attention_tiles_avx2
#include "nn/bert_attention_impl.h"
