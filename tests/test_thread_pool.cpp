// The thread pool every parallel loop runs on: coverage, errors, nesting, concurrent callers.
#include <catch2/catch.hpp>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include <minigrad/minigrad.h>

#include "thread_count.h"

namespace mg = minigrad;

TEST_CASE("thread pool: parallel_for visits every index once, in grain-sized chunks") {
  for (int threads : {1, 2, 3}) {
    ThreadCount t(threads);
    for (int64_t n : {0, 1, 7, 1000, 4097}) {
      std::vector<std::atomic<int>> seen(static_cast<size_t>(n));
      std::atomic<int> bad_chunks{0};
      mg::parallel_for(n, 64, [&](int64_t begin, int64_t end) {
        if (begin % 64 != 0 || (end != n && end - begin != 64)) ++bad_chunks;
        for (int64_t i = begin; i < end; ++i) ++seen[i];
      });
      CHECK(bad_chunks == 0);
      for (auto& s : seen) REQUIRE(s == 1);
    }
  }
}

TEST_CASE("thread pool: a task's exception reaches the caller and the pool stays usable") {
  ThreadCount t(2);
  std::atomic<int> ran{0};
  CHECK_THROWS_WITH(mg::parallel_tasks(16,
                                       [&](int64_t i) {
                                         ++ran;
                                         if (i == 5) throw std::runtime_error("task 5 failed");
                                       }),
                    "task 5 failed");
  CHECK(ran == 16);  // the other tasks still ran
  std::atomic<int64_t> sum{0};
  mg::parallel_tasks(100, [&](int64_t i) { sum += i; });
  CHECK(sum == 4950);
}

TEST_CASE("thread pool: nested loops run inline and concurrent callers both finish") {
  ThreadCount t(2);
  std::atomic<int64_t> total{0};
  mg::parallel_tasks(4, [&](int64_t) { mg::parallel_for(1000, 10, [&](int64_t b, int64_t e) { total += e - b; }); });
  CHECK(total == 4000);
  // ... and work that plans by thread count plans for one thread inside a task.
  CHECK(mg::kernels::threads_here() == 2);
  std::atomic<int> inside_plans_for{0};
  mg::parallel_tasks(2, [&](int64_t) { inside_plans_for += mg::kernels::threads_here(); });
  CHECK(inside_plans_for == 2);

  std::atomic<int64_t> a{0}, b{0};
  std::thread other([&] {
    for (int r = 0; r < 200; ++r) mg::parallel_tasks(8, [&](int64_t) { ++a; });
  });
  for (int r = 0; r < 200; ++r) mg::parallel_tasks(8, [&](int64_t) { ++b; });
  other.join();
  CHECK(a == 1600);
  CHECK(b == 1600);
}

TEST_CASE("thread pool: thread counts are validated") {
  CHECK_THROWS_WITH(mg::set_num_threads(0), Catch::Matchers::Contains("0 is not a positive count"));
  ThreadCount t(3);
  CHECK(mg::get_num_threads() == 3);
}

TEST_CASE("thread pool: rand fills pieces in parallel with the sequential stream, at any thread count") {
  // 100,003 draws: 1, 2 or 3 pieces (the later ones start by a jump), a ragged last piece.
  constexpr int64_t n = 100003;
  mg::Generator serial(21);
  std::vector<double> expected(n);
  for (auto& x : expected) x = serial.uniform();
  for (int threads : {1, 2, 3}) {
    ThreadCount t(threads);
    mg::Generator g64(21), g32(21);
    CHECK(mg::rand({n}, {.dtype = mg::kFloat64}, &g64).to_vector<double>() == expected);
    CHECK(g64.state() == serial.state());  // and the generator moved on by exactly n draws
    const std::vector<float> floats = mg::rand({n}, {}, &g32).to_vector<float>();
    int64_t mismatches = 0;
    for (int64_t i = 0; i < n; ++i) mismatches += floats[i] != static_cast<float>(expected[i]);
    CHECK(mismatches == 0);
    CHECK(g32.state() == serial.state());
  }
}
