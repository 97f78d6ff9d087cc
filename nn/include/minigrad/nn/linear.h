#pragma once
#include <minigrad/nn/module.h>
#include <minigrad/random.h>

namespace minigrad::nn {

struct LinearOptions {
  bool bias = true;
  DType dtype = kFloat32;
  Generator* generator = nullptr;  // for the initial weights; the default generator when null
};

// y = x W^T + b over the last axis, with PyTorch's layout (weight [out, in], bias [out]) and init
// (weight and bias uniform in +-1/sqrt(in), i.e. kaiming_uniform_ with a = sqrt(5)).
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, LinearOptions options = {});

  Tensor forward(const Tensor& input) override;
  // activation(forward(input)) as one fused op.
  Tensor forward(const Tensor& input, Activation activation);
  // A ReLU next: forward(input, Activation::ReLU).
  bool fuses(const Module& next) const override;
  Tensor forward_fused(const Tensor& input, Module& next) override;
  std::string kind() const override;
  std::optional<Shape> output_shape(const std::optional<Shape>& input) const override;

  int64_t in_features, out_features;
  Tensor weight, bias;  // bias is undefined when options.bias is false
};

}  // namespace minigrad::nn
