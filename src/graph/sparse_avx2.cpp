// sparse_avx2.cpp — sparse_kernels_impl.h and sparse_rows_impl.h compiled with AVX2 + FMA flags (8 floats per register).
#define TG_SPARSE_KERNELS sparse_kernels_avx2
#define TG_SPARSE_ISA avx2
#define TG_SPARSE_VEC F32x8
#include "graph/sparse_kernels_impl.h"
#include "graph/sparse_rows_impl.h"
