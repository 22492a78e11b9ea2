// allocator.cpp — see allocator.h.
#include "tensor/allocator.h"

#include <cstdlib>
#include <map>
#include <mutex>

#include "tensor/common.h"

namespace tg {

namespace {

constexpr size_t kAlign = 64;

struct Cache {
    std::mutex mu;
    std::multimap<size_t, void*> free_blocks;  // rounded size -> block
    AllocatorStats stats;
    size_t limit = 0;
    Cache() {
        size_t mb = 1024;
        if (const char* s = std::getenv("TG_ALLOC_CACHE_MB")) mb = size_t(std::atoll(s));
        limit = mb << 20;
    }
    ~Cache() {
        for (auto& kv : free_blocks) std::free(kv.second);
    }
};

Cache& cache() {
    static Cache c;
    return c;
}

size_t round_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

}  // namespace

void* cpu_alloc(size_t nbytes) {
    const size_t sz = round_up(nbytes ? nbytes : 1);
    Cache& c = cache();
    {
        std::lock_guard<std::mutex> lock(c.mu);
        auto it = c.free_blocks.find(sz);
        if (it != c.free_blocks.end()) {
            void* p = it->second;
            c.free_blocks.erase(it);
            c.stats.bytes_cached -= sz;
            c.stats.bytes_in_use += sz;
            if (c.stats.bytes_in_use > c.stats.peak_in_use) c.stats.peak_in_use = c.stats.bytes_in_use;
            c.stats.hits++;
            return p;
        }
    }
    void* p = std::aligned_alloc(kAlign, sz);
    if (!p) {  // the cache may be what is holding the memory: drop it and retry once
        cpu_allocator_empty_cache();
        p = std::aligned_alloc(kAlign, sz);
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
    const size_t sz = round_up(nbytes ? nbytes : 1);
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    c.stats.bytes_in_use -= sz;
    if (c.stats.bytes_cached + sz <= c.limit) {
        c.free_blocks.emplace(sz, p);
        c.stats.bytes_cached += sz;
    } else {
        std::free(p);
    }
}

AllocatorStats cpu_allocator_stats() {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    return c.stats;
}

void cpu_allocator_empty_cache() {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    for (auto& kv : c.free_blocks) std::free(kv.second);
    c.free_blocks.clear();
    c.stats.bytes_cached = 0;
}

}  // namespace tg
