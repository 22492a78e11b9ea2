// dtype.h — element types. Storage may be reduced precision; arithmetic is done in f32.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

namespace tg {

enum class DType : uint8_t { f32, bf16, f16, i32, i64, u8, boolean };

inline size_t dtype_size(DType t) {
    switch (t) {
        case DType::f32: return 4;
        case DType::bf16: return 2;
        case DType::f16: return 2;
        case DType::i32: return 4;
        case DType::i64: return 8;
        case DType::u8: return 1;
        case DType::boolean: return 1;
    }
    return 0;
}

inline const char* dtype_name(DType t) {
    switch (t) {
        case DType::f32: return "f32";
        case DType::bf16: return "bf16";
        case DType::f16: return "f16";
        case DType::i32: return "i32";
        case DType::i64: return "i64";
        case DType::u8: return "u8";
        case DType::boolean: return "bool";
    }
    return "?";
}

// bf16 = the upper 16 bits of an IEEE-754 f32. Conversion rounds to nearest even (NaN stays NaN).
inline float bf16_to_f32(uint16_t h) {
    uint32_t u = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
inline uint16_t f32_to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return uint16_t(u >> 16);
}

// IEEE half precision <-> f32 (round to nearest even), portable scalar code.
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

}  // namespace tg
