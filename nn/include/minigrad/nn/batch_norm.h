#pragma once
// Batch normalization layers, as PyTorch's: parameters weight (ones) and bias (zeros) when
// affine; buffers running_mean (zeros), running_var (ones) and num_batches_tracked (int64), saved
// in state_dict. Training normalizes with the batch's statistics and updates the running ones;
// eval uses the running ones (the batch's, without track_running_stats).
#include <minigrad/nn/activation.h>

namespace minigrad::nn {

struct BatchNormOptions {
  double eps = 1e-5;
  double momentum = 0.1;
  bool affine = true;
  bool track_running_stats = true;
  DType dtype = kFloat32;
};

class BatchNorm : public ShapePreserving {
 public:
  Tensor forward(const Tensor& input) override;
  std::string kind() const override;  // "BatchNorm2d 32"
  // A ReLU after it is applied by the same op (see Module::fuses).
  bool fuses(const Module& next) const override;
  Tensor forward_fused(const Tensor& input, Module& next) override;

  int64_t num_features;
  BatchNormOptions options;
  Tensor weight, bias;                                    // undefined unless affine
  Tensor running_mean, running_var, num_batches_tracked;  // undefined unless track_running_stats

 protected:
  // `name` and the input ranks it accepts, for kind() and the input check.
  BatchNorm(std::string_view name, int64_t min_rank, int64_t max_rank, int64_t num_features, BatchNormOptions options);

 private:
  Tensor forward(const Tensor& input, Activation activation);

  std::string_view name_;
  int64_t min_rank_, max_rank_;
};

// Over [N, C] or [N, C, L].
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t num_features, BatchNormOptions options = {})
      : BatchNorm("BatchNorm1d", 2, 3, num_features, options) {}
};

// Over [N, C, H, W].
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t num_features, BatchNormOptions options = {})
      : BatchNorm("BatchNorm2d", 4, 4, num_features, options) {}
};

}  // namespace minigrad::nn
