// minigrad/data/dataset.h - images and labels as Tensors, subsets and the train/validation split.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <minigrad/data/fashion_mnist.h>
#include <minigrad/tensor.h>

namespace minigrad::data {

// The shape of one image: channels x height x width, stored row-major in one row of
// Dataset::images (channel planes one after another, as in an NCHW tensor).
struct ImageGeometry {
  int64_t channels = 0, height = 0, width = 0;

  int64_t numel() const { return channels * height * width; }
  bool empty() const { return channels == 0 && height == 0 && width == 0; }
  bool operator==(const ImageGeometry&) const = default;
};

// N samples: images float32 [N, features], labels int64 [N]. Images stay flat, so that an MLP
// takes them as they are; `geometry` (C, H, W with C*H*W == features) says how to see them as
// images: DataLoader hands out [B, C, H, W] batches when asked (a reshape sharing the buffer), and
// augmentations need it. Empty geometry means the features are not an image.
// Copying a Dataset shares the buffers (Tensors are handles); subset() and head() copy rows.
struct Dataset {
  Tensor images;
  Tensor labels;
  ImageGeometry geometry = {};

  int64_t size() const;  // N; 0 for a default-constructed Dataset
  // The samples at `indices`, in that order (repeats allowed). Throws std::out_of_range naming
  // the first index outside 0..size()-1 and its position.
  Dataset subset(const std::vector<int64_t>& indices) const;
  // The first min(n, size()) samples. Throws std::invalid_argument when n < 0.
  Dataset head(int64_t n) const;
};

// Pixels scaled from 0..255 to [0, 1], images flattened to [count, rows*cols], geometry
// (1, rows, cols). Throws
// std::invalid_argument when the buffers' sizes disagree with count, rows and cols.
Dataset to_dataset(const ImageSet& set);

// to_dataset(load_fashion_mnist(dir, split)).
Dataset load_fashion_mnist_dataset(const std::string& dir, Split split);

// Shuffles the indices with `seed`, then puts round(val_fraction * N) samples in the validation
// set (second) and the rest in the training set (first); each part keeps the original order.
// val_fraction 0 gives an empty validation set. Throws std::invalid_argument when val_fraction
// is not in [0, 1).
std::pair<Dataset, Dataset> train_val_split(const Dataset& dataset, double val_fraction, uint64_t seed);

}  // namespace minigrad::data
