#pragma once
#include <minigrad/nn/activation.h>

namespace minigrad::nn {

struct LayerNormOptions {
  double eps = 1e-5;
  bool elementwise_affine = true;  // learn weight (ones) and bias (zeros) of normalized_shape
  DType dtype = kFloat32;
};

// Normalizes over the last normalized_shape.size() axes, as torch.nn.LayerNorm.
class LayerNorm : public ShapePreserving {
 public:
  explicit LayerNorm(Shape normalized_shape, LayerNormOptions options = {});

  Tensor forward(const Tensor& input) override;
  std::string kind() const override;

  Shape normalized_shape;
  double eps;
  Tensor weight, bias;  // undefined without elementwise_affine
};

}  // namespace minigrad::nn
