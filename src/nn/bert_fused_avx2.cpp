// bert_fused_avx2.cpp — bert_fused_impl.h compiled with AVX2 + FMA flags (CMake adds them by file name).
#define TG_BERT_FUSED_TABLE bert_fused_avx2
#include "nn/bert_fused_impl.h"
