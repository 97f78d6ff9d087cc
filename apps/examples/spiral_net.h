#pragma once
// A custom op and a custom Module, for custom_model.cpp (which trains them) and
// gradcheck_custom.cpp (which checks their gradients with the gradcheck command line).
#include <minigrad/minigrad.h>

namespace mg = minigrad;
namespace nn = minigrad::nn;

// A custom op: swish(x) = x * sigmoid(x). The forward computes the value outside the graph; the
// backward, beside it, turns the output's gradient g into the input's: g * (s + x s (1 - s)).
inline mg::Tensor swish(const mg::Tensor& x) {
  mg::Tensor s, out;
  {
    mg::NoGradGuard no_grad;  // record_op below makes the whole op one graph node
    s = x.sigmoid();
    out = x * s;
  }
  return mg::record_op("swish", out, {x}, [x, s](const mg::Tensor& g) {
    // Rebuilt from x when the gradient is itself differentiated (backward with create_graph).
    const mg::Tensor sig = mg::grad_enabled() ? x.sigmoid() : s;
    return mg::TensorList{g * (sig + x * sig * (1.0 - sig))};
  });
}

// The hidden width custom_model.cpp trains and saves, which gradcheck_custom.cpp rebuilds to load.
inline constexpr int64_t kSpiralHidden = 64;

// A custom Module: register submodules and parameters in the constructor, use them in forward.
class SpiralNet : public nn::Module {
 public:
  SpiralNet(int64_t hidden, mg::Generator& gen, mg::DType dtype = mg::kFloat32)
      : fc1(register_module(
            "fc1", std::make_shared<nn::Linear>(2, hidden, nn::LinearOptions{.dtype = dtype, .generator = &gen}))),
        fc2(register_module(
            "fc2", std::make_shared<nn::Linear>(hidden, 3, nn::LinearOptions{.dtype = dtype, .generator = &gen}))),
        temperature(register_parameter("temperature", mg::ones({1}, {.dtype = dtype}))) {}

  mg::Tensor forward(const mg::Tensor& x) override {
    return (*fc2)(swish((*fc1)(x))) / temperature;  // (*fc1)(x): errors name the layer
  }

  std::shared_ptr<nn::Linear> fc1, fc2;
  mg::Tensor temperature;  // a learned scale on the logits
};
