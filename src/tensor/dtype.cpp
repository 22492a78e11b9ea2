// dtype.cpp — scalar IEEE half conversions (see dtype.h).
#include "tensor/dtype.h"

namespace tg {

float f16_to_f32(uint16_t h) {
    uint32_t sign = uint32_t(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else {  // subnormal: normalize
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while ((man & 0x400) == 0);
            u = sign | uint32_t(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | man << 13;
    } else {
        u = sign | (exp + 112) << 23 | man << 13;
    }
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

uint16_t f32_to_f16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000;
    uint32_t absu = u & 0x7fffffff;
    if (absu > 0x7f800000) return uint16_t(sign | 0x7e00);   // NaN
    if (absu >= 0x477ff000) return uint16_t(sign | 0x7c00);  // overflow -> inf (rounds up past 65504)
    if (absu < 0x38800000) {                                  // subnormal or zero in half
        if (absu < 0x33000000) return uint16_t(sign);         // < half of smallest subnormal
        uint32_t exp = absu >> 23;
        uint32_t man = (absu & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - exp;  // 14 + (113 - exp) - 1 ... amount to shift the 24-bit mantissa
        uint32_t half = man >> (shift);
        uint32_t rem = man & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return uint16_t(sign | half);
    }
    uint32_t r = absu + 0xfff + ((absu >> 13) & 1);  // round to nearest even at bit 13
    return uint16_t(sign | ((r - 0x38000000) >> 13));
}

}  // namespace tg
