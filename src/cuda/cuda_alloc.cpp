// cuda_alloc.cpp — device memory and host<->device copies for tensor storage (see cuda_alloc.h).
//
// Host code only (CUDA runtime API calls), so it is an ordinary .cpp compiled by the C++ compiler against
// the CUDA runtime headers that CUDA::cudart provides; the whole file is empty unless CMake found CUDA.
//
// Plain cudaMalloc/cudaFree for now: a caching device allocator (like the CPU one in
// tensor/allocator.cpp) is the natural next step once CUDA kernels run whole training steps.
#ifdef TG_WITH_CUDA
#include "cuda/cuda_alloc.h"
#include "cuda/cuda_common.h"

namespace tg::cuda {

int device_count() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();  // clear the sticky error: "no device" is an answer, not a failure
        return 0;
    }
    return n;
}

void* device_alloc(size_t nbytes) {
    void* p = nullptr;
    TG_CUDA_CHECK(cudaMalloc(&p, nbytes ? nbytes : 1));
    return p;
}

void device_free(void* p) {
    if (p) cudaFree(p);  // never throw from a destructor path
}

void copy_to_device(void* dst, const void* src, size_t nbytes) {
    if (nbytes) TG_CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyHostToDevice));
}

void copy_to_host(void* dst, const void* src, size_t nbytes) {
    if (nbytes) TG_CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToHost));
}

}  // namespace tg::cuda

#endif  // TG_WITH_CUDA
