// cpu_isa.h — which SIMD instruction set the CPU kernels use, chosen at run time.
//
// The binary is compiled for baseline x86-64; files named *_avx2.cpp / *_avx512.cpp are compiled
// with the matching -m flags and only called when the CPU reports the feature (cpuid). The
// environment variable TG_ISA=scalar|avx2|avx512 forces a path (never above what the CPU has), so CI
// can test every path on one machine.
#pragma once

namespace tg {

enum class Isa { scalar = 0, avx2 = 1, avx512 = 2 };

Isa cpu_isa();                 // the path in use (TG_ISA respected)
Isa cpu_isa_max();             // the best the CPU supports
bool cpu_has_avx512_bf16();    // vdpbf16ps available (and ISA is avx512)
bool cpu_avx512_bf16_hw();     // the CPU has avx512_bf16, whatever ISA is in use
void set_cpu_isa(Isa isa);     // override (clamped to cpu_isa_max())
const char* isa_name(Isa isa);

}  // namespace tg
