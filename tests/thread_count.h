#pragma once
// Sets the pool's thread count for one scope and restores the previous one after.
#include <minigrad/kernels/thread_pool.h>

struct ThreadCount {
  explicit ThreadCount(int n) : saved(minigrad::kernels::max_threads()) { minigrad::kernels::set_max_threads(n); }
  ~ThreadCount() { minigrad::kernels::set_max_threads(saved); }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;
  int saved;
};
