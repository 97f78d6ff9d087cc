#include "arch.h"

#include <charconv>
#include <sstream>

#include <fmt/format.h>

#include <minigrad/minigrad.h>

#include "config.h"

namespace fashion {

namespace nn = minigrad::nn;
using minigrad::Error;
using minigrad::Tensor;

namespace {

bool is_activation(std::string_view kind) {
  const std::vector<std::string_view> names = nn::activation_names();
  return std::find(names.begin(), names.end(), kind) != names.end();
}

// The words of one entry, read left to right with errors that name the entry.
class Words {
 public:
  Words(const std::string& entry, size_t index) : where_(fmt::format("arch[{}] '{}'", index, entry)) {
    std::istringstream in(entry);
    for (std::string w; in >> w;) words_.push_back(w);
    if (words_.empty()) fail("is empty");
  }
  [[noreturn]] void fail(std::string_view why) const { throw UsageError(fmt::format("{}: {}", where_, why)); }
  const std::string& kind() const { return words_[0]; }

  // The next word as a positive integer (the layer's size).
  int64_t positive(std::string_view what) {
    const int64_t v = integer(what);
    if (v <= 0) fail(fmt::format("{} {} must be positive", what, v));
    return v;
  }
  // The next word as a probability in [0, 1).
  double probability() {
    const std::string w = next("a probability");
    double v = 0;
    const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
    if (ec != std::errc{} || end != w.data() + w.size() || !(v >= 0 && v < 1))
      fail(fmt::format("'{}' is not a probability in [0, 1)", w));
    return v;
  }
  // "name value" pairs until the end, for the names allowed.
  void options(std::initializer_list<std::pair<std::string_view, int64_t*>> allowed) {
    while (at_ < words_.size()) {
      const std::string name = words_[at_++];
      auto it = std::find_if(allowed.begin(), allowed.end(), [&](const auto& a) { return a.first == name; });
      if (it == allowed.end()) fail(fmt::format("unexpected '{}'", name));
      *it->second = integer(name);
    }
  }
  void end() const {
    if (at_ < words_.size()) fail(fmt::format("unexpected '{}'", words_[at_]));
  }

 private:
  std::string next(std::string_view what) {
    if (at_ >= words_.size()) fail(fmt::format("{} is missing", what));
    return words_[at_++];
  }
  int64_t integer(std::string_view what) {
    const std::string w = next(what);
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
    if (ec != std::errc{} || end != w.data() + w.size()) fail(fmt::format("{} '{}' is not an integer", what, w));
    // Bounded so that window sizes cannot overflow; a model this wide is refused later by its size.
    if (v > kMaxNumber) fail(fmt::format("{} {} is larger than {}", what, v, kMaxNumber));
    return v;
  }

  static constexpr int64_t kMaxNumber = int64_t{1} << 24;
  std::string where_;
  std::vector<std::string> words_;
  size_t at_ = 1;
};

// The output size of a window of `kernel` with `stride` and `pad` over `in`, or <= 0 when it does not fit.
int64_t window_output(int64_t in, int64_t kernel, int64_t stride, int64_t pad) {
  return in + 2 * pad < kernel ? 0 : (in + 2 * pad - kernel) / stride + 1;
}

int64_t saturating_add(int64_t a, int64_t b) {
  int64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? INT64_MAX : sum;
}

int64_t saturating_mul(int64_t a, int64_t b) {
  int64_t product = 0;
  return __builtin_mul_overflow(a, b, &product) ? INT64_MAX : product;
}

// Parameters of a KxK convolution from `in` to `out` channels.
int64_t conv_parameters(int64_t in, int64_t out, int64_t kernel, bool bias) {
  return saturating_add(saturating_mul(saturating_mul(in, out), kernel * kernel), bias ? out : 0);
}

// The nonlinearity that follows layer i (skipping normalization, pooling and dropout), for the
// init's gain; Linear when none does.
nn::init::Nonlinearity following_nonlinearity(const std::vector<Layer>& layers, size_t i) {
  using nn::init::Nonlinearity;
  for (size_t j = i + 1; j < layers.size(); ++j) {
    const std::string& k = layers[j].kind;
    if (k == "relu" || k == "leaky_relu" || k == "gelu") return Nonlinearity::ReLU;
    if (k == "tanh") return Nonlinearity::Tanh;
    if (k == "sigmoid") return Nonlinearity::Sigmoid;
    if (k != "bn" && k != "dropout" && k != "dropout2d" && k != "maxpool" && k != "avgpool") break;
  }
  return Nonlinearity::Linear;
}

// A residual block of two 3x3 convolutions (He et al.'s basic block).
class ResidualBlock : public nn::Module {
 public:
  ResidualBlock(int64_t in, int64_t out, int64_t stride, minigrad::DType dtype) : in_(in), out_(out), stride_(stride) {
    body_ = register_module("body",
                            std::make_shared<nn::Sequential>(
                                nn::Conv2d(in, out, 3, {.stride = stride, .padding = 1, .bias = false, .dtype = dtype}),
                                nn::BatchNorm2d(out, {.dtype = dtype}), nn::ReLU(),
                                nn::Conv2d(out, out, 3, {.padding = 1, .bias = false, .dtype = dtype}),
                                nn::BatchNorm2d(out, {.dtype = dtype})));
    if (in != out || stride != 1)
      shortcut_ = register_module(
          "shortcut",
          std::make_shared<nn::Sequential>(nn::Conv2d(in, out, 1, {.stride = stride, .bias = false, .dtype = dtype}),
                                           nn::BatchNorm2d(out, {.dtype = dtype})));
  }
  Tensor forward(const Tensor& x) override { return ((*body_)(x) + (shortcut_ ? (*shortcut_)(x) : x)).relu(); }
  std::string kind() const override { return fmt::format("ResidualBlock {}->{} stride {}", in_, out_, stride_); }
  std::optional<minigrad::Shape> output_shape(const std::optional<minigrad::Shape>& input) const override {
    return body_->output_shape(input);
  }
  // Each convolution initialized for the ReLU that follows it.
  void initialize(const TrainConfig& c) {
    for (const Tensor& p : parameters())
      if (p.dim() == 4) {
        Tensor w = p;
        initialize_weight(w, Tensor(), c, nn::init::Nonlinearity::ReLU);
      }
  }

 private:
  int64_t in_, out_, stride_;
  std::shared_ptr<nn::Sequential> body_, shortcut_;
};

}  // namespace

void initialize_weight(Tensor& weight, Tensor bias, const TrainConfig& c, nn::init::Nonlinearity nonlinearity) {
  // The layer's own (PyTorch's) default; also kept for the output layer under kaiming, whose gain
  // would make the first logits large (a first loss far above ln 10).
  const bool output_layer = nonlinearity == nn::init::Nonlinearity::Linear;
  const Init init = choice<Init>(c.init);
  switch (init) {
    case Init::Torch:
      return;
    case Init::Kaiming:
      if (output_layer) return;
      nn::init::kaiming_normal_(weight, {.nonlinearity = nonlinearity});
      break;
    case Init::Xavier:
      nn::init::xavier_uniform_(weight, nn::init::calculate_gain(nonlinearity));
      break;
    case Init::Normal:
      nn::init::normal_(weight, 0.0, c.init_scale);
      break;
    case Init::Uniform:
      nn::init::uniform_(weight, -c.init_scale, c.init_scale);
      break;
  }
  if (!bias.defined()) return;
  if (init == Init::Uniform)
    nn::init::uniform_(bias, -c.init_scale, c.init_scale);
  else
    nn::init::zeros_(bias);
}

std::vector<std::string> mlp_arch(const TrainConfig& c) {
  std::vector<std::string> arch;
  if (c.input_dropout > 0) arch.push_back(fmt::format("dropout {}", c.input_dropout));
  for (int64_t width : c.hidden) {
    arch.push_back(fmt::format("linear {}", width));
    arch.push_back(c.activation);
    if (c.dropout > 0) arch.push_back(fmt::format("dropout {}", c.dropout));
  }
  return arch;
}

std::vector<Layer> plan_arch(const std::vector<std::string>& arch) {
  std::vector<Layer> layers;
  bool image = false;  // the input is flat pixels until a layer needs an image
  bool pixels = true;  // the input is still the pixels (nothing has mixed them into features)
  int64_t channels = 1, height = kImageSide, width = kImageSide, features = kImagePixels;
  for (size_t i = 0; i < arch.size(); ++i) {
    Words words(arch[i], i);
    Layer layer{.entry = arch[i], .kind = words.kind()};
    const std::string& k = layer.kind;
    const bool needs_image = k == "conv" || k == "res" || k == "maxpool" || k == "avgpool" || k == "gap" ||
                             k == "flatten" || k == "dropout2d";
    if (needs_image && !image) {
      if (!pixels) words.fail(fmt::format("needs an image, and its input is {} flat features", features));
      image = true;
    }
    if (k == "linear" || k == "gap" || k == "flatten") pixels = false;
    if (k == "linear" && image) words.fail("needs flat features: put 'flatten' or 'gap' before it");
    layer.image_input = image;
    layer.channels = channels, layer.height = height, layer.width = width, layer.features = features;

    if (k == "conv" || k == "maxpool" || k == "avgpool") {
      if (k == "conv") layer.size = words.positive("the number of output channels");
      const int64_t kernel = layer.kernel = words.positive("the kernel size");
      layer.stride = k == "conv" ? 1 : kernel;
      int64_t bias = 1;
      if (k == "conv")
        words.options({{"stride", &layer.stride}, {"pad", &layer.pad}, {"bias", &bias}});
      else
        words.options({{"stride", &layer.stride}, {"pad", &layer.pad}});
      if (bias != 0 && bias != 1) words.fail(fmt::format("bias {} must be 0 or 1", bias));
      layer.bias = bias == 1;
      if (layer.stride <= 0) words.fail(fmt::format("stride {} must be positive", layer.stride));
      if (layer.pad < 0 || (k != "conv" && 2 * layer.pad > kernel))
        words.fail(fmt::format("pad {} must be in [0, {}]", layer.pad, k == "conv" ? kernel : kernel / 2));
      const int64_t h = window_output(height, kernel, layer.stride, layer.pad);
      const int64_t w = window_output(width, kernel, layer.stride, layer.pad);
      if (h <= 0 || w <= 0)
        words.fail(
            fmt::format("a {}x{} window does not fit its {}x{}x{} input", kernel, kernel, channels, height, width));
      if (k == "conv") channels = layer.size;
      height = h, width = w;
    } else if (k == "res") {
      layer.size = words.positive("the number of output channels");
      layer.stride = 1;
      words.options({{"stride", &layer.stride}});
      if (layer.stride <= 0) words.fail(fmt::format("stride {} must be positive", layer.stride));
      channels = layer.size, height = window_output(height, 3, layer.stride, 1),
      width = window_output(width, 3, layer.stride, 1);
    } else if (k == "linear") {
      layer.size = words.positive("the number of outputs");
      features = layer.size;
    } else if (k == "dropout" || k == "dropout2d") {
      layer.p = words.probability();
    } else if (k == "gap" || k == "flatten") {
      features = k == "gap" ? channels : saturating_mul(saturating_mul(channels, height), width);
      image = false;
    } else if (k != "bn" && !is_activation(k)) {
      words.fail(
          "unknown layer (conv, res, maxpool, avgpool, gap, flatten, linear, bn, dropout, dropout2d, "
          "relu, leaky_relu, tanh, sigmoid, gelu)");
    }
    words.end();
    if (image) features = saturating_mul(saturating_mul(channels, height), width);
    layers.push_back(std::move(layer));
  }
  // The output layer, after a flatten when the last entry leaves an image.
  if (image)
    layers.push_back({.entry = "flatten",
                      .kind = "flatten",
                      .image_input = true,
                      .channels = channels,
                      .height = height,
                      .width = width,
                      .features = features});
  layers.push_back(
      {.entry = fmt::format("linear {}", kClasses), .kind = "linear", .size = kClasses, .features = features});
  return layers;
}

ArchSize arch_size(const std::vector<Layer>& layers) {
  ArchSize size;
  // A BatchNorm of n features: weight and bias; running mean and variance and the batch counter.
  const auto batch_norm = [&](int64_t n) {
    size.parameters = saturating_add(size.parameters, 2 * n);
    size.buffer_values = saturating_add(size.buffer_values, 2 * n + 1);
  };
  for (const Layer& l : layers) {
    int64_t n = 0;
    if (l.kind == "linear")
      n = saturating_add(saturating_mul(l.features, l.size), l.size);
    else if (l.kind == "conv")
      n = conv_parameters(l.channels, l.size, l.kernel, l.bias);
    else if (l.kind == "bn")
      batch_norm(l.image_input ? l.channels : l.features);
    else if (l.kind == "res") {
      n = saturating_add(conv_parameters(l.channels, l.size, 3, false), conv_parameters(l.size, l.size, 3, false));
      batch_norm(l.size), batch_norm(l.size);
      if (l.channels != l.size || l.stride != 1) {
        n = saturating_add(n, conv_parameters(l.channels, l.size, 1, false));
        batch_norm(l.size);
      }
    }
    size.parameters = saturating_add(size.parameters, n);
  }
  return size;
}

std::shared_ptr<nn::Sequential> build_arch(const TrainConfig& c, minigrad::DType dtype) {
  const std::vector<Layer> layers = plan_arch(c.arch.empty() ? mlp_arch(c) : c.arch);
  auto model = std::make_shared<nn::Sequential>();
  for (size_t i = 0; i < layers.size(); ++i) {
    const Layer& l = layers[i];
    const std::string& k = l.kind;
    if (l.image_input && (i == 0 || !layers[i - 1].image_input))
      model->push_back(nn::Unflatten(1, {l.channels, l.height, l.width}));
    if (k == "conv") {
      auto conv = std::make_shared<nn::Conv2d>(
          l.channels, l.size, l.kernel,
          nn::Conv2dOptions{.stride = l.stride, .padding = l.pad, .bias = l.bias, .dtype = dtype});
      initialize_weight(conv->weight, conv->bias, c, following_nonlinearity(layers, i));
      model->push_back(conv);
    } else if (k == "linear") {
      auto linear = std::make_shared<nn::Linear>(l.features, l.size, nn::LinearOptions{.dtype = dtype});
      initialize_weight(linear->weight, linear->bias, c, following_nonlinearity(layers, i));
      model->push_back(linear);
    } else if (k == "res") {
      auto block = std::make_shared<ResidualBlock>(l.channels, l.size, l.stride, dtype);
      block->initialize(c);
      model->push_back(block);
    } else if (k == "bn") {
      if (l.image_input)
        model->push_back(nn::BatchNorm2d(l.channels, {.dtype = dtype}));
      else
        model->push_back(nn::BatchNorm1d(l.features, {.dtype = dtype}));
    } else if (k == "maxpool") {
      model->push_back(nn::MaxPool2d(l.kernel, l.stride, l.pad));
    } else if (k == "avgpool") {
      model->push_back(nn::AvgPool2d(l.kernel, l.stride, l.pad));
    } else if (k == "gap") {
      model->push_back(nn::AdaptiveAvgPool2d(1));
      model->push_back(nn::Flatten());
    } else if (k == "flatten") {
      model->push_back(nn::Flatten());
    } else if (k == "dropout") {
      model->push_back(nn::Dropout(l.p));
    } else if (k == "dropout2d") {
      model->push_back(nn::Dropout2d(l.p));
    } else {
      model->push_back(nn::make_activation(k));
    }
  }
  return model;
}

}  // namespace fashion
