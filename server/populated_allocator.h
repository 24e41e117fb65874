// An allocator for a shard's large arrays (a dense range's values, optimizer slots and BSP sums)
// that has the kernel populate every page of an allocation of at least 2 MiB in one call
// (madvise(MADV_POPULATE_WRITE), Linux 5.14) instead of taking a page fault per 4 KiB page when
// the array is first written. Creating (and so restoring) a large store is dominated by those
// faults where they are dear: on our VMs about 16 us each, 250 MB/s; populating halves that
// (tests/bench/checkpoint_bench.cc: a 256 MiB restore's slower server 1.15 s -> 0.81 s).
// Transparent huge pages (MADV_HUGEPAGE) did far better for the restore (0.26 s) but made every
// later push and pull about twice as slow on the same VMs (step p50 84 -> 188 ms), so they are
// not used. On kernels without MADV_POPULATE_WRITE the advice fails and pages fault as usual.
// Stateless; thread-safe.
#ifndef PS_SERVER_POPULATED_ALLOCATOR_H_
#define PS_SERVER_POPULATED_ALLOCATOR_H_

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <new>

namespace ps {

template <typename T>
class PopulatedAllocator {
 public:
  using value_type = T;

  // Smaller arrays are left to fault page by page: populating them saves little.
  static constexpr size_t kMinPopulatedBytes = size_t{2} << 20;

  PopulatedAllocator() = default;
  template <typename U>
  PopulatedAllocator(const PopulatedAllocator<U>&) {}  // NOLINT: allocators convert implicitly.

  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    void* memory = ::operator new(bytes);
    if (bytes >= kMinPopulatedBytes) {
      constexpr uintptr_t kPage = 4096;
      const uintptr_t begin = (reinterpret_cast<uintptr_t>(memory) + kPage - 1) & ~(kPage - 1);
      const uintptr_t end = (reinterpret_cast<uintptr_t>(memory) + bytes) & ~(kPage - 1);
#ifndef MADV_POPULATE_WRITE
      constexpr int MADV_POPULATE_WRITE = 23;  // Older headers; the kernel decides.
#endif
      if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
    }
    return static_cast<T*>(memory);
  }

  void deallocate(T* p, size_t) { ::operator delete(p); }

  template <typename U>
  bool operator==(const PopulatedAllocator<U>&) const {
    return true;
  }
  template <typename U>
  bool operator!=(const PopulatedAllocator<U>&) const {
    return false;
  }
};

}  // namespace ps

#endif  // PS_SERVER_POPULATED_ALLOCATOR_H_
