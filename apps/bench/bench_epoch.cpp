// One training epoch of the workload, timed end to end: 784-512-256-10 ReLU MLP, Adam,
// batch 128, the 60,000 Fashion-MNIST training images; then the forward pass over the 10,000
// test images. torch_epoch.py runs the same in PyTorch; compare_torch.py runs both and prints
// the ratios. Prints one JSON line:
//   bench_epoch [--threads N] [--epochs E] [--data DIR]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <minigrad/minigrad.h>
#include <minigrad/kernels/gemm.h>

#include "fma_peak.h"

namespace mg = minigrad;

namespace {

constexpr int64_t kLayers[] = {784, 512, 256, 10};

// Multiply-adds of one image's forward pass, two flops each.
double forward_flops_per_image() {
  double macs = 0;
  for (int l = 0; l + 1 < 4; ++l) macs += double(kLayers[l]) * double(kLayers[l + 1]);
  return 2.0 * macs;
}

// Training: forward, weight gradients, and input gradients of every layer but the first (the
// images need none).
double flops_per_image() {
  const double first_layer = 2.0 * double(kLayers[0]) * double(kLayers[1]);
  return 3.0 * forward_flops_per_image() - first_layer;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// User plus system CPU time of the whole process: on a loaded machine, where wall time mostly
// measures the wait for a core, this is the work done.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

[[noreturn]] void usage(const std::string& why) {
  fmt::print(stderr, "bench_epoch: {}\nusage: bench_epoch [--threads N] [--epochs E] [--data DIR]\n",
             why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = mg::get_num_threads();
  int epochs = 3;
  std::string data_dir;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) usage(fmt::format("{} needs a value", arg));
    const std::string value = argv[++i];
    try {
      if (arg == "--threads") threads = std::stoi(value);
      else if (arg == "--epochs") epochs = std::stoi(value);
      else if (arg == "--data") data_dir = value;
      else usage(fmt::format("unknown option {}", arg));
    } catch (const std::logic_error&) {
      usage(fmt::format("{} expects a number, got '{}'", arg, value));
    }
  }
  if (threads < 1 || epochs < 1) usage("--threads and --epochs must be at least 1");

  try {
    mg::set_num_threads(threads);
    const std::string dir = mg::data::find_fashion_mnist(data_dir);
    const auto train = mg::data::load_fashion_mnist_dataset(dir, mg::data::Split::Train);
    const auto test = mg::data::load_fashion_mnist_dataset(dir, mg::data::Split::Test);

    mg::manual_seed(0);
    mg::nn::Sequential model{mg::nn::Linear(kLayers[0], kLayers[1]), mg::nn::ReLU(),
                             mg::nn::Linear(kLayers[1], kLayers[2]), mg::nn::ReLU(),
                             mg::nn::Linear(kLayers[2], kLayers[3])};
    mg::optim::Adam opt(model.parameters(), {.lr = 1e-3});
    mg::data::DataLoader loader(train, {.batch_size = 128, .shuffle = true, .seed = 0});

    std::vector<double> epoch_seconds, epoch_cpu_seconds, eval_seconds;
    double last_loss = 0;
    for (int e = 0; e < epochs; ++e) {
      loader.set_epoch(e);
      const auto start = std::chrono::steady_clock::now();
      const double cpu_start = cpu_seconds();
      for (const auto& [x, y] : loader) {
        mg::Tensor loss = mg::nn::cross_entropy(model(x), y);
        opt.zero_grad();
        loss.backward();
        opt.step();
        last_loss = loss.item();
      }
      epoch_seconds.push_back(seconds_since(start));
      epoch_cpu_seconds.push_back(cpu_seconds() - cpu_start);

      mg::NoGradGuard no_grad;
      const auto eval_start = std::chrono::steady_clock::now();
      const mg::Tensor logits = model(test.images);
      eval_seconds.push_back(seconds_since(eval_start));
      if (logits.size(0) != test.images.size(0)) throw mg::Error("eval: wrong number of logits");
    }

    rusage usage_stats{};
    getrusage(RUSAGE_SELF, &usage_stats);
    const double epoch_flops = flops_per_image() * double(train.images.size(0));
    const double epoch_s = median(epoch_seconds);
    const double peak = bench::fma_peak() * threads;
    fmt::print(
        "{{\"impl\": \"minigrad\", \"threads\": {}, \"epoch_s\": [{:.4f}], \"epoch_cpu_s\": [{:.4f}], "
        "\"eval_s\": [{:.5f}], "
        "\"loss\": {:.4f}, \"epoch_gflop\": {:.2f}, \"gflops\": {:.1f}, \"peak_gflops\": {:.1f}, "
        "\"peak_fraction\": {:.3f}, \"eval_gflop\": {:.3f}, \"max_rss_mb\": {:.1f}, \"gemm_isa\": \"{}\", \"machine\": \"{}\"}}\n",
        threads, fmt::join(epoch_seconds, ", "), fmt::join(epoch_cpu_seconds, ", "),
        fmt::join(eval_seconds, ", "), last_loss,
        epoch_flops / 1e9, epoch_flops / epoch_s / 1e9, peak / 1e9, epoch_flops / epoch_s / peak,
        forward_flops_per_image() * double(test.images.size(0)) / 1e9,
        double(usage_stats.ru_maxrss) / 1024.0, minigrad::kernels::gemm_isa(), bench::machine_description());
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_epoch: {}\n", e.what());
    return 1;
  }
}
