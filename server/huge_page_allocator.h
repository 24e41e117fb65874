// An allocator for a shard's large arrays (a dense range's values, optimizer slots and BSP sums)
// that asks the kernel to back them with transparent huge pages (madvise(MADV_HUGEPAGE)), for
// allocations of at least one huge page. Filling fresh memory 4 KiB page by page is what a large
// store's creation and restore spend most of their time on where page faults are dear (measured
// on our VMs: about 16 us a fault, 250 MB/s; tests/bench/checkpoint_bench.cc); one fault per
// 2 MiB removes nearly all of them, and fewer TLB misses help every push and pull. Where the
// kernel has no huge page to give (or THP is off), the memory is ordinary.
// Stateless; thread-safe.
#ifndef PS_SERVER_HUGE_PAGE_ALLOCATOR_H_
#define PS_SERVER_HUGE_PAGE_ALLOCATOR_H_

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>

namespace ps {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

template <typename T>
class HugePageAllocator {
 public:
  using value_type = T;

  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) {}  // NOLINT: allocators convert implicitly.

  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes < kHugePageBytes) {
      return static_cast<T*>(::operator new(bytes));
    }
    const size_t rounded = (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
    void* memory = std::aligned_alloc(kHugePageBytes, rounded);
    if (memory == nullptr) throw std::bad_alloc();
    madvise(memory, rounded, MADV_HUGEPAGE);  // Advice only: ignored where THP is off.
    return static_cast<T*>(memory);
  }

  void deallocate(T* p, size_t n) {
    if (n * sizeof(T) < kHugePageBytes) {
      ::operator delete(p);
    } else {
      std::free(p);
    }
  }

  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const {
    return true;
  }
  template <typename U>
  bool operator!=(const HugePageAllocator<U>&) const {
    return false;
  }
};

}  // namespace ps

#endif  // PS_SERVER_HUGE_PAGE_ALLOCATOR_H_
