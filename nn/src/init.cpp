#include <minigrad/autograd.h>
#include <minigrad/nn/init.h>

#include <cmath>

namespace minigrad::nn::init {
namespace {

// Writes f() into every element of a float tensor, outside the graph.
template <typename F>
Tensor& fill(Tensor& t, std::string_view op, F f) {
  if (!t.defined()) throw Error(fmt::format("init::{}: tensor is undefined", op));
  NoGradGuard no_grad;
  // numel() and data() are calls: taken once, not per element.
  const auto write = [&]<typename T>(T* p) {
    for (T* end = p + t.numel(); p != end; ++p) *p = static_cast<T>(f());
  };
  switch (t.dtype()) {
    case DType::Float32:
      write(t.data<float>());
      break;
    case DType::Float64:
      write(t.data<double>());
      break;
    default:
      throw Error(fmt::format("init::{}: dtype {} is not supported (float32 or float64 expected)", op, t.dtype()));
  }
  return t;
}

Generator& pick(Generator* gen) { return gen ? *gen : default_generator(); }

std::pair<int64_t, int64_t> checked_fans(const Tensor& t, std::string_view op) {
  if (t.dim() < 2)
    throw Error(
        fmt::format("init::{}: fan in and fan out need at least 2 dimensions, got shape {}", op, shape_str(t.shape())));
  return fans(t);
}

double kaiming_std(const Tensor& t, const KaimingOptions& o, std::string_view op) {
  const auto [fan_in, fan_out] = checked_fans(t, op);
  const int64_t fan = o.mode == FanMode::FanIn ? fan_in : fan_out;
  return calculate_gain(o.nonlinearity, o.a) / std::sqrt(static_cast<double>(fan));
}

double xavier_std(const Tensor& t, double gain, std::string_view op) {
  const auto [fan_in, fan_out] = checked_fans(t, op);
  return gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
}

}  // namespace

double calculate_gain(Nonlinearity nonlinearity, double negative_slope) {
  switch (nonlinearity) {
    case Nonlinearity::Linear:
    case Nonlinearity::Sigmoid:
      return 1.0;
    case Nonlinearity::Tanh:
      return 5.0 / 3.0;
    case Nonlinearity::ReLU:
      return std::sqrt(2.0);
    case Nonlinearity::LeakyReLU:
      return std::sqrt(2.0 / (1.0 + negative_slope * negative_slope));
  }
  return 1.0;
}

std::pair<int64_t, int64_t> fans(const Tensor& t) {
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

Tensor& normal_(Tensor& t, double mean, double std, Generator* gen) {
  Generator& g = pick(gen);
  return fill(t, "normal_", [&] { return mean + std * g.normal(); });
}

Tensor& uniform_(Tensor& t, double a, double b, Generator* gen) {
  Generator& g = pick(gen);
  return fill(t, "uniform_", [&] { return a + (b - a) * g.uniform(); });
}

Tensor& constant_(Tensor& t, double value) {
  return fill(t, "constant_", [value] { return value; });
}

Tensor& zeros_(Tensor& t) { return constant_(t, 0.0); }

Tensor& kaiming_normal_(Tensor& t, KaimingOptions options, Generator* gen) {
  return normal_(t, 0.0, kaiming_std(t, options, "kaiming_normal_"), gen);
}

Tensor& kaiming_uniform_(Tensor& t, KaimingOptions options, Generator* gen) {
  const double bound = std::sqrt(3.0) * kaiming_std(t, options, "kaiming_uniform_");
  return uniform_(t, -bound, bound, gen);
}

Tensor& xavier_normal_(Tensor& t, double gain, Generator* gen) {
  return normal_(t, 0.0, xavier_std(t, gain, "xavier_normal_"), gen);
}

Tensor& xavier_uniform_(Tensor& t, double gain, Generator* gen) {
  const double bound = std::sqrt(3.0) * xavier_std(t, gain, "xavier_uniform_");
  return uniform_(t, -bound, bound, gen);
}

}  // namespace minigrad::nn::init
