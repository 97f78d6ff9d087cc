// minigrad/data/loader.h - mini-batches of a Dataset, shuffled per epoch, optionally augmented.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <vector>

#include <minigrad/data/dataset.h>
#include <minigrad/data/transforms.h>
#include <minigrad/tensor.h>

namespace minigrad::data {

struct LoaderOptions {
  int64_t batch_size = 128;
  bool shuffle = true;
  bool drop_last = false;  // drop the last batch when it is smaller than batch_size
  uint64_t seed = 0;
  Augmentation augment = {};  // needs the dataset's geometry
  bool nchw = false;          // x as [B, C, H, W] (the dataset's geometry) instead of [B, C*H*W]
  // Data-parallel training: process `index` of `count` gets its share of every batch, rows
  // [index * B / count, (index + 1) * B / count) of the batch one process would get (B rows),
  // augmented as there. The batch size stays the global one.
  struct Shard {
    int64_t index = 0, count = 1;
  };
  Shard shard = {};
};

struct Batch {
  Tensor x;  // float32 [B, features], or [B, C, H, W] with LoaderOptions::nchw
  Tensor y;  // int64 [B]
};

// for (auto& [x, y] : loader) { ... } visits every sample once per epoch (with drop_last, all but
// the samples of the last, partial, batch). The order and the augmentation of epoch e are a pure
// function of (seed, e): call set_epoch(e) before each epoch, or every epoch repeats epoch 0.
class DataLoader {
 public:
  // Keeps a handle to dataset's buffers (no copy). Throws std::invalid_argument when
  // batch_size <= 0, the dataset's tensors have the wrong dtype or shape, augmentation or
  // nchw is asked of a dataset without geometry, or a batch has fewer rows than shards.
  DataLoader(const Dataset& dataset, LoaderOptions options);

  int64_t num_batches() const { return num_batches_; }
  int64_t epoch() const { return epoch_; }
  const LoaderOptions& options() const { return options_; }
  // Throws std::invalid_argument when epoch < 0.
  void set_epoch(int64_t epoch);

  // Batch i of the current epoch (this shard's rows of it); a pure function of (seed, epoch, i).
  // Throws std::out_of_range when i is not in 0..num_batches()-1.
  Batch batch(int64_t i) const;
  // Where this shard's rows of batch i lie in the whole batch: [first, first + count) of `global`
  // rows (batch_size but for a last, partial batch).
  struct ShardRows {
    int64_t first, count, global;
  };
  ShardRows shard_rows(int64_t i) const;

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    using pointer = const Batch*;
    using reference = const Batch&;

    iterator() = default;
    reference operator*() const { return current_; }
    pointer operator->() const { return &current_; }
    iterator& operator++();
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& a, const iterator& b) { return a.index_ == b.index_; }

   private:
    friend class DataLoader;
    iterator(const DataLoader* loader, int64_t index);
    const DataLoader* loader_ = nullptr;
    int64_t index_ = 0;
    Batch current_;
  };
  iterator begin() const { return iterator(this, 0); }
  iterator end() const { return iterator(this, num_batches_); }

 private:
  Dataset dataset_;
  LoaderOptions options_;
  int64_t num_batches_ = 0;
  int64_t epoch_ = 0;
  std::vector<int64_t> order_;  // the sample order of the current epoch
};

}  // namespace minigrad::data
