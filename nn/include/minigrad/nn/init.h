#pragma once
// Parameter initialisation, as torch.nn.init: each function fills its tensor in place (without
// recording a graph) from `gen`, or from the default generator (see manual_seed) when null.
#include <minigrad/random.h>
#include <minigrad/tensor.h>

#include <utility>

namespace minigrad::nn::init {

enum class Nonlinearity { Linear, Sigmoid, Tanh, ReLU, LeakyReLU };
enum class FanMode { FanIn, FanOut };

// torch.nn.init.calculate_gain: 1 for linear/sigmoid, 5/3 for tanh, sqrt(2) for relu,
// sqrt(2 / (1 + slope^2)) for leaky_relu.
double calculate_gain(Nonlinearity nonlinearity, double negative_slope = 0.01);
// {fan_in, fan_out} of a weight [out, in, ...]: in and out times the receptive field.
std::pair<int64_t, int64_t> fans(const Tensor& t);

struct KaimingOptions {
  double a = 0.0;  // the negative slope, for leaky_relu
  FanMode mode = FanMode::FanIn;
  Nonlinearity nonlinearity = Nonlinearity::LeakyReLU;  // with a = 0 this is the relu gain
};

// std = gain / sqrt(fan)
Tensor& kaiming_normal_(Tensor& t, KaimingOptions options = {}, Generator* gen = nullptr);
// U(-b, b) with b = gain * sqrt(3 / fan)
Tensor& kaiming_uniform_(Tensor& t, KaimingOptions options = {}, Generator* gen = nullptr);
// std = gain * sqrt(2 / (fan_in + fan_out))
Tensor& xavier_normal_(Tensor& t, double gain = 1.0, Generator* gen = nullptr);
// U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))
Tensor& xavier_uniform_(Tensor& t, double gain = 1.0, Generator* gen = nullptr);
Tensor& normal_(Tensor& t, double mean = 0.0, double std = 1.0, Generator* gen = nullptr);
Tensor& uniform_(Tensor& t, double a = 0.0, double b = 1.0, Generator* gen = nullptr);
Tensor& constant_(Tensor& t, double value);
Tensor& zeros_(Tensor& t);

}  // namespace minigrad::nn::init
