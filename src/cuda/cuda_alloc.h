// cuda_alloc.h — the few CUDA runtime calls the tensor core needs, behind a plain C++ interface.
//
// Only compiled into the library when CMake found a CUDA toolkit (TG_WITH_CUDA); the CPU build never
// includes it. The implementation (cuda_alloc.cpp) is the only file that includes the CUDA runtime
// headers, so the rest of the engine builds with any C++ compiler. Errors throw tg::Error with the
// CUDA error string and file:line (cuda_common.h).
#pragma once
#include <cstddef>

namespace tg::cuda {

int device_count();                        // 0 when the driver or a device is missing (never throws)
void* device_alloc(size_t nbytes);         // cudaMalloc (256-byte aligned), nbytes may be 0
void device_free(void* p);                 // cudaFree
void copy_to_device(void* dst, const void* src, size_t nbytes);  // synchronous
void copy_to_host(void* dst, const void* src, size_t nbytes);    // synchronous

}  // namespace tg::cuda
