#include <minigrad/conv.h>
#include <minigrad/nn/batch_norm.h>

#include <typeinfo>

namespace minigrad::nn {

BatchNorm::BatchNorm(std::string_view name, int64_t min_rank, int64_t max_rank, int64_t features, BatchNormOptions o)
    : num_features(features), options(o), name_(name), min_rank_(min_rank), max_rank_(max_rank) {
  if (features <= 0) throw Error(fmt::format("{}: num_features must be positive, got {}", name, features));
  if (!(o.eps > 0)) throw Error(fmt::format("{}: eps must be positive, got {}", name, o.eps));
  if (!(o.momentum >= 0 && o.momentum <= 1))
    throw Error(fmt::format("{}: momentum must be in [0, 1], got {}", name, o.momentum));
  if (o.affine) {
    weight = register_parameter("weight", ones({features}, {.dtype = o.dtype}));
    bias = register_parameter("bias", zeros({features}, {.dtype = o.dtype}));
  }
  if (o.track_running_stats) {
    running_mean = register_buffer("running_mean", zeros({features}, {.dtype = o.dtype}));
    running_var = register_buffer("running_var", ones({features}, {.dtype = o.dtype}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, {.dtype = kInt64}));
  }
}

Tensor BatchNorm::forward(const Tensor& x) { return forward(x, Activation::None); }

// Exact types only: a subclass may have its own forward, which fusing would skip.
bool BatchNorm::fuses(const Module& next) const {
  return (typeid(*this) == typeid(BatchNorm1d) || typeid(*this) == typeid(BatchNorm2d)) && typeid(next) == typeid(ReLU);
}

Tensor BatchNorm::forward_fused(const Tensor& x, Module& next) {
  return fuses(next) ? forward(x, Activation::ReLU) : Module::forward_fused(x, next);
}

Tensor BatchNorm::forward(const Tensor& x, Activation activation) {
  if (x.dim() < min_rank_ || x.dim() > max_rank_ || x.size(1) != num_features)
    throw Error(fmt::format("input {} is not {} with {} channels", shape_str(x.shape()),
                            min_rank_ == max_rank_ ? "[N, C, H, W]" : "[N, C] or [N, C, L]", num_features));
  if (is_training() && num_batches_tracked.defined()) ++num_batches_tracked.data<int64_t>()[0];
  // Batch statistics in training (which updates the running ones) and when none are tracked.
  const bool batch_stats = is_training() || !running_mean.defined();
  return batch_norm(x, running_mean, running_var, weight, bias, batch_stats, options.momentum, options.eps, activation);
}

std::string BatchNorm::kind() const {
  return fmt::format("{} {}{}", name_, num_features, options.affine ? "" : " no affine");
}

}  // namespace minigrad::nn
