// Small models learn: XOR, the three-arm spiral, and a linear regression, each in well under a
// second, trained with minigrad::optim.
#include <minigrad/minigrad.h>

#include <catch2/catch.hpp>

#include "../apps/examples/spiral.h"

namespace mg = minigrad;
namespace nn = minigrad::nn;

namespace {

// Full-batch training with cross-entropy until `target` accuracy or `max_steps`; returns accuracy.
double fit_classifier(nn::Module& model, mg::optim::Optimizer& opt, const mg::Tensor& x, const mg::Tensor& y,
                      double target, int max_steps) {
  double acc = 0.0;
  for (int step = 0; step < max_steps && acc < target; ++step) {
    const mg::Tensor logits = model(x);
    acc = spiral::accuracy(logits, y);
    const mg::Tensor loss = nn::cross_entropy(logits, y);
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  mg::NoGradGuard no_grad;
  return spiral::accuracy(model(x), y);
}

}  // namespace

TEST_CASE("nn: an MLP learns XOR to 100%", "[nn][learn]") {
  mg::Generator gen(0);
  nn::Sequential model{nn::Linear(2, 8, {.generator = &gen}), nn::Tanh(), nn::Linear(8, 2, {.generator = &gen})};
  mg::optim::Adam opt(model.parameters(), {.lr = 5e-2});
  const auto x = mg::tensor({0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0}, {4, 2});
  const auto y = mg::tensor(std::vector<int64_t>{0, 1, 1, 0}, {4});
  CHECK(fit_classifier(model, opt, x, y, 1.0, 500) == 1.0);
}

TEST_CASE("nn: an MLP fits the three-arm spiral to >= 98% training accuracy", "[nn][learn]") {
  mg::Generator gen(1);
  const auto [x, y] = spiral::make(100, 3, 0.2, gen);
  nn::Sequential model{nn::Linear(2, 64, {.generator = &gen}), nn::ReLU(), nn::Linear(64, 64, {.generator = &gen}),
                       nn::ReLU(), nn::Linear(64, 3, {.generator = &gen})};
  mg::optim::Adam opt(model.parameters(), {.lr = 1e-2});
  CHECK(fit_classifier(model, opt, x, y, 0.99, 3000) >= 0.98);
}

TEST_CASE("nn: linear regression recovers known weights within 1e-3", "[nn][learn]") {
  mg::Generator gen(2);
  const auto w_true = mg::tensor({2.0, -3.0, 0.5}, {1, 3}, {.dtype = mg::kFloat64});
  const double b_true = 1.25;
  const auto x = mg::randn({256, 3}, {.dtype = mg::kFloat64}, &gen);
  const auto y = mg::mm(x, w_true, false, true) + b_true;
  nn::Linear model(3, 1, {.dtype = mg::kFloat64, .generator = &gen});
  mg::optim::SGD opt(model.parameters(), {.lr = 0.1, .momentum = 0.9});
  for (int step = 0; step < 300; ++step) {
    const auto loss = nn::mse_loss(model(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  const auto w = model.weight.to_vector<double>();
  CHECK(w[0] == Approx(2.0).margin(1e-3));
  CHECK(w[1] == Approx(-3.0).margin(1e-3));
  CHECK(w[2] == Approx(0.5).margin(1e-3));
  CHECK(model.bias.item() == Approx(b_true).margin(1e-3));
}
