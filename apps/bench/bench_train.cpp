// The non-GEMM parts of a training step and the step itself, on the reference workload
// (784-512-256-10 ReLU MLP, Adam, batch 128; random data, so no data set is needed):
// elementwise ops, the fused Linear epilogue, softmax-cross-entropy, the fused Adam update, one
// whole training step, the same step inside fashion_mlp's training loop, evaluating 10,000
// images; and a batched matmul of small matrices. Arg: threads. Counters: GFLOP/s (or GB/s for
// memory-bound ops) and `peak`, the fraction of (threads x this machine's measured FMA peak).
//   bench_train --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <minigrad/minigrad.h>

#include "fma_peak.h"
#include "train.h"

namespace mg = minigrad;

namespace {

constexpr int64_t kBatch = 128;

struct Model {
  mg::nn::Sequential net{mg::nn::Linear(784, 512), mg::nn::ReLU(), mg::nn::Linear(512, 256), mg::nn::ReLU(),
                         mg::nn::Linear(256, 10)};
  mg::optim::Adam opt{net.parameters(), {.lr = 1e-3}};
};

mg::Tensor random_labels(int64_t n) {
  std::vector<int64_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) labels[i] = (i * 7) % 10;
  return mg::tensor(labels, {n});
}

// Forward flops of the MLP on n images; a training step is 3x minus the first layer's dX.
double forward_flops(double n) { return 2.0 * n * (784.0 * 512 + 512.0 * 256 + 256.0 * 10); }
double step_flops(double n) { return 3.0 * forward_flops(n) - 2.0 * n * 784.0 * 512; }

// Sets the pool's size for one benchmark and restores it after.
class Threads {
 public:
  explicit Threads(int n) : saved_(mg::get_num_threads()) { mg::set_num_threads(n); }
  ~Threads() { mg::set_num_threads(saved_); }

 private:
  int saved_;
};

void report_flops(benchmark::State& state, double flops, int threads) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak"] =
      benchmark::Counter(flops / (bench::fma_peak() * threads), benchmark::Counter::kIsIterationInvariantRate);
}

void report_bytes(benchmark::State& state, double bytes) {
  state.counters["GB/s"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// relu, bias add and their backward on one hidden layer's activations (128 x 512).
void BM_relu(benchmark::State& state) {
  Threads threads(int(state.range(0)));
  const mg::Tensor x = mg::randn({kBatch, 512});
  for (auto _ : state) benchmark::DoNotOptimize(x.relu());
  report_bytes(state, 2.0 * double(x.numel()) * sizeof(float));
}

void BM_add_bias(benchmark::State& state) {
  Threads threads(int(state.range(0)));
  const mg::Tensor x = mg::randn({kBatch, 512}), b = mg::randn({512});
  for (auto _ : state) benchmark::DoNotOptimize(x + b);
  report_bytes(state, 2.0 * double(x.numel()) * sizeof(float));
}

// Dropout (p = 0.2) on one hidden layer's activations (128 x 512), training mode: the mask's
// 65,536 draws (in parallel pieces from 2 threads on), its compare, the scaling multiplies.
void BM_dropout(benchmark::State& state) {
  Threads threads(int(state.range(0)));
  mg::nn::Dropout dropout(0.2, 1);
  const mg::Tensor x = mg::randn({kBatch, 512});
  for (auto _ : state) benchmark::DoNotOptimize(dropout(x));
  report_bytes(state, 2.0 * double(x.numel()) * sizeof(float));
}

// The fused Linear+ReLU of the first layer, forward and backward (3 GEMMs but dX: 2 of them).
void BM_linear_relu(benchmark::State& state) {
  Threads threads(int(state.range(0)));
  const mg::Tensor x = mg::randn({kBatch, 784});
  mg::Tensor w = mg::randn({512, 784}).requires_grad_(), b = mg::randn({512}).requires_grad_();
  for (auto _ : state) {
    const mg::Tensor y = mg::linear(x, w, b, mg::Activation::ReLU);
    y.backward(mg::ones_like(y));
    w.zero_grad();
    b.zero_grad();
  }
  report_flops(state, 2.0 * 2.0 * kBatch * 784.0 * 512, int(state.range(0)));  // forward, dW
}

void BM_softmax_cross_entropy(benchmark::State& state) {
  Threads threads(int(state.range(0)));
  mg::Tensor logits = mg::randn({kBatch, 10}).requires_grad_();
  const mg::Tensor labels = random_labels(kBatch);
  for (auto _ : state) {
    mg::Tensor loss = mg::nn::cross_entropy(logits, labels);
    loss.backward();
    logits.zero_grad();
  }
  report_bytes(state, 3.0 * double(logits.numel()) * sizeof(float));
}

// One fused Adam update over all 535,818 parameters (reads w, g, m, v; writes w, m, v).
void BM_adam_step(benchmark::State& state) {
  Threads threads(int(state.range(0)));
  Model m;
  for (mg::Tensor p : m.net.parameters()) p.set_grad(mg::randn(p.shape()));
  double params = 0;
  for (const mg::Tensor& p : m.net.parameters()) params += double(p.numel());
  for (auto _ : state) m.opt.step();
  report_bytes(state, 7.0 * params * sizeof(float));
}

void BM_train_step(benchmark::State& state) {
  Threads threads(int(state.range(0)));
  Model m;
  const mg::Tensor x = mg::rand({kBatch, 784});
  const mg::Tensor y = random_labels(kBatch);
  for (auto _ : state) {
    mg::Tensor loss = mg::nn::cross_entropy(m.net(x), y);
    m.opt.zero_grad();
    loss.backward();
    m.opt.step();
  }
  report_flops(state, step_flops(kBatch), int(state.range(0)));
}

// fashion_mlp's own training loop (apps/fashion_mlp: dropout, label smoothing, Adam with the
// cosine schedule, the non-finite check, accuracy, the progress bookkeeping) over 100 steps of
// random images, per step: its gap to BM_train_step is what the app adds to the library's step.
void BM_fashion_train_step(benchmark::State& state) {
  Threads threads(int(state.range(0)));
  constexpr int64_t kSteps = 100;
  fashion::Splits splits;
  splits.train = {mg::randn({kSteps * kBatch, 784}), random_labels(kSteps * kBatch)};
  fashion::TrainConfig config;
  config.epochs = 1;
  const fashion::TrainOptions options{.quiet = true, .evaluate_test = false, .write_files = false};
  for (auto _ : state) benchmark::DoNotOptimize(fashion::train(config, splits, options).history);
  state.SetItemsProcessed(state.iterations() * kSteps);
  report_flops(state, double(kSteps) * step_flops(kBatch), int(state.range(0)));
}

void BM_eval_10k(benchmark::State& state) {
  Threads threads(int(state.range(0)));
  Model m;
  const mg::Tensor x = mg::rand({10000, 784});
  mg::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(m.net(x));
  report_flops(state, forward_flops(10000), int(state.range(0)));
}

// matmul of a batch of small matrices, (64, 8, 64) x (64, 64, 8): 8,192 flops per product, so
// what each matrix costs beyond its arithmetic decides. bmm_torch.py times the same in PyTorch.
void BM_bmm_small(benchmark::State& state) {
  Threads threads(int(state.range(0)));
  const mg::Tensor a = mg::randn({64, 8, 64}), b = mg::randn({64, 64, 8});
  for (auto _ : state) benchmark::DoNotOptimize(mg::matmul(a, b));
  report_flops(state, 2.0 * 64 * 8 * 64 * 8, int(state.range(0)));
}

// The same product forward and backward: three batched products.
void BM_bmm_small_backward(benchmark::State& state) {
  Threads threads(int(state.range(0)));
  mg::Tensor a = mg::randn({64, 8, 64}).requires_grad_(), b = mg::randn({64, 64, 8}).requires_grad_();
  for (auto _ : state) {
    const mg::Tensor c = mg::matmul(a, b);
    c.backward(mg::ones_like(c));
    a.zero_grad();
    b.zero_grad();
  }
  report_flops(state, 3.0 * 2.0 * 64 * 8 * 64 * 8, int(state.range(0)));
}

#define THREAD_ARGS ->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()
BENCHMARK(BM_relu) THREAD_ARGS;
BENCHMARK(BM_add_bias) THREAD_ARGS;
BENCHMARK(BM_dropout) THREAD_ARGS;
BENCHMARK(BM_linear_relu) THREAD_ARGS;
BENCHMARK(BM_softmax_cross_entropy) THREAD_ARGS;
BENCHMARK(BM_adam_step) THREAD_ARGS;
BENCHMARK(BM_train_step) THREAD_ARGS;
BENCHMARK(BM_fashion_train_step) THREAD_ARGS;
BENCHMARK(BM_eval_10k) THREAD_ARGS;
BENCHMARK(BM_bmm_small) THREAD_ARGS;
BENCHMARK(BM_bmm_small_backward) THREAD_ARGS;

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("machine", bench::machine_description());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
