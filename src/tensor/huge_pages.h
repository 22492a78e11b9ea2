// huge_pages.h — std::vector storage on 2 MiB pages, for big tables that kernels read at random rows.
//
// Why: the LightGCN propagation gathers 256-byte embedding rows from all over an [N, 64] table (Yelp2018:
// 70k rows, 18 MB) — hundreds of millions of gathers an epoch. With 4 KiB pages every gather of a new row
// is a new page: 4,300 pages, more than the second-level TLB holds, so a large share of the gathers also
// pay a page walk. On 2 MiB pages the same table is 9 pages and the TLB misses go away (Yelp2018
// LightGCN, batch 2048, 2 threads on a 2-core Xeon: median epoch 46.8 s -> 38.4 s over ~120 epochs each).
// (Relabelling the nodes by degree, so the busiest rows share a few pages, gained nothing on top: the
// caches already keep the hot rows wherever they live; the cost was the page walks.)
//
// How: blocks of 2 MiB or more are mapped with mmap, aligned to 2 MiB (over-map, trim the ends), and
// marked MADV_HUGEPAGE *before* their first touch, so the kernel backs them with huge pages at fault time
// when transparent huge pages are in "madvise" or "always" mode (/sys/kernel/mm/transparent_hugepage/
// enabled). Where THP is off, or no huge page is free, the advice is ignored and the memory is ordinary —
// the numbers never depend on it. Smaller blocks come from operator new (64-byte aligned).
//
// Use: tg::HugeVector<float> is a std::vector<float> with this allocator (the two are distinct types:
// copy between them with assign()).
#pragma once
#include <cstddef>
#include <new>
#include <vector>

namespace tg {

constexpr size_t kHugePage = size_t(2) << 20;

void* huge_alloc(size_t bytes);             // 64-byte aligned; 2 MiB aligned from 2 MiB up; throws bad_alloc
void huge_free(void* p, size_t bytes) noexcept;  // bytes = the size given to huge_alloc

template <class T>
struct HugePageAllocator {
    using value_type = T;
    HugePageAllocator() = default;
    template <class U>
    HugePageAllocator(const HugePageAllocator<U>&) noexcept {}
    T* allocate(size_t n) {
        if (n > size_t(-1) / sizeof(T)) throw std::bad_array_new_length();
        return static_cast<T*>(huge_alloc(n * sizeof(T)));
    }
    void deallocate(T* p, size_t n) noexcept { huge_free(p, n * sizeof(T)); }
    template <class U>
    bool operator==(const HugePageAllocator<U>&) const noexcept { return true; }  // stateless
};

template <class T>
using HugeVector = std::vector<T, HugePageAllocator<T>>;

}  // namespace tg
