#include "sweep.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include <minigrad/minigrad.h>

#include "figures.h"
#include "train.h"

namespace fashion {

void run_sweep(TrainConfig base, const std::vector<std::string>& grid, int64_t samples) {
  if (grid.empty()) throw UsageError("sweep: give at least one --grid name=value1,value2,...");
  std::vector<std::pair<std::string, std::vector<std::string>>> axes;
  for (const std::string& spec : grid) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos || eq + 1 == spec.size())
      throw UsageError(fmt::format("sweep: --grid '{}' is not name=value1,value2,...", minigrad::printable(spec)));
    std::vector<std::string> values;
    std::string rest = spec.substr(eq + 1);
    for (std::size_t at = 0; at <= rest.size();) {
      const std::size_t comma = std::min(rest.find(',', at), rest.size());
      values.push_back(rest.substr(at, comma - at));
      at = comma + 1;
    }
    std::string name = spec.substr(0, eq);
    std::replace(name.begin(), name.end(), '-', '_');
    TrainConfig probe = base;
    for (const std::string& v : values) set_field(probe, name, v);  // reject bad values before any run
    axes.emplace_back(name, values);
  }
  std::vector<std::vector<std::size_t>> combos{{}};
  for (const auto& axis : axes) {
    std::vector<std::vector<std::size_t>> next;
    for (const auto& combo : combos)
      for (std::size_t v = 0; v < axis.second.size(); ++v) {
        next.push_back(combo);
        next.back().push_back(v);
      }
    combos = std::move(next);
  }
  if (samples > 0 && samples < static_cast<int64_t>(combos.size())) {  // random search over the grid
    minigrad::Generator gen(static_cast<uint64_t>(base.seed));
    for (std::size_t i = combos.size() - 1; i > 0; --i) std::swap(combos[i], combos[gen.below(i + 1)]);
    combos.resize(samples);
  }
  const std::string out = base.out.empty() ? "runs/sweep" : base.out;
  std::filesystem::create_directories(out);
  // Loaded again for a point whose data settings (normalize, val_fraction, seed, ...) differ.
  Splits splits = load_splits(base);
  TrainConfig splits_config = base;
  struct Row {
    std::string settings;
    double val_accuracy, val_loss, seconds;
  };
  std::vector<Row> rows;
  std::vector<SweepPoint> points;
  for (std::size_t i = 0; i < combos.size(); ++i) {
    TrainConfig config = base;
    std::string settings;
    for (std::size_t a = 0; a < axes.size(); ++a) {
      set_field(config, axes[a].first, axes[a].second[combos[i][a]]);
      settings += fmt::format("{}{}={}", a ? " " : "", axes[a].first, axes[a].second[combos[i][a]]);
    }
    if (!same_splits(config, splits_config)) {
      splits = load_splits(config);
      splits_config = config;
    }
    const TrainResult r = train(config, splits, {.quiet = true, .evaluate_test = false, .write_files = false});
    if (r.best_epoch == 0) {  // stopped on a NaN or Inf before any epoch ended: no row
      fmt::print("[{}/{}] {}  no epoch finished: {}\n", i + 1, combos.size(), settings, r.non_finite);
      continue;
    }
    const EpochRecord& best = r.history[r.best_epoch - 1];
    rows.push_back({settings, best.val_accuracy, best.val_loss, r.seconds});
    points.push_back({{}, best.val_accuracy});
    for (std::size_t a = 0; a < axes.size(); ++a)
      points.back().settings.emplace_back(axes[a].first, axes[a].second[combos[i][a]]);
    fmt::print("[{}/{}] {}  val acc {:.2f}%  val loss {:.4f}  {:.1f}s\n", i + 1, combos.size(), settings,
               100 * best.val_accuracy, best.val_loss, r.seconds);
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const Row& a, const Row& b) { return a.val_accuracy > b.val_accuracy; });
  std::string csv = "rank,settings,val_accuracy,val_loss,seconds\n";
  fmt::print("\n{:>4}  {:<40} {:>8} {:>8}\n", "rank", "settings", "val acc", "val loss");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    fmt::print("{:>4}  {:<40} {:>7.2f}% {:>8.4f}\n", i + 1, rows[i].settings, 100 * rows[i].val_accuracy,
               rows[i].val_loss);
    csv += fmt::format("{},\"{}\",{:.6f},{:.6f},{:.2f}\n", i + 1, rows[i].settings, rows[i].val_accuracy,
                       rows[i].val_loss, rows[i].seconds);
  }
  minigrad::write_file_atomic(out + "/sweep.csv", csv);
  fmt::print("\nwritten: {}/sweep.csv\n", out);
  if (write_figure(out + "/sweep.png", [&] { return sweep_figure(points); }))
    fmt::print("written: {}/sweep.png\n", out);
}

}  // namespace fashion
