#include "cluster.h"

#include <algorithm>
#include <cstdlib>

#ifdef FASHION_MLP_DISTRIBUTED
#include <minigrad/distributed/data_parallel.h>
#endif

namespace fashion {

namespace nn = minigrad::nn;
using minigrad::Tensor;

#ifdef FASHION_MLP_DISTRIBUTED
namespace dist = minigrad::distributed;

struct Cluster::Distributed {
  dist::ProcessGroup group;
  std::unique_ptr<dist::DataParallel> parallel;
};
#else
struct Cluster::Distributed {};
#endif

Cluster::Cluster() = default;
Cluster::~Cluster() = default;

std::unique_ptr<Cluster> Cluster::from_environment() {
  auto cluster = std::make_unique<Cluster>();
#ifdef FASHION_MLP_DISTRIBUTED
  if (dist::ProcessGroup::launched_by_mpi()) {
    cluster->distributed_ = std::make_unique<Distributed>();
    cluster->rank_ = cluster->distributed_->group.rank();
    cluster->size_ = cluster->distributed_->group.size();
  }
#endif
  return cluster;
}

void Cluster::attach([[maybe_unused]] std::shared_ptr<nn::Module> model, [[maybe_unused]] const TrainConfig& config) {
#ifdef FASHION_MLP_DISTRIBUTED
  if (!distributed_) return;
  // Run-only settings (threads, out, ...) may differ between ranks; the training may not.
  TrainConfig training = config;
  for (std::string_view name : kRunOnlyFields) copy_field(training, TrainConfig{}, name);
  uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a
  for (const char c : to_toml(training)) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  distributed_->parallel = std::make_unique<dist::DataParallel>(distributed_->group, std::move(model),
                                                                dist::DataParallelOptions{.config_hash = hash});
#endif
}

Tensor Cluster::forward(nn::Module& model, const Tensor& x,
                        [[maybe_unused]] const minigrad::data::DataLoader::ShardRows& rows) {
#ifdef FASHION_MLP_DISTRIBUTED
  if (distributed_ && distributed_->parallel) {
    distributed_->parallel->set_batch_rows(rows.first, rows.count, rows.global);
    return (*distributed_->parallel)(x);
  }
#endif
  return model(x);
}

void Cluster::sync_buffers() {
#ifdef FASHION_MLP_DISTRIBUTED
  if (distributed_ && distributed_->parallel) distributed_->parallel->sync_buffers();
#endif
}

Cluster::Step Cluster::agree(const Step& mine) {
  if (size_ == 1) return mine;
  Tensor row = minigrad::empty({5}, {.dtype = minigrad::kFloat64});
  double* v = row.data<double>();
  v[0] = mine.loss_sum;
  v[1] = static_cast<double>(mine.correct);  // counts, exact in a double
  v[2] = static_cast<double>(mine.seen);
  v[3] = mine.non_finite;
  v[4] = mine.stop_signal;
  const Tensor all = gather(row);
  const double* a = all.data<double>();
  Step total;
  for (int r = 0; r < size_; ++r, a += 5) {
    total.loss_sum += a[0];
    total.correct += static_cast<int64_t>(a[1]);
    total.seen += static_cast<int64_t>(a[2]);
    total.non_finite = total.non_finite || a[3] != 0;
    total.stop_signal = std::max(total.stop_signal, static_cast<int>(a[4]));
  }
  return total;
}

Tensor Cluster::gather(const Tensor& t) {
#ifdef FASHION_MLP_DISTRIBUTED
  if (distributed_) return distributed_->group.all_gather(t);
#endif
  return t.reshape([&] {
    minigrad::Shape shape{1};
    for (const int64_t d : t.shape()) shape.push_back(d);
    return shape;
  }());
}

std::string Cluster::report() const {
#ifdef FASHION_MLP_DISTRIBUTED
  if (distributed_ && distributed_->parallel) return distributed_->parallel->stats().report();
#endif
  return "";
}

void Cluster::abort(int code) {
#ifdef FASHION_MLP_DISTRIBUTED
  if (distributed_) distributed_->group.abort(code);
#endif
  std::exit(code);
}

}  // namespace fashion
