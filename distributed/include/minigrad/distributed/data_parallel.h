#pragma once
// Data-parallel training of any Module over a ProcessGroup: every rank holds the whole model, runs
// its share of each global batch, and gets the same summed gradients, so the ranks stay identical.
//
//   dist::ProcessGroup group;
//   dist::DataParallel ddp(group, model);  // rank 0's parameters and buffers everywhere
//   data::DataLoader loader(train, {.batch_size = 128, .shard = {group.rank(), group.size()}});
//   for (...) {
//     const auto batch = loader.batch(i);
//     const auto rows = loader.shard_rows(i);
//     ddp.set_batch_rows(rows.first, rows.count, rows.global);
//     Tensor loss = nn::cross_entropy(ddp(batch.x), batch.y);
//     opt.zero_grad();
//     loss.backward();  // gradients are summed over the ranks by the time it returns
//     opt.step();
//   }
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <minigrad/distributed/process_group.h>
#include <minigrad/nn/dropout.h>
#include <minigrad/nn/module.h>

namespace minigrad::distributed {

struct DataParallelOptions {
  // Gradients travel in buckets of about this many bytes, in reverse registration order (about
  // the order backward finishes them); a bucket is sent as soon as its last gradient is final.
  int64_t bucket_bytes = 1 << 20;
  // Compared across ranks at start with the parameters' names, shapes and dtypes (the caller's
  // hash of its training config); a rank that differs is named.
  uint64_t config_hash = 0;
  // Rank 0's buffers (batch-norm running statistics) are sent to every rank before each training
  // forward, as PyTorch's DistributedDataParallel does.
  bool broadcast_buffers = true;
};

// Time spent on the gradients' communication, summed over steps (see docs/performance.md).
struct DataParallelStats {
  int64_t steps = 0;
  int64_t bytes = 0;                 // this rank's gradient bytes sent, all steps
  double communication_seconds = 0;  // from each step's first bucket sent to its last one summed
  double wait_seconds = 0;           // of that, waited after backward's last gradient (not overlapped)
  std::string report() const;
};

class DataParallel {
 public:
  // Checks that every rank has the same model (names, shapes, dtypes) and config_hash, then copies
  // rank 0's parameters and buffers to every rank. Hooks the gradient of every parameter that
  // requires grad (frozen ones are only copied).
  DataParallel(ProcessGroup& group, std::shared_ptr<nn::Module> module, DataParallelOptions options = {});
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  // The module's forward; in training mode first takes rank 0's buffers (broadcast_buffers). Throws
  // if the last backward left a gradient unfinished (a parameter the loss did not use).
  Tensor operator()(const Tensor& input);
  nn::Module& module() { return *module_; }

  // This rank's rows of the global batch: [first, first + count) of `global`. Each rank's gradient
  // is weighted by count / global before the sum, so the result is the gradient of the global
  // batch's mean loss even when the shares differ, and every Dropout in the module draws the masks
  // one process would draw for those rows (nn::Dropout::set_batch_rows). Without a call, every
  // rank weighs 1 / size and draws its own masks.
  void set_batch_rows(int64_t first, int64_t count, int64_t global);
  // Rank 0's buffers to every rank (before evaluating, so that every rank evaluates the same model).
  void sync_buffers();
  const DataParallelStats& stats() const { return stats_; }

 private:
  struct Bucket {
    DType dtype;
    std::vector<int> params = {};       // indices into params_
    std::vector<int64_t> offsets = {};  // of each parameter's gradient in the bucket
    int64_t numel = 0;
    Tensor buffer = {};  // [numel]: this rank's weighted gradients, then their sum over the ranks
    int ready = 0;       // parameters whose gradient is in `buffer` this step
    ProcessGroup::Request request = {};
    bool launched = false, collected = false;
  };
  void gradient_ready(int param);
  void launch_ready_buckets();
  void collect_finished_buckets(bool wait);
  void collect(Bucket& bucket);
  void finish_step();

  ProcessGroup& group_;
  std::shared_ptr<nn::Module> module_;
  DataParallelOptions options_;
  std::vector<Tensor> params_, buffers_;
  std::vector<nn::Dropout*> dropouts_;
  std::vector<std::string> names_;
  std::vector<char> ready_;  // per parameter, this step
  std::vector<int> bucket_of_;
  std::vector<Bucket> buckets_;
  std::vector<std::byte> buffer_bytes_;  // the buffers, packed for one broadcast
  double share_;
  std::size_t next_launch_ = 0;
  int ready_params_ = 0;
  std::chrono::steady_clock::time_point first_launch_;
  DataParallelStats stats_;
};

}  // namespace minigrad::distributed
