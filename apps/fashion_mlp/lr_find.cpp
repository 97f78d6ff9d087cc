#include "lr_find.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include <minigrad/minigrad.h>

#include "progress.h"

namespace fashion {

namespace nn = minigrad::nn;
namespace data = minigrad::data;
using minigrad::Error;
using minigrad::Tensor;

void check_lr_find_range(double start, double end, int64_t steps) {
  if (!(start > 0 && end > start && std::isfinite(end) && steps > 1))
    throw UsageError(fmt::format("lr-find: need 0 < start < end and steps > 1 (got {}, {}, {})", start, end, steps));
}

std::vector<LrFindPoint> lr_find(const TrainConfig& config, const Splits& splits, double start, double end,
                                 int64_t steps) {
  check_lr_find_range(start, end, steps);
  auto model = build_model(config);
  auto optimizer = make_optimizer(config, model->parameters());
  data::DataLoader loader = make_train_loader(config, splits.train, /*augment=*/false);
  std::vector<LrFindPoint> points;
  constexpr double kSmoothing = 0.98;  // exponential moving average, bias-corrected
  double average = 0, best = INFINITY;
  ProgressBar bar("lr-find", steps, "steps");
  for (int64_t step = 0; step < steps; ++step) {
    const double lr = start * std::pow(end / start, static_cast<double>(step) / (steps - 1));
    optimizer->set_lr(lr);
    if (step % std::max<int64_t>(loader.num_batches(), 1) == 0)
      loader.set_epoch(step / std::max<int64_t>(loader.num_batches(), 1));
    const data::Batch batch = loader.batch(step % loader.num_batches());
    Tensor loss = nn::cross_entropy((*model)(batch.x), batch.y);
    const double value = loss.item();
    if (!std::isfinite(value)) break;
    optimizer->zero_grad();
    loss.backward();
    optimizer->step();
    average = kSmoothing * average + (1 - kSmoothing) * value;
    const double smoothed = average / (1 - std::pow(kSmoothing, step + 1));
    points.push_back({lr, value, smoothed});
    best = std::min(best, smoothed);
    bar.update(step + 1, fmt::format("lr {:.2e} loss {:.4f}", lr, smoothed));
    if (smoothed > 4 * best) break;
  }
  bar.finish();
  return points;
}

double suggest_lr(const std::vector<LrFindPoint>& points) {
  if (points.empty()) throw Error("lr-find: no finite loss was recorded");
  const auto best = std::min_element(
      points.begin(), points.end(), [](const LrFindPoint& a, const LrFindPoint& b) { return a.smoothed < b.smoothed; });
  return best->lr / 10;
}

void run_lr_find(const TrainConfig& config, double start, double end, int64_t steps) {
  check_lr_find_range(start, end, steps);
  const Splits splits = load_splits(config);
  const std::vector<LrFindPoint> points = lr_find(config, splits, start, end, steps);
  std::string csv = "lr,loss,smoothed_loss\n";
  for (const LrFindPoint& p : points) csv += fmt::format("{:.6e},{:.6f},{:.6f}\n", p.lr, p.loss, p.smoothed);
  const std::string out = config.out.empty() ? "runs/lr-find" : config.out;
  std::filesystem::create_directories(out);
  minigrad::write_file_atomic(out + "/lr_find.csv", csv);
  const std::size_t stride = std::max<std::size_t>(1, points.size() / 12);
  fmt::print("{:>10} {:>10}\n", "lr", "loss");
  for (std::size_t i = 0; i < points.size(); i += stride)
    fmt::print("{:>10.2e} {:>10.4f}\n", points[i].lr, points[i].smoothed);
  fmt::print("\nsuggested lr: {:.2e} (a tenth of the lr at the lowest smoothed loss)\nwritten: {}/lr_find.csv\n",
             suggest_lr(points), out);
}

}  // namespace fashion
