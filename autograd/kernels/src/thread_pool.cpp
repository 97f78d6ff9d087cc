#include <minigrad/kernels/thread_pool.h>

#include <minigrad/kernels/float_env.h>

#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace minigrad::kernels {
namespace {

using Clock = std::chrono::steady_clock;

// An idle thread spins this long (parallel loops of one training step come microseconds apart,
// the serial stretch around the loss some tens), then yields to other runnable threads until
// kYieldUntil, then sleeps on a futex. It spins before it yields because sched_yield is a
// system call, slow in a VM, and a worker inside one starts the next loop late.
constexpr auto kSpinUntil = std::chrono::microseconds(50);
constexpr auto kYieldUntil = std::chrono::microseconds(200);

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// A futex word that sleepers wait on, and the count of sleepers, so that waking costs a system
// call only when somebody actually sleeps.
struct Signal {
  std::atomic<uint32_t> word{0};
  std::atomic<int> sleepers{0};

  // Call after making the condition a waiter checks true.
  void wake() {
    word.fetch_add(1);
    if (sleepers.load() > 0) word.notify_all();
  }

  template <typename Ready>
  void wait(Ready ready) {
    const auto start = Clock::now();
    for (unsigned i = 0;; ++i) {
      if (ready()) return;
      if (i % 16 != 15) {
        cpu_relax();
        continue;
      }
      const auto waited = Clock::now() - start;
      if (waited > kYieldUntil) break;
      if (waited > kSpinUntil) std::this_thread::yield();
    }
    // Registering before the last check closes the race with wake(): either that check sees the
    // condition, or wake() sees this sleeper and bumps the word wait() compares against.
    while (true) {
      const uint32_t seen = word.load();
      sleepers.fetch_add(1);
      const bool done = ready();
      if (!done) word.wait(seen);
      sleepers.fetch_sub(1);
      if (done || ready()) return;
    }
  }
};

int cpus_available() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

int default_threads() {
  const char* env = std::getenv("MINIGRAD_THREADS");
  if (!env || !*env) return cpus_available();
  char* end = nullptr;
  const long n = std::strtol(env, &end, 10);
  if (*end != '\0' || n < 1 || n > 1024) {
    std::fprintf(stderr, "minigrad: ignoring MINIGRAD_THREADS='%s' (expected a count from 1 to 1024)\n", env);
    return cpus_available();
  }
  return int(n);
}

// True on pool workers, and on a caller while it runs a job: a parallel loop nested inside a task
// runs inline.
thread_local bool inside_pool = false;

struct InsidePool {
  InsidePool() { inside_pool = true; }
  ~InsidePool() { inside_pool = false; }
};

class Pool {
 public:
  Pool() : threads_(default_threads()) {}
  ~Pool() {
    std::lock_guard lock(dispatch_);
    stop_workers();
  }

  int threads() const { return threads_.load(); }

  void set_threads(int threads) {
    std::lock_guard lock(dispatch_);
    if (threads == threads_.load()) return;
    stop_workers();
    threads_.store(threads);
  }

  void run(int64_t tasks, TaskRef task) {
    if (tasks <= 0) return;
    std::unique_lock lock(dispatch_, std::defer_lock);
    if (tasks == 1 || threads() == 1 || inside_pool || uint64_t(tasks) >= kClosed || !lock.try_lock()) {
      for (int64_t i = 0; i < tasks; ++i) task(i);
      return;
    }
    InsidePool inside;
    start_workers();
    const uint32_t gen = ++generation_;
    // Close the claim word first: a worker still looking at the previous job can no longer claim,
    // so the fields below are never read half-written.
    claim_.store(uint64_t(gen) << 32 | kClosed);
    task_.store(&task);
    tasks_.store(tasks);
    denormal_bits_.store(denormal_bits());
    done_.store(0);
    error_ = nullptr;
    claim_.store(uint64_t(gen) << 32);
    job_.wake();
    while (run_one(gen)) {
    }
    finished_.wait([&] { return done_.load() == tasks; });
    if (error_) std::rethrow_exception(error_);
  }

 private:
  static constexpr uint64_t kClosed = 0xffffffffu;

  // Claims the next task of job `gen` and runs it; false when the job has no task left.
  bool run_one(uint32_t gen) {
    uint64_t w = claim_.load();
    int64_t tasks = 0;
    do {
      if (uint32_t(w >> 32) != gen) return false;
      tasks = tasks_.load();
      if (int64_t(w & kClosed) >= tasks) return false;
    } while (!claim_.compare_exchange_weak(w, w + 1));
    try {
      (*task_.load())(int64_t(w & kClosed));
    } catch (...) {
      std::lock_guard lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
    if (int64_t(done_.fetch_add(1)) + 1 == tasks) finished_.wake();
    return true;
  }

  void worker(uint32_t last) {
    inside_pool = true;
    while (true) {
      job_.wait([&] {
        const uint64_t w = claim_.load();
        return stop_.load() || (uint32_t(w >> 32) != last && (w & kClosed) != kClosed);
      });
      if (stop_.load()) return;
      last = uint32_t(claim_.load() >> 32);
      set_denormal_bits(denormal_bits_.load());
      while (run_one(last)) {
      }
    }
  }

  // Both under dispatch_.
  void start_workers() {
    const int wanted = threads_.load() - 1;
    if (int(workers_.size()) == wanted) return;
    stop_workers();
    for (int i = 0; i < wanted; ++i) workers_.emplace_back([this, gen = generation_] { worker(gen); });
  }
  void stop_workers() {
    stop_.store(true);
    job_.wake();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
    stop_.store(false);
  }

  std::atomic<int> threads_;
  std::mutex dispatch_;  // one job at a time; a second caller runs its loop inline
  std::vector<std::thread> workers_;
  std::atomic<bool> stop_{false};
  uint32_t generation_ = 0;  // of the last job, under dispatch_

  // The current job. claim_ holds (generation << 32) | index of the next unclaimed task.
  std::atomic<uint64_t> claim_{kClosed};
  std::atomic<const TaskRef*> task_{nullptr};
  std::atomic<int64_t> tasks_{0};
  std::atomic<uint32_t> done_{0};
  std::atomic<uint32_t> denormal_bits_{0};  // the caller's FTZ/DAZ bits, for the workers
  std::mutex error_mutex_;
  std::exception_ptr error_;

  Signal job_;       // workers wait here for a job
  Signal finished_;  // the caller waits here for the last task
};

Pool& pool() {
  static Pool instance;
  return instance;
}

}  // namespace

int max_threads() { return pool().threads(); }

int threads_here() { return inside_pool ? 1 : max_threads(); }

void set_max_threads(int threads) {
  if (threads < 1)
    throw std::invalid_argument("set_num_threads: " + std::to_string(threads) + " is not a positive count");
  pool().set_threads(threads);
}

void parallel_tasks(int64_t tasks, TaskRef task) { pool().run(tasks, task); }

}  // namespace minigrad::kernels
