#include <minigrad/data/dataset.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <functional>
#include <numeric>
#include <stdexcept>

#include <fmt/format.h>

#include <minigrad/threads.h>

#include "dataset_util.h"

namespace minigrad::data {

namespace detail {

void check_dataset(const Dataset& dataset, std::string_view who) {
  const Tensor& x = dataset.images;
  const Tensor& y = dataset.labels;
  if (!x.defined() || !y.defined())
    throw std::invalid_argument(
        fmt::format("{}: the dataset's {} tensor is undefined", who, x.defined() ? "labels" : "images"));
  if (x.dtype() != kFloat32 || x.dim() != 2)
    throw std::invalid_argument(
        fmt::format("{}: images must be float32 [N, features], got {} {}", who, x.dtype(), shape_str(x.shape())));
  if (y.dtype() != kInt64 || y.dim() != 1)
    throw std::invalid_argument(
        fmt::format("{}: labels must be int64 [N], got {} {}", who, y.dtype(), shape_str(y.shape())));
  if (x.size(0) != y.size(0))
    throw std::invalid_argument(fmt::format("{}: {} images but {} labels", who, x.size(0), y.size(0)));
  const ImageGeometry& g = dataset.geometry;
  if (!g.empty() && (g.channels <= 0 || g.height <= 0 || g.width <= 0 || g.numel() != x.size(1)))
    throw std::invalid_argument(fmt::format("{}: geometry {}x{}x{} (C x H x W) does not fit images of {} features", who,
                                            g.channels, g.height, g.width, x.size(1)));
}

Tensor gather_rows(const Tensor& src, const int64_t* rows, int64_t count) {
  Shape shape = src.shape();
  const int64_t row_elems = std::accumulate(shape.begin() + 1, shape.end(), int64_t{1}, std::multiplies<>());
  const size_t row_bytes = static_cast<size_t>(row_elems) * dtype_size(src.dtype());
  shape[0] = count;
  Tensor out = empty(shape, {.dtype = src.dtype()});
  const auto* from = static_cast<const std::byte*>(src.raw_data());
  auto* to = static_cast<std::byte*>(out.raw_data());
  // A batch of images is ~400 KB of scattered rows: worth both threads once rows are large.
  const auto grain = std::max<int64_t>(1, (int64_t{1} << 16) / static_cast<int64_t>(std::max<size_t>(row_bytes, 1)));
  parallel_for(count, grain, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k)
      std::memcpy(to + static_cast<size_t>(k) * row_bytes, from + static_cast<size_t>(rows[k]) * row_bytes, row_bytes);
  });
  return out;
}

std::vector<int64_t> random_permutation(int64_t n, Generator& gen) {
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), int64_t{0});
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(perm[static_cast<size_t>(i)], perm[gen.below(static_cast<uint64_t>(i) + 1)]);
  return perm;
}

}  // namespace detail

int64_t Dataset::size() const { return images.defined() ? images.size(0) : 0; }

Dataset Dataset::subset(const std::vector<int64_t>& indices) const {
  detail::check_dataset(*this, "Dataset::subset");
  const int64_t n = size();
  for (size_t k = 0; k < indices.size(); ++k) {
    if (indices[k] < 0 || indices[k] >= n)
      throw std::out_of_range(
          fmt::format("Dataset::subset: index {} (at position {}) is out of range for {} samples", indices[k], k, n));
  }
  const auto count = static_cast<int64_t>(indices.size());
  return {detail::gather_rows(images, indices.data(), count), detail::gather_rows(labels, indices.data(), count),
          geometry};
}

Dataset Dataset::head(int64_t n) const {
  if (n < 0) throw std::invalid_argument(fmt::format("Dataset::head: n is {}; it must be >= 0", n));
  std::vector<int64_t> first(static_cast<size_t>(std::min(n, size())));
  std::iota(first.begin(), first.end(), int64_t{0});
  return subset(first);
}

Dataset to_dataset(const ImageSet& set) {
  const int64_t plane = set.rows * set.cols;
  if (set.count < 0 || set.rows < 0 || set.cols < 0 || set.pixels.size() != static_cast<size_t>(set.count * plane) ||
      set.labels.size() != static_cast<size_t>(set.count))
    throw std::invalid_argument(
        fmt::format("to_dataset: an ImageSet of {} images of {}x{} needs {} pixels and {} labels, it has {} and {}",
                    set.count, set.rows, set.cols, set.count * plane, set.count, set.pixels.size(), set.labels.size()));

  // A table lookup is exact and as fast as the conversion can be (no division per pixel).
  std::array<float, 256> scale;
  for (int v = 0; v < 256; ++v) scale[v] = static_cast<float>(v) / 255.0f;

  Dataset ds{empty({set.count, plane}), empty({set.count}, {.dtype = kInt64}), {1, set.rows, set.cols}};
  float* x = ds.images.data<float>();
  const uint8_t* p = set.pixels.data();
  const int64_t total = set.count * plane;
  parallel_for(total, int64_t{1} << 18, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) x[i] = scale[p[i]];
  });
  std::copy(set.labels.begin(), set.labels.end(), ds.labels.data<int64_t>());
  return ds;
}

Dataset load_fashion_mnist_dataset(const std::string& dir, Split split) {
  return to_dataset(load_fashion_mnist(dir, split));
}

std::pair<Dataset, Dataset> train_val_split(const Dataset& dataset, double val_fraction, uint64_t seed) {
  if (!(val_fraction >= 0.0 && val_fraction < 1.0))
    throw std::invalid_argument(fmt::format("train_val_split: val_fraction is {}; it must be in [0, 1)", val_fraction));
  detail::check_dataset(dataset, "train_val_split");
  const int64_t n = dataset.size();
  const auto n_val = static_cast<int64_t>(std::llround(val_fraction * static_cast<double>(n)));

  Generator gen(seed);
  std::vector<int64_t> perm = detail::random_permutation(n, gen);
  std::vector<int64_t> val(perm.begin(), perm.begin() + n_val), train(perm.begin() + n_val, perm.end());
  // Sorted, so that each part keeps the dataset's order: the split decides membership only.
  std::sort(val.begin(), val.end());
  std::sort(train.begin(), train.end());
  return {dataset.subset(train), dataset.subset(val)};
}

}  // namespace minigrad::data
