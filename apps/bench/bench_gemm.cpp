// GEMM throughput on the MLP training shapes, at 1 and 2 threads, next to this machine's FMA
// peak. Columns: GFLOP/s, and peak = fraction of (threads x measured single-thread FMA peak).
//   bench_gemm --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <minigrad/kernels/gemm.h>
#include <minigrad/kernels/thread_pool.h>

#include "fma_peak.h"

#include <chrono>
#include <cstdint>
#include <random>
#include <vector>


namespace {

void BM_fma_peak(benchmark::State& state) {
  const int threads = int(state.range(0));
  const int saved = minigrad::kernels::max_threads();
  minigrad::kernels::set_max_threads(threads);
  std::vector<double> per_task(size_t(threads), 0.0);
  for (auto _ : state)
    minigrad::kernels::parallel_tasks(threads, [&](int64_t t) { per_task[t] = bench::fma_loop(1'000'000); });
  minigrad::kernels::set_max_threads(saved);
  double flops = 0;
  for (double f : per_task) flops += f;
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_fma_peak)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime();

// Args: M, K, N, trans_a, trans_b, threads. A is M x K (stored K x M if trans_a), B is K x N
// (stored N x K if trans_b).
template <typename T>
void BM_gemm(benchmark::State& state) {
  const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  const bool ta = state.range(3) != 0, tb = state.range(4) != 0;
  const int threads = int(state.range(5));
  std::mt19937 rng(1);
  std::uniform_real_distribution<T> dist(-1, 1);
  std::vector<T> a(size_t(m * k)), b(size_t(k * n)), c(size_t(m * n));
  for (auto& x : a) x = dist(rng);
  for (auto& x : b) x = dist(rng);
  const int saved = minigrad::kernels::max_threads();
  minigrad::kernels::set_max_threads(threads);
  for (auto _ : state) {
    minigrad::kernels::gemm(ta, tb, m, n, k, T(1), a.data(), ta ? m : k, b.data(), tb ? k : n,
                            T(0), c.data(), n);
    benchmark::ClobberMemory();
  }
  minigrad::kernels::set_max_threads(saved);
  const double flops = 2.0 * double(m) * double(n) * double(k);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  // Double runs at half the float lanes, so its peak is half the float peak.
  const double peak = bench::fma_peak() * threads / (sizeof(T) / sizeof(float));
  state.counters["peak"] =
      benchmark::Counter(flops / peak, benchmark::Counter::kIsIterationInvariantRate);
}

void training_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "K", "N", "ta", "tb", "thr"});
  const int64_t shapes[][5] = {
      {128, 784, 512, 0, 0},  // fc1 forward  X W1
      {128, 512, 256, 0, 0},  // fc2 forward
      {128, 256, 10, 0, 0},   // fc3 forward
      {784, 128, 512, 1, 0},  // fc1 dW = X^T G
      {512, 128, 256, 1, 0},  // fc2 dW
      {128, 512, 784, 0, 1},  // dX through fc2-sized weights, G W^T
      {128, 256, 512, 0, 1},  // fc2 dX
      {128, 10, 256, 0, 1},   // fc3 dX
      {1024, 1024, 1024, 0, 0},
  };
  for (const auto& s : shapes)
    for (int64_t threads : {1, 2}) b->Args({s[0], s[1], s[2], s[3], s[4], threads});
}
BENCHMARK(BM_gemm<float>)->Apply(training_shapes)->UseRealTime();
BENCHMARK(BM_gemm<double>)
    ->ArgNames({"M", "K", "N", "ta", "tb", "thr"})
    ->Args({1024, 1024, 1024, 0, 0, 1})
    ->Args({1024, 1024, 1024, 0, 0, 2})
    ->UseRealTime();

}  // namespace
