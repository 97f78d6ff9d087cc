// minigrad/data/transforms.h - normalisation and augmentation of image datasets and batches.
#pragma once

#include <cstdint>

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

struct Augmentation {
    int max_shift = 0;             // shift by -max_shift..max_shift pixels in x and in y
    bool horizontal_flip = false;  // mirror left-right with probability 0.5
    bool enabled() const { return max_shift > 0 || horizontal_flip; }
};

// Augments each image of images (float32 [B, rows*cols]) in place, drawing from gen: a random
// shift in x and y, uniform in -max_shift..max_shift, with the uncovered pixels set to the
// image's minimum (its background, whatever normalisation came before), then a horizontal flip
// with probability 0.5. Does nothing, and draws nothing, when !augmentation.enabled().
// Throws std::invalid_argument when max_shift < 0 or images is not float32 [B, rows*cols].
void augment_batch(Tensor& images, int64_t rows, int64_t cols, const Augmentation& augmentation,
                   Generator& gen);

// Every image of images (float32 [B, rows*cols]) mirrored left-right, in a new tensor: the
// deterministic view that test-time augmentation averages with the original. Throws
// std::invalid_argument for the same bad shapes as augment_batch.
Tensor flip_horizontal(const Tensor& images, int64_t rows, int64_t cols);

}  // namespace minigrad::data
