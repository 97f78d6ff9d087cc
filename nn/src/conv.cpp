#include <minigrad/nn/conv.h>
#include <minigrad/nn/init.h>

#include <cmath>

namespace minigrad::nn {

namespace {

// Weight kaiming_uniform_(a = sqrt(5)), bias U(+-1/sqrt(fan_in)): PyTorch's reset_parameters.
void init_conv(Tensor& weight, Tensor& bias, Generator* gen) {
  init::kaiming_uniform_(weight, {.a = std::sqrt(5.0)}, gen);
  if (!bias.defined()) return;
  const double bound = 1.0 / std::sqrt(static_cast<double>(init::fans(weight).first));
  init::uniform_(bias, -bound, bound, gen);
}

void check_channels(std::string_view layer, int64_t in, int64_t out, Size2 kernel, int64_t groups) {
  if (in <= 0 || out <= 0 || kernel.h <= 0 || kernel.w <= 0)
    throw Error(fmt::format("{}: channels and kernel size must be positive, got {}->{} and {}x{}", layer, in, out,
                            kernel.h, kernel.w));
  if (groups <= 0 || in % groups != 0 || out % groups != 0)
    throw Error(fmt::format("{}: groups {} must divide both {} input and {} output channels", layer, groups, in, out));
}

// " stride 2 pad 1 ..." for the options that differ from their defaults.
std::string options_str(Size2 stride, Size2 padding, Size2 dilation, int64_t groups) {
  const auto pair = [](Size2 s) { return s.h == s.w ? fmt::format("{}", s.h) : fmt::format("{}x{}", s.h, s.w); };
  std::string out;
  if (stride != Size2(1)) out += " stride " + pair(stride);
  if (padding != Size2(0)) out += " pad " + pair(padding);
  if (dilation != Size2(1)) out += " dilation " + pair(dilation);
  if (groups != 1) out += fmt::format(" groups {}", groups);
  return out;
}

// The output of an image-shaped input [N, C, H, W] (or [C, H, W]) with `channels` channels and
// a plane of (h(H), w(W)); nullopt when the input is not image-shaped.
template <typename F>
std::optional<Shape> image_output(const std::optional<Shape>& input, std::optional<int64_t> channels, F&& plane) {
  if (!input || (input->size() != 3 && input->size() != 4)) return std::nullopt;
  Shape out = *input;
  const size_t n = out.size();
  if (channels) out[n - 3] = *channels;
  const Size2 hw = plane(out[n - 2], out[n - 1]);
  out[n - 2] = hw.h;
  out[n - 1] = hw.w;
  return out;
}

int64_t conv_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
  return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

}  // namespace

Conv2d::Conv2d(int64_t in, int64_t out, Size2 kernel, Conv2dOptions o)
    : in_channels(in),
      out_channels(out),
      kernel_size(kernel),
      params{.stride = o.stride, .padding = o.padding, .dilation = o.dilation, .groups = o.groups} {
  check_channels("Conv2d", in, out, kernel, o.groups);
  weight = register_parameter("weight", empty({out, in / o.groups, kernel.h, kernel.w}, {.dtype = o.dtype}));
  if (o.bias) bias = register_parameter("bias", empty({out}, {.dtype = o.dtype}));
  init_conv(weight, bias, o.generator);
}

Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight, bias, params); }

std::string Conv2d::kind() const {
  return fmt::format("Conv2d {}->{} {}x{}{}{}", in_channels, out_channels, kernel_size.h, kernel_size.w,
                     options_str(params.stride, params.padding, params.dilation, params.groups),
                     bias.defined() ? "" : " no bias");
}

std::optional<Shape> Conv2d::output_shape(const std::optional<Shape>& input) const {
  const Conv2dParams& p = params;
  return image_output(input, out_channels, [&](int64_t h, int64_t w) {
    return Size2{conv_size(h, kernel_size.h, p.stride.h, p.padding.h, p.dilation.h),
                 conv_size(w, kernel_size.w, p.stride.w, p.padding.w, p.dilation.w)};
  });
}

ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, Size2 kernel, ConvTranspose2dOptions o)
    : in_channels(in),
      out_channels(out),
      kernel_size(kernel),
      params{.stride = o.stride,
             .padding = o.padding,
             .output_padding = o.output_padding,
             .groups = o.groups,
             .dilation = o.dilation} {
  check_channels("ConvTranspose2d", in, out, kernel, o.groups);
  weight = register_parameter("weight", empty({in, out / o.groups, kernel.h, kernel.w}, {.dtype = o.dtype}));
  if (o.bias) bias = register_parameter("bias", empty({out}, {.dtype = o.dtype}));
  init_conv(weight, bias, o.generator);
}

Tensor ConvTranspose2d::forward(const Tensor& x) { return conv_transpose2d(x, weight, bias, params); }

std::string ConvTranspose2d::kind() const {
  std::string extra = options_str(params.stride, params.padding, params.dilation, params.groups);
  if (params.output_padding != Size2(0))
    extra += fmt::format(" output_padding {}x{}", params.output_padding.h, params.output_padding.w);
  return fmt::format("ConvTranspose2d {}->{} {}x{}{}{}", in_channels, out_channels, kernel_size.h, kernel_size.w, extra,
                     bias.defined() ? "" : " no bias");
}

std::optional<Shape> ConvTranspose2d::output_shape(const std::optional<Shape>& input) const {
  const ConvTranspose2dParams& p = params;
  const auto size = [](int64_t in, int64_t k, int64_t s, int64_t pad, int64_t d, int64_t extra) {
    return in < 0 ? in : (in - 1) * s - 2 * pad + d * (k - 1) + extra + 1;
  };
  return image_output(input, out_channels, [&](int64_t h, int64_t w) {
    return Size2{size(h, kernel_size.h, p.stride.h, p.padding.h, p.dilation.h, p.output_padding.h),
                 size(w, kernel_size.w, p.stride.w, p.padding.w, p.dilation.w, p.output_padding.w)};
  });
}

std::string Pool2d::describe(std::string_view name) const {
  return fmt::format("{} {}x{}{}", name, kernel_size.h, kernel_size.w,
                     options_str(stride == kernel_size ? Size2(1) : stride, padding, 1, 1));
}

std::optional<Shape> Pool2d::output_shape(const std::optional<Shape>& input) const {
  return image_output(input, std::nullopt, [&](int64_t h, int64_t w) {
    return Size2{conv_size(h, kernel_size.h, stride.h, padding.h, 1),
                 conv_size(w, kernel_size.w, stride.w, padding.w, 1)};
  });
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(Size2 size) : output_size(size) {}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) { return adaptive_avg_pool2d(x, output_size); }

std::string AdaptiveAvgPool2d::kind() const {
  return fmt::format("AdaptiveAvgPool2d {}x{}", output_size.h, output_size.w);
}

std::optional<Shape> AdaptiveAvgPool2d::output_shape(const std::optional<Shape>& input) const {
  return image_output(input, std::nullopt, [&](int64_t, int64_t) { return output_size; });
}

}  // namespace minigrad::nn
