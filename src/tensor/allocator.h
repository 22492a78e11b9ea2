// allocator.h — 64-byte aligned CPU memory with a caching free list for activations.
//
// Training allocates the same activation sizes every step. Returning blocks to the OS and asking again
// costs page faults (the kernel zeroes every fresh page), so freed blocks are kept in a free list keyed
// by their size (rounded up to 64 bytes) and handed out again to the next request of that size — an
// exact-size cache, simple and effective for a fixed model. The cache holds at most
// TG_ALLOC_CACHE_MB megabytes (default 1024); beyond that freed blocks go back to the OS.
//
// 64-byte alignment = one cache line = one AVX-512 vector, so kernels may use aligned loads on the
// start of every tensor. Thread-safe (one mutex; allocations are per tensor, not per element).
#pragma once
#include <cstddef>

namespace tg {

void* cpu_alloc(size_t nbytes);            // never returns nullptr (throws tg::Error); nbytes may be 0
void cpu_free(void* p, size_t nbytes);     // nbytes must be the size passed to cpu_alloc

struct AllocatorStats {
    size_t bytes_in_use = 0;   // handed out and not yet freed
    size_t bytes_cached = 0;   // held in the free list
    size_t peak_in_use = 0;
    size_t hits = 0, misses = 0;  // requests served from the cache / from the OS
};
AllocatorStats cpu_allocator_stats();
void cpu_allocator_empty_cache();  // return every cached block to the OS

}  // namespace tg
