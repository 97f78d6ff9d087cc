#include <minigrad/layer_ops.h>
#include <minigrad/nn/layer_norm.h>

namespace minigrad::nn {

LayerNorm::LayerNorm(Shape shape, LayerNormOptions options) : normalized_shape(std::move(shape)), eps(options.eps) {
  if (normalized_shape.empty()) throw Error("LayerNorm: normalized_shape must have at least one dimension");
  for (int64_t d : normalized_shape)
    if (d <= 0)
      throw Error(fmt::format("LayerNorm: normalized_shape {} must be positive", shape_str(normalized_shape)));
  if (options.elementwise_affine) {
    weight = register_parameter("weight", ones(normalized_shape, {.dtype = options.dtype}));
    bias = register_parameter("bias", zeros(normalized_shape, {.dtype = options.dtype}));
  }
}

Tensor LayerNorm::forward(const Tensor& x) { return layer_norm(x, normalized_shape, weight, bias, eps); }

std::string LayerNorm::kind() const {
  return fmt::format("LayerNorm {}{}", shape_str(normalized_shape), weight.defined() ? "" : " no affine");
}

}  // namespace minigrad::nn
