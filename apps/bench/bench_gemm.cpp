// GEMM throughput on the MLP training shapes, at 1 and 2 threads, next to this machine's FMA
// peak. Columns: GFLOP/s, and peak = fraction of (threads x measured single-thread FMA peak).
//   bench_gemm --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <minigrad/kernels/gemm.h>
#include <omp.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace {

// Independent FMA chains, enough to cover latency x pipes on current x86 cores. Written in asm:
// from an array of accumulators GCC keeps them on the stack or interchanges the loops into one
// latency-bound chain. Operands are zero, so no denormal slow paths. Returns the flops done.
#if defined(__x86_64__)
__attribute__((target("avx512f"))) void fma_loop_avx512(int64_t iters) {
  asm volatile(
      ".irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,30,31\n\t"
      "vpxord %%zmm\\r, %%zmm\\r, %%zmm\\r\n\t"
      ".endr\n\t"
      "1:\n\t"
      ".irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23\n\t"
      "vfmadd231ps %%zmm30, %%zmm31, %%zmm\\r\n\t"
      ".endr\n\t"
      "dec %0\n\t"
      "jnz 1b\n\t"
      : "+r"(iters)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20",
        "xmm21", "xmm22", "xmm23", "xmm30", "xmm31", "cc");
}
__attribute__((target("avx2,fma"))) void fma_loop_avx2(int64_t iters) {
  asm volatile(
      ".irp r,0,1,2,3,4,5,6,7,8,9,10,11,14,15\n\t"
      "vxorps %%ymm\\r, %%ymm\\r, %%ymm\\r\n\t"
      ".endr\n\t"
      "1:\n\t"
      ".irp r,0,1,2,3,4,5,6,7,8,9,10,11\n\t"
      "vfmadd231ps %%ymm14, %%ymm15, %%ymm\\r\n\t"
      ".endr\n\t"
      "dec %0\n\t"
      "jnz 1b\n\t"
      : "+r"(iters)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm14", "xmm15", "cc");
}
#endif

double fma_loop(int64_t iters) {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma")) {
    fma_loop_avx512(iters);
    return double(iters) * 24 * 16 * 2;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    fma_loop_avx2(iters);
    return double(iters) * 12 * 8 * 2;
  }
#endif
  float acc[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  for (int64_t it = 0; it < iters; ++it)
    for (float& a : acc) a = a * 0.999999f + 1e-7f;
  benchmark::DoNotOptimize(acc);
  return double(iters) * 8 * 2;
}

// Single-thread FP32 FMA peak in flop/s, best of a few short runs, measured once.
double fma_peak() {
  static const double peak = [] {
    double best = 0;
    for (int rep = 0; rep < 5; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      const double flops = fma_loop(2'000'000);
      const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
      best = std::max(best, flops / dt.count());
    }
    return best;
  }();
  return peak;
}

void BM_fma_peak(benchmark::State& state) {
  const int threads = int(state.range(0));
  double flops = 0;
  for (auto _ : state) {
    double total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
    total += fma_loop(1'000'000);
    flops = total;
  }
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
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  for (auto _ : state) {
    minigrad::kernels::gemm(ta, tb, m, n, k, T(1), a.data(), ta ? m : k, b.data(), tb ? k : n,
                            T(0), c.data(), n);
    benchmark::ClobberMemory();
  }
  omp_set_num_threads(saved);
  const double flops = 2.0 * double(m) * double(n) * double(k);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  // Double runs at half the float lanes, so its peak is half the float peak.
  const double peak = fma_peak() * threads / (sizeof(T) / sizeof(float));
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
