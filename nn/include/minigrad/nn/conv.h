#pragma once
// Convolution and pooling layers over NCHW images, with PyTorch's layouts, defaults and init.
#include <minigrad/conv.h>
#include <minigrad/nn/module.h>
#include <minigrad/random.h>

namespace minigrad::nn {

struct Conv2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 dilation = 1;
  int64_t groups = 1;
  bool bias = true;
  DType dtype = kFloat32;
  Generator* generator = nullptr;  // for the initial weights; the default generator when null
};

// y = conv2d(x, weight, bias): weight [out, in / groups, kh, kw], bias [out]. Init as PyTorch's:
// weight kaiming_uniform_ with a = sqrt(5), bias uniform in +-1/sqrt(fan_in).
//   nn::Conv2d conv(1, 32, 3, {.padding = 1});
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, Conv2dOptions options = {});
  Tensor forward(const Tensor& input) override;
  std::string kind() const override;  // "Conv2d 1->32 3x3 pad 1"
  std::optional<Shape> output_shape(const std::optional<Shape>& input) const override;

  int64_t in_channels, out_channels;
  Size2 kernel_size;
  Conv2dParams params;
  Tensor weight, bias;  // bias is undefined when options.bias is false
};

struct ConvTranspose2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 output_padding = 0;
  int64_t groups = 1;
  Size2 dilation = 1;
  bool bias = true;
  DType dtype = kFloat32;
  Generator* generator = nullptr;
};

// y = conv_transpose2d(x, weight, bias): weight [in, out / groups, kh, kw], bias [out]; init as
// PyTorch's (its fan_in is out / groups * kh * kw, from the weight's second axis).
class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, ConvTranspose2dOptions options = {});
  Tensor forward(const Tensor& input) override;
  std::string kind() const override;
  std::optional<Shape> output_shape(const std::optional<Shape>& input) const override;

  int64_t in_channels, out_channels;
  Size2 kernel_size;
  ConvTranspose2dParams params;
  Tensor weight, bias;
};

// What MaxPool2d and AvgPool2d share: the window; the stride defaults to the kernel size.
class Pool2d : public Module {
 public:
  Pool2d(Size2 kernel_size, std::optional<Size2> stride, Size2 padding)
      : kernel_size(kernel_size), stride(stride.value_or(kernel_size)), padding(padding) {}
  std::optional<Shape> output_shape(const std::optional<Shape>& input) const override;
  Size2 kernel_size, stride, padding;

 protected:
  std::string describe(std::string_view name) const;  // "MaxPool2d 2x2"
};

class MaxPool2d : public Pool2d {
 public:
  explicit MaxPool2d(Size2 kernel_size, std::optional<Size2> stride = std::nullopt, Size2 padding = 0)
      : Pool2d(kernel_size, stride, padding) {}
  Tensor forward(const Tensor& input) override { return max_pool2d(input, kernel_size, stride, padding); }
  std::string kind() const override { return describe("MaxPool2d"); }
};

class AvgPool2d : public Pool2d {
 public:
  explicit AvgPool2d(Size2 kernel_size, std::optional<Size2> stride = std::nullopt, Size2 padding = 0)
      : Pool2d(kernel_size, stride, padding) {}
  Tensor forward(const Tensor& input) override { return avg_pool2d(input, kernel_size, stride, padding); }
  std::string kind() const override { return describe("AvgPool2d"); }
};

// AdaptiveAvgPool2d(1) is global average pooling.
class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Size2 output_size);
  Tensor forward(const Tensor& input) override;
  std::string kind() const override;
  std::optional<Shape> output_shape(const std::optional<Shape>& input) const override;
  Size2 output_size;
};

}  // namespace minigrad::nn
