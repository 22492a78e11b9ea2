// kernels.cuh — host entry points of the CUDA kernels (built only when CMake finds a CUDA toolkit).
//
// Device pointers in, device pointers out; each call launches on `stream` (0 = default) and checks the
// launch (TG_CUDA_CHECK_LAUNCH). The CPU references these must match are the `_ref` functions in
// src/tensor/kernels.h and src/graph/sparse.h. Nothing here runs on a machine without a GPU; the
// kernels only need to compile and link in CI until device tests run on a GPU machine.
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

namespace tg::cuda {

// out[i] = gelu(inp[i]), erf form or tanh approximation. [n]
void gelu_forward(float* out, const float* inp, int64_t n, bool tanh_approx, cudaStream_t stream = 0);

// Y[R, D] = A[R, C] · X[C, D] with A in CSR (indptr [R+1], indices/values [nnz]; values may be null = 1).
void spmm_csr_forward(float* Y, const int64_t* indptr, const int32_t* indices, const float* values,
                      const float* X, int64_t R, int64_t D, cudaStream_t stream = 0);

}  // namespace tg::cuda
