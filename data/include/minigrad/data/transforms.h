// minigrad/data/transforms.h - normalisation and augmentation of image datasets and batches.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include <minigrad/data/dataset.h>
#include <minigrad/random.h>
#include <minigrad/tensor.h>

namespace minigrad::data {

// x -> (x - mean) / std, with one mean and std for every pixel.
struct Standardization {
  double mean = 0.0;
  double std = 1.0;
};

// Mean and (population) standard deviation of all of train's pixels. Fit on the training split
// only and apply to every split, so that no statistic leaks from validation or test data.
// A constant dataset gets std 1 (it is centred, not divided by zero). Throws
// std::invalid_argument when train is empty.
Standardization fit_standardization(const Dataset& train);

// Applies s to dataset.images in place (other Datasets sharing the buffer see it too). Throws
// std::invalid_argument when s.std is not a positive finite number.
void standardize(Dataset& dataset, const Standardization& s);

// Each image, in place, to zero mean and unit standard deviation over its own pixels. A constant
// image becomes all zeros.
void standardize_per_image(Dataset& dataset);

// PyTorch's RandomErasing (its defaults): with probability p, one rectangle covering a fraction
// `scale` of the image with aspect ratio (height / width) in `ratio` (log-uniform) is set to
// `value` in every channel; when 10 tries find no rectangle that fits, the image stays as it is.
struct RandomErasing {
  double p = 0.5;
  std::array<double, 2> scale = {0.02, 0.33};
  std::array<double, 2> ratio = {0.3, 3.3};
  float value = 0.0f;
};

// Applied in this order: shift (random crop), horizontal flip, erasing.
struct Augmentation {
  // Random crop with padding: shift by -max_shift..max_shift pixels in y and in x, as
  // RandomCrop(size, padding = max_shift), the uncovered pixels set to `fill`; without a fill,
  // to each channel's minimum, the background of a raw image padded with zeros whatever
  // normalisation came before.
  int max_shift = 0;
  std::optional<float> fill = {};
  bool horizontal_flip = false;  // mirror left-right with probability 0.5
  std::optional<RandomErasing> erasing = {};
  bool enabled() const { return max_shift > 0 || horizontal_flip || (erasing && erasing->p > 0.0); }
};

// Augments each image of images in place, drawing from gen image by image (dy, dx, flip, then
// erasing's draws; each drawn only when enabled), so the result depends on the generator's state
// and not on the number of threads. images is float32 [B, C*H*W] or [B, C, H, W] for geometry
// (C, H, W). Does nothing, and draws nothing, when !augmentation.enabled(). Allocates nothing
// once a thread has seen an image of this size. Throws std::invalid_argument for a negative
// max_shift, an erasing p outside [0, 1], scale outside 0 <= lo <= hi <= 1, ratio not
// 0 < lo <= hi, or images of another dtype or shape.
void augment_batch(Tensor& images, const ImageGeometry& geometry, const Augmentation& augmentation, Generator& gen);

// Every image of images (float32 [B, C*H*W] or [B, C, H, W]) mirrored left-right, in a new tensor
// of the same shape: the deterministic view that test-time augmentation averages with the
// original. Throws std::invalid_argument for the same bad shapes as augment_batch.
Tensor flip_horizontal(const Tensor& images, const ImageGeometry& geometry);

}  // namespace minigrad::data
