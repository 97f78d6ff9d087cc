#include "canvas.h"

#include <algorithm>
#include <array>
#include <cmath>

#include <fmt/format.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>

#include <minigrad/io.h>
#include <minigrad/tensor.h>

namespace plot {

Color mix(Color a, Color b, double t) {
  auto channel = [t](uint8_t x, uint8_t y) { return static_cast<uint8_t>(std::lround(x + (y - x) * t)); };
  return {channel(a.r, b.r), channel(a.g, b.g), channel(a.b, b.b)};
}

Color palette(int i) {
  static constexpr std::array<Color, 10> kTableau{{{31, 119, 180},
                                                   {255, 127, 14},
                                                   {44, 160, 44},
                                                   {214, 39, 40},
                                                   {148, 103, 189},
                                                   {140, 86, 75},
                                                   {227, 119, 194},
                                                   {127, 127, 127},
                                                   {188, 189, 34},
                                                   {23, 190, 207}}};
  return kTableau[static_cast<std::size_t>(i) % kTableau.size()];
}

Color viridis(double t) {
  // Nine samples of matplotlib's viridis, linearly interpolated.
  static constexpr std::array<Color, 9> kStops{{{68, 1, 84},
                                                {71, 45, 123},
                                                {59, 82, 139},
                                                {44, 114, 142},
                                                {33, 145, 140},
                                                {39, 173, 129},
                                                {92, 200, 99},
                                                {170, 220, 50},
                                                {253, 231, 37}}};
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0) * (kStops.size() - 1);
  const auto i = std::min<std::size_t>(static_cast<std::size_t>(t), kStops.size() - 2);
  return mix(kStops[i], kStops[i + 1], t - i);
}

Color text_color_on(Color bg) {
  const double luminance = 0.299 * bg.r + 0.587 * bg.g + 0.114 * bg.b;
  return luminance > 140 ? kBlack : kWhite;
}

Canvas::Canvas(int width, int height, Color background) : width_(width), height_(height) {
  if (width <= 0 || height <= 0 || width > 16384 || height > 16384)
    throw minigrad::Error(fmt::format("plot: canvas size {}x{} is out of range", width, height));
  rgb_.resize(static_cast<std::size_t>(width) * height * 3);
  for (std::size_t i = 0; i < rgb_.size(); i += 3) {
    rgb_[i] = background.r;
    rgb_[i + 1] = background.g;
    rgb_[i + 2] = background.b;
  }
}

Color Canvas::pixel(int x, int y) const {
  if (x < 0 || y < 0 || x >= width_ || y >= height_)
    throw minigrad::Error(fmt::format("plot: pixel ({}, {}) is outside the {}x{} canvas", x, y, width_, height_));
  const uint8_t* p = &rgb_[(static_cast<std::size_t>(y) * width_ + x) * 3];
  return {p[0], p[1], p[2]};
}

void Canvas::blend(int x, int y, Color c, double alpha) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_ || alpha <= 0) return;
  uint8_t* p = &rgb_[(static_cast<std::size_t>(y) * width_ + x) * 3];
  const Color out = mix({p[0], p[1], p[2]}, c, std::min(alpha, 1.0));
  p[0] = out.r;
  p[1] = out.g;
  p[2] = out.b;
}

void Canvas::fill_rect(const Rect& r, Color c) {
  for (int y = std::max(r.y, 0); y < std::min(r.bottom(), height_); ++y)
    for (int x = std::max(r.x, 0); x < std::min(r.right(), width_); ++x) blend(x, y, c, 1.0);
}

void Canvas::stroke_rect(const Rect& r, Color c, int t) {
  fill_rect({r.x, r.y, r.width, t}, c);
  fill_rect({r.x, r.bottom() - t, r.width, t}, c);
  fill_rect({r.x, r.y + t, t, r.height - 2 * t}, c);
  fill_rect({r.right() - t, r.y + t, t, r.height - 2 * t}, c);
}

namespace {

double distance_to_segment(Point p, Point a, Point b) {
  const double dx = b.x - a.x, dy = b.y - a.y, length2 = dx * dx + dy * dy;
  const double t = length2 > 0 ? std::clamp(((p.x - a.x) * dx + (p.y - a.y) * dy) / length2, 0.0, 1.0) : 0.0;
  return std::hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy));
}

// The pieces of the polyline that are drawn: all of it, or its dashes.
std::vector<std::pair<Point, Point>> drawn_segments(const std::vector<Point>& points, double dash) {
  std::vector<std::pair<Point, Point>> out;
  double phase = 0;  // distance along the line, modulo one dash plus one gap
  for (std::size_t i = 1; i < points.size(); ++i) {
    const Point a = points[i - 1], b = points[i];
    const double length = std::hypot(b.x - a.x, b.y - a.y);
    if (dash <= 0 || length == 0) {
      out.emplace_back(a, b);
      continue;
    }
    for (double s = 0; s < length;) {
      const bool on = std::fmod(phase, 2 * dash) < dash;
      const double step = std::min(length - s, dash - std::fmod(phase, dash));
      auto at = [&](double d) { return Point{a.x + (b.x - a.x) * d / length, a.y + (b.y - a.y) * d / length}; };
      if (on) out.emplace_back(at(s), at(s + step));
      s += step;
      phase += step;
    }
  }
  return out;
}

}  // namespace

void Canvas::polyline(const std::vector<Point>& points, Color c, double width, double dash) {
  if (points.size() < 2) return;
  double x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
  for (const Point& p : points) {
    x0 = std::min(x0, p.x), y0 = std::min(y0, p.y), x1 = std::max(x1, p.x), y1 = std::max(y1, p.y);
  }
  const double reach = width / 2 + 1;
  const int left = std::max(0, static_cast<int>(std::floor(x0 - reach)));
  const int top = std::max(0, static_cast<int>(std::floor(y0 - reach)));
  const int right = std::min(width_ - 1, static_cast<int>(std::ceil(x1 + reach)));
  const int bottom = std::min(height_ - 1, static_cast<int>(std::ceil(y1 + reach)));
  if (left > right || top > bottom) return;
  // Coverage per pixel is the largest over the segments, painted once at the end, so joints are
  // not darker than the line. Each segment only visits the pixels near it.
  const int stride = right - left + 1;
  std::vector<float> coverage(static_cast<std::size_t>(stride) * (bottom - top + 1), 0.0f);
  for (const auto& [a, b] : drawn_segments(points, dash)) {
    const int sx0 = std::max(left, static_cast<int>(std::floor(std::min(a.x, b.x) - reach)));
    const int sx1 = std::min(right, static_cast<int>(std::ceil(std::max(a.x, b.x) + reach)));
    const int sy0 = std::max(top, static_cast<int>(std::floor(std::min(a.y, b.y) - reach)));
    const int sy1 = std::min(bottom, static_cast<int>(std::ceil(std::max(a.y, b.y) + reach)));
    for (int y = sy0; y <= sy1; ++y)
      for (int x = sx0; x <= sx1; ++x) {
        float& cell = coverage[static_cast<std::size_t>(y - top) * stride + (x - left)];
        cell = std::max(cell, static_cast<float>(width / 2 + 0.5 - distance_to_segment({x + 0.5, y + 0.5}, a, b)));
      }
  }
  for (int y = top; y <= bottom; ++y)
    for (int x = left; x <= right; ++x)
      blend(
          x, y, c,
          std::clamp(static_cast<double>(coverage[static_cast<std::size_t>(y - top) * stride + (x - left)]), 0.0, 1.0));
}

void Canvas::disc(Point center, double radius, Color c) {
  for (int y = static_cast<int>(std::floor(center.y - radius - 1));
       y <= static_cast<int>(std::ceil(center.y + radius + 1)); ++y)
    for (int x = static_cast<int>(std::floor(center.x - radius - 1));
         x <= static_cast<int>(std::ceil(center.x + radius + 1)); ++x)
      blend(x, y, c, std::clamp(radius + 0.5 - std::hypot(x + 0.5 - center.x, y + 0.5 - center.y), 0.0, 1.0));
}

void Canvas::gray_image(int x, int y, const std::vector<float>& values, int width, int height, int scale) {
  if (values.size() != static_cast<std::size_t>(width) * height)
    throw minigrad::Error(
        fmt::format("plot: gray image of {}x{} needs {} values, got {}", width, height, width * height, values.size()));
  for (int j = 0; j < height; ++j)
    for (int i = 0; i < width; ++i) {
      const auto v = static_cast<uint8_t>(std::lround(255 * std::clamp(values[j * width + i], 0.0f, 1.0f)));
      fill_rect({x + i * scale, y + j * scale, scale, scale}, {v, v, v});
    }
}

std::string Canvas::encode_png() const {
  std::string bytes;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), size);
  };
  if (!stbi_write_png_to_func(append, &bytes, width_, height_, 3, rgb_.data(), width_ * 3))
    throw minigrad::Error(fmt::format("plot: PNG encoding of a {}x{} image failed", width_, height_));
  return bytes;
}

void Canvas::save_png(const std::string& path) const { minigrad::write_file_atomic(path, encode_png()); }

}  // namespace plot
