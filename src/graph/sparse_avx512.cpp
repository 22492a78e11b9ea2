// sparse_avx512.cpp — sparse_kernels_impl.h and sparse_rows_impl.h compiled with AVX-512 flags (16 floats per register).
#define TG_SPARSE_KERNELS sparse_kernels_avx512
#define TG_SPARSE_ISA avx512
#define TG_SPARSE_VEC F32x16
#include "graph/sparse_kernels_impl.h"
#include "graph/sparse_rows_impl.h"
