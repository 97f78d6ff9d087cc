#include <minigrad/allocator.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace minigrad {
namespace {

constexpr std::size_t kAlignment = 64;

// Sizes are rounded up to 64 bytes, and above 4 KiB to a multiple of 1/8 of their power of two,
// so nearby sizes share a free list without wasting more than 12.5%.
std::size_t bucket_size(std::size_t bytes) {
  if (bytes == 0) bytes = 1;
  std::size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded <= 4096) return rounded;
  std::size_t power = std::size_t{1} << (63 - __builtin_clzll(rounded));
  std::size_t step = power / 8;
  return (rounded + step - 1) / step * step;
}

// Set when the cache is destroyed at exit; trivially destructible, so still readable afterwards:
// a buffer released later (a static Tensor's) goes straight back to the system.
constinit std::atomic<bool> cache_destroyed{false};

struct Cache {
  std::mutex mutex;
  std::unordered_map<std::size_t, std::vector<void*>> free_lists;
  AllocatorStats stats;

  ~Cache() {
    clear();
    cache_destroyed = true;
  }
  void clear() {
    for (auto& [size, blocks] : free_lists)
      for (void* p : blocks) std::free(p);
    free_lists.clear();
    stats.bytes_cached = 0;
  }
};

Cache& cache() {
  static Cache instance;
  return instance;
}

}  // namespace

void* allocate_buffer(std::size_t bytes) {
  const std::size_t size = bucket_size(bytes);
  if (!cache_destroyed) {
    Cache& c = cache();
    std::lock_guard lock(c.mutex);
    auto it = c.free_lists.find(size);
    if (it != c.free_lists.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.stats.cache_hits++;
      c.stats.bytes_cached -= size;
      return p;
    }
    c.stats.system_allocations++;
  }
  void* p = std::aligned_alloc(kAlignment, size);
  if (!p) throw std::bad_alloc();
  return p;
}

void release_buffer(void* ptr, std::size_t bytes) {
  if (!ptr) return;
  if (cache_destroyed) {
    std::free(ptr);
    return;
  }
  const std::size_t size = bucket_size(bytes);
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  c.free_lists[size].push_back(ptr);
  c.stats.bytes_cached += size;
}

AllocatorStats allocator_stats() {
  std::lock_guard lock(cache().mutex);
  return cache().stats;
}

void empty_cache() {
  std::lock_guard lock(cache().mutex);
  cache().clear();
}

}  // namespace minigrad
