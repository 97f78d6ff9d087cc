#pragma once
// An RGB raster with anti-aliased drawing primitives, saved as PNG (stb_image_write). The
// figures of apps/ draw on it; text is in text.h, axes and charts in chart.h.
#include <cstdint>
#include <string>
#include <vector>

namespace plot {

struct Color {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Color&) const = default;
};

inline constexpr Color kWhite{255, 255, 255};
inline constexpr Color kBlack{0, 0, 0};
inline constexpr Color kTextColor{40, 40, 40};
inline constexpr Color kMutedText{100, 100, 100};
inline constexpr Color kGridColor{228, 228, 228};
inline constexpr Color kAxisColor{120, 120, 120};
inline constexpr Color kRed{214, 39, 40};
inline constexpr Color kGreen{30, 130, 50};

// a + (b - a) t, per channel.
Color mix(Color a, Color b, double t);
// The i-th colour of a 10-colour qualitative palette (Tableau 10), for series and runs.
Color palette(int i);
// Perceptually uniform dark-blue -> green -> yellow map (viridis) for heat maps; t in [0, 1].
Color viridis(double t);
// Black or white, whichever reads better on `background`.
Color text_color_on(Color background);

struct Point {
  double x, y;
};

struct Rect {
  int x, y, width, height;
  int right() const { return x + width; }
  int bottom() const { return y + height; }
};

class Canvas {
 public:
  Canvas(int width, int height, Color background = kWhite);

  int width() const { return width_; }
  int height() const { return height_; }
  Color pixel(int x, int y) const;
  // Paints `c` over the pixel with opacity alpha in [0, 1]; pixels outside the canvas are ignored.
  void blend(int x, int y, Color c, double alpha);

  void fill_rect(const Rect& r, Color c);
  void stroke_rect(const Rect& r, Color c, int thickness = 1);
  // A polyline of the given width, anti-aliased, joints without double-painted overlaps;
  // dash > 0 draws dashes and gaps of that length.
  void polyline(const std::vector<Point>& points, Color c, double width = 1.0, double dash = 0.0);
  void line(Point a, Point b, Color c, double width = 1.0) { polyline({a, b}, c, width); }
  void disc(Point center, double radius, Color c);
  // A grayscale image (values in [0, 1], row-major) drawn at `scale` pixels per value.
  void gray_image(int x, int y, const std::vector<float>& values, int width, int height, int scale);

  // The PNG file's bytes; save_png writes them atomically.
  std::string encode_png() const;
  void save_png(const std::string& path) const;

 private:
  int width_, height_;
  std::vector<uint8_t> rgb_;
};

}  // namespace plot
