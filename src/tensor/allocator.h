// allocator.h — 64-byte aligned CPU memory with a caching free list for activations.
//
// Training allocates the same activation sizes every step. Returning blocks to the OS and asking again
// costs page faults (the kernel zeroes every fresh page), so freed blocks are kept in a free list and handed
// out again. Sizes are rounded to size classes — 64-byte steps up to 64 KiB, above that 8 classes per power
// of two (at most 12.5% slack) — so that the activations of a batch of 31 x 57 tokens reuse the blocks of
// one of 32 x 56: with length-bucketed batches no two shapes are alike, and an exact-size cache kept a
// block of every shape it ever saw. The cache holds at most TG_ALLOC_CACHE_MB megabytes (default 1024);
// when a free would exceed that, the blocks cached longest ago go back to the OS first (a block freed just
// now is the one most likely to be asked for again). A request takes the most recently freed block of its
// class (its pages are the likeliest to be in cache). A request the cache cannot serve first evicts cached
// blocks (oldest first) so that in use + cached stays within 1.25 x the largest amount ever in use at once:
// the footprint follows the working set instead of growing by the limit (fine-tuning MiniLM-L6 with
// length-bucketed batches: peak RSS 2.26 -> 1.29 GB at 1.0 x; the 25% slack keeps steps of changing shapes
// from evicting each other's blocks, see cpu_alloc). Blocks of 256 KiB and more come from mmap and go back
// with munmap, so an eviction really returns their pages to the OS. A request for such a block that finds
// none of its class cached takes the smallest cached block of up to twice its size (best fit): padding-free
// batches change size every step, and a fresh mapping costs a page fault and a zeroed page per 4 KiB.
//
// 64-byte alignment = one cache line = one AVX-512 vector, so kernels may use aligned loads on the
// start of every tensor. Thread-safe (one mutex; allocations are per tensor, not per element).
#pragma once
#include <cstddef>

namespace tg {

void* cpu_alloc(size_t nbytes);            // never returns nullptr (throws tg::Error); nbytes may be 0
size_t cpu_alloc_size_class(size_t nbytes); // the bytes cpu_alloc reserves for nbytes (a reused block may be larger)
void cpu_free(void* p, size_t nbytes);     // nbytes must be the size passed to cpu_alloc

struct AllocatorStats {
    size_t bytes_in_use = 0;   // handed out and not yet freed
    size_t bytes_cached = 0;   // held in the free list
    size_t peak_in_use = 0;
    size_t hits = 0, misses = 0;  // requests served from the cache / from the OS
    size_t evictions = 0;         // cached blocks returned to the OS to stay under the limit
};
AllocatorStats cpu_allocator_stats();
void cpu_allocator_empty_cache();  // return every cached block to the OS
// Start a new high-water mark: peak_in_use = bytes_in_use (it also bounds the footprint, see above).
void cpu_allocator_reset_peak();
// Change the cache limit (TG_ALLOC_CACHE_MB at start-up); returns the old one. Evicts down to the new limit.
size_t cpu_allocator_set_cache_limit(size_t bytes);

}  // namespace tg
