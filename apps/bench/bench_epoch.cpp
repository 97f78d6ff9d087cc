// One training epoch of a reference workload, timed end to end; then the forward pass over the
// 10,000 test images. compare_torch.py runs the same in PyTorch and prints the ratios.
//   --model mlp (default): 784-512-256-10 ReLU MLP, Adam lr 1e-3, batch 128, flat images.
//   --model cnn: the `cnn` recipe's network as fashion_mlp builds it (two stages of two 3x3
//                conv + BN + ReLU blocks and 2x2 max pooling, 3136-256-10 with dropout), AdamW,
//                batch 128.
// --images N trains on the first N training images (the CNN's epoch is long). Prints one JSON line:
//   bench_epoch [--model mlp|cnn] [--threads N] [--epochs E] [--images N] [--data DIR]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <minigrad/kernels/gemm.h>
#include <minigrad/minigrad.h>

#include "config.h"
#include "fma_peak.h"
#include "train.h"

namespace mg = minigrad;

namespace {

constexpr int64_t kLayers[] = {784, 512, 256, 10};

// Multiply-adds of one image's forward pass through the MLP, two flops each.
double mlp_forward_flops() {
  double macs = 0;
  for (int l = 0; l + 1 < 4; ++l) macs += double(kLayers[l]) * double(kLayers[l + 1]);
  return 2.0 * macs;
}

// The `cnn` recipe's 3x3 convolutions (in, out, image side) and its classifier.
struct ConvLayer {
  int64_t in, out, side;
};
constexpr ConvLayer kConvs[] = {{1, 32, 28}, {32, 32, 28}, {32, 64, 14}, {64, 64, 14}};

double conv_macs(const ConvLayer& c) { return double(c.in) * double(c.out) * 9.0 * double(c.side * c.side); }

double cnn_forward_flops() {
  double macs = 64.0 * 7 * 7 * 256 + 256.0 * 10;
  for (const ConvLayer& c : kConvs) macs += conv_macs(c);
  return 2.0 * macs;
}

// Training: forward, weight gradients, and input gradients of every layer but the first (the
// images need none).
double training_flops(bool cnn) {
  if (cnn) return 3.0 * cnn_forward_flops() - 2.0 * conv_macs(kConvs[0]);
  return 3.0 * mlp_forward_flops() - 2.0 * double(kLayers[0]) * double(kLayers[1]);
}

// The MLP, or the `cnn` recipe's network as fashion_mlp builds it (it takes flat images).
std::shared_ptr<mg::nn::Sequential> make_model(bool cnn) {
  namespace nn = mg::nn;
  if (!cnn)
    return std::make_shared<nn::Sequential>(nn::Linear(kLayers[0], kLayers[1]), nn::ReLU(),
                                            nn::Linear(kLayers[1], kLayers[2]), nn::ReLU(),
                                            nn::Linear(kLayers[2], kLayers[3]));
  fashion::TrainConfig recipe;
  fashion::load_config_file(fashion::recipe_path("cnn"), recipe);
  return fashion::build_model(recipe);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// User plus system CPU time of the whole process: on a loaded machine, where wall time mostly
// measures the wait for a core, this is the work done.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

[[noreturn]] void usage(const std::string& why) {
  fmt::print(
      stderr,
      "bench_epoch: {}\nusage: bench_epoch [--model mlp|cnn] [--threads N] [--epochs E] [--images N] [--data DIR]\n",
      why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = mg::get_num_threads();
  int epochs = 3;
  int64_t images = 0;
  std::string data_dir, model_name = "mlp";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) usage(fmt::format("{} needs a value", arg));
    const std::string value = argv[++i];
    try {
      if (arg == "--threads")
        threads = std::stoi(value);
      else if (arg == "--epochs")
        epochs = std::stoi(value);
      else if (arg == "--images")
        images = std::stoll(value);
      else if (arg == "--model")
        model_name = value;
      else if (arg == "--data")
        data_dir = value;
      else
        usage(fmt::format("unknown option {}", arg));
    } catch (const std::logic_error&) {
      usage(fmt::format("{} expects a number, got '{}'", arg, value));
    }
  }
  if (threads < 1 || epochs < 1 || images < 0) usage("--threads and --epochs must be at least 1, --images >= 0");
  if (model_name != "mlp" && model_name != "cnn")
    usage(fmt::format("--model must be mlp or cnn, got '{}'", model_name));
  const bool cnn = model_name == "cnn";

  try {
    mg::set_num_threads(threads);
    const std::string dir = mg::data::find_fashion_mnist(data_dir);
    auto train = mg::data::load_fashion_mnist_dataset(dir, mg::data::Split::Train);
    if (images > 0) train = train.head(images);
    const auto test = mg::data::load_fashion_mnist_dataset(dir, mg::data::Split::Test);

    mg::manual_seed(0);
    const std::shared_ptr<mg::nn::Sequential> net = make_model(cnn);
    mg::nn::Sequential& model = *net;
    std::unique_ptr<mg::optim::Optimizer> optimizer;
    if (cnn)
      optimizer = std::make_unique<mg::optim::AdamW>(model.parameters(),
                                                     mg::optim::AdamWOptions{.lr = 2e-3, .weight_decay = 5e-4});
    else
      optimizer = std::make_unique<mg::optim::Adam>(model.parameters(), mg::optim::AdamOptions{.lr = 1e-3});
    mg::optim::Optimizer& opt = *optimizer;
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
      model.eval();
      const auto eval_start = std::chrono::steady_clock::now();
      // The CNN in batches: one 10,000-image pass would hold gigabytes of activations.
      const int64_t n = test.images.size(0), eval_batch = cnn ? 500 : n;
      int64_t logits = 0;
      for (int64_t i = 0; i < n; i += eval_batch) {
        const mg::Tensor x = test.images.narrow(0, i, std::min(eval_batch, n - i));
        logits += model(x).size(0);
      }
      eval_seconds.push_back(seconds_since(eval_start));
      model.train();
      if (logits != n) throw mg::Error("eval: wrong number of logits");
    }

    rusage usage_stats{};
    getrusage(RUSAGE_SELF, &usage_stats);
    const double epoch_flops = training_flops(cnn) * double(train.images.size(0));
    const double epoch_s = median(epoch_seconds);
    const double peak = bench::fma_peak() * threads;
    fmt::print(
        "{{\"impl\": \"minigrad\", \"model\": \"{}\", \"threads\": {}, \"epoch_s\": [{:.4f}], \"epoch_cpu_s\": "
        "[{:.4f}], "
        "\"eval_s\": [{:.5f}], "
        "\"loss\": {:.4f}, \"epoch_gflop\": {:.2f}, \"gflops\": {:.1f}, \"peak_gflops\": {:.1f}, "
        "\"peak_fraction\": {:.3f}, \"eval_gflop\": {:.3f}, \"max_rss_mb\": {:.1f}, \"gemm_isa\": \"{}\", \"machine\": "
        "\"{}\"}}\n",
        model_name, threads, fmt::join(epoch_seconds, ", "), fmt::join(epoch_cpu_seconds, ", "),
        fmt::join(eval_seconds, ", "), last_loss, epoch_flops / 1e9, epoch_flops / epoch_s / 1e9, peak / 1e9,
        epoch_flops / epoch_s / peak,
        (cnn ? cnn_forward_flops() : mlp_forward_flops()) * double(test.images.size(0)) / 1e9,
        double(usage_stats.ru_maxrss) / 1024.0, minigrad::kernels::gemm_isa(), bench::machine_description());
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_epoch: {}\n", e.what());
    return 1;
  }
}
