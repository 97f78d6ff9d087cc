// Writing a new model: a custom op, a custom Module that uses it, trained on the three-arm spiral.
#include <minigrad/minigrad.h>

#include "spiral.h"

namespace mg = minigrad;
namespace nn = minigrad::nn;

// A custom op: swish(x) = x * sigmoid(x). The forward computes the value outside the graph; the
// backward, beside it, turns the output's gradient g into the input's: g * (s + x s (1 - s)).
mg::Tensor swish(const mg::Tensor& x) {
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

// A custom Module: register submodules and parameters in the constructor, use them in forward.
class SpiralNet : public nn::Module {
 public:
  SpiralNet(int64_t hidden, mg::Generator& gen)
      : fc1(register_module(
            "fc1", std::make_shared<nn::Linear>(2, hidden, nn::LinearOptions{.generator = &gen}))),
        fc2(register_module(
            "fc2", std::make_shared<nn::Linear>(hidden, 3, nn::LinearOptions{.generator = &gen}))),
        temperature(register_parameter("temperature", mg::ones({1}))) {}

  mg::Tensor forward(const mg::Tensor& x) override {
    return (*fc2)(swish((*fc1)(x))) / temperature;  // (*fc1)(x): errors name the layer
  }

  std::shared_ptr<nn::Linear> fc1, fc2;
  mg::Tensor temperature;  // a learned scale on the logits
};

int main() {
  mg::Generator gen(42);
  const auto [x, y] = spiral::make(100, 3, 0.2, gen);

  SpiralNet model(64, gen);
  fmt::print("{}\n", model.summary(mg::Shape{-1, 2}));
  mg::optim::Adam opt(model.parameters(), {.lr = 2e-2});

  for (int step = 1; step <= 1000; ++step) {
    const mg::Tensor logits = model(x);
    const mg::Tensor loss = nn::cross_entropy(logits, y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    if (step % 200 == 0)
      fmt::print("step {:4}  loss {:.4f}  accuracy {:.1f}%\n", step, loss.item(),
                 100 * spiral::accuracy(logits, y));
  }

  mg::NoGradGuard no_grad;
  model.eval();
  fmt::print("final training accuracy: {:.1f}%\n", 100 * spiral::accuracy(model(x), y));
}
