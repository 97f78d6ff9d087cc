#pragma once
// Line and scatter charts with axes, round-number ticks, grid, labels and a legend; and a colour
// bar for heat maps.
#include <string>
#include <vector>

#include "canvas.h"

namespace plot {

struct Series {
  std::string label;         // shown in the legend (none when empty)
  std::vector<double> x, y;  // non-finite points are skipped and break the line
  Color color;
  bool line = true;
  bool markers = true;
  bool dashed = false;
};

struct Chart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  // When given, x values are indices into these names, one tick each (a categorical axis).
  std::vector<std::string> x_categories;
  bool integer_x = false;  // ticks only at whole numbers (epochs)
};

// Round-number ticks (1, 2 or 5 times a power of ten) inside [lo, hi], about `target` of them,
// and the decimals their labels need.
struct Ticks {
  std::vector<double> values;
  int decimals = 0;
};
Ticks nice_ticks(double lo, double hi, int target, bool integers = false);
std::string tick_label(double value, int decimals);

// Draws the chart inside `area` (the title, labels and legend included).
void draw_chart(Canvas& canvas, const Rect& area, const Chart& chart);

// Where v falls on a colour scale from 0 to hi in [0, 1]: linear, or logarithmic (log(1 + v),
// which keeps small counts apart from zero and from each other).
double color_scale(double v, double hi, bool log_scale);
// A vertical viridis bar for 0 (bottom) to hi (top) with ticks and a label on its right; `area`
// includes the ticks and label.
void draw_colorbar(Canvas& canvas, const Rect& area, double hi, const std::string& label, bool log_scale = false);

}  // namespace plot
