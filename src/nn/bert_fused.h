// bert_fused.h — internal: the small elementwise loops of the BERT encoder's fused GEMM epilogues.
//
// The encoder (bert.cpp) runs its bias / residual / GELU / LayerNorm / bf16-cast work inside the GEMMs'
// hooks (tensor/gemm.h GemmHooks), on blocks of C that are still in cache. These are the loops it needs
// beyond tensor/kernels.h. They are written once in bert_fused_impl.h and compiled for baseline x86-64
// (bert_fused.cpp), AVX2 (bert_fused_avx2.cpp) and AVX-512 (bert_fused_avx512.cpp); bert_fused() returns the table for tg::cpu_isa().
#pragma once
#include <cstdint>

namespace tg::detail {

struct BertFusedFns {
    // out[i] = bf16(inp[i]), round to nearest even (OpenMP over blocks when n >= 65536).
    void (*cast_bf16)(uint16_t* out, const float* inp, int64_t n);
    // the same, serial (for rows inside a GEMM hook)
    void (*cast_bf16_serial)(uint16_t* out, const float* inp, int64_t n);
    // c[j] = act(c[j] + bias[j] + res[j]) (res may be nullptr); act 0 = none, 1 = GELU (erf), 2 = GELU (tanh
    // form); then c16[j] = bf16(c[j]) when c16 is not nullptr. Serial.
    void (*bias_act)(float* c, const float* bias, const float* res, int act, uint16_t* c16, int64_t n);
    // c16[j] = bf16(GELU(c[j] + bias[j] + res[j])) (erf form; res may be nullptr), c left as it is: the bf16 mode's
    // GELU, whose f32 result is never used. Its erf is erf_bf16 (tensor/math_poly.h), good to 4.5e-6: the result
    // is within half a bf16 step (up to 2^-8 of the value) + 0.01 % + 2.5e-6 |x| of the exact GELU. Serial.
    void (*gelu_bf16)(uint16_t* c16, const float* c, const float* bias, const float* res, int64_t n);
    // out[rows, C] = LayerNorm(inp) * w + b (as tensor/kernels.h layernorm_forward), and out16 = bf16(out)
    // when out16 is not nullptr, of the rows inp + bias + res, each of bias ([C]) and res ([rows, C]) left out when
    // nullptr (res may be out: each row is read before it is written). inp is scratch: its rows' first C values may
    // be overwritten (with inp + bias + res, where the row is not kept in registers). Serial; out must not overlap inp.
    // inp's rows are ldi floats apart, the others' C.
    void (*layernorm_rows)(float* out, uint16_t* out16, float* inp, int64_t ldi, const float* bias, const float* res,
                           const float* w, const float* b, int64_t rows, int64_t C, float eps);
};

const BertFusedFns& bert_fused_base();
const BertFusedFns& bert_fused_avx2();
const BertFusedFns& bert_fused_avx512();
const BertFusedFns& bert_fused();  // the one for tg::cpu_isa()

}  // namespace tg::detail
