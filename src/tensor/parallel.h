// parallel.h — the engine's thread count (OpenMP when built with it).
//
// Default = number of cores; TG_THREADS in the environment or --threads on the CLI override it.
// Kernels must give the same result for any thread count (each output element is written by one
// thread with a fixed reduction order), so runs are reproducible whatever the machine.
#pragma once

namespace tg {
int num_threads();              // current setting (>= 1)
void set_num_threads(int n);    // n <= 0 restores the default
}  // namespace tg
