#pragma once
// Caching allocator for tensor buffers: 64-byte aligned blocks, kept on free lists by size so
// steady-state training reuses the previous step's buffers instead of calling malloc.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

namespace minigrad {

void* allocate_buffer(std::size_t bytes);
void release_buffer(void* ptr, std::size_t bytes);

struct AllocatorStats {
  uint64_t system_allocations = 0;  // blocks obtained from the system
  uint64_t cache_hits = 0;          // requests served from the cache
  std::size_t bytes_cached = 0;     // free bytes held for reuse
};
AllocatorStats allocator_stats();
void empty_cache();  // return every cached block to the system

// Small-object pool for what every op creates besides its buffer: tensor impls, storages, graph
// nodes, large backward closures. Blocks come in 16-byte size classes up to 1 KiB (bigger ones go
// to operator new) and are kept on free lists, so a steady-state step reuses the previous step's
// blocks. Thread-safe; a block may be released on another thread than the one that took it.
inline constexpr std::size_t kSmallObjectAlignment = 16;
void* allocate_small(std::size_t bytes);
void release_small(void* ptr, std::size_t bytes) noexcept;

// The pool as a standard allocator, for std::allocate_shared.
template <typename T>
struct PoolAllocator {
  static_assert(alignof(T) <= kSmallObjectAlignment, "the pool aligns blocks to 16 bytes");
  using value_type = T;
  PoolAllocator() = default;
  template <typename U>
  PoolAllocator(const PoolAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(allocate_small(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { release_small(p, n * sizeof(T)); }
  friend bool operator==(PoolAllocator, PoolAllocator) { return true; }
};

template <typename T, typename... Args>
std::shared_ptr<T> make_pooled(Args&&... args) {
  return std::allocate_shared<T>(PoolAllocator<T>{}, std::forward<Args>(args)...);
}

}  // namespace minigrad
