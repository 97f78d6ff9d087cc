#include "figures.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <sstream>

#include <fmt/format.h>

#include <minigrad/io.h>
#include <plot/chart.h>
#include <plot/text.h>

namespace fashion {

using minigrad::Error;
using plot::Align;
using plot::Canvas;
using plot::Font;
using plot::Rect;
using plot::VAlign;

namespace {

constexpr int kMargin = 12;
constexpr std::size_t kMaxMarkedEpochs = 40;  // more epochs than this: lines without markers

std::vector<double> column(const std::vector<EpochRecord>& history, double EpochRecord::*field, double scale = 1) {
  std::vector<double> out;
  for (const EpochRecord& r : history) out.push_back(r.*field * scale);
  return out;
}

std::vector<double> epochs_of(const std::vector<EpochRecord>& history) {
  std::vector<double> out;
  for (const EpochRecord& r : history) out.push_back(static_cast<double>(r.epoch));
  return out;
}

// Loss and accuracy panels side by side; add_series(loss, accuracy) fills the two charts.
template <typename AddSeries>
Canvas loss_and_accuracy(const std::string& loss_title, const std::string& accuracy_title, AddSeries&& add_series) {
  Canvas canvas(1040, 400);
  plot::Chart loss{loss_title, "epoch", "cross-entropy loss", {}, {}, true};
  plot::Chart accuracy{accuracy_title, "epoch", "accuracy (%)", {}, {}, true};
  add_series(loss, accuracy);
  plot::draw_chart(canvas, {0, 0, 520, 400}, loss);
  plot::draw_chart(canvas, {520, 0, 520, 400}, accuracy);
  return canvas;
}

}  // namespace

plot::Canvas curves_figure(const std::vector<EpochRecord>& history, int64_t best_epoch) {
  if (history.empty()) throw Error("curves: no epochs to draw");
  const std::vector<double> epochs = epochs_of(history);
  std::string accuracy_title = "Accuracy";
  if (best_epoch >= 1 && best_epoch <= static_cast<int64_t>(history.size()))
    accuracy_title = fmt::format("Accuracy (best epoch {}: {:.2f}% validation)", best_epoch,
                                 100 * history[best_epoch - 1].val_accuracy);
  return loss_and_accuracy("Loss", accuracy_title, [&](plot::Chart& loss, plot::Chart& accuracy) {
    const bool markers = history.size() <= kMaxMarkedEpochs;
    loss.series = {{"train", epochs, column(history, &EpochRecord::train_loss), plot::palette(0), true, markers},
                   {"validation", epochs, column(history, &EpochRecord::val_loss), plot::palette(1), true, markers}};
    accuracy.series = {
        {"train", epochs, column(history, &EpochRecord::train_accuracy, 100), plot::palette(0), true, markers},
        {"validation", epochs, column(history, &EpochRecord::val_accuracy, 100), plot::palette(1), true, markers}};
  });
}

plot::Canvas compare_figure(const std::vector<RunCurves>& runs) {
  if (runs.empty()) throw Error("compare: no runs to draw");
  return loss_and_accuracy(
      "Loss (solid: validation, dashed: train)", "Accuracy (solid: validation, dashed: train)",
      [&](plot::Chart& loss, plot::Chart& accuracy) {
        for (std::size_t i = 0; i < runs.size(); ++i) {
          const auto& h = runs[i].history;
          const plot::Color color = plot::palette(static_cast<int>(i));
          const std::vector<double> epochs = epochs_of(h);
          loss.series.push_back(
              {runs[i].name, epochs, column(h, &EpochRecord::val_loss), color, true, h.size() <= kMaxMarkedEpochs});
          loss.series.push_back({"", epochs, column(h, &EpochRecord::train_loss), color, true, false, true});
          accuracy.series.push_back({runs[i].name, epochs, column(h, &EpochRecord::val_accuracy, 100), color, true,
                                     h.size() <= kMaxMarkedEpochs});
          accuracy.series.push_back(
              {"", epochs, column(h, &EpochRecord::train_accuracy, 100), color, true, false, true});
        }
      });
}

// ---- confusion matrices ----

namespace {

constexpr int kCell = 40;
constexpr int kNamesWidth = 84;  // room for the longest class name
constexpr int kMatrixLeft = kMargin + 22 + kNamesWidth;
constexpr int kMatrixTop = 44;
constexpr int kPanelStride = kClasses * kCell + 96 + kMatrixLeft;  // matrix, colour bar, next panel's names

}  // namespace

plot::Rect confusion_cell(int panel, int truth, int predicted) {
  return {kMatrixLeft + panel * kPanelStride + predicted * kCell, kMatrixTop + truth * kCell, kCell, kCell};
}

plot::Canvas confusion_figure(const ConfusionMatrix& cm) {
  if (cm.classes() != kClasses)
    throw Error(fmt::format("confusion: expected {} classes, got {}", kClasses, cm.classes()));
  const auto names = class_names();
  int longest_name = 0;
  for (std::string_view name : names)
    longest_name = std::max(longest_name, plot::text_width(plot::fit_text(name, kNamesWidth - 6)));
  const int x_label_top = kMatrixTop + kClasses * kCell + 6 + longest_name + 10;
  Canvas canvas(2 * kPanelStride, x_label_top + plot::line_height() + kMargin);
  int64_t max_count = 1;
  for (int t = 0; t < kClasses; ++t)
    for (int p = 0; p < kClasses; ++p) max_count = std::max(max_count, cm.at(t, p));
  const char* titles[] = {"Test counts (colour: log scale)", "Row-normalized: % of each true class"};
  for (int panel = 0; panel < 2; ++panel) {
    const Rect first = confusion_cell(panel, 0, 0);
    const int size = kClasses * kCell;
    draw_text(canvas, first.x + size / 2, kMargin, titles[panel], plot::kTextColor, Font::Bold, Align::Center);
    for (int t = 0; t < kClasses; ++t) {
      int64_t row_total = 0;
      for (int p = 0; p < kClasses; ++p) row_total += cm.at(t, p);
      for (int p = 0; p < kClasses; ++p) {
        const Rect cell = confusion_cell(panel, t, p);
        const double count = static_cast<double>(cm.at(t, p));
        const double percent = row_total ? 100.0 * count / row_total : 0.0;
        const plot::Color fill = plot::viridis(panel == 0 ? plot::color_scale(count, max_count, true) : percent / 100);
        canvas.fill_rect(cell, fill);
        const std::string text = panel == 0                        ? fmt::format("{}", cm.at(t, p))
                                 : percent == 0 || percent >= 9.95 ? fmt::format("{:.0f}", percent)
                                                                   : fmt::format("{:.1f}", percent);
        draw_text(canvas, cell.x + kCell / 2, cell.y + kCell / 2, text, plot::text_color_on(fill), Font::Regular,
                  Align::Center, VAlign::Middle);
      }
      draw_text(canvas, first.x - 6, first.y + t * kCell + kCell / 2, plot::fit_text(names[t], kNamesWidth - 6),
                plot::kTextColor, Font::Regular, Align::Right, VAlign::Middle);
    }
    for (int p = 0; p < kClasses; ++p) {
      const std::string name = plot::fit_text(names[p], kNamesWidth - 6);
      const int w = plot::text_width(name);
      plot::draw_text_vertical(canvas, first.x + p * kCell + kCell / 2, first.y + size + 6 + w / 2, name,
                               plot::kTextColor);
    }
    canvas.stroke_rect({first.x - 1, first.y - 1, size + 2, size + 2}, plot::kAxisColor);
    draw_text(canvas, first.x + size / 2, x_label_top, "predicted class", plot::kTextColor, Font::Regular,
              Align::Center);
    plot::draw_text_vertical(canvas, kMargin + panel * kPanelStride + 6, first.y + size / 2, "true class",
                             plot::kTextColor);
    plot::draw_colorbar(canvas, {first.x + size + 14, first.y, 80, size}, panel == 0 ? max_count : 100.0,
                        panel == 0 ? "images" : "% of true class", panel == 0);
  }
  return canvas;
}

// ---- predictions on test images ----

namespace {

constexpr int kImageScale = 3, kTileSide = kImageSide * kImageScale;
constexpr int kTileColumns = 8, kColumnWidth = 118, kRowHeight = kTileSide + 46;
constexpr int kGridTop = 40;

// The image stretched to [0, 1] whatever normalization the data went through.
std::vector<float> display_pixels(const mg::data::Dataset& images, int64_t index) {
  const float* p = images.images.data<float>() + index * kImagePixels;
  const auto [lo, hi] = std::minmax_element(p, p + kImagePixels);
  std::vector<float> out(kImagePixels);
  for (int i = 0; i < kImagePixels; ++i) out[i] = *hi > *lo ? (p[i] - *lo) / (*hi - *lo) : 0.0f;
  return out;
}

int64_t predicted_class(const Evaluation& e, int64_t i) {
  const float* p = e.probabilities.data<float>() + i * kClasses;
  return std::max_element(p, p + kClasses) - p;
}

Canvas prediction_grid(const std::string& title, const mg::data::Dataset& images, const Evaluation& e,
                       const std::vector<int64_t>& indices) {
  if (e.probabilities.dim() != 2 || e.probabilities.shape()[0] != images.size())
    throw Error(fmt::format("predictions: {} images but {} rows of probabilities", images.size(),
                            e.probabilities.dim() ? e.probabilities.shape()[0] : 0));
  const auto names = class_names();
  const int rows = std::max<int>(1, (static_cast<int>(indices.size()) + kTileColumns - 1) / kTileColumns);
  Canvas canvas(2 * kMargin + kTileColumns * kColumnWidth, kGridTop + rows * kRowHeight + kMargin);
  draw_text(canvas, canvas.width() / 2, kMargin, title, plot::kTextColor, Font::Bold, Align::Center);
  const int64_t* labels = images.labels.data<int64_t>();
  for (std::size_t i = 0; i < indices.size(); ++i) {
    const int64_t index = indices[i];
    const int64_t predicted = predicted_class(e, index), truth = labels[index];
    const double probability = e.probabilities.data<float>()[index * kClasses + predicted];
    const Rect tile = prediction_tile(static_cast<int>(i));
    const bool wrong = predicted != truth;
    if (wrong) canvas.fill_rect({tile.x - 3, tile.y - 3, tile.width + 6, tile.height + 6}, plot::kRed);
    canvas.gray_image(tile.x, tile.y, display_pixels(images, index), kImageSide, kImageSide, kImageScale);
    const int center = tile.x + tile.width / 2, width = kColumnWidth - 6;
    const std::string guess = fmt::format("{} {:.0f}%", names[predicted], 100 * probability);
    draw_text(canvas, center, tile.bottom() + 6, plot::fit_text(guess, width), wrong ? plot::kRed : plot::kGreen,
              Font::Regular, Align::Center);
    if (wrong)
      draw_text(canvas, center, tile.bottom() + 6 + plot::line_height(),
                plot::fit_text(fmt::format("true: {}", names[truth]), width), plot::kTextColor, Font::Regular,
                Align::Center);
  }
  return canvas;
}

}  // namespace

plot::Rect prediction_tile(int i) {
  return {kMargin + (i % kTileColumns) * kColumnWidth + (kColumnWidth - kTileSide) / 2,
          kGridTop + 4 + (i / kTileColumns) * kRowHeight, kTileSide, kTileSide};
}

plot::Canvas samples_figure(const mg::data::Dataset& images, const Evaluation& e, int count) {
  std::vector<int64_t> indices(std::min<int64_t>(count, images.size()));
  std::iota(indices.begin(), indices.end(), 0);
  return prediction_grid(
      fmt::format("The first {} test images: predicted class (probability); wrong ones framed in red", indices.size()),
      images, e, indices);
}

plot::Canvas mistakes_figure(const mg::data::Dataset& images, const Evaluation& e, int count) {
  std::vector<int64_t> wrong;
  const int64_t* labels = images.labels.data<int64_t>();
  for (int64_t i = 0; i < images.size(); ++i)
    if (predicted_class(e, i) != labels[i]) wrong.push_back(i);
  const float* p = e.probabilities.data<float>();
  auto confidence = [&](int64_t i) { return p[i * kClasses + predicted_class(e, i)]; };
  const auto shown = std::min<std::size_t>(count, wrong.size());
  std::partial_sort(wrong.begin(), wrong.begin() + shown, wrong.end(), [&](int64_t a, int64_t b) {
    return confidence(a) != confidence(b) ? confidence(a) > confidence(b) : a < b;
  });
  wrong.resize(shown);
  return prediction_grid(
      fmt::format("The {} most confident mistakes: predicted class (probability) and true class", shown), images, e,
      wrong);
}

// ---- weights ----

plot::Canvas weights_figure(const mg::Tensor& weight, int max_units) {
  // A Linear's rows are 28x28 images; a Conv2d's filters on the one input channel are kh x kw.
  const bool linear = weight.dim() == 2 && weight.shape()[1] == kImagePixels;
  const bool conv = weight.dim() == 4 && weight.shape()[1] == 1;
  if (!linear && !conv)
    throw Error(
        fmt::format("weights: expected a first-layer weight of shape (hidden, {}) or (filters, 1, kh, kw), got {}",
                    kImagePixels, mg::shape_str(weight.shape())));
  const mg::Tensor w = weight.to(mg::kFloat32);
  const int tile_h = linear ? kImageSide : static_cast<int>(w.shape()[2]),
            tile_w = linear ? kImageSide : static_cast<int>(w.shape()[3]);
  const int tile = tile_h * tile_w;
  const int units = static_cast<int>(std::min<int64_t>(max_units, w.shape()[0]));
  const int columns = std::min(16, units), scale = std::max(1, 56 / std::max(tile_h, tile_w));
  const int stride = std::max(tile_h, tile_w) * scale + 6;
  const int rows = (units + columns - 1) / columns;
  Canvas canvas(std::max(2 * kMargin + columns * stride, 560), kGridTop + rows * stride + kMargin);
  const std::string title =
      linear ? fmt::format("First-layer weights of {} of {} hidden units (blue negative, red positive)", units,
                           w.shape()[0])
             : fmt::format("First convolution: {} of {} filters, {}x{} (blue negative, red positive)", units,
                           w.shape()[0], tile_h, tile_w);
  draw_text(canvas, canvas.width() / 2, kMargin, title, plot::kTextColor, Font::Bold, Align::Center);
  const plot::Color negative{33, 102, 172}, positive{178, 24, 43};
  const int left = (canvas.width() - columns * stride) / 2 + 3;
  for (int u = 0; u < units; ++u) {
    const float* row = w.data<float>() + static_cast<int64_t>(u) * tile;
    float extent = 0;
    for (int i = 0; i < tile; ++i) extent = std::max(extent, std::abs(row[i]));
    const int x0 = left + (u % columns) * stride, y0 = kGridTop + (u / columns) * stride;
    for (int i = 0; i < tile; ++i) {
      const double v = extent > 0 ? row[i] / extent : 0.0;
      canvas.fill_rect({x0 + (i % tile_w) * scale, y0 + (i / tile_w) * scale, scale, scale},
                       plot::mix(plot::kWhite, v < 0 ? negative : positive, std::abs(v)));
    }
    canvas.stroke_rect({x0 - 1, y0 - 1, tile_w * scale + 2, tile_h * scale + 2}, plot::kGridColor);
  }
  return canvas;
}

// ---- sweep ----

plot::Canvas sweep_figure(const std::vector<SweepPoint>& points) {
  if (points.empty()) throw Error("sweep: no results to draw");
  const std::size_t settings = points[0].settings.size();
  const int panel_width = 440, panel_height = 340, columns = static_cast<int>(std::min<std::size_t>(settings, 3));
  const int rows = static_cast<int>((settings + columns - 1) / columns);
  Canvas canvas(columns * panel_width, rows * panel_height);
  const auto best = std::max_element(points.begin(), points.end(), [](const SweepPoint& a, const SweepPoint& b) {
    return a.val_accuracy < b.val_accuracy;
  });
  for (std::size_t s = 0; s < settings; ++s) {
    // The setting's values in numeric order when they are numbers, else as first seen.
    std::vector<std::string> values;
    for (const SweepPoint& p : points)
      if (std::find(values.begin(), values.end(), p.settings[s].second) == values.end())
        values.push_back(p.settings[s].second);
    auto number = [](const std::string& v) {
      char* end = nullptr;
      const double x = std::strtod(v.c_str(), &end);
      return end != v.c_str() && *end == '\0' ? x : NAN;
    };
    if (std::all_of(values.begin(), values.end(), [&](const std::string& v) { return std::isfinite(number(v)); }))
      std::sort(values.begin(), values.end(),
                [&](const std::string& a, const std::string& b) { return number(a) < number(b); });
    auto position = [&](const SweepPoint& p) {
      return static_cast<double>(std::find(values.begin(), values.end(), p.settings[s].second) - values.begin());
    };
    plot::Series all{"run", {}, {}, plot::palette(0), false, true};
    plot::Series top{"best", {position(*best)}, {100 * best->val_accuracy}, plot::kRed, false, true};
    for (const SweepPoint& p : points) {
      all.x.push_back(position(p));
      all.y.push_back(100 * p.val_accuracy);
    }
    const std::string& name = points[0].settings[s].first;
    const plot::Chart chart{
        fmt::format("Validation accuracy by {}", name), name, "validation accuracy (%)", {all, top}, values};
    plot::draw_chart(canvas,
                     {static_cast<int>(s % columns) * panel_width, static_cast<int>(s / columns) * panel_height,
                      panel_width, panel_height},
                     chart);
  }
  return canvas;
}

// ---- files ----

bool write_figure(const std::string& path, const std::function<plot::Canvas()>& draw, std::string* png) {
  try {
    std::string bytes = draw().encode_png();
    minigrad::write_file_atomic(path, bytes);
    if (png) *png = std::move(bytes);
    return true;
  } catch (const std::exception& e) {
    fmt::print(stderr, "warning: figure {} not written: {}\n", path, e.what());
    return false;
  }
}

std::vector<Figure> write_figures(const std::string& run_dir, const FigureInputs& in) {
  std::vector<std::pair<std::string, std::function<Canvas()>>> figures;
  if (in.history && !in.history->empty())
    figures.emplace_back("curves.png", [&] { return curves_figure(*in.history, in.best_epoch); });
  if (in.test) figures.emplace_back("confusion.png", [&] { return confusion_figure(in.test->confusion); });
  if (in.test && in.test_images) {
    figures.emplace_back("samples.png", [&] { return samples_figure(*in.test_images, *in.test); });
    figures.emplace_back("mistakes.png", [&] { return mistakes_figure(*in.test_images, *in.test); });
  }
  if (in.model)
    figures.emplace_back("weights.png", [&] {
      const std::vector<mg::Tensor> params = in.model->parameters();
      if (params.empty()) throw Error("the model has no parameters");
      return weights_figure(params[0]);
    });
  std::vector<Figure> written;
  for (const auto& [file, draw] : figures) {
    Figure figure{file, {}};
    if (write_figure(run_dir + "/" + file, draw, &figure.png)) written.push_back(std::move(figure));
  }
  return written;
}

std::vector<RunCurves> load_runs(const std::vector<std::string>& run_dirs) {
  std::vector<RunCurves> runs;
  for (const std::string& dir : run_dirs) {
    RunCurves run{std::filesystem::path(dir).lexically_normal().filename().string(),
                  read_metrics_csv(dir + "/metrics.csv")};
    if (run.name.empty()) run.name = dir;
    if (std::filesystem::exists(dir + "/config.toml")) {
      TrainConfig config;
      load_config_file(dir + "/config.toml", config);
      run.name += fmt::format(" ({}, lr {})", config.optimizer, config.lr);
    }
    runs.push_back(std::move(run));
  }
  return runs;
}

std::vector<EpochRecord> read_metrics_csv(const std::string& path) {
  std::istringstream in(minigrad::read_file_limited(path, kMaxMetricsBytes, "a fashion_mlp metrics.csv"));
  std::string line;
  const std::string header = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds";
  if (!std::getline(in, line) || line.rfind(header, 0) != 0)
    throw Error(fmt::format("{}:1: not a fashion_mlp metrics.csv (expected the header '{}')", path, header));
  std::vector<EpochRecord> history;
  for (int number = 2; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    std::vector<double> fields;
    std::istringstream row(line);
    for (std::string cell; std::getline(row, cell, ',');) {
      char* end = nullptr;
      fields.push_back(std::strtod(cell.c_str(), &end));
      if (end == cell.c_str() || *end != '\0')
        throw Error(fmt::format("{}:{}: '{}' is not a number", path, number, cell));
    }
    // Runs written before skipped_steps was recorded have 7 columns.
    if (fields.size() != 7 && fields.size() != 8)
      throw Error(fmt::format("{}:{}: expected 8 fields, got {}", path, number, fields.size()));
    history.push_back({static_cast<int64_t>(fields[0]), fields[1], fields[2], fields[3], fields[4], fields[5],
                       fields[6], fields.size() == 8 ? static_cast<int64_t>(fields[7]) : 0});
  }
  if (history.empty()) throw Error(fmt::format("{}: no epochs recorded", path));
  return history;
}

}  // namespace fashion
