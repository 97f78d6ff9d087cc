#pragma once
// minigrad's own persistent thread pool: every parallel loop (GEMM, elementwise, reductions, the
// optimizer, data transforms) runs on it.
//
// - The calling thread takes part; workers claim tasks one at a time, so a worker that the OS
//   has descheduled (a loaded, shared machine) only means the others take its share: nobody
//   waits at a barrier for it.
// - Idle workers spin for up to 50 microseconds (a training step runs many short parallel loops
//   back to back), then yield, then sleep on a futex: a pool never burns a core against another
//   process, or against a second pool.
// - Which task computes what depends only on the task index, never on which thread ran it, so
//   results are bit-identical whatever the thread count.
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace minigrad::kernels {

// Threads a parallel loop may use, the caller included. Defaults to $MINIGRAD_THREADS when set,
// else the number of CPUs this process may run on.
int max_threads();
void set_max_threads(int threads);  // throws std::invalid_argument when threads < 1
// Threads a parallel loop started here would run on: 1 inside a task, where nested loops run
// inline, else max_threads(). Work that plans its split by the thread count asks this, so that
// inside a task it plans for one thread instead of splitting for threads it will not get.
int threads_here();

// A non-owning reference to a callable `void(int64_t)`: no allocation per parallel loop.
class TaskRef {
 public:
  template <typename F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, TaskRef>) TaskRef(F&& f)  // NOLINT: implicit, like std::function
      : object_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* object, int64_t i) { (*static_cast<std::remove_reference_t<F>*>(object))(i); }) {}
  void operator()(int64_t i) const { call_(object_, i); }

 private:
  void* object_;
  void (*call_)(void*, int64_t);
};

// Runs task(i) for every i in [0, tasks) and returns when all are done. Runs inline on one thread
// when max_threads() == 1, when called from inside a task, or while another thread is using the
// pool. The first exception a task throws is rethrown here (the other tasks still run).
void parallel_tasks(int64_t tasks, TaskRef task);

// body(begin, end) over [0, n) in chunks of `grain` items. Chunk boundaries depend only on n and
// grain, so a per-chunk result never depends on the thread count.
template <typename F>
void parallel_for(int64_t n, int64_t grain, F&& body) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  if (n <= grain || max_threads() == 1) {
    body(int64_t{0}, n);
    return;
  }
  parallel_tasks((n + grain - 1) / grain, [&](int64_t c) {
    const int64_t begin = c * grain;
    body(begin, std::min(n, begin + grain));
  });
}

}  // namespace minigrad::kernels
