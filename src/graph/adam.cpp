// adam.cpp — Adam on a flat parameter array (see adam.h).
#include "graph/adam.h"

#include <emmintrin.h>

#include <algorithm>
#include <cmath>

#include "tensor/common.h"
#include "tensor/parallel.h"

namespace tg::graph {

void Adam::step(float* p, const float* g, size_t n) {
    TG_CHECK(m.size() == n && v.size() == n, "Adam: state has ", m.size(), " entries, parameters ", n);
    t++;
    const float bc1 = 1.f - std::pow(beta1, float(t)), bc2 = 1.f - std::pow(beta2, float(t));
    const float b1 = beta1, b2 = beta2, step = lr / bc1, ib2 = 1.f / std::sqrt(bc2), e = eps;
    float* M = m.data();
    float* V = v.data();
    // torch: denom = sqrt(v) / sqrt(bc2) + eps;  p -= (lr / bc1) * m / denom
    // Four lanes at a time with SSE2 (every x86-64 CPU has it): sqrt and division are correctly rounded in
    // every lane, so this gives the scalar loop's bits. (GCC does not vectorize the scalar loop itself:
    // std::sqrt may set errno. As sqrtss/divss it took twice as long as the memory traffic.)
    const int64_t N = int64_t(n), chunk = 4096;
#pragma omp parallel for schedule(static) num_threads(tg::num_threads())
    for (int64_t c0 = 0; c0 < N; c0 += chunk) {
        const int64_t c1 = std::min(N, c0 + chunk);
        int64_t k = c0;
        const __m128 vb1 = _mm_set1_ps(b1), va1 = _mm_set1_ps(1.f - b1), vb2 = _mm_set1_ps(b2),
                     va2 = _mm_set1_ps(1.f - b2), vstep = _mm_set1_ps(step), vib2 = _mm_set1_ps(ib2),
                     ve = _mm_set1_ps(e);
        for (; k + 4 <= c1; k += 4) {
            const __m128 gk = _mm_loadu_ps(g + k);
            const __m128 mk = _mm_add_ps(_mm_mul_ps(vb1, _mm_loadu_ps(M + k)), _mm_mul_ps(va1, gk));
            const __m128 vk =
                _mm_add_ps(_mm_mul_ps(vb2, _mm_loadu_ps(V + k)), _mm_mul_ps(_mm_mul_ps(va2, gk), gk));
            _mm_storeu_ps(M + k, mk);
            _mm_storeu_ps(V + k, vk);
            const __m128 den = _mm_add_ps(_mm_mul_ps(_mm_sqrt_ps(vk), vib2), ve);
            _mm_storeu_ps(p + k, _mm_sub_ps(_mm_loadu_ps(p + k), _mm_div_ps(_mm_mul_ps(vstep, mk), den)));
        }
        for (; k < c1; k++) {
            const float gk = g[k];
            M[k] = b1 * M[k] + (1.f - b1) * gk;
            V[k] = b2 * V[k] + (1.f - b2) * gk * gk;
            p[k] -= step * M[k] / (std::sqrt(V[k]) * ib2 + e);
        }
    }
}

}  // namespace tg::graph
