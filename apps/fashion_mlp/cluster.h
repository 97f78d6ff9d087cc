#pragma once
// The processes that train one model together: this process alone, or the job mpirun started
// (when fashion_mlp was built with minigrad::distributed). Every rank trains on its share of each
// global batch and evaluates its share of each split; rank 0 alone prints and writes the run
// directory. Alone, every call below is the identity or nothing, so one process trains as it
// always has.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <minigrad/data/loader.h>
#include <minigrad/nn/module.h>

#include "config.h"

namespace fashion {

class Cluster {
 public:
  Cluster();  // this process alone
  // mpirun's job when this process was started by it (and built with MPI); else this process alone.
  static std::unique_ptr<Cluster> from_environment();
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool leader() const { return rank_ == 0; }

  // Data-parallel training of `model`: refuses, naming the rank, ranks whose model or config
  // (but for kRunOnlyFields) differs, and makes every rank's parameters rank 0's.
  void attach(std::shared_ptr<minigrad::nn::Module> model, const TrainConfig& config);
  // The model's forward on this rank's rows of a batch; backward then sums the gradients.
  minigrad::Tensor forward(minigrad::nn::Module& model, const minigrad::Tensor& x,
                           const minigrad::data::DataLoader::ShardRows& rows);
  // Rank 0's buffers (batch-norm statistics) everywhere, so that every rank evaluates one model.
  void sync_buffers();
  // One training step's numbers: agree() returns every rank's, summed in rank order (the stop
  // signal: the largest), the same on every rank. Alone it returns them as they are.
  struct Step {
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    bool non_finite = false;
    int stop_signal = 0;
  };
  Step agree(const Step& mine);
  // [size, t's shape...]: every rank's t, in rank order.
  minigrad::Tensor gather(const minigrad::Tensor& t);
  // The communication report of data-parallel training ("" alone).
  std::string report() const;
  // Ends every process of the job now.
  [[noreturn]] void abort(int code);

 private:
  struct Distributed;
  std::unique_ptr<Distributed> distributed_;
  int rank_ = 0, size_ = 1;
};

}  // namespace fashion
