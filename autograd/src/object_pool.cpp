// The small-object pool (see allocator.h). One free list per 16-byte size class, filled by
// carving 64 KiB chunks; blocks go back to their list, never to the system, until exit.
#include <minigrad/allocator.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>
#include <thread>
#include <utility>

#include <sanitizer/asan_interface.h>  // its poisoning macros do nothing outside ASan builds

namespace minigrad {
namespace {

constexpr std::size_t kLargestBlock = 1024;
constexpr std::size_t kClasses = kLargestBlock / kSmallObjectAlignment;
constexpr std::size_t kChunkBytes = 64 * 1024;

struct FreeBlock {
  FreeBlock* next;
};
// Each chunk starts with this header (one alignment unit), then its blocks.
struct Chunk {
  Chunk* next;
};
static_assert(sizeof(Chunk) <= kSmallObjectAlignment);

// A spin lock, not a std::mutex: the pool must stay usable during static destruction (below),
// which needs a trivially destructible state, and its critical sections are a few loads.
class SpinLock {
 public:
  void lock() {
    while (flag_.test_and_set(std::memory_order_acquire)) std::this_thread::yield();
  }
  void unlock() { flag_.clear(std::memory_order_release); }

 private:
  std::atomic_flag flag_ = ATOMIC_FLAG_INIT;
};

// Constant-initialized and trivially destructible, so it is never destroyed: a Tensor released
// after every static and thread_local destructor has run (a static Tensor in another file) still
// finds the pool intact. No per-thread caches for the same reason, and because blocks are often
// released on another thread than the one that took them.
struct Pool {
  SpinLock lock;
  FreeBlock* free_lists[kClasses] = {};
  Chunk* chunks = nullptr;
  std::size_t live_blocks = 0;
  bool exiting = false;  // set at exit: the last block released then frees every chunk

  void carve_chunk(std::size_t block_size, FreeBlock*& list) {
    auto* chunk = static_cast<Chunk*>(std::malloc(kChunkBytes));
    if (!chunk) throw std::bad_alloc();
    chunk->next = chunks;
    chunks = chunk;
    auto* first = reinterpret_cast<std::byte*>(chunk) + kSmallObjectAlignment;
    const std::size_t count = (kChunkBytes - kSmallObjectAlignment) / block_size;
    for (std::size_t i = count; i-- > 0;) {
      auto* block = reinterpret_cast<FreeBlock*>(first + i * block_size);
      block->next = list;
      list = block;
    }
    ASAN_POISON_MEMORY_REGION(first, count * block_size);
  }

  void free_chunks() {
    while (chunks) {
      Chunk* chunk = std::exchange(chunks, chunks->next);
      ASAN_UNPOISON_MEMORY_REGION(chunk, kChunkBytes);
      std::free(chunk);
    }
    for (FreeBlock*& list : free_lists) list = nullptr;
  }
};
constinit Pool pool;

// Returns every chunk to the system at exit (valgrind and LeakSanitizer see no leak), at once if
// no block is in use, else when the last one comes back.
struct ReleaseAtExit {
  ~ReleaseAtExit() {
    std::lock_guard guard(pool.lock);
    pool.exiting = true;
    if (pool.live_blocks == 0) pool.free_chunks();
  }
} release_at_exit;

std::size_t size_class(std::size_t bytes) { return bytes == 0 ? 0 : (bytes - 1) / kSmallObjectAlignment; }

}  // namespace

void* allocate_small(std::size_t bytes) {
  if (bytes > kLargestBlock) return ::operator new(bytes);
  const std::size_t c = size_class(bytes);
  std::lock_guard guard(pool.lock);
  FreeBlock*& list = pool.free_lists[c];
  if (!list) pool.carve_chunk((c + 1) * kSmallObjectAlignment, list);
  FreeBlock* block = list;
  // Free blocks are poisoned under ASan, so that a use after release is still reported.
  ASAN_UNPOISON_MEMORY_REGION(block, (c + 1) * kSmallObjectAlignment);
  list = block->next;
  ++pool.live_blocks;
  return block;
}

void release_small(void* ptr, std::size_t bytes) noexcept {
  if (!ptr) return;
  if (bytes > kLargestBlock) {
    ::operator delete(ptr);
    return;
  }
  const std::size_t c = size_class(bytes);
  std::lock_guard guard(pool.lock);
  FreeBlock*& list = pool.free_lists[c];
  auto* block = static_cast<FreeBlock*>(ptr);
  block->next = list;
  list = block;
  ASAN_POISON_MEMORY_REGION(block, (c + 1) * kSmallObjectAlignment);
  if (--pool.live_blocks == 0 && pool.exiting) pool.free_chunks();
}

}  // namespace minigrad
