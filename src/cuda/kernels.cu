// kernels.cu — first CUDA kernels: GELU (elementwise) and CSR SpMM (LightGCN propagation).
//
// Build: compiled by nvcc into tastegraph_core when CMake finds the toolkit (see CMakeLists.txt);
// profile with `nsys profile -t cuda,nvtx ./build/tastegraph ...` (NVTX ranges need -DTG_NVTX).
#include "cuda/cuda_common.h"
#include "cuda/kernels.cuh"

namespace tg::cuda {

// ---- GELU ------------------------------------------------------------------------------------
// One thread per element, grid-stride loop. Memory-bound: 8 bytes moved per element.
//   erf form:  0.5·x·(1 + erf(x/√2))
//   tanh form: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
__global__ void gelu_forward_kernel(float* out, const float* inp, int64_t n, bool tanh_approx) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        float x = inp[i];
        float y;
        if (tanh_approx) {
            const float k = 0.7978845608028654f;  // √(2/π)
            y = 0.5f * x * (1.f + tanhf(k * (x + 0.044715f * x * x * x)));
        } else {
            y = 0.5f * x * (1.f + erff(x * 0.7071067811865476f));
        }
        out[i] = y;
    }
}

void gelu_forward(float* out, const float* inp, int64_t n, bool tanh_approx, cudaStream_t stream) {
    NvtxRange r("gelu_forward");
    if (n <= 0) return;
    int threads = 256;
    int64_t blocks = (n + threads - 1) / threads;
    if (blocks > 65535 * 8) blocks = 65535 * 8;
    gelu_forward_kernel<<<unsigned(blocks), threads, 0, stream>>>(out, inp, n, tanh_approx);
    TG_CUDA_CHECK_LAUNCH();
}

// ---- SpMM (CSR x dense) -------------------------------------------------------------------------
// One warp per output row r; lanes stride over the D columns, so each lane accumulates
// Σ_e A[r,e]·X[col(e), d] for its d's in a fixed edge order (deterministic, no atomics).
// Reads of X rows are coalesced across the warp when D >= 32; indices/values are broadcast.
__global__ void spmm_csr_kernel(float* Y, const int64_t* indptr, const int32_t* indices, const float* values,
                                const float* X, int64_t R, int64_t D) {
    int64_t warp = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
    int lane = threadIdx.x % 32;
    if (warp >= R) return;
    int64_t b = indptr[warp], e = indptr[warp + 1];
    for (int64_t d = lane; d < D; d += 32) {
        float acc = 0.f;
        for (int64_t k = b; k < e; k++) acc += (values ? values[k] : 1.f) * X[int64_t(indices[k]) * D + d];
        Y[warp * D + d] = acc;
    }
}

void spmm_csr_forward(float* Y, const int64_t* indptr, const int32_t* indices, const float* values, const float* X,
                      int64_t R, int64_t D, cudaStream_t stream) {
    NvtxRange r("spmm_csr_forward");
    if (R <= 0 || D <= 0) return;
    int threads = 256;  // 8 rows per block
    int64_t blocks = (R * 32 + threads - 1) / threads;
    spmm_csr_kernel<<<unsigned(blocks), threads, 0, stream>>>(Y, indptr, indices, values, X, R, D);
    TG_CUDA_CHECK_LAUNCH();
}

}  // namespace tg::cuda
