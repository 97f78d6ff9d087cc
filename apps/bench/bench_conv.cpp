// Convolution throughput at each layer of the `cnn` recipe's VGG-style net on 28x28 Fashion-MNIST
// (batch 128): conv 1->32 and 32->32 at 28x28, pool, 64 channels at 14x14, pool; then the
// `resnet` recipe's downsampling layers (3x3 at stride 2, the 1x1 stride-2 shortcuts) and its last
// stage's 3x3 at 7x7. Forward, input gradient and weight gradient, at 1 and 2 threads. Columns:
// GFLOP/s, and peak = fraction of (threads x measured single-thread FMA peak).
//   bench_conv --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <minigrad/kernels/conv.h>
#include <minigrad/kernels/thread_pool.h>

#include "fma_peak.h"

#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <memory>
#include <new>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace {

namespace k = minigrad::kernels;

struct Layer {
  int64_t in_channels, out_channels, size, kernel = 3, stride = 1;
};
// Padding kernel / 2, as the recipes stack them.
constexpr Layer kLayers[] = {{1, 32, 28},        {32, 32, 28},        {32, 64, 14},
                             {64, 64, 14},       {32, 64, 28, 3, 2},  {64, 128, 14, 3, 2},
                             {32, 64, 28, 1, 2}, {64, 128, 14, 1, 2}, {128, 128, 7}};
constexpr int64_t kBatch = 128;
enum Pass { kForward, kInputGrad, kWeightGrad };

// 64-byte aligned, as a Tensor's storage is.
std::unique_ptr<float[], decltype(&std::free)> aligned_array(int64_t count) {
  const size_t bytes = (size_t(count) * sizeof(float) + 63) / 64 * 64;
  auto* p = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (!p) throw std::bad_alloc();
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int64_t i = 0; i < count; ++i) p[i] = dist(rng);
  return {p, &std::free};
}

void BM_conv(benchmark::State& state) {
  const Layer& layer = kLayers[state.range(0)];
  const auto pass = Pass(state.range(1));
  const int threads = int(state.range(2));
  const k::Conv2dShape s{.batch = kBatch,
                         .in_channels = layer.in_channels,
                         .in_h = layer.size,
                         .in_w = layer.size,
                         .out_channels = layer.out_channels,
                         .kernel_h = layer.kernel,
                         .kernel_w = layer.kernel,
                         .stride_h = layer.stride,
                         .stride_w = layer.stride,
                         .pad_h = layer.kernel / 2,
                         .pad_w = layer.kernel / 2};
  const int saved = k::max_threads();
  k::set_max_threads(threads);
  auto x = aligned_array(s.batch * s.in_channels * s.in_h * s.in_w);
  auto w = aligned_array(s.out_channels * s.in_channels * 9);
  auto b = aligned_array(s.out_channels);
  auto y = aligned_array(s.batch * s.out_channels * s.out_h() * s.out_w());
  auto ws = aligned_array(k::conv2d_workspace_size(s));
  for (auto _ : state) {
    switch (pass) {
      case kForward:
        k::conv2d_forward(s, x.get(), w.get(), b.get(), y.get(), ws.get());
        break;
      case kInputGrad:
        k::conv2d_backward_input(s, y.get(), w.get(), x.get(), ws.get());
        break;
      case kWeightGrad:
        k::conv2d_backward_weight(s, x.get(), y.get(), w.get(), ws.get());
        break;
    }
    benchmark::ClobberMemory();
  }
  k::set_max_threads(saved);
  const double flops = 2.0 * double(s.batch * s.out_channels * s.out_h() * s.out_w() * s.col_rows());
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak"] =
      benchmark::Counter(flops / (bench::fma_peak() * threads), benchmark::Counter::kIsIterationInvariantRate);
  static const char* const kPasses[] = {"forward", "input grad", "weight grad"};
  state.SetLabel(std::to_string(layer.kernel) + "x" + std::to_string(layer.kernel) + " " +
                 std::to_string(layer.in_channels) + "->" + std::to_string(layer.out_channels) + " at " +
                 std::to_string(layer.size) + "x" + std::to_string(layer.size) +
                 (layer.stride > 1 ? " stride " + std::to_string(layer.stride) : "") + " " + kPasses[pass]);
}

// Every layer of kLayers, by index.
std::vector<int64_t> layer_indices() {
  std::vector<int64_t> indices(std::size(kLayers));
  std::iota(indices.begin(), indices.end(), 0);
  return indices;
}

}  // namespace

BENCHMARK(BM_conv)
    ->ArgsProduct({layer_indices(), {kForward, kInputGrad, kWeightGrad}, {1, 2}})
    ->ArgNames({"layer", "pass", "threads"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
