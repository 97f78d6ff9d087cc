// Heap use of steady-state training, counted: a replaced global operator new counts every C++
// allocation in this binary, and the tensor allocator's own stats count buffers taken from the
// system. Its own executable, so the replacement touches no other test.
#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <vector>

#include <minigrad/minigrad.h>

#include "thread_count.h"

#include "train.h"

namespace {
std::atomic<long> heap_allocations{0};

void* counted_malloc(std::size_t size) noexcept {
  heap_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size ? size : 1);
}
void* counted_malloc_or_throw(std::size_t size) {
  if (void* p = counted_malloc(size)) return p;
  throw std::bad_alloc();
}
}  // namespace

// Every unaligned form is replaced, so each delete frees what the matching new took (under ASan a
// form left out would come from ASan's allocator and be freed here: an alloc-dealloc mismatch).
void* operator new(std::size_t size) { return counted_malloc_or_throw(size); }
void* operator new[](std::size_t size) { return counted_malloc_or_throw(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return counted_malloc(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return counted_malloc(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace mg = minigrad;

// Trains `model` on (x, y) one step at a time, each step followed by an evaluation pass, and
// checks that steps after a warm-up take no heap allocation and no new buffer from the system.
void check_steady_state(mg::nn::Module& model, mg::optim::Optimizer& opt, const mg::Tensor& x, const mg::Tensor& y,
                        double label_smoothing, int threads) {
  double checksum = 0;  // uses every result, so nothing is optimized away
  auto step = [&] {
    mg::Tensor loss = mg::nn::cross_entropy(model(x), y, {.label_smoothing = label_smoothing});
    opt.zero_grad();
    loss.backward();
    opt.step();
    mg::NoGradGuard no_grad;
    model.eval();
    checksum += model(x).sum().item() + loss.item();
    model.train();
  };
  for (int i = 0; i < 3; ++i) step();  // warm-up: optimizer state, caches, pools, pool threads

  const auto buffers_before = mg::allocator_stats().system_allocations;
  const long before = heap_allocations.load();
  for (int i = 0; i < 5; ++i) step();
  const long allocations = heap_allocations.load() - before;
  INFO(threads << " thread(s): " << allocations << " operator new calls in 5 steps");
  CHECK(mg::allocator_stats().system_allocations == buffers_before);
  CHECK(allocations == 0);
  CHECK(std::isfinite(checksum));
}

// Labels 0..9 repeated, n of them.
mg::Tensor cycling_labels(int64_t n) {
  std::vector<int64_t> labels(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) labels[static_cast<std::size_t>(i)] = i % 10;
  return mg::tensor(labels, {n});
}

TEST_CASE("steady-state training and evaluation take no heap allocation at all") {
  for (int threads : {1, 2}) {
    ThreadCount pool(threads);
    // apps/fashion_mlp's default model, loss and optimizer.
    mg::nn::Sequential model{mg::nn::Linear(784, 512), mg::nn::ReLU(), mg::nn::Dropout(0.2),
                             mg::nn::Linear(512, 256), mg::nn::ReLU(), mg::nn::Dropout(0.2),
                             mg::nn::Linear(256, 10)};
    mg::optim::Adam opt(model.parameters(), {.lr = 1e-3});
    check_steady_state(model, opt, mg::rand({128, 784}), cycling_labels(128), 0.1, threads);
  }
}

TEST_CASE("a steady-state CNN step takes no heap allocation at all") {
  for (int threads : {1, 2}) {
    ThreadCount pool(threads);
    namespace nn = mg::nn;
    nn::Sequential model{nn::Conv2d(1, 8, 3, {.padding = 1}),
                         nn::ReLU(),
                         nn::MaxPool2d(2),
                         nn::Conv2d(8, 16, 3, {.padding = 1}),
                         nn::ReLU(),
                         nn::Dropout2d(0.1),
                         nn::AvgPool2d(2),
                         nn::ConvTranspose2d(16, 8, 2, {.stride = 2}),
                         nn::AdaptiveAvgPool2d(3),
                         nn::Flatten(),
                         nn::Linear(8 * 3 * 3, 10)};
    mg::optim::SGD opt(model.parameters(), {.lr = 1e-2, .momentum = 0.9});
    check_steady_state(model, opt, mg::rand({16, 1, 12, 12}), cycling_labels(16), 0.0, threads);
  }
}

// The README's main job runs fashion_mlp's own loop, not the bare step above: its batches,
// dropout, progress status and per-step NaN check must not allocate either. The after_backward
// hook samples the counter once per step; the difference between two hooks is one whole step.
TEST_CASE("fashion_mlp's training loop takes no heap allocation per step") {
  constexpr int64_t kBatch = 128, kBatches = 12;
  const mg::data::Dataset data{mg::randn({kBatch * kBatches, 784}),
                               mg::tensor(std::vector<int64_t>(kBatch * kBatches, 3), {kBatch * kBatches}),
                               {.channels = 1, .height = 28, .width = 28}};
  fashion::Splits splits{data, data.head(kBatch), data.head(0)};
  fashion::TrainConfig config;  // the defaults: the README's main job
  config.epochs = 2;
  config.augment_shift = 2;  // the augmented recipes' loader path too
  config.augment_flip = true;
  config.log_every = 0;
  std::vector<long> at_step;
  at_step.reserve(2 * kBatches);
  const fashion::TrainOptions options{
      .evaluate_test = false, .write_files = false, .after_backward = [&](int64_t, int64_t, mg::nn::Module&) {
        at_step.push_back(heap_allocations.load());
      }};
  fashion::train(config, splits, options);
  REQUIRE(at_step.size() == 2 * kBatches);
  // Steps 3.. of each epoch: the first ones warm up the optimizer state and the pools, and an
  // epoch's end (evaluation, the next epoch's shuffle) may allocate.
  for (int64_t epoch = 0; epoch < 2; ++epoch)
    for (int64_t b = 3; b < kBatches; ++b) {
      const int64_t i = epoch * kBatches + b;
      INFO("epoch " << epoch + 1 << ", step " << b + 1);
      CHECK(at_step[i] - at_step[i - 1] == 0);
    }
}
