// kernels_avx2.cpp — kernels_impl.h compiled with -mavx2 -mfma (CMake adds the flags by file name).
#define TG_KERNEL_TABLE kernel_table_avx2
#include "tensor/kernels_impl.h"
