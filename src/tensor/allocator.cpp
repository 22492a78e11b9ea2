// allocator.cpp — see allocator.h.
#include "tensor/allocator.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <map>
#include <mutex>
#include <unordered_map>

#include <sys/mman.h>

#include "tensor/common.h"

namespace tg {

namespace {

constexpr size_t kAlign = 64;
constexpr size_t kExactUpTo = 64 << 10;  // below this, classes are 64-byte steps
constexpr int kClassesPerOctave = 8;

// The cache: blocks by size class (the newest of a class is the last of its equal range) and by the order in
// which they were freed (oldest first, for eviction). Both maps hold every cached block exactly once.
void os_free(void* p, size_t sz);

struct Cache {
    std::mutex mu;
    std::multimap<size_t, uint64_t> by_class;  // size class -> free sequence number
    struct Block {
        size_t bytes;
        void* p;
    };
    std::map<uint64_t, Block> by_age;  // free sequence number -> block
    // Blocks lent out for a request of a smaller class (best fit, see cpu_alloc): pointer -> the block's class,
    // so that cpu_free (which gets the request's size) files it back under its real size.
    std::unordered_map<void*, size_t> lent_larger;
    uint64_t next_seq = 0;
    AllocatorStats stats;
    size_t limit = 0;
    Cache() {
        size_t mb = 1024;
        if (const char* s = std::getenv("TG_ALLOC_CACHE_MB")) mb = size_t(std::atoll(s));
        limit = mb << 20;
    }
    ~Cache() {
        for (auto& kv : by_age) os_free(kv.second.p, kv.second.bytes);
    }
    // Free the oldest cached blocks until at most `keep` bytes stay cached (lock held).
    void evict_to(size_t keep) {
        while (stats.bytes_cached > keep) {
            const auto oldest = by_age.begin();
            void* q = oldest->second.p;
            const size_t bytes = oldest->second.bytes;
            forget(bytes, oldest->first);
            os_free(q, bytes);
            stats.evictions++;
        }
    }
    // Remove the cached block with sequence number seq and class sz from both maps (lock held). Equal keys of a
    // multimap keep their insertion order, so the oldest block of a class (eviction) is found first.
    void forget(size_t sz, uint64_t seq) {
        auto [lo, hi] = by_class.equal_range(sz);
        for (auto it = lo; it != hi; ++it)
            if (it->second == seq) {
                take(it);
                return;
            }
    }
    // Remove the cached block `it` points at (by_class) from both maps and return its pointer (lock held). Taking
    // the newest of a class by its iterator costs O(log n) even with 100,000 blocks of that class cached.
    void* take(std::multimap<size_t, uint64_t>::iterator it) {
        const size_t sz = it->first;
        const auto age = by_age.find(it->second);
        void* p = age->second.p;
        by_class.erase(it);
        by_age.erase(age);
        stats.bytes_cached -= sz;
        return p;
    }
};

// Blocks of kMapFrom bytes or more are mapped straight from the OS and unmapped when evicted, so evicting
// really lowers the RSS. (From malloc, freed blocks of up to 32 MiB stay in glibc's arenas — its mmap threshold
// rises to the largest block freed so far — and the process keeps their pages.)
constexpr size_t kMapFrom = 256 << 10;

void* os_alloc(size_t sz) {
    if (sz < kMapFrom) return std::aligned_alloc(kAlign, sz);
    void* p = mmap(nullptr, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;  // page-aligned, so 64-byte aligned
}

void os_free(void* p, size_t sz) {
    if (sz < kMapFrom)
        std::free(p);
    else
        munmap(p, sz);
}

Cache& cache() {
    static Cache c;
    return c;
}

}  // namespace

size_t cpu_alloc_size_class(size_t nbytes) {
    const size_t n = ((nbytes ? nbytes : 1) + kAlign - 1) / kAlign * kAlign;
    if (n <= kExactUpTo) return n;
    size_t octave = kExactUpTo;  // largest power of two <= n
    while (octave <= n / 2) octave *= 2;
    const size_t step = octave / kClassesPerOctave;  // a multiple of 64 (octave >= 64 KiB)
    return (n + step - 1) / step * step;
}

void* cpu_alloc(size_t nbytes) {
    const size_t sz = cpu_alloc_size_class(nbytes);
    Cache& c = cache();
    {
        std::lock_guard<std::mutex> lock(c.mu);
        auto [lo, hi] = c.by_class.equal_range(sz);
        if (lo != hi) {
            void* p = c.take(std::prev(hi));  // the most recently freed of this class
            c.stats.bytes_in_use += sz;
            if (c.stats.bytes_in_use > c.stats.peak_in_use) c.stats.peak_in_use = c.stats.bytes_in_use;
            c.stats.hits++;
            return p;
        }
        // Best fit among the larger classes, up to twice the request: a packed batch of 1,837 tokens then reuses
        // the blocks of the previous batch's 2,010 instead of mapping fresh ones (whose pages the kernel would
        // fault in and zero one by one: ~15% of a fine-tuning step before this). Only mapped blocks — smaller
        // ones come from malloc, which reuses memory by itself.
        if (sz >= kMapFrom) {
            const auto bigger = c.by_class.lower_bound(sz);
            if (bigger != c.by_class.end() && bigger->first <= 2 * sz) {
                const size_t cls = bigger->first;
                void* p = c.take(std::prev(c.by_class.upper_bound(cls)));  // the newest of that class
                c.lent_larger.emplace(p, cls);
                c.stats.bytes_in_use += cls;
                if (c.stats.bytes_in_use > c.stats.peak_in_use) c.stats.peak_in_use = c.stats.bytes_in_use;
                c.stats.hits++;
                return p;
            }
        }
        // A miss. Keep the footprint (in use + cached) within 1.25 x the high-water mark of what was ever in use
        // at once: cached blocks that did not fit this request make room for it, oldest first. Without a bound
        // the cache filled up with blocks of batch shapes that never came back (RSS = peak + the limit). Without
        // the 25% slack, steps whose shapes change (packed batches) evicted the blocks the next step wanted:
        // MiniLM-L6 fine-tuning, 32 x 128 packed, had 158 misses, 75,000 page faults (310 MB of zeroed pages)
        // and 700 ms per step at a bound of 1.0 x the peak; 9 misses, 23 faults and 615 ms at 1.25 x (RSS
        // 736 -> 818 MB).
        const size_t peak = c.stats.peak_in_use, bound = std::max(peak + peak / 4, c.stats.bytes_in_use + sz);
        c.evict_to(bound - c.stats.bytes_in_use - sz);
    }
    void* p = os_alloc(sz);
    if (!p) {  // the cache may be what is holding the memory: drop it and retry once
        cpu_allocator_empty_cache();
        p = os_alloc(sz);
    }
    TG_CHECK(p, "cpu_alloc: out of memory allocating ", sz, " bytes");
    std::lock_guard<std::mutex> lock(c.mu);
    c.stats.bytes_in_use += sz;
    if (c.stats.bytes_in_use > c.stats.peak_in_use) c.stats.peak_in_use = c.stats.bytes_in_use;
    c.stats.misses++;
    return p;
}

void cpu_free(void* p, size_t nbytes) {
    if (!p) return;
    size_t sz = cpu_alloc_size_class(nbytes);
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    if (!c.lent_larger.empty()) {
        const auto it = c.lent_larger.find(p);
        if (it != c.lent_larger.end()) sz = it->second, c.lent_larger.erase(it);
    }
    c.stats.bytes_in_use -= sz;
    if (sz > c.limit) {  // could never be cached
        os_free(p, sz);
        return;
    }
    c.evict_to(c.limit - sz);  // make room: oldest cached blocks first
    const uint64_t seq = c.next_seq++;
    c.by_age.emplace(seq, Cache::Block{sz, p});
    c.by_class.emplace(sz, seq);
    c.stats.bytes_cached += sz;
}

AllocatorStats cpu_allocator_stats() {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    return c.stats;
}

void cpu_allocator_empty_cache() {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    for (auto& kv : c.by_age) os_free(kv.second.p, kv.second.bytes);
    c.by_age.clear();
    c.by_class.clear();
    c.stats.bytes_cached = 0;
}

void cpu_allocator_reset_peak() {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    c.stats.peak_in_use = c.stats.bytes_in_use;
}

size_t cpu_allocator_set_cache_limit(size_t bytes) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    const size_t old = c.limit;
    c.limit = bytes;
    c.evict_to(bytes);
    return old;
}

}  // namespace tg
