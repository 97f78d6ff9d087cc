#pragma once
// Convolution, pooling and batch normalization over NCHW tensors, as PyTorch's torch.nn.functional
// spells them. Convolutions run on the packed GEMM's micro-kernels; every op is differentiable twice.
#include <cstdint>
#include <optional>
#include <utility>

#include <minigrad/tensor.h>

namespace minigrad {

// A (height, width) pair; one number means both, as PyTorch's `stride=2`.
struct Size2 {
  int64_t h = 0, w = 0;
  Size2(int64_t both) : h(both), w(both) {}  // NOLINT: implicit, as PyTorch's ints
  Size2(int64_t h_, int64_t w_) : h(h_), w(w_) {}
  bool operator==(const Size2&) const = default;
};

struct Conv2dParams {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 dilation = 1;
  int64_t groups = 1;
};

struct ConvTranspose2dParams {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 output_padding = 0;  // added to one side of the output: picks among the sizes a stride allows
  int64_t groups = 1;
  Size2 dilation = 1;
};

// x [N, C, H, W], weight [O, C / groups, kh, kw], bias [O] or undefined -> [N, O, OH, OW] with
// OH = (H + 2 padding - dilation (kh - 1) - 1) / stride + 1, and OW alike.
//   conv2d(x, w, b, {.stride = 2, .padding = 1})
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), const Conv2dParams& params = {});

// The adjoint of conv2d in its input ("deconvolution"): x [N, C, H, W], weight [C, O / groups, kh, kw],
// bias [O] -> [N, O, OH, OW] with OH = (H - 1) stride - 2 padding + dilation (kh - 1) + output_padding + 1.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
                        const ConvTranspose2dParams& params = {});

// conv2d's gradient in its weight, as torch.nn.grad.conv2d_weight: the weight of shape
// `weight_shape` whose gradient, for input x and output gradient grad_output, this is.
Tensor conv2d_weight(const Tensor& x, const Shape& weight_shape, const Tensor& grad_output,
                     const Conv2dParams& params = {});

// Pooling over the last two axes of [N, C, H, W] or [C, H, W]; stride defaults to the kernel.
// Output sizes as PyTorch's with ceil_mode false. Padding is at most half the kernel.
// max_pool2d: padding is -inf; among tied maxima the first (row-major) gets the gradient, and a
// NaN in a window is its maximum. The indices are flat positions h * W + w in each plane (int64).
Tensor max_pool2d(const Tensor& x, Size2 kernel, std::optional<Size2> stride = std::nullopt, Size2 padding = 0);
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, Size2 kernel,
                                                  std::optional<Size2> stride = std::nullopt, Size2 padding = 0);
// Padding counts as zeros in the average (PyTorch's default count_include_pad = true).
Tensor avg_pool2d(const Tensor& x, Size2 kernel, std::optional<Size2> stride = std::nullopt, Size2 padding = 0);
// Output (i, j) averages rows [floor(i H / OH), ceil((i + 1) H / OH)) and the columns alike.
Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size);
// The adjoints of the two averages (their backward), given the input's shape.
Tensor avg_pool2d_backward(const Tensor& grad_output, const Shape& input_shape, Size2 kernel,
                           std::optional<Size2> stride = std::nullopt, Size2 padding = 0);
Tensor adaptive_avg_pool2d_backward(const Tensor& grad_output, const Shape& input_shape);

// x [N, C, ...]; running_mean, running_var, weight, bias [C], each may be undefined (the
// running statistics only when training).
// training: normalizes with the batch's mean and biased variance over every axis but 1, and
// updates the running statistics in place (no graph): r = (1 - momentum) r + momentum s, with
// the unbiased variance. Needs more than one value per channel.
// eval: normalizes with the running statistics.
// y = (x - mean) / sqrt(var + eps) * weight + bias.
// activation ReLU: relu(y) as one op (the ReLU applied as y is written, its gate in the backward's
// passes), as nn::BatchNorm followed by nn::ReLU in a Sequential.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), bool training = false,
                  double momentum = 0.1, double eps = 1e-5, Activation activation = Activation::None);

}  // namespace minigrad
