// huge_pages.cpp — see huge_pages.h.
#include "tensor/huge_pages.h"

#include <cstdint>

#include <sys/mman.h>

namespace tg {

namespace {
constexpr std::align_val_t kSmallAlign{64};
size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }
}  // namespace

void* huge_alloc(size_t bytes) {
    if (bytes < kHugePage) return ::operator new(bytes ? bytes : 1, kSmallAlign);
    if (bytes > size_t(-1) - 2 * kHugePage) throw std::bad_alloc();
    const size_t len = round_up(bytes, kHugePage);
    // Map one huge page more than needed, then unmap the unaligned head and the tail: what is left starts
    // on a 2 MiB boundary, so every one of its 2 MiB pieces can be one huge page.
    const size_t span = len + kHugePage;
    void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    const uintptr_t lo = reinterpret_cast<uintptr_t>(raw);
    const uintptr_t at = round_up(lo, kHugePage);
    if (at > lo) munmap(raw, at - lo);
    if (const size_t tail = lo + span - (at + len)) munmap(reinterpret_cast<void*>(at + len), tail);
    void* p = reinterpret_cast<void*>(at);
#ifdef MADV_HUGEPAGE
    madvise(p, len, MADV_HUGEPAGE);  // advice only: failure (THP compiled out / disabled) is harmless
#endif
    return p;
}

void huge_free(void* p, size_t bytes) noexcept {
    if (!p) return;
    if (bytes < kHugePage)
        ::operator delete(p, kSmallAlign);
    else
        munmap(p, round_up(bytes, kHugePage));
}

}  // namespace tg
