#pragma once
// Parameter-free layers: elementwise activations, softmax over an axis, Flatten, Identity.
#include <minigrad/nn/module.h>

#include <memory>
#include <string_view>
#include <vector>

namespace minigrad::nn {

// Base of the layers that keep their input's shape.
class ShapePreserving : public Module {
 public:
  std::optional<Shape> output_shape(const std::optional<Shape>& input) const override { return input; }
};

class ReLU : public ShapePreserving {
 public:
  Tensor forward(const Tensor& x) override { return x.relu(); }
  std::string kind() const override { return "ReLU"; }
};

class LeakyReLU : public ShapePreserving {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope(negative_slope) {}
  Tensor forward(const Tensor& x) override { return x.leaky_relu(negative_slope); }
  std::string kind() const override;
  double negative_slope;
};

class Sigmoid : public ShapePreserving {
 public:
  Tensor forward(const Tensor& x) override { return x.sigmoid(); }
  std::string kind() const override { return "Sigmoid"; }
};

class Tanh : public ShapePreserving {
 public:
  Tensor forward(const Tensor& x) override { return x.tanh(); }
  std::string kind() const override { return "Tanh"; }
};

// Exact (erf) GELU, PyTorch's default approximate='none'.
class GELU : public ShapePreserving {
 public:
  Tensor forward(const Tensor& x) override { return x.gelu(); }
  std::string kind() const override { return "GELU"; }
};

class Softmax : public ShapePreserving {
 public:
  explicit Softmax(int64_t axis) : axis(axis) {}
  Tensor forward(const Tensor& x) override { return x.softmax(axis); }
  std::string kind() const override;
  int64_t axis;
};

class LogSoftmax : public ShapePreserving {
 public:
  explicit LogSoftmax(int64_t axis) : axis(axis) {}
  Tensor forward(const Tensor& x) override { return x.log_softmax(axis); }
  std::string kind() const override;
  int64_t axis;
};

class Identity : public ShapePreserving {
 public:
  Tensor forward(const Tensor& x) override { return x; }
  std::string kind() const override { return "Identity"; }
};

// Flattens axes start..end (inclusive, negative from the end) into one; by default all but the
// batch.
class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_axis = 1, int64_t end_axis = -1) : start_axis(start_axis), end_axis(end_axis) {}
  Tensor forward(const Tensor& x) override { return x.flatten(start_axis, end_axis); }
  std::string kind() const override;
  std::optional<Shape> output_shape(const std::optional<Shape>& input) const override;
  int64_t start_axis, end_axis;
};

// Splits axis `axis` (negative from the end) into `sizes`, as torch.nn.Unflatten; a reshape
// sharing the buffer. Unflatten(1, {1, 28, 28}) turns [B, 784] pixels into NCHW images.
class Unflatten : public Module {
 public:
  Unflatten(int64_t axis, Shape sizes) : axis(axis), sizes(std::move(sizes)) {}
  Tensor forward(const Tensor& x) override;
  std::string kind() const override;
  std::optional<Shape> output_shape(const std::optional<Shape>& input) const override;
  int64_t axis;
  Shape sizes;
};

// The elementwise activations by the names configs and command lines give them: relu,
// leaky_relu (slope 0.01), tanh, sigmoid, gelu.
std::vector<std::string_view> activation_names();
// A new module of the activation called `name`; null when no activation has that name.
std::shared_ptr<Module> make_activation(std::string_view name);

}  // namespace minigrad::nn
