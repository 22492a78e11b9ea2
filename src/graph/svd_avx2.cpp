// svd_avx2.cpp — svd_kernels_impl.h compiled with AVX2 + FMA flags (4 doubles per ymm).
#define TG_SVD_ISA avx2
#define TG_SVD_VEC F64x4
#include "graph/svd_kernels_impl.h"
