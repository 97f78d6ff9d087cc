#include <minigrad/data/loader.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include <minigrad/random.h>

#include "dataset_util.h"

namespace minigrad::data {

namespace {

// splitmix64 of (key, stream): independent seeds for the streams of one run. An epoch's key is
// derive_seed(seed, epoch); stream 0 of it shuffles, stream 1 + i augments batch i, so that any
// batch can be rebuilt alone, in any order.
uint64_t derive_seed(uint64_t key, uint64_t stream) {
  uint64_t z = key + 0x9e3779b97f4a7c15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

DataLoader::DataLoader(const Dataset& dataset, LoaderOptions options)
    : dataset_(dataset), options_(std::move(options)) {
  if (options_.batch_size <= 0)
    throw std::invalid_argument(fmt::format("DataLoader: batch_size is {}; it must be positive", options_.batch_size));
  detail::check_dataset(dataset_, "DataLoader");
  if (dataset_.geometry.empty() && (options_.nchw || options_.augment.enabled()))
    throw std::invalid_argument(
        fmt::format("DataLoader: {} needs the dataset's image geometry (C, H, W), and it has none (images {})",
                    options_.nchw ? "nchw" : "augmentation", shape_str(dataset_.images.shape())));
  const int64_t n = dataset_.size(), b = options_.batch_size;
  num_batches_ = options_.drop_last ? n / b : (n + b - 1) / b;
  const auto& shard = options_.shard;
  if (shard.count < 1 || shard.index < 0 || shard.index >= shard.count)
    throw std::invalid_argument(fmt::format("DataLoader: shard {} of {} does not exist", shard.index, shard.count));
  if (num_batches_ > 0 && shard_rows(num_batches_ - 1).global < shard.count)
    throw std::invalid_argument(fmt::format(
        "DataLoader: the last batch has {} rows, fewer than the {} shards; set drop_last or change batch_size {}",
        shard_rows(num_batches_ - 1).global, shard.count, b));
  set_epoch(0);
}

void DataLoader::set_epoch(int64_t epoch) {
  if (epoch < 0) throw std::invalid_argument(fmt::format("DataLoader::set_epoch: epoch is {}; it must be >= 0", epoch));
  epoch_ = epoch;
  if (options_.shuffle) {
    Generator gen(derive_seed(derive_seed(options_.seed, static_cast<uint64_t>(epoch)), 0));
    order_ = detail::random_permutation(dataset_.size(), gen);
  } else {
    order_.resize(static_cast<size_t>(dataset_.size()));
    std::iota(order_.begin(), order_.end(), int64_t{0});
  }
}

DataLoader::ShardRows DataLoader::shard_rows(int64_t i) const {
  const int64_t global = std::min(options_.batch_size, dataset_.size() - i * options_.batch_size);
  const auto& shard = options_.shard;
  const int64_t first = shard.index * global / shard.count, end = (shard.index + 1) * global / shard.count;
  return {first, end - first, global};
}

Batch DataLoader::batch(int64_t i) const {
  if (i < 0 || i >= num_batches_)
    throw std::out_of_range(fmt::format("DataLoader::batch: index {} is out of range for {} batches", i, num_batches_));
  const auto [lo, count, global] = shard_rows(i);
  const auto& shard = options_.shard;
  // The augmentation draws for the images of a batch in turn, so a shard augments the whole
  // batch and keeps its rows: each image is augmented as with one process (a cheap copy).
  const bool augmenting = options_.augment.enabled();
  const int64_t first = augmenting ? 0 : lo, gathered = augmenting ? global : count;
  const int64_t* rows = order_.data() + i * options_.batch_size + first;
  Batch batch{detail::gather_rows(dataset_.images, rows, gathered),
              detail::gather_rows(dataset_.labels, rows, gathered)};
  if (augmenting) {
    const uint64_t key = derive_seed(options_.seed, static_cast<uint64_t>(epoch_));
    Generator gen(derive_seed(key, static_cast<uint64_t>(i) + 1));
    augment_batch(batch.x, dataset_.geometry, options_.augment, gen);
    if (shard.count > 1) batch = {batch.x.narrow(0, lo, count), batch.y.narrow(0, lo, count)};
  }
  if (options_.nchw) {
    const ImageGeometry& g = dataset_.geometry;
    batch.x = batch.x.reshape({count, g.channels, g.height, g.width});
  }
  return batch;
}

DataLoader::iterator::iterator(const DataLoader* loader, int64_t index) : loader_(loader), index_(index) {
  if (index_ < loader_->num_batches()) current_ = loader_->batch(index_);
}

DataLoader::iterator& DataLoader::iterator::operator++() {
  // Release the old batch first, so that its buffers are in the cache for the new one.
  current_ = {};
  if (++index_ < loader_->num_batches()) current_ = loader_->batch(index_);
  return *this;
}

}  // namespace minigrad::data
