// kernels_avx512.cpp — kernels_impl.h compiled with -mavx512f/bw/vl/dq (CMake adds the flags by file
// name). GCC's default tuning would still use 256-bit vectors; ask for full 512-bit ones.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("prefer-vector-width=512")
#endif
#define TG_KERNEL_TABLE kernel_table_avx512
#include "tensor/kernels_impl.h"
