#pragma once
// Caching allocator for tensor buffers: 64-byte aligned blocks, kept on free lists by size so
// steady-state training reuses the previous step's buffers instead of calling malloc.
#include <cstddef>
#include <cstdint>

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

}  // namespace minigrad
