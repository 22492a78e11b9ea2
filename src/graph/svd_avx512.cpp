// svd_avx512.cpp — svd_kernels_impl.h compiled with AVX-512 flags (8 doubles per zmm).
#define TG_SVD_ISA avx512
#define TG_SVD_VEC F64x8
#include "graph/svd_kernels_impl.h"
