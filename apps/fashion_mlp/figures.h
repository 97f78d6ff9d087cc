#pragma once
// The run's figures as PNGs: learning curves, confusion matrices, sample and mistaken test
// predictions, first-layer weights; and the charts of `compare` (several runs) and `sweep`.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <plot/canvas.h>

#include "train.h"

namespace fashion {

plot::Canvas curves_figure(const std::vector<EpochRecord>& history, int64_t best_epoch);
// Counts (log colour scale) beside the row-normalized percentages.
plot::Canvas confusion_figure(const ConfusionMatrix& confusion);
// Where a cell is drawn: panel 0 counts, 1 row-normalized.
plot::Rect confusion_cell(int panel, int truth, int predicted);
// The first `count` test images with their predicted and true class; wrong ones framed in red.
plot::Canvas samples_figure(const mg::data::Dataset& images, const Evaluation& evaluation, int count = 40);
// The wrong predictions made with the highest probability.
plot::Canvas mistakes_figure(const mg::data::Dataset& images, const Evaluation& evaluation, int count = 24);
// Where the i-th image of samples/mistakes is drawn (28x28 at 3x).
plot::Rect prediction_tile(int i);
// Rows of the first layer's weight [hidden, 784] as 28x28 tiles, or a first convolution's
// filters [filters, 1, kh, kw] as kh x kw tiles; blue negative, red positive.
plot::Canvas weights_figure(const mg::Tensor& first_weight, int max_units = 64);

struct RunCurves {
  std::string name;
  std::vector<EpochRecord> history;
};
plot::Canvas compare_figure(const std::vector<RunCurves>& runs);
// Each run directory's metrics.csv, named by the directory and its optimizer and lr.
std::vector<RunCurves> load_runs(const std::vector<std::string>& run_dirs);

struct SweepPoint {
  std::vector<std::pair<std::string, std::string>> settings;  // (name, value) per swept setting
  double val_accuracy;
};
// Validation accuracy against each swept setting, one panel per setting.
plot::Canvas sweep_figure(const std::vector<SweepPoint>& points);

// What the run's figures are drawn from; figures whose inputs are absent are skipped.
struct FigureInputs {
  const std::vector<EpochRecord>* history = nullptr;
  int64_t best_epoch = 0;
  const Evaluation* test = nullptr;  // evaluated on test_images
  const mg::data::Dataset* test_images = nullptr;
  const mg::nn::Sequential* model = nullptr;
};
struct Figure {
  std::string file;  // name inside the run directory
  std::string png;   // its bytes
};
// Writes every figure the inputs allow into run_dir (atomically). A figure that cannot be drawn
// or written is reported on stderr and left out; this never throws, so a run keeps its results.
std::vector<Figure> write_figures(const std::string& run_dir, const FigureInputs& inputs);
// Draws and writes one figure to `path`, reporting a failure on stderr; false when it failed.
bool write_figure(const std::string& path, const std::function<plot::Canvas()>& draw, std::string* png = nullptr);

// The per-epoch rows of a run's metrics.csv (as train writes it). Anything but a regular file of
// at most kMaxMetricsBytes is refused unread.
std::vector<EpochRecord> read_metrics_csv(const std::string& path);
inline constexpr uint64_t kMaxMetricsBytes = uint64_t{1} << 26;  // a row per epoch: a million epochs

}  // namespace fashion
