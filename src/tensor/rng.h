// rng.h — counter-based random numbers (Philox-4x32-10, Salmon et al., SC 2011).
//
// A counter-based generator is a pure function: random = philox(key = seed, counter = element index).
// Element i of a dropout mask or of a randn tensor therefore depends only on (seed, i) — never on which
// thread computed it or in what order — so runs are bit-identical for any thread count, and a backward
// pass can regenerate a dropout mask from its seed instead of storing it.
//
// Generator is the small stateful front: it hands out a fresh 64-bit seed per call (seed, then
// seed+1 ...) mixed with its base seed, so successive dropout layers get independent streams.
#pragma once
#include <array>
#include <cstdint>

namespace tg {

// Philox-4x32 with 10 rounds: 128-bit counter, 64-bit key -> 128 random bits.
std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> counter, uint64_t key);

// Uniform float in [0, 1) (24 random bits) for element `index` of stream `seed`.
inline float philox_uniform(uint64_t seed, uint64_t index);
// Standard normal for element `index` of stream `seed` (Box–Muller on two Philox words).
float philox_normal(uint64_t seed, uint64_t index);

class Generator {
   public:
    explicit Generator(uint64_t seed = 0) : seed_(seed) {}
    uint64_t next_seed();        // a new stream id, deterministic in (seed, number of calls)
    uint64_t seed() const { return seed_; }
    void reseed(uint64_t seed) { seed_ = seed, calls_ = 0; }
   private:
    uint64_t seed_;
    uint64_t calls_ = 0;
};

// The process-wide default generator (used by dropout and random init when no seed is given).
Generator& default_generator();
void manual_seed(uint64_t seed);

inline float philox_uniform(uint64_t seed, uint64_t index) {
    auto r = philox4x32({uint32_t(index), uint32_t(index >> 32), 0u, 0u}, seed);
    return float(r[0] >> 8) * (1.0f / 16777216.0f);
}

}  // namespace tg
