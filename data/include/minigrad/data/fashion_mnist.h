// minigrad/data/fashion_mnist.h - Fashion-MNIST (and any MNIST-like IDX pair) as plain buffers.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <minigrad/data/error.h>

namespace minigrad::data {

// count images of rows x cols unsigned bytes, row-major (pixels.size() == count*rows*cols),
// and one label per image (labels.size() == count), each in 0..num_classes-1.
struct ImageSet {
  int64_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;
  std::vector<uint8_t> labels;
};

// Every Fashion-MNIST image is kFashionMnistSide x kFashionMnistSide grayscale, of one of ten classes.
inline constexpr int64_t kFashionMnistSide = 28;
inline constexpr int64_t kFashionMnistPixels = kFashionMnistSide * kFashionMnistSide;
inline constexpr int kFashionMnistClasses = 10;

enum class Split { Train, Test };

// Reads a 3-D IDX file of images and a 1-D IDX file of labels (each raw or gzipped) and checks
// that they agree: as many labels as images, every label < num_classes (1..256).
ImageSet load_idx_pair(const std::string& images_path, const std::string& labels_path, int num_classes = 10);

// Loads the train (60,000) or test (10,000) split from dir, which holds its two files under
// their usual names, each either gzipped (train-images-idx3-ubyte.gz) or not
// (train-images-idx3-ubyte); the .gz name is preferred when both exist. Images of any size
// other than 28x28 are refused.
ImageSet load_fashion_mnist(const std::string& dir, Split split);

// A non-empty cli_dir is authoritative: returned when it holds the images and labels files of
// every split in `splits`, an error naming it otherwise. Else returns the first of
// $FASHION_MNIST_DIR (if set), ./data/fashion-mnist, /usr/share/datasets/fashion-mnist that holds
// them, or throws DataError listing every place it looked, and why it was rejected, plus how to
// get the data.
std::string find_fashion_mnist(const std::string& cli_dir = {},
                               std::initializer_list<Split> splits = {Split::Train, Split::Test});

// Class names indexed by label: T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt,
// Sneaker, Bag, Ankle boot.
const std::array<std::string_view, kFashionMnistClasses>& fashion_mnist_classes();

}  // namespace minigrad::data
