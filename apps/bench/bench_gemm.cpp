// GEMM throughput on the GEMM calls of the 784-512-256-10 MLP (batch 128 training, the 10,000-image
// evaluation), the wide recipes' first weight gradient and 1024^3, at 1 and 2 threads, next to
// this machine's FMA peak. Columns: GFLOP/s, and peak = fraction of (threads x measured
// single-thread FMA peak).
//   bench_gemm --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   bench_gemm --openblas=DIR/libopenblas.so.0   # also time OpenBLAS's cblas_sgemm, same shapes
// OpenBLAS is an optional peer, loaded with dlopen only when asked for: minigrad never links it.
// gemm_vs_openblas.py alternates the two sides in separate processes and prints the ratio table.
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <fmt/core.h>
#include <minigrad/kernels/gemm.h>
#include <minigrad/kernels/thread_pool.h>

#include "fma_peak.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <random>
#include <string>
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
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_fma_peak)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime();

// A is M x K (stored K x M if ta), B is K x N (stored N x K if tb). nn::Linear stores W as
// [out, in], so forward is X W^T, dX = G W and dW = G^T X.
struct Shape {
  const char* what;
  int64_t m, k, n;
  bool ta, tb;
};
constexpr Shape kShapes[] = {
    {"fc1 fwd", 128, 784, 512, false, true},
    {"fc2 fwd", 128, 512, 256, false, true},
    {"fc3 fwd", 128, 256, 10, false, true},
    {"fc3 dX", 128, 10, 256, false, false},
    {"fc2 dX", 128, 256, 512, false, false},
    {"fc1 dX", 128, 512, 784, false, false},  // not run in training (the input needs no grad)
    {"fc3 dW", 10, 128, 256, true, false},
    {"fc2 dW", 256, 128, 512, true, false},
    {"fc1 dW", 512, 128, 784, true, false},
    {"eval fc1", 10000, 784, 512, false, true},
    {"eval fc2", 10000, 512, 256, false, true},
    {"eval fc3", 10000, 256, 10, false, true},
    {"wide fc1 dW", 1024, 128, 784, true, false},  // the 784-1024-512 recipes: lda = 1024
    {"square", 1024, 1024, 1024, false, false},    // last: also timed in double
};

// (ta, tb, M, N, K, A, lda, B, ldb, C, ldc) with alpha = 1, beta = 0, row-major.
template <typename T>
using GemmCall =
    std::function<void(bool, bool, int64_t, int64_t, int64_t, const T*, int64_t, const T*, int64_t, T*, int64_t)>;

// 64-byte aligned, as a Tensor's storage is. A std::vector this large starts 16 bytes into a
// page (glibc's header), which puts every 16-float tile row of C across two cache lines.
template <typename T>
std::unique_ptr<T[], decltype(&std::free)> aligned_array(int64_t count) {
  const size_t bytes = (size_t(count) * sizeof(T) + 63) / 64 * 64;
  T* p = static_cast<T*>(std::aligned_alloc(64, bytes));
  if (!p) throw std::bad_alloc();
  return {p, &std::free};
}

template <typename T>
void run_gemm(benchmark::State& state, const Shape& s, int threads, const GemmCall<T>& call,
              const std::function<void(int)>& set_threads) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<T> dist(-1, 1);
  const auto a = aligned_array<T>(s.m * s.k), b = aligned_array<T>(s.k * s.n);
  const auto c = aligned_array<T>(s.m * s.n);
  for (int64_t i = 0; i < s.m * s.k; ++i) a[i] = dist(rng);
  for (int64_t i = 0; i < s.k * s.n; ++i) b[i] = dist(rng);
  set_threads(threads);
  for (auto _ : state) {
    call(s.ta, s.tb, s.m, s.n, s.k, a.get(), s.ta ? s.m : s.k, b.get(), s.tb ? s.k : s.n, c.get(), s.n);
    benchmark::ClobberMemory();
  }
  set_threads(1);
  const double flops = 2.0 * double(s.m) * double(s.n) * double(s.k);
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  // Double runs at half the float lanes, so its peak is half the float peak.
  const double peak = bench::fma_peak() * threads / (sizeof(T) / sizeof(float));
  state.counters["peak"] = benchmark::Counter(flops / peak, benchmark::Counter::kIsIterationInvariantRate);
}

template <typename T>
void ours(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c,
          int64_t ldc) {
  minigrad::kernels::gemm(ta, tb, m, n, k, T(1), a, lda, b, ldb, T(0), c, ldc);
}

void our_threads(int threads) { minigrad::kernels::set_max_threads(threads); }

std::string bench_name(const char* lib, const Shape& s, int threads) {
  return fmt::format("{}/{}x{}x{}/{}{}/thr:{}", lib, s.m, s.k, s.n, s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', threads);
}

// cblas_sgemm and openblas_set_num_threads from a libopenblas given on the command line.
struct OpenBlas {
  using Sgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
  Sgemm sgemm = nullptr;
  void (*set_num_threads)(int) = nullptr;

  static OpenBlas load(const char* path) {
    OpenBlas lib;
    void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      fmt::print(stderr, "bench_gemm: cannot load OpenBLAS ({}); timing minigrad alone\n", dlerror());
      return lib;
    }
    lib.sgemm = reinterpret_cast<Sgemm>(dlsym(handle, "cblas_sgemm"));
    lib.set_num_threads = reinterpret_cast<void (*)(int)>(dlsym(handle, "openblas_set_num_threads"));
    if (!lib.sgemm || !lib.set_num_threads) {
      fmt::print(stderr, "bench_gemm: {} has no cblas_sgemm/openblas_set_num_threads; timing minigrad alone\n", path);
      lib.sgemm = nullptr;
    }
    return lib;
  }
};

void register_all(const OpenBlas& blas) {
  constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;
  for (const Shape& s : kShapes) {
    for (int threads : {1, 2}) {
      benchmark::RegisterBenchmark(bench_name("gemm", s, threads).c_str(), [s, threads](benchmark::State& st) {
        run_gemm<float>(st, s, threads, &ours<float>, &our_threads);
      })->UseRealTime();
      if (!blas.sgemm) continue;
      const GemmCall<float> call = [blas](bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a,
                                          int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc) {
        blas.sgemm(kRowMajor, ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, int(m), int(n), int(k), 1.0f, a, int(lda),
                   b, int(ldb), 0.0f, c, int(ldc));
      };
      benchmark::RegisterBenchmark(bench_name("openblas", s, threads).c_str(), [s, threads, call,
                                                                                blas](benchmark::State& st) {
        run_gemm<float>(st, s, threads, call, blas.set_num_threads);
      })->UseRealTime();
    }
  }
  const Shape square = kShapes[std::size(kShapes) - 1];
  for (int threads : {1, 2})
    benchmark::RegisterBenchmark(bench_name("gemm_double", square, threads).c_str(), [square,
                                                                                      threads](benchmark::State& st) {
      run_gemm<double>(st, square, threads, &ours<double>, &our_threads);
    })->UseRealTime();
}

}  // namespace

int main(int argc, char** argv) {
  const char* openblas = nullptr;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--openblas=", 11) == 0)
      openblas = argv[i] + 11;
    else
      args.push_back(argv[i]);
  }
  int count = int(args.size());
  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 1;
  benchmark::AddCustomContext("gemm_isa", minigrad::kernels::gemm_isa());
  benchmark::AddCustomContext("machine", bench::machine_description());
  register_all(openblas ? OpenBlas::load(openblas) : OpenBlas{});
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
