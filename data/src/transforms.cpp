#include <minigrad/data/transforms.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include <minigrad/threads.h>

#include "dataset_util.h"

namespace minigrad::data {

namespace {

// Loops over images run in parallel in chunks of about this many pixels: enough work to pay for
// waking a thread.
constexpr int64_t kParallelPixels = int64_t{1} << 18;

// f(i) for every image i < n, in parallel chunks.
template <typename F>
void for_each_image(int64_t n, int64_t plane, F f) {
  parallel_for(n, std::max<int64_t>(1, kParallelPixels / std::max<int64_t>(plane, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) f(i);
  });
}

// Statistics in double, in two passes (the sum, then the squared deviations from the mean): the
// one-pass sum-of-squares formula loses digits when the mean is large against the spread.
double sum_of(const float* x, int64_t n) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  return sum;
}

double sum_squared_deviations(const float* x, int64_t n, double mean) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += (x[i] - mean) * (x[i] - mean);
  return sum;
}

// per_image(i) for every image in parallel, added up in image order, so that the total does not
// depend on the number of threads.
template <typename F>
double sum_over_images(int64_t n, int64_t plane, F per_image) {
  std::vector<double> partial(static_cast<size_t>(n));
  for_each_image(n, plane, [&](int64_t i) { partial[i] = per_image(i); });
  return std::accumulate(partial.begin(), partial.end(), 0.0);
}

// Constant data has std 0: divide by 1 instead, so it is centred rather than turned into NaN.
double usable_std(double std) { return std > 0.0 ? std : 1.0; }

void normalize(float* x, int64_t n, double mean, double std) {
  const auto m = static_cast<float>(mean);
  const auto inv = static_cast<float>(1.0 / std);
  for (int64_t i = 0; i < n; ++i) x[i] = (x[i] - m) * inv;
}

// images must be float32 [B, C*H*W] or [B, C, H, W] for a non-empty geometry.
void check_image_batch(const Tensor& images, const ImageGeometry& g, std::string_view op) {
  const bool valid_geometry = g.channels > 0 && g.height > 0 && g.width > 0;
  const bool flat = images.defined() && images.dim() == 2 && images.size(1) == g.numel();
  const bool nchw = images.defined() && images.dim() == 4 && images.size(1) == g.channels &&
                    images.size(2) == g.height && images.size(3) == g.width;
  if (!valid_geometry || !images.defined() || images.dtype() != kFloat32 || !(flat || nchw))
    throw std::invalid_argument(fmt::format(
        "{}: images must be float32 [B, C*H*W] or [B, C, H, W] with C {}, H {}, W {}, got {}", op, g.channels, g.height,
        g.width, images.defined() ? fmt::format("{} {}", images.dtype(), shape_str(images.shape())) : "undefined"));
}

void check_augmentation(const Augmentation& a) {
  if (a.max_shift < 0)
    throw std::invalid_argument(fmt::format("augment_batch: max_shift is {}; it must be >= 0", a.max_shift));
  if (!a.erasing) return;
  const RandomErasing& e = *a.erasing;
  if (!(e.p >= 0.0 && e.p <= 1.0))
    throw std::invalid_argument(fmt::format("augment_batch: erasing p is {}; it must be in [0, 1]", e.p));
  if (!(e.scale[0] >= 0.0 && e.scale[0] <= e.scale[1] && e.scale[1] <= 1.0))
    throw std::invalid_argument(fmt::format(
        "augment_batch: erasing scale is ({}, {}); it must satisfy 0 <= lo <= hi <= 1", e.scale[0], e.scale[1]));
  if (!(e.ratio[0] > 0.0 && e.ratio[0] <= e.ratio[1] && std::isfinite(e.ratio[1])))
    throw std::invalid_argument(
        fmt::format("augment_batch: erasing ratio is ({}, {}); it must satisfy 0 < lo <= hi", e.ratio[0], e.ratio[1]));
}

// Shifts each channel plane of img by (dy, dx), mirrored left-right when flipping; `source` is
// scratch for one plane.
void shift_and_flip(float* img, const ImageGeometry& g, int64_t dy, int64_t dx, bool flip, std::optional<float> fill,
                    std::vector<float>& source) {
  const int64_t rows = g.height, cols = g.width, plane = rows * cols;
  for (int64_t c = 0; c < g.channels; ++c) {
    float* p = img + c * plane;
    std::copy(p, p + plane, source.begin());
    const float background = fill ? *fill : *std::min_element(source.begin(), source.end());
    // Output pixel (y, x) comes from (y - dy, x - dx) of the plane, mirrored when flipping.
    for (int64_t y = 0; y < rows; ++y) {
      float* out = p + y * cols;
      const int64_t sy = y - dy;
      if (sy < 0 || sy >= rows) {
        std::fill(out, out + cols, background);
        continue;
      }
      const float* in = source.data() + sy * cols;
      for (int64_t xo = 0; xo < cols; ++xo) {
        const int64_t sx = xo - dx;
        out[xo] = sx < 0 || sx >= cols ? background : in[flip ? cols - 1 - sx : sx];
      }
    }
  }
}

// torchvision's RandomErasing.get_params and forward, drawing from gen in the same order.
void erase(float* img, const ImageGeometry& g, const RandomErasing& e, Generator& gen) {
  if (!gen.bernoulli(e.p)) return;
  const auto area = static_cast<double>(g.height * g.width);
  const double log_lo = std::log(e.ratio[0]), log_hi = std::log(e.ratio[1]);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double erase_area = area * (e.scale[0] + (e.scale[1] - e.scale[0]) * gen.uniform());
    const double aspect = std::exp(log_lo + (log_hi - log_lo) * gen.uniform());
    // Python's round() rounds halves to even, as nearbyint does in the default rounding mode.
    const auto h = static_cast<int64_t>(std::nearbyint(std::sqrt(erase_area * aspect)));
    const auto w = static_cast<int64_t>(std::nearbyint(std::sqrt(erase_area / aspect)));
    if (!(h < g.height && w < g.width)) continue;
    const auto top = static_cast<int64_t>(gen.below(static_cast<uint64_t>(g.height - h + 1)));
    const auto left = static_cast<int64_t>(gen.below(static_cast<uint64_t>(g.width - w + 1)));
    for (int64_t c = 0; c < g.channels; ++c)
      for (int64_t y = top; y < top + h; ++y) {
        float* row = img + (c * g.height + y) * g.width + left;
        std::fill(row, row + w, e.value);
      }
    return;
  }
}

}  // namespace

Standardization fit_standardization(const Dataset& train) {
  detail::check_dataset(train, "fit_standardization");
  const int64_t n = train.images.size(0), plane = train.images.size(1);
  if (n * plane == 0)
    throw std::invalid_argument(
        fmt::format("fit_standardization: the dataset is empty (images {})", shape_str(train.images.shape())));
  const float* x = train.images.data<float>();
  const auto count = static_cast<double>(n * plane);
  const double mean = sum_over_images(n, plane, [&](int64_t i) { return sum_of(x + i * plane, plane); }) / count;
  const double var =
      sum_over_images(n, plane, [&](int64_t i) { return sum_squared_deviations(x + i * plane, plane, mean); }) / count;
  return {mean, usable_std(std::sqrt(var))};
}

void standardize(Dataset& dataset, const Standardization& s) {
  if (!(s.std > 0.0 && std::isfinite(s.std) && std::isfinite(s.mean)))
    throw std::invalid_argument(
        fmt::format("standardize: mean {} and std {}; std must be positive and both finite", s.mean, s.std));
  detail::check_dataset(dataset, "standardize");
  const int64_t n = dataset.images.size(0), plane = dataset.images.size(1);
  float* x = dataset.images.data<float>();
  for_each_image(n, plane, [&](int64_t i) { normalize(x + i * plane, plane, s.mean, s.std); });
}

void standardize_per_image(Dataset& dataset) {
  detail::check_dataset(dataset, "standardize_per_image");
  const int64_t n = dataset.images.size(0), plane = dataset.images.size(1);
  if (plane == 0) return;
  float* x = dataset.images.data<float>();
  for_each_image(n, plane, [&](int64_t i) {
    float* img = x + i * plane;
    const double mean = sum_of(img, plane) / static_cast<double>(plane);
    const double std = std::sqrt(sum_squared_deviations(img, plane, mean) / static_cast<double>(plane));
    normalize(img, plane, mean, usable_std(std));
  });
}

void augment_batch(Tensor& images, const ImageGeometry& geometry, const Augmentation& augmentation, Generator& gen) {
  check_augmentation(augmentation);
  if (!augmentation.enabled()) return;
  check_image_batch(images, geometry, "augment_batch");

  const int64_t shift = augmentation.max_shift, size = geometry.numel();
  const bool erasing = augmentation.erasing && augmentation.erasing->p > 0.0;
  // One scratch plane per thread, kept between calls: no allocation per batch.
  thread_local std::vector<float> source;
  source.resize(static_cast<size_t>(geometry.height * geometry.width));
  float* x = images.data<float>();
  for (int64_t b = 0; b < images.size(0); ++b) {
    float* img = x + b * size;
    // Draw in a fixed order (dy, dx, flip, erasing) so a generator state always gives the same images.
    const int64_t dy = shift > 0 ? static_cast<int64_t>(gen.below(2 * shift + 1)) - shift : 0;
    const int64_t dx = shift > 0 ? static_cast<int64_t>(gen.below(2 * shift + 1)) - shift : 0;
    const bool flip = augmentation.horizontal_flip && gen.bernoulli(0.5);
    if (dy != 0 || dx != 0 || flip) shift_and_flip(img, geometry, dy, dx, flip, augmentation.fill, source);
    if (erasing) erase(img, geometry, *augmentation.erasing, gen);
  }
}

Tensor flip_horizontal(const Tensor& images, const ImageGeometry& geometry) {
  check_image_batch(images, geometry, "flip_horizontal");
  Tensor flipped = empty(images.shape());
  const float* in = images.data<float>();
  float* out = flipped.data<float>();
  const int64_t cols = geometry.width;
  for (int64_t r = 0; r < images.numel() / cols; ++r)
    std::reverse_copy(in + r * cols, in + (r + 1) * cols, out + r * cols);
  return flipped;
}

}  // namespace minigrad::data
