// cuda_common.h — CUDA error checks with file:line and NVTX ranges, for the .cu files.
//
// TG_CUDA_CHECK(call) throws tg::Error("CUDA error <name>: <message> in <call>  [file:line]").
// TG_CUDA_CHECK_LAUNCH() checks the last kernel launch (cudaGetLastError).
// NvtxRange r("layer_norm") marks a named range on the Nsight Systems timeline for its scope; it is a
// no-op unless built with -DTG_NVTX (nvtx3 is header-only in the CUDA toolkit):
//     nsys profile -t cuda,nvtx ./build/tastegraph <command>
#pragma once
#include <cuda_runtime.h>

#include "tensor/common.h"

#ifdef TG_NVTX
#include <nvtx3/nvToolsExt.h>
#endif

#define TG_CUDA_CHECK(call)                                                                          \
    do {                                                                                             \
        cudaError_t tg_err_ = (call);                                                                \
        if (tg_err_ != cudaSuccess)                                                                  \
            ::tg::fail_at(__FILE__, __LINE__, ::tg::str("CUDA error ", cudaGetErrorName(tg_err_), ": ", \
                                                        cudaGetErrorString(tg_err_), " in " #call)); \
    } while (0)

#define TG_CUDA_CHECK_LAUNCH() TG_CUDA_CHECK(cudaGetLastError())

namespace tg::cuda {

class NvtxRange {
   public:
    explicit NvtxRange(const char* name) {
#ifdef TG_NVTX
        nvtxRangePushA(name);
#else
        (void)name;
#endif
    }
    ~NvtxRange() {
#ifdef TG_NVTX
        nvtxRangePop();
#endif
    }
    NvtxRange(const NvtxRange&) = delete;
    NvtxRange& operator=(const NvtxRange&) = delete;
};

}  // namespace tg::cuda
