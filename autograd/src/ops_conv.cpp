// Convolution, pooling and batch normalization (kernels in autograd/kernels: conv.cpp, pool.cpp).
// Each backward is built from these ops again, so every op here is differentiable twice:
//   conv2d           -> conv_transpose2d (input), conv2d_weight (weight), sums (bias)
//   conv_transpose2d -> conv2d (input), conv2d_weight (weight), sums (bias)
//   conv2d_weight    -> conv_transpose2d (input), conv2d (grad_output)
//   max_pool2d       -> scatter_add at the saved indices (whose backward is gather)
//   avg pools        <-> their *_backward adjoints
//   batch_norm       -> elementwise ops and sums over the batch statistics
#include <minigrad/conv.h>

#include <minigrad/kernels/conv.h>
#include <minigrad/kernels/pool.h>

#include "impl.h"

namespace minigrad {

using Grads = TensorList;

namespace {

std::string size2_str(Size2 s) { return fmt::format("({}, {})", s.h, s.w); }

void check_4d(const Tensor& t, std::string_view op, std::string_view what) {
  detail::check_defined(t, op);
  if (t.dim() != 4)
    throw Error(fmt::format("{}: {} {} is not 4-D ([N, C, H, W] expected)", op, what, shape_str(t.shape())));
}

void check_positive(Size2 v, std::string_view op, std::string_view what) {
  if (v.h < 1 || v.w < 1) throw Error(fmt::format("{}: {} {} must be positive", op, what, size2_str(v)));
}

void check_nonnegative(Size2 v, std::string_view op, std::string_view what) {
  if (v.h < 0 || v.w < 0) throw Error(fmt::format("{}: {} {} must not be negative", op, what, size2_str(v)));
}

// The kernels' shape of a convolution of `input` [N, C, H, W] by `weight` [O, C / groups, kh, kw]
// (for conv_transpose2d: its output and input, in that order), every size checked.
kernels::Conv2dShape conv_shape(std::string_view op, const Shape& input, const Shape& weight, int64_t out_channels,
                                const Conv2dParams& p) {
  check_positive(p.stride, op, "stride");
  check_positive(p.dilation, op, "dilation");
  check_nonnegative(p.padding, op, "padding");
  if (p.groups < 1) throw Error(fmt::format("{}: groups {} must be positive", op, p.groups));
  const int64_t C = input[1];
  if (C % p.groups != 0 || out_channels % p.groups != 0)
    throw Error(
        fmt::format("{}: groups {} must divide both {} input and {} output channels", op, p.groups, C, out_channels));
  const kernels::Conv2dShape s{.batch = input[0],
                               .in_channels = C,
                               .in_h = input[2],
                               .in_w = input[3],
                               .out_channels = out_channels,
                               .kernel_h = weight[2],
                               .kernel_w = weight[3],
                               .stride_h = p.stride.h,
                               .stride_w = p.stride.w,
                               .pad_h = p.padding.h,
                               .pad_w = p.padding.w,
                               .dilation_h = p.dilation.h,
                               .dilation_w = p.dilation.w,
                               .groups = p.groups};
  if (s.kernel_h < 1 || s.kernel_w < 1 || C == 0)
    throw Error(fmt::format("{}: weight {} and input {}: empty kernel or no channels", op, shape_str(weight),
                            shape_str(input)));
  if (s.in_h + 2 * s.pad_h < s.dilation_h * (s.kernel_h - 1) + 1 ||
      s.in_w + 2 * s.pad_w < s.dilation_w * (s.kernel_w - 1) + 1)
    throw Error(fmt::format("{}: input {} padded by {} is smaller than the kernel {} dilated by {}", op,
                            shape_str(input), size2_str(p.padding), size2_str({s.kernel_h, s.kernel_w}),
                            size2_str(p.dilation)));
  return s;
}

void check_bias(const Tensor& x, const Tensor& bias, int64_t channels, std::string_view op) {
  if (!bias.defined()) return;
  detail::check_same_dtype(x, bias, op);
  if (bias.dim() != 1 || bias.size(0) != channels)
    throw Error(
        fmt::format("{}: bias {} does not match the {} output channels", op, shape_str(bias.shape()), channels));
}

// A workspace tensor from the caching allocator (no graph, never read before written).
Tensor workspace(int64_t elements, DType dtype) { return empty({std::max<int64_t>(elements, 1)}, {.dtype = dtype}); }

// Sum of g [N, C, ...] over every axis but 1, as [C]: a bias gradient. One pass in double when
// no graph is recorded; Tensor ops when create_graph differentiates it again.
Tensor channel_sum(const Tensor& g) {
  const int64_t N = g.size(0), C = g.size(1), S = N * C == 0 ? 0 : g.numel() / (N * C);
  if (grad_enabled()) return g.reshape({N, C, S}).sum(0).sum(1);
  Tensor sums = empty({C}, {.dtype = kFloat64});
  detail::dispatch_float(g, "channel_sum", [&](auto z) {
    using T = decltype(z);
    kernels::channel_sums(N, C, S, g.data<T>(), sums.data<double>());
  });
  return sums.to(g.dtype());
}

// y[:, c] += bias[c], in place.
void add_channel_bias(Tensor y, const Tensor& bias) {
  if (!bias.defined()) return;
  detail::dispatch_float(y, "conv_transpose2d", [&](auto z) {
    using T = decltype(z);
    const int64_t C = y.size(1), S = y.numel() / std::max<int64_t>(y.size(0) * C, 1);
    T* py = y.data<T>();
    const T* pb = bias.data<T>();
    detail::parallel_for(
        y.size(0) * C,
        [&](int64_t r0, int64_t r1) {
          for (int64_t r = r0; r < r1; ++r)
            for (int64_t i = 0; i < S; ++i) py[r * S + i] += pb[r % C];
        },
        detail::rows_grain(S));
  });
}

Conv2dParams as_conv(const ConvTranspose2dParams& p) {
  return {.stride = p.stride, .padding = p.padding, .dilation = p.dilation, .groups = p.groups};
}

// The output_padding with which conv_transpose2d maps a conv2d's output back to `input`'s size.
ConvTranspose2dParams transpose_of(const Conv2dParams& p, const kernels::Conv2dShape& s) {
  const auto extra = [](int64_t in, int64_t out, int64_t k, int64_t st, int64_t pad, int64_t dil) {
    return in - ((out - 1) * st - 2 * pad + dil * (k - 1) + 1);
  };
  return {.stride = p.stride,
          .padding = p.padding,
          .output_padding = {extra(s.in_h, s.out_h(), s.kernel_h, s.stride_h, s.pad_h, s.dilation_h),
                             extra(s.in_w, s.out_w(), s.kernel_w, s.stride_w, s.pad_w, s.dilation_w)},
          .groups = p.groups,
          .dilation = p.dilation};
}

}  // namespace

// ---- convolution ----

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& params) {
  check_4d(x, "conv2d", "input");
  check_4d(weight, "conv2d", "weight");
  detail::check_same_dtype(x, weight, "conv2d");
  const kernels::Conv2dShape s = conv_shape("conv2d", x.shape(), weight.shape(), weight.size(0), params);
  if (weight.size(1) * s.groups != s.in_channels)
    throw Error(fmt::format("conv2d: input {} has {} channels, weight {} in {} group(s) expects {}",
                            shape_str(x.shape()), s.in_channels, shape_str(weight.shape()), s.groups,
                            weight.size(1) * s.groups));
  check_bias(x, bias, s.out_channels, "conv2d");
  Tensor out = empty({s.batch, s.out_channels, s.out_h(), s.out_w()}, {.dtype = x.dtype()});
  detail::dispatch_float(x, "conv2d", [&](auto z) {
    using T = decltype(z);
    Tensor ws = workspace(kernels::conv2d_workspace_size(s), x.dtype());
    kernels::conv2d_forward(s, x.data<T>(), weight.data<T>(), bias.defined() ? bias.data<T>() : nullptr, out.data<T>(),
                            ws.data<T>());
  });
  return record_op("conv2d", out, {x, weight, bias}, [x, weight, bias, params, s](const Tensor& g) {
    Tensor gx = x.requires_grad() ? conv_transpose2d(g, weight, Tensor(), transpose_of(params, s)) : Tensor();
    Tensor gw = weight.requires_grad() ? conv2d_weight(x, weight.shape(), g, params) : Tensor();
    Tensor gb = bias.defined() && bias.requires_grad() ? channel_sum(g) : Tensor();
    return Grads{gx, gw, gb};
  });
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        const ConvTranspose2dParams& params) {
  constexpr std::string_view op = "conv_transpose2d";
  check_4d(x, op, "input");
  check_4d(weight, op, "weight");
  detail::check_same_dtype(x, weight, op);
  if (params.groups < 1) throw Error(fmt::format("{}: groups {} must be positive", op, params.groups));
  if (weight.size(0) != x.size(1))
    throw Error(fmt::format("{}: weight {} needs {} input channels, input {} has {}", op, shape_str(weight.shape()),
                            weight.size(0), shape_str(x.shape()), x.size(1)));
  check_positive(params.stride, op, "stride");
  check_positive(params.dilation, op, "dilation");
  check_nonnegative(params.output_padding, op, "output_padding");
  const Size2 op_pad = params.output_padding;
  if ((op_pad.h >= params.stride.h && op_pad.h >= params.dilation.h) ||
      (op_pad.w >= params.stride.w && op_pad.w >= params.dilation.w))
    throw Error(fmt::format("{}: output_padding {} must be smaller than the stride {} or the dilation {}", op,
                            size2_str(op_pad), size2_str(params.stride), size2_str(params.dilation)));
  const int64_t out_channels = weight.size(1) * params.groups;
  const auto out_size = [&](int64_t in, int64_t k, int64_t st, int64_t pad, int64_t dil, int64_t extra) {
    return (in - 1) * st - 2 * pad + dil * (k - 1) + extra + 1;
  };
  const int64_t OH =
      out_size(x.size(2), weight.size(2), params.stride.h, params.padding.h, params.dilation.h, op_pad.h);
  const int64_t OW =
      out_size(x.size(3), weight.size(3), params.stride.w, params.padding.w, params.dilation.w, op_pad.w);
  if (OH < 1 || OW < 1)
    throw Error(fmt::format("{}: input {} with weight {} and padding {} gives an empty output ({}, {})", op,
                            shape_str(x.shape()), shape_str(weight.shape()), size2_str(params.padding), OH, OW));
  // The convolution this is the adjoint of: from the output [N, O, OH, OW] to x.
  const Conv2dParams p = as_conv(params);
  const kernels::Conv2dShape s = conv_shape(op, {x.size(0), out_channels, OH, OW}, weight.shape(), x.size(1), p);
  check_bias(x, bias, out_channels, op);
  Tensor out = empty({x.size(0), out_channels, OH, OW}, {.dtype = x.dtype()});
  detail::dispatch_float(x, op, [&](auto z) {
    using T = decltype(z);
    Tensor ws = workspace(kernels::conv2d_workspace_size(s), x.dtype());
    kernels::conv2d_backward_input(s, x.data<T>(), weight.data<T>(), out.data<T>(), ws.data<T>());
  });
  add_channel_bias(out, bias);
  return record_op("conv_transpose2d", out, {x, weight, bias}, [x, weight, bias, p](const Tensor& g) {
    Tensor gx = x.requires_grad() ? conv2d(g, weight, Tensor(), p) : Tensor();
    Tensor gw = weight.requires_grad() ? conv2d_weight(g, weight.shape(), x, p) : Tensor();
    Tensor gb = bias.defined() && bias.requires_grad() ? channel_sum(g) : Tensor();
    return Grads{gx, gw, gb};
  });
}

Tensor conv2d_weight(const Tensor& x, const Shape& weight_shape, const Tensor& grad_output,
                     const Conv2dParams& params) {
  constexpr std::string_view op = "conv2d_weight";
  check_4d(x, op, "input");
  check_4d(grad_output, op, "grad_output");
  detail::check_same_dtype(x, grad_output, op);
  if (weight_shape.size() != 4) throw Error(fmt::format("{}: weight shape {} is not 4-D", op, shape_str(weight_shape)));
  const kernels::Conv2dShape s = conv_shape(op, x.shape(), weight_shape, weight_shape[0], params);
  if (weight_shape[1] != s.in_channels / s.groups ||
      grad_output.shape() != Shape{s.batch, s.out_channels, s.out_h(), s.out_w()})
    throw Error(fmt::format("{}: input {}, weight {} and grad_output {} do not belong to one convolution", op,
                            shape_str(x.shape()), shape_str(weight_shape), shape_str(grad_output.shape())));
  Tensor out = empty(weight_shape, {.dtype = x.dtype()});
  detail::dispatch_float(x, op, [&](auto z) {
    using T = decltype(z);
    Tensor ws = workspace(kernels::conv2d_workspace_size(s), x.dtype());
    kernels::conv2d_backward_weight(s, x.data<T>(), grad_output.data<T>(), out.data<T>(), ws.data<T>());
  });
  return record_op("conv2d_weight", out, {x, grad_output}, [x, grad_output, params, s](const Tensor& g) {
    Tensor gx = x.requires_grad() ? conv_transpose2d(grad_output, g, Tensor(), transpose_of(params, s)) : Tensor();
    Tensor ggo = grad_output.requires_grad() ? conv2d(x, g, Tensor(), params) : Tensor();
    return Grads{gx, ggo};
  });
}

// ---- pooling ----

namespace {

// The kernels' shape of pooling x [..., H, W] (3-D or 4-D) by `kernel`, every size checked.
kernels::Pool2dShape pool_shape(std::string_view op, const Shape& x, Size2 kernel, std::optional<Size2> stride,
                                Size2 padding) {
  if (x.size() != 3 && x.size() != 4)
    throw Error(fmt::format("{}: input {} is not 3-D or 4-D ([N, C, H, W] or [C, H, W] expected)", op, shape_str(x)));
  const Size2 st = stride.value_or(kernel);
  check_positive(kernel, op, "kernel");
  check_positive(st, op, "stride");
  check_nonnegative(padding, op, "padding");
  if (2 * padding.h > kernel.h || 2 * padding.w > kernel.w)
    throw Error(
        fmt::format("{}: padding {} is more than half the kernel {}", op, size2_str(padding), size2_str(kernel)));
  const int64_t H = x[x.size() - 2], W = x[x.size() - 1];
  const kernels::Pool2dShape s{.planes = shape_numel(x) / std::max<int64_t>(H * W, 1),
                               .in_h = H,
                               .in_w = W,
                               .kernel_h = kernel.h,
                               .kernel_w = kernel.w,
                               .stride_h = st.h,
                               .stride_w = st.w,
                               .pad_h = padding.h,
                               .pad_w = padding.w};
  if (H + 2 * padding.h < kernel.h || W + 2 * padding.w < kernel.w)
    throw Error(fmt::format("{}: input {} padded by {} is smaller than the kernel {}", op, shape_str(x),
                            size2_str(padding), size2_str(kernel)));
  return s;
}

Shape with_plane(const Shape& x, int64_t h, int64_t w) {
  Shape out = x;
  out[out.size() - 2] = h;
  out[out.size() - 1] = w;
  return out;
}

}  // namespace

std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, Size2 kernel, std::optional<Size2> stride,
                                                  Size2 padding) {
  detail::check_defined(x, "max_pool2d");
  const kernels::Pool2dShape s = pool_shape("max_pool2d", x.shape(), kernel, stride, padding);
  Tensor out = empty(with_plane(x.shape(), s.out_h(), s.out_w()), {.dtype = x.dtype()});
  Tensor indices = empty(out.shape(), {.dtype = kInt64});
  detail::dispatch_float(x, "max_pool2d", [&](auto z) {
    using T = decltype(z);
    kernels::max_pool2d_forward(s, x.data<T>(), out.data<T>(), indices.data<int64_t>());
  });
  out = record_op("max_pool2d", out, {x}, [indices, from = x.shape(), s](const Tensor& g) {
    const Shape planes_out{s.planes, s.out_h() * s.out_w()};
    return Grads{
        scatter_add({s.planes, s.in_h * s.in_w}, 1, indices.reshape(planes_out), g.reshape(planes_out)).reshape(from)};
  });
  return {out, indices};
}

Tensor max_pool2d(const Tensor& x, Size2 kernel, std::optional<Size2> stride, Size2 padding) {
  return max_pool2d_with_indices(x, kernel, stride, padding).first;
}

Tensor avg_pool2d(const Tensor& x, Size2 kernel, std::optional<Size2> stride, Size2 padding) {
  detail::check_defined(x, "avg_pool2d");
  const kernels::Pool2dShape s = pool_shape("avg_pool2d", x.shape(), kernel, stride, padding);
  Tensor out = empty(with_plane(x.shape(), s.out_h(), s.out_w()), {.dtype = x.dtype()});
  detail::dispatch_float(x, "avg_pool2d", [&](auto z) {
    using T = decltype(z);
    kernels::avg_pool2d_forward(s, x.data<T>(), out.data<T>());
  });
  return record_op("avg_pool2d", out, {x}, [from = x.shape(), kernel, stride, padding](const Tensor& g) {
    return Grads{avg_pool2d_backward(g, from, kernel, stride, padding)};
  });
}

Tensor avg_pool2d_backward(const Tensor& grad_output, const Shape& input_shape, Size2 kernel,
                           std::optional<Size2> stride, Size2 padding) {
  detail::check_defined(grad_output, "avg_pool2d_backward");
  const kernels::Pool2dShape s = pool_shape("avg_pool2d_backward", input_shape, kernel, stride, padding);
  if (grad_output.shape() != with_plane(input_shape, s.out_h(), s.out_w()))
    throw Error(fmt::format("avg_pool2d_backward: grad_output {} is not the pooled shape of input {}",
                            shape_str(grad_output.shape()), shape_str(input_shape)));
  Tensor out = empty(input_shape, {.dtype = grad_output.dtype()});
  detail::dispatch_float(grad_output, "avg_pool2d_backward", [&](auto z) {
    using T = decltype(z);
    kernels::avg_pool2d_backward(s, grad_output.data<T>(), out.data<T>());
  });
  return record_op("avg_pool2d_backward", out, {grad_output}, [kernel, stride, padding](const Tensor& g) {
    return Grads{avg_pool2d(g, kernel, stride, padding)};
  });
}

namespace {

kernels::Pool2dShape adaptive_shape(std::string_view op, const Shape& x, Size2 output_size) {
  if (x.size() != 3 && x.size() != 4)
    throw Error(fmt::format("{}: input {} is not 3-D or 4-D ([N, C, H, W] or [C, H, W] expected)", op, shape_str(x)));
  check_positive(output_size, op, "output size");
  const int64_t H = x[x.size() - 2], W = x[x.size() - 1];
  if (H < 1 || W < 1) throw Error(fmt::format("{}: input {} has an empty plane", op, shape_str(x)));
  return {.planes = shape_numel(x) / (H * W), .in_h = H, .in_w = W};
}

}  // namespace

Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size) {
  detail::check_defined(x, "adaptive_avg_pool2d");
  const kernels::Pool2dShape s = adaptive_shape("adaptive_avg_pool2d", x.shape(), output_size);
  Tensor out = empty(with_plane(x.shape(), output_size.h, output_size.w), {.dtype = x.dtype()});
  detail::dispatch_float(x, "adaptive_avg_pool2d", [&](auto z) {
    using T = decltype(z);
    kernels::adaptive_avg_pool2d_forward(s, output_size.h, output_size.w, x.data<T>(), out.data<T>());
  });
  return record_op("adaptive_avg_pool2d", out, {x},
                   [from = x.shape()](const Tensor& g) { return Grads{adaptive_avg_pool2d_backward(g, from)}; });
}

Tensor adaptive_avg_pool2d_backward(const Tensor& grad_output, const Shape& input_shape) {
  constexpr std::string_view op = "adaptive_avg_pool2d_backward";
  detail::check_defined(grad_output, op);
  const kernels::Pool2dShape s = adaptive_shape(op, input_shape, 1);
  const int64_t d = grad_output.dim();
  if (d != int64_t(input_shape.size()) ||
      grad_output.shape() != with_plane(input_shape, grad_output.size(-2), grad_output.size(-1)))
    throw Error(fmt::format("{}: grad_output {} does not pool input {}", op, shape_str(grad_output.shape()),
                            shape_str(input_shape)));
  const Size2 output_size{grad_output.size(-2), grad_output.size(-1)};
  check_positive(output_size, op, "output size");
  Tensor out = empty(input_shape, {.dtype = grad_output.dtype()});
  detail::dispatch_float(grad_output, op, [&](auto z) {
    using T = decltype(z);
    kernels::adaptive_avg_pool2d_backward(s, output_size.h, output_size.w, grad_output.data<T>(), out.data<T>());
  });
  return record_op("adaptive_avg_pool2d_backward", out, {grad_output},
                   [output_size](const Tensor& g) { return Grads{adaptive_avg_pool2d(g, output_size)}; });
}

// ---- batch normalization ----

namespace {

void check_channel_vector(const Tensor& x, const Tensor& v, std::string_view what) {
  if (!v.defined()) return;
  detail::check_same_dtype(x, v, "batch_norm");
  if (v.dim() != 1 || v.size(0) != x.size(1))
    throw Error(fmt::format("batch_norm: {} {} does not match the {} channels of input {}", what, shape_str(v.shape()),
                            x.size(1), shape_str(x.shape())));
}

// [C] -> [1, C, 1]: broadcasts against x viewed as [N, C, S].
Tensor per_channel(const Tensor& v) { return v.reshape({1, v.size(0), 1}); }

// Sum over axes 0 and 2 of [N, C, S], kept as [1, C, 1].
Tensor sum_but_channels(const Tensor& t) { return t.sum(0, true).sum(2, true); }

// The first-order gradients of training-mode batch norm in two fused passes (the backward below
// spells the same formula in Tensor ops, which second order differentiates).
// y: the output of a fused ReLU (undefined without one), whose gate g passes first.
Grads batch_norm_grads(const Tensor& x, const Tensor& g, const Tensor& y, const Tensor& weight, const Tensor& bias,
                       const Tensor& mean, const Tensor& invstd, const Shape& x3) {
  const int64_t C = x3[1];
  Tensor sums = empty({2, C}, {.dtype = kFloat64});
  Tensor gx = x.requires_grad() ? empty(x.shape(), {.dtype = x.dtype()}) : Tensor();
  const Tensor scale = weight.defined() ? invstd * weight : invstd;
  detail::dispatch_float(x, "batch_norm", [&](auto z) {
    using T = decltype(z);
    double* g_sum = sums.data<double>();
    kernels::batch_norm_backward(x3[0], C, x3[2], x.data<T>(), g.data<T>(), y.defined() ? y.data<T>() : nullptr,
                                 mean.data<T>(), invstd.data<T>(), scale.data<T>(), g_sum, g_sum + C,
                                 gx.defined() ? gx.data<T>() : nullptr);
  });
  Tensor gw, gb;
  if (weight.defined() && weight.requires_grad()) gw = sums.select(0, 1).to(x.dtype());
  if (bias.defined() && bias.requires_grad()) gb = sums.select(0, 0).to(x.dtype());
  return Grads{gx, gw, gb};
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps, Activation activation) {
  detail::check_defined(x, "batch_norm");
  if (x.dim() < 2)
    throw Error(fmt::format("batch_norm: input {} has no channel axis ([N, C, ...] expected)", shape_str(x.shape())));
  check_channel_vector(x, running_mean, "running_mean");
  check_channel_vector(x, running_var, "running_var");
  check_channel_vector(x, weight, "weight");
  check_channel_vector(x, bias, "bias");
  if (running_mean.defined() != running_var.defined())
    throw Error("batch_norm: running_mean and running_var must be given together");
  if (!(eps > 0)) throw Error(fmt::format("batch_norm: eps {} must be positive", eps));
  const int64_t N = x.size(0), C = x.size(1), S = x.numel() / std::max<int64_t>(N * C, 1);
  const Shape x3{N, C, S};
  const bool relu = activation == Activation::ReLU;

  if (!training) {
    if (!running_mean.defined()) throw Error("batch_norm: eval mode needs running_mean and running_var");
    // Running statistics are constants here: the normalization is a per-channel affine map.
    Tensor scale = (running_var.detach() + eps).pow(-0.5);
    if (weight.defined()) scale = scale * weight;
    if (!grad_enabled()) {  // evaluation: one pass, y = x * scale + shift
      const Tensor shift = bias.defined() ? bias - running_mean * scale : -(running_mean * scale);
      Tensor out = empty(x.shape(), {.dtype = x.dtype()});
      detail::dispatch_float(x, "batch_norm", [&](auto z) {
        using T = decltype(z);
        kernels::batch_norm_apply(N, C, S, x.data<T>(), scale.data<T>(), shift.data<T>(), out.data<T>(), relu);
      });
      return out;
    }
    Tensor y = (x.reshape(x3) - per_channel(running_mean.detach())) * per_channel(scale);
    if (bias.defined()) y = y + per_channel(bias);
    y = y.reshape(x.shape());
    return relu ? y.relu() : y;
  }

  if (N * S <= 1)
    throw Error(
        fmt::format("batch_norm: training needs more than one value per channel, input {}", shape_str(x.shape())));
  Tensor mean = empty({C}, {.dtype = x.dtype()}), invstd = empty({C}, {.dtype = x.dtype()});
  Tensor out = empty(x.shape(), {.dtype = x.dtype()});
  detail::dispatch_float(x, "batch_norm", [&](auto z) {
    using T = decltype(z);
    Tensor stats = empty({2, C}, {.dtype = kFloat64});
    double* m = stats.data<double>();
    double* v = m + C;
    kernels::batch_norm_stats(N, C, S, x.data<T>(), m, v);
    Tensor scale = empty({C}, {.dtype = x.dtype()}), shift = empty({C}, {.dtype = x.dtype()});
    for (int64_t c = 0; c < C; ++c) {
      const double is = 1.0 / std::sqrt(v[c] + eps);
      const double a = weight.defined() ? double(weight.data<T>()[c]) * is : is;
      mean.data<T>()[c] = T(m[c]);
      invstd.data<T>()[c] = T(is);
      scale.data<T>()[c] = T(a);
      shift.data<T>()[c] = T((bias.defined() ? double(bias.data<T>()[c]) : 0.0) - m[c] * a);
    }
    kernels::batch_norm_apply(N, C, S, x.data<T>(), scale.data<T>(), shift.data<T>(), out.data<T>(), relu);
    if (running_mean.defined()) {
      const double unbiased = double(N * S) / double(N * S - 1);
      Tensor rm_t = running_mean, rv_t = running_var;  // handles on the buffers updated in place
      T* rm = rm_t.data<T>();
      T* rv = rv_t.data<T>();
      for (int64_t c = 0; c < C; ++c) {
        rm[c] = T((1 - momentum) * double(rm[c]) + momentum * m[c]);
        rv[c] = T((1 - momentum) * double(rv[c]) + momentum * v[c] * unbiased);
      }
    }
  });
  // dx = weight invstd (g - mean(g) - xhat mean(g xhat)), means over every axis but 1.
  const Tensor y = relu ? out.detach() : Tensor();
  return record_op("batch_norm", out, {x, weight, bias},
                   [x, y, weight, bias, mean, invstd, x3, eps](const Tensor& out_grad) {
                     if (!grad_enabled()) return batch_norm_grads(x, out_grad, y, weight, bias, mean, invstd, x3);
                     const Tensor g = y.defined() ? detail::relu_backward(out_grad, y) : out_grad;
                     // create_graph: the statistics as functions of x, for second order.
                     const double M = double(x3[0] * x3[2]);
                     const Tensor x_3 = x.reshape(x3);
                     const Tensor xc = x_3 - sum_but_channels(x_3) / M;
                     const Tensor is = (sum_but_channels(xc * xc) / M + eps).pow(-0.5);
                     const Tensor xhat = xc * is, g3 = g.reshape(x3);
                     const Tensor g_sum = sum_but_channels(g3), gxhat_sum = sum_but_channels(g3 * xhat);
                     Tensor gx, gw, gb;
                     if (x.requires_grad()) {
                       const Tensor a = weight.defined() ? is * per_channel(weight) : is;
                       gx = ((g3 - g_sum / M - xhat * (gxhat_sum / M)) * a).reshape(x.shape());
                     }
                     if (weight.defined() && weight.requires_grad()) gw = gxhat_sum.reshape({x3[1]});
                     if (bias.defined() && bias.requires_grad()) gb = g_sum.reshape({x3[1]});
                     return Grads{gx, gw, gb};
                   });
}

}  // namespace minigrad
