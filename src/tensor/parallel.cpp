// parallel.cpp — see parallel.h.
#include "tensor/parallel.h"

#include <cstdlib>
#include <thread>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace tg {

static int default_threads() {
    if (const char* s = std::getenv("TG_THREADS")) {
        int n = std::atoi(s);
        if (n > 0) return n;
    }
    unsigned hc = std::thread::hardware_concurrency();
    return hc ? int(hc) : 1;
}

static int g_threads = 0;

int num_threads() {
    if (g_threads <= 0) set_num_threads(0);
    return g_threads;
}

void set_num_threads(int n) {
    g_threads = n > 0 ? n : default_threads();
#ifdef _OPENMP
    omp_set_num_threads(g_threads);
#endif
}

}  // namespace tg
