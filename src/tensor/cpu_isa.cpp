// cpu_isa.cpp — run-time CPU feature detection; see cpu_isa.h.
#include "tensor/cpu_isa.h"

#include <cstdlib>
#include <cstring>

namespace tg {

static bool os_and_cpu(const char* feat) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (!std::strcmp(feat, "avx2")) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (!std::strcmp(feat, "avx512"))
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
    if (!std::strcmp(feat, "avx512bf16")) return __builtin_cpu_supports("avx512bf16");
#else
    if (!std::strcmp(feat, "avx512bf16")) {
        // cpuid leaf 7 subleaf 1, eax bit 5
        unsigned a = 7, b = 0, c = 1, d = 0;
        __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
        return (a >> 5) & 1;
    }
#endif
#endif
    (void)feat;
    return false;
}

Isa cpu_isa_max() {
    static const Isa best = os_and_cpu("avx512") ? Isa::avx512 : os_and_cpu("avx2") ? Isa::avx2 : Isa::scalar;
    return best;
}

static Isa initial_isa() {
    Isa isa = cpu_isa_max();
    if (const char* s = std::getenv("TG_ISA")) {
        Isa want = isa;
        if (!std::strcmp(s, "scalar")) want = Isa::scalar;
        else if (!std::strcmp(s, "avx2")) want = Isa::avx2;
        else if (!std::strcmp(s, "avx512")) want = Isa::avx512;
        if (int(want) < int(isa)) isa = want;
    }
    return isa;
}

static Isa g_isa = initial_isa();

Isa cpu_isa() { return g_isa; }
void set_cpu_isa(Isa isa) { g_isa = int(isa) < int(cpu_isa_max()) ? isa : cpu_isa_max(); }
bool cpu_avx512_bf16_hw() {
    static const bool has = os_and_cpu("avx512bf16");
    return has;
}
bool cpu_has_avx512_bf16() { return cpu_avx512_bf16_hw() && g_isa == Isa::avx512; }
const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::avx512: return "avx512";
        case Isa::avx2: return "avx2";
        default: return "scalar";
    }
}

}  // namespace tg
