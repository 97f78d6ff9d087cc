#include <minigrad/data/fashion_mnist.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <minigrad/data/idx.h>

#include "file_util.h"

namespace minigrad::data {
namespace fs = std::filesystem;
using detail::fail;

namespace {

constexpr std::array<std::string_view, 4> kFileStems = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                                        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// dir/stem.gz if it exists, else dir/stem if it exists, else empty.
std::string resolve(const fs::path& dir, std::string_view stem) {
  fs::path gz = dir / (std::string(stem) + ".gz");
  if (is_file(gz)) return gz.string();
  fs::path raw = dir / std::string(stem);
  if (is_file(raw)) return raw.string();
  return {};
}

// The stems of the images and labels files of a split.
std::array<std::string_view, 2> stems_of(Split split) {
  return split == Split::Train ? std::array{kFileStems[0], kFileStems[1]} : std::array{kFileStems[2], kFileStems[3]};
}

// Empty when dir holds the files of every split in `splits`, else why not.
std::string why_not_here(const std::string& dir, std::initializer_list<Split> splits) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return "does not exist";
  if (!fs::is_directory(dir, ec)) return "is not a directory";
  std::string missing;
  for (Split split : splits)
    for (auto stem : stems_of(split)) {
      if (!resolve(dir, stem).empty()) continue;
      missing += missing.empty() ? "missing " : ", ";
      missing += std::string(stem) + "[.gz]";
    }
  return missing;
}

}  // namespace

ImageSet load_idx_pair(const std::string& images_path, const std::string& labels_path, int num_classes) {
  if (num_classes < 1 || num_classes > 256)
    throw std::invalid_argument("load_idx_pair: num_classes is " + std::to_string(num_classes) +
                                "; it must be in 1..256 for byte labels");
  IdxArray images = read_idx(images_path, 3);
  IdxArray labels = read_idx(labels_path, 1);
  if (labels.dims[0] != images.dims[0])
    fail(labels_path, "has " + std::to_string(labels.dims[0]) + " labels but " + images_path + " has " +
                          std::to_string(images.dims[0]) + " images");
  for (size_t i = 0; i < labels.bytes.size(); ++i) {
    if (labels.bytes[i] >= num_classes)
      fail(labels_path, "label at index " + std::to_string(i) + " is " + std::to_string(labels.bytes[i]) +
                            "; labels must be in 0.." + std::to_string(num_classes - 1));
  }
  ImageSet set;
  set.count = images.dims[0];
  set.rows = images.dims[1];
  set.cols = images.dims[2];
  set.pixels = std::move(images.bytes);
  set.labels = std::move(labels.bytes);
  return set;
}

ImageSet load_fashion_mnist(const std::string& dir, Split split) {
  const auto [images_stem, labels_stem] = stems_of(split);
  std::string images = resolve(dir, images_stem), labels = resolve(dir, labels_stem);
  for (auto [found, stem] : {std::pair{images, images_stem}, std::pair{labels, labels_stem}}) {
    if (found.empty())
      fail((fs::path(dir) / std::string(stem)).string(),
           "not found (looked for " + std::string(stem) + ".gz and " + std::string(stem) + " in " + dir + ")");
  }
  ImageSet set = load_idx_pair(images, labels, kFashionMnistClasses);
  if (set.rows != kFashionMnistSide || set.cols != kFashionMnistSide)
    fail(images, "images are " + std::to_string(set.rows) + "x" + std::to_string(set.cols) + ", Fashion-MNIST's are " +
                     std::to_string(kFashionMnistSide) + "x" + std::to_string(kFashionMnistSide));
  return set;
}

std::string find_fashion_mnist(const std::string& cli_dir, std::initializer_list<Split> splits) {
  // A directory the user named is authoritative: silently training on other data would be worse.
  if (!cli_dir.empty()) {
    const std::string why = why_not_here(cli_dir, splits);
    if (!why.empty()) throw DataError(cli_dir + ": no Fashion-MNIST here: " + why);
    return cli_dir;
  }
  std::vector<std::pair<std::string, std::string>> places;  // (description, directory or empty)
  const char* env = std::getenv("FASHION_MNIST_DIR");
  if (env && *env)
    places.emplace_back(std::string("$FASHION_MNIST_DIR=") + env, env);
  else
    places.emplace_back("$FASHION_MNIST_DIR", "");
  places.emplace_back("./data/fashion-mnist", "./data/fashion-mnist");
  places.emplace_back("/usr/share/datasets/fashion-mnist", "/usr/share/datasets/fashion-mnist");

  std::string report;
  for (const auto& [what, dir] : places) {
    std::string why = dir.empty() ? "not set" : why_not_here(dir, splits);
    if (why.empty()) return dir;
    report += "\n  " + what + ": " + why;
  }
  throw DataError(
      "Fashion-MNIST not found. Looked in:" + report +
      "\nTo get it: `apt-get install dataset-fashion-mnist` (installs /usr/share/datasets/fashion-mnist), or "
      "download train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
      "t10k-labels-idx1-ubyte.gz into ./data/fashion-mnist (or set $FASHION_MNIST_DIR to the directory that "
      "holds them).");
}

const std::array<std::string_view, kFashionMnistClasses>& fashion_mnist_classes() {
  static const std::array<std::string_view, kFashionMnistClasses> names = {
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  return names;
}

}  // namespace minigrad::data
