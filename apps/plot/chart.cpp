#include "chart.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "text.h"

namespace plot {

Ticks nice_ticks(double lo, double hi, int target, bool integers) {
  Ticks ticks;
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return ticks;
  const double rough = (hi - lo) / std::max(1, target);
  const double magnitude = std::pow(10.0, std::floor(std::log10(rough)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * magnitude >= rough) {
      step = m * magnitude;
      break;
    }
  if (integers) step = std::max(1.0, std::round(step));
  ticks.decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    ticks.values.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  return ticks;
}

std::string tick_label(double value, int decimals) { return fmt::format("{:.{}f}", value, decimals); }

namespace {

constexpr int kPad = 6;
constexpr double kMarkerRadius = 3.0;

struct Range {
  double lo = INFINITY, hi = -INFINITY;
  void add(double v) {
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  // Widened by `fraction` of the span on each side; a single value gets a unit-wide range.
  Range padded(double fraction) const {
    if (!(hi >= lo)) return {0, 1};
    if (hi == lo) return {lo - std::max(0.5, std::abs(lo) * 0.1), hi + std::max(0.5, std::abs(hi) * 0.1)};
    const double pad = (hi - lo) * fraction;
    return {lo - pad, hi + pad};
  }
};

// The legend's box in the plot corner covering the fewest data points.
Rect place_legend(const Rect& plot, int width, int height, const std::vector<Point>& points) {
  const int m = 8;
  const Rect corners[] = {{plot.right() - width - m, plot.y + m, width, height},
                          {plot.right() - width - m, plot.bottom() - height - m, width, height},
                          {plot.x + m, plot.bottom() - height - m, width, height},
                          {plot.x + m, plot.y + m, width, height}};
  const Rect* best = &corners[0];
  std::size_t fewest = SIZE_MAX;
  for (const Rect& r : corners) {
    const auto inside = static_cast<std::size_t>(std::count_if(points.begin(), points.end(), [&](const Point& p) {
      return p.x >= r.x - 4 && p.x <= r.right() + 4 && p.y >= r.y - 4 && p.y <= r.bottom() + 4;
    }));
    if (inside < fewest) fewest = inside, best = &r;
  }
  return *best;
}

void draw_legend(Canvas& canvas, const Rect& plot, const Chart& chart, const std::vector<Point>& points) {
  std::vector<const Series*> shown;
  for (const Series& s : chart.series)
    if (!s.label.empty()) shown.push_back(&s);
  if (shown.empty()) return;
  const int row = line_height() + 4, sample = 24;
  const int max_label = plot.width / 2;
  int label_width = 0;
  for (const Series* s : shown) label_width = std::max(label_width, text_width(fit_text(s->label, max_label)));
  const Rect box =
      place_legend(plot, label_width + sample + 3 * kPad, static_cast<int>(shown.size()) * row + kPad, points);
  canvas.fill_rect(box, kWhite);
  canvas.stroke_rect(box, kGridColor);
  for (std::size_t i = 0; i < shown.size(); ++i) {
    const Series& s = *shown[i];
    const double cy = box.y + kPad / 2 + row * (i + 0.5);
    const double x0 = box.x + kPad, x1 = x0 + sample;
    if (s.line) canvas.polyline({{x0, cy}, {x1, cy}}, s.color, 2.0, s.dashed ? 4.0 : 0.0);
    if (s.markers) canvas.disc({(x0 + x1) / 2, cy}, kMarkerRadius, s.color);
    draw_text(canvas, static_cast<int>(x1) + kPad, static_cast<int>(cy), fit_text(s.label, max_label), kTextColor,
              Font::Regular, Align::Left, VAlign::Middle);
  }
}

}  // namespace

void draw_chart(Canvas& canvas, const Rect& area, const Chart& chart) {
  Range xr, yr;
  for (const Series& s : chart.series) {
    if (s.x.size() != s.y.size())
      throw std::invalid_argument(
          fmt::format("plot: series '{}' has {} x and {} y values", s.label, s.x.size(), s.y.size()));
    for (std::size_t i = 0; i < s.x.size(); ++i)
      if (std::isfinite(s.y[i])) xr.add(s.x[i]), yr.add(s.y[i]);
  }
  const bool categorical = !chart.x_categories.empty();
  if (categorical)
    xr = {-0.5, chart.x_categories.size() - 0.5};
  else
    xr = xr.padded(0.03);
  yr = yr.padded(0.06);
  const Ticks y_ticks = nice_ticks(yr.lo, yr.hi, std::max(3, area.height / 60));

  // Margins: title above; y tick labels and the y label on the left; x ticks and label below.
  const int lh = line_height();
  int y_tick_width = 0;
  for (double v : y_ticks.values) y_tick_width = std::max(y_tick_width, text_width(tick_label(v, y_ticks.decimals)));
  const int top = area.y + (chart.title.empty() ? kPad : line_height(Font::Bold) + 2 * kPad);
  const int left = area.x + kPad + (chart.y_label.empty() ? 0 : lh + kPad) + y_tick_width + kPad + 4;
  const int bottom = area.bottom() - kPad - (chart.x_label.empty() ? 0 : lh + kPad) - lh - 4 - kPad;
  const int right = area.right() - 3 * kPad;
  const Rect plot{left, top, right - left, bottom - top};
  if (plot.width < 40 || plot.height < 40)
    throw std::invalid_argument(
        fmt::format("plot: {}x{} is too small for the chart '{}'", area.width, area.height, chart.title));
  auto px = [&](double x) { return plot.x + (x - xr.lo) / (xr.hi - xr.lo) * plot.width; };
  auto py = [&](double y) { return plot.bottom() - (y - yr.lo) / (yr.hi - yr.lo) * plot.height; };

  if (!chart.title.empty())
    draw_text(canvas, plot.x + plot.width / 2, area.y + kPad, chart.title, kTextColor, Font::Bold, Align::Center);
  // Grid and y ticks.
  for (double v : y_ticks.values) {
    const int y = static_cast<int>(std::lround(py(v)));
    canvas.fill_rect({plot.x, y, plot.width, 1}, kGridColor);
    canvas.fill_rect({plot.x - 4, y, 4, 1}, kAxisColor);
    draw_text(canvas, plot.x - 4 - kPad, y, tick_label(v, y_ticks.decimals), kTextColor, Font::Regular, Align::Right,
              VAlign::Middle);
  }
  // x ticks: every category, or round numbers spaced so their labels do not touch.
  std::vector<std::pair<double, std::string>> x_ticks;
  if (categorical) {
    const int slot = std::max(8, plot.width / static_cast<int>(chart.x_categories.size()) - kPad);
    for (std::size_t i = 0; i < chart.x_categories.size(); ++i)
      x_ticks.emplace_back(i, fit_text(chart.x_categories[i], slot));
  } else {
    const int widest = std::max(text_width(tick_label(xr.hi, 2)), text_width(tick_label(xr.lo, 2)));
    const Ticks t = nice_ticks(xr.lo, xr.hi, std::clamp(plot.width / (widest + 30), 2, 10), chart.integer_x);
    for (double v : t.values) x_ticks.emplace_back(v, tick_label(v, t.decimals));
  }
  for (const auto& [v, label] : x_ticks) {
    const int x = static_cast<int>(std::lround(px(v)));
    if (!categorical) canvas.fill_rect({x, plot.y, 1, plot.height}, kGridColor);
    canvas.fill_rect({x, plot.bottom(), 1, 4}, kAxisColor);
    draw_text(canvas, x, plot.bottom() + 4 + kPad / 2, label, kTextColor, Font::Regular, Align::Center);
  }
  canvas.fill_rect({plot.x, plot.y, 1, plot.height + 1}, kAxisColor);
  canvas.fill_rect({plot.x, plot.bottom(), plot.width, 1}, kAxisColor);
  if (!chart.x_label.empty())
    draw_text(canvas, plot.x + plot.width / 2, area.bottom() - kPad, chart.x_label, kTextColor, Font::Regular,
              Align::Center, VAlign::Bottom);
  if (!chart.y_label.empty())
    draw_text_vertical(canvas, area.x + kPad + lh / 2, plot.y + plot.height / 2, chart.y_label, kTextColor);

  std::vector<Point> all_points;
  for (const Series& s : chart.series) {
    std::vector<Point> run;
    auto flush = [&] {
      if (s.line) canvas.polyline(run, s.color, 2.0, s.dashed ? 6.0 : 0.0);
      run.clear();
    };
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        flush();
        continue;
      }
      run.push_back({px(s.x[i]), py(s.y[i])});
      all_points.push_back(run.back());
    }
    flush();
    if (s.markers)
      for (std::size_t i = 0; i < s.x.size(); ++i)
        if (std::isfinite(s.x[i]) && std::isfinite(s.y[i]))
          canvas.disc({px(s.x[i]), py(s.y[i])}, kMarkerRadius, s.color);
  }
  draw_legend(canvas, plot, chart, all_points);
}

double color_scale(double v, double hi, bool log_scale) {
  if (!(hi > 0)) return 0.0;
  return std::clamp(log_scale ? std::log1p(std::max(v, 0.0)) / std::log1p(hi) : v / hi, 0.0, 1.0);
}

void draw_colorbar(Canvas& canvas, const Rect& area, double hi, const std::string& label, bool log_scale) {
  const int bar_width = 14, lh = line_height();
  const Rect bar{area.x, area.y + lh / 2, bar_width, area.height - lh};
  for (int y = 0; y < bar.height; ++y)
    canvas.fill_rect({bar.x, bar.bottom() - 1 - y, bar.width, 1},
                     viridis(static_cast<double>(y) / std::max(1, bar.height - 1)));
  canvas.stroke_rect(bar, kAxisColor);
  Ticks ticks;
  if (log_scale)
    for (double v = 1; v <= hi; v *= 10) ticks.values.push_back(v);
  else
    ticks = nice_ticks(0, hi, 5);
  if (log_scale) ticks.values.insert(ticks.values.begin(), 0.0);
  int widest = 0;
  for (double v : ticks.values) {
    const int y = static_cast<int>(std::lround(bar.bottom() - 1 - color_scale(v, hi, log_scale) * (bar.height - 1)));
    const std::string text = tick_label(v, ticks.decimals);
    canvas.fill_rect({bar.right(), y, 4, 1}, kAxisColor);
    draw_text(canvas, bar.right() + 4 + 3, y, text, kTextColor, Font::Regular, Align::Left, VAlign::Middle);
    widest = std::max(widest, text_width(text));
  }
  if (!label.empty())
    draw_text_vertical(canvas, bar.right() + 4 + 3 + widest + kPad + lh / 2, bar.y + bar.height / 2, label, kTextColor);
}

}  // namespace plot
