#include <minigrad/nn/init.h>
#include <minigrad/nn/linear.h>

#include <cmath>
#include <typeinfo>

#include <minigrad/nn/activation.h>

namespace minigrad::nn {

Linear::Linear(int64_t in, int64_t out, LinearOptions options) : in_features(in), out_features(out) {
  if (in <= 0 || out <= 0) throw Error(fmt::format("Linear: features must be positive, got {}->{}", in, out));
  weight = register_parameter("weight", empty({out, in}, {.dtype = options.dtype}));
  init::kaiming_uniform_(weight, {.a = std::sqrt(5.0)}, options.generator);
  if (options.bias) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    bias = register_parameter("bias", empty({out}, {.dtype = options.dtype}));
    init::uniform_(bias, -bound, bound, options.generator);
  }
}

Tensor Linear::forward(const Tensor& x) { return forward(x, Activation::None); }

// Exact types only: a subclass of either may have its own forward, which fusing would skip.
bool Linear::fuses(const Module& next) const { return typeid(*this) == typeid(Linear) && typeid(next) == typeid(ReLU); }

Tensor Linear::forward_fused(const Tensor& x, Module& next) {
  return fuses(next) ? forward(x, Activation::ReLU) : Module::forward_fused(x, next);
}

Tensor Linear::forward(const Tensor& x, Activation activation) {
  if (x.dim() == 0 || x.size(-1) != in_features)
    throw Error(fmt::format("input has {} features, expected {} (input shape {})", x.dim() == 0 ? 0 : x.size(-1),
                            in_features, shape_str(x.shape())));
  // mm wants 2-D: fold any leading axes into the batch and restore them after.
  Shape out_shape = x.shape();
  out_shape.back() = out_features;
  const Tensor x2 = x.dim() == 2 ? x : x.reshape({-1, in_features});
  // One op: W^T is folded into the GEMM's packing, the bias and activation into its epilogue.
  const Tensor y = linear(x2, weight, bias, activation);
  return x.dim() == 2 ? y : y.reshape(out_shape);
}

std::string Linear::kind() const {
  return fmt::format("Linear {}->{}{}", in_features, out_features, bias.defined() ? "" : " no bias");
}

std::optional<Shape> Linear::output_shape(const std::optional<Shape>& input) const {
  if (input && input->empty()) return std::nullopt;
  Shape out = input.value_or(Shape{-1, in_features});
  out.back() = out_features;
  return out;
}

}  // namespace minigrad::nn
