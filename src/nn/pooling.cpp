// pooling.cpp — see pooling.h. Plain loops: pooling reads T*C floats once, negligible next to the encoder.
#include "nn/pooling.h"

#include <algorithm>
#include <cmath>

#include "tensor/common.h"

namespace tg {

const char* pool_mode_name(PoolMode m) {
    switch (m) {
        case PoolMode::cls: return "cls";
        case PoolMode::mean: return "mean";
        case PoolMode::max: return "max";
    }
    return "?";
}

PoolMode pool_mode_parse(const std::string& s) {
    if (s == "cls") return PoolMode::cls;
    if (s == "mean") return PoolMode::mean;
    if (s == "max") return PoolMode::max;
    TG_FAIL("unknown pooling '", s, "' (expected cls, mean or max)");
}

void pool_forward(float* out, const float* hidden, const int64_t* offsets, int64_t B, int64_t C, PoolMode mode) {
    for (int64_t b = 0; b < B; b++) {
        const int64_t t0 = offsets[b], t1 = offsets[b + 1];
        float* o = out + b * C;
        if (t1 <= t0) {
            for (int64_t c = 0; c < C; c++) o[c] = 0.0f;
            continue;
        }
        switch (mode) {
            case PoolMode::cls:
                for (int64_t c = 0; c < C; c++) o[c] = hidden[t0 * C + c];
                break;
            case PoolMode::mean: {
                for (int64_t c = 0; c < C; c++) o[c] = 0.0f;
                for (int64_t t = t0; t < t1; t++)
                    for (int64_t c = 0; c < C; c++) o[c] += hidden[t * C + c];
                const float inv = 1.0f / float(t1 - t0);
                for (int64_t c = 0; c < C; c++) o[c] *= inv;
                break;
            }
            case PoolMode::max:
                for (int64_t c = 0; c < C; c++) o[c] = hidden[t0 * C + c];
                for (int64_t t = t0 + 1; t < t1; t++)
                    for (int64_t c = 0; c < C; c++) o[c] = std::fmax(o[c], hidden[t * C + c]);
                break;
        }
    }
}

void l2_normalize_rows(float* x, int64_t B, int64_t C) {
    for (int64_t b = 0; b < B; b++) {
        float* r = x + b * C;
        double ss = 0;
        for (int64_t c = 0; c < C; c++) ss += double(r[c]) * r[c];
        const float inv = float(1.0 / std::max(std::sqrt(ss), 1e-12));
        for (int64_t c = 0; c < C; c++) r[c] *= inv;
    }
}

}  // namespace tg
