// rng.cpp — see rng.h.
#include "tensor/rng.h"

#include <cmath>

namespace tg {

std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> c, uint64_t key) {
    // Constants from the Random123 reference implementation.
    const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
    uint32_t k0 = uint32_t(key), k1 = uint32_t(key >> 32);
    for (int round = 0; round < 10; round++) {
        const uint64_t p0 = uint64_t(M0) * c[0], p1 = uint64_t(M1) * c[2];
        c = {uint32_t(p1 >> 32) ^ c[1] ^ k0, uint32_t(p1), uint32_t(p0 >> 32) ^ c[3] ^ k1, uint32_t(p0)};
        k0 += W0;
        k1 += W1;
    }
    return c;
}

float philox_normal(uint64_t seed, uint64_t index) {
    auto r = philox4x32({uint32_t(index), uint32_t(index >> 32), 0x6e6f726du, 0u}, seed);  // "norm" lane
    // u1 in (0, 1] so log(u1) is finite; u2 in [0, 1)
    const double u1 = (double(r[0]) + 1.0) / 4294967296.0, u2 = double(r[1]) / 4294967296.0;
    return float(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
}

uint64_t Generator::next_seed() {
    // splitmix64 of (seed, call number): well-spread, independent stream keys
    uint64_t z = seed_ + 0x9E3779B97F4A7C15ull * (++calls_);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

Generator& default_generator() {
    static Generator g(0);
    return g;
}
void manual_seed(uint64_t seed) { default_generator().reseed(seed); }

}  // namespace tg
