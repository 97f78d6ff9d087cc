// nn losses and init: values against PyTorch's definitions, gradients, errors, init statistics.
#include <minigrad/minigrad.h>

#include <catch2/catch.hpp>
#include <cmath>

namespace mg = minigrad;
namespace nn = minigrad::nn;
using Catch::Matchers::Contains;
using Inputs = std::vector<mg::Tensor>;

namespace {

// Three rows, three classes; targets 2, 0, 1. Expected values come from torch 1.13 with
// x = torch.tensor(LOGITS, dtype=torch.float64), t = torch.tensor([2, 0, 1]).
mg::Tensor logits() {
  return mg::tensor({1.0, 2.0, 3.0, 1.0, -1.0, 0.5, 0.2, 0.1, -2.0}, {3, 3}, {.dtype = mg::kFloat64}).requires_grad_();
}
mg::Tensor targets() { return mg::tensor(std::vector<int64_t>{2, 0, 1}, {3}); }

void check_grad(const std::string& name, const mg::GradcheckFn& fn, const Inputs& inputs) {
  const auto report = mg::gradcheck(fn, inputs);
  INFO(name << ": " << report.message);
  CHECK(report.passed);
}

}  // namespace

TEST_CASE("nn: cross_entropy matches hand-computed and PyTorch values for each reduction", "[nn]") {
  const auto x = logits(), t = targets();
  // By hand, row 0: logsumexp(1, 2, 3) - 3 = log(e^-2 + e^-1 + 1).
  const auto none = nn::cross_entropy(x, t, {.reduction = nn::Reduction::None}).to_vector<double>();
  CHECK(none[0] == Approx(std::log(std::exp(-2.0) + std::exp(-1.0) + 1.0)).epsilon(1e-14));
  // F.cross_entropy(x, t, reduction='none')
  CHECK(none[1] == Approx(0.55495691964199068).epsilon(1e-14));
  CHECK(none[2] == Approx(0.80093704879765071).epsilon(1e-14));
  // F.cross_entropy(x, t) and reduction='sum'
  CHECK(nn::cross_entropy(x, t).item() == Approx(0.5878333109613406).epsilon(1e-14));
  CHECK(nn::cross_entropy(x, t, {.reduction = nn::Reduction::Sum}).item() == Approx(1.7634999328840217).epsilon(1e-14));
  CHECK(nn::CrossEntropyLoss()(x, t).item() == Approx(0.5878333109613406).epsilon(1e-14));
}

TEST_CASE("nn: cross_entropy with label smoothing matches PyTorch, value and gradient", "[nn]") {
  const auto x = logits(), t = targets();
  // F.cross_entropy(x, t, label_smoothing=0.1) and with reduction='sum'
  auto loss = nn::cross_entropy(x, t, {.label_smoothing = 0.1});
  CHECK(loss.item() == Approx(0.671166644294674).epsilon(1e-14));
  CHECK(nn::cross_entropy(x, t, {.reduction = nn::Reduction::Sum, .label_smoothing = 0.1}).item() ==
        Approx(2.013499932884022).epsilon(1e-14));
  loss.backward();
  // x.grad after F.cross_entropy(x, t, label_smoothing=0.1).backward()
  const std::vector<double> expected{0.01889907994568236,  0.07046504590715476,  -0.08936412585283721,
                                     -0.11974544678854623, 0.01478741527174575,  0.10495803151680051,
                                     0.15426228791470123,  -0.16147507172476461, 0.00721278381006340};
  const auto grad = x.grad().to_vector<double>();
  for (std::size_t i = 0; i < expected.size(); ++i) CHECK(grad[i] == Approx(expected[i]).margin(1e-15));
}

TEST_CASE("nn: cross_entropy gradchecks, also through a second derivative", "[nn]") {
  const auto t = targets();
  for (auto reduction : {nn::Reduction::Mean, nn::Reduction::Sum, nn::Reduction::None})
    for (double smoothing : {0.0, 0.2})
      check_grad("cross_entropy",
                 [&](const Inputs& in) {
                   return nn::cross_entropy(in[0], t, {.reduction = reduction, .label_smoothing = smoothing});
                 },
                 {logits()});
  // The backward is written with Tensor ops, so its gradient can be differentiated again.
  check_grad("cross_entropy double backward",
             [&](const Inputs& in) {
               mg::GradModeGuard record(true);  // gradcheck's finite differences run under NoGradGuard
               mg::Tensor x = in[0];
               x.zero_grad();
               nn::cross_entropy(x, t).backward(mg::Tensor(), false, true);
               const mg::Tensor g = x.grad();
               x.zero_grad();  // x.grad's graph points back at x: drop it, or the cycle leaks
               return (g * g).sum();
             },
             {logits()});
}

TEST_CASE("nn: cross_entropy is finite for logits of +-1e4", "[nn]") {
  auto x = mg::tensor({1e4, -1e4, 0.0, -1e4, 1e4, 0.0}, {2, 3}).requires_grad_();
  auto loss = nn::cross_entropy(x, mg::tensor(std::vector<int64_t>{1, 1}, {2}));
  // torch: F.cross_entropy(y, torch.tensor([1, 1])) = 10000., grad [[.5, -.5, 0], [0, 0, 0]]
  CHECK(loss.item() == Approx(1e4));
  loss.backward();
  const auto g = x.grad().to_vector<float>();
  const std::vector<float> expected{0.5f, -0.5f, 0.0f, 0.0f, 0.0f, 0.0f};
  for (std::size_t i = 0; i < g.size(); ++i) CHECK(g[i] == Approx(expected[i]).margin(1e-6));
}

TEST_CASE("nn: cross_entropy and nll_loss refuse bad targets, naming value and position", "[nn]") {
  const auto x = logits();
  CHECK_THROWS_WITH(nn::cross_entropy(x, mg::tensor(std::vector<int64_t>{0, 3, 1}, {3})),
                    Contains("cross_entropy: target 3 at position 1 is out of range for 3 classes"));
  CHECK_THROWS_WITH(nn::nll_loss(x, mg::tensor(std::vector<int64_t>{0, 1, -1}, {3})),
                    Contains("nll_loss: target -1 at position 2 is out of range for 3 classes"));
  CHECK_THROWS_WITH(nn::cross_entropy(x, mg::tensor(std::vector<int64_t>{0, 1}, {2})),
                    Contains("expected int64 targets of shape (3,)"));
  CHECK_THROWS_WITH(nn::cross_entropy(x, mg::tensor({0.0, 1.0, 2.0})), Contains("got float32 (3,)"));
  CHECK_THROWS_WITH(nn::cross_entropy(x, targets(), {.label_smoothing = 1.5}),
                    Contains("label_smoothing must be in [0, 1], got 1.5"));
}

TEST_CASE("nn: nll_loss of log_softmax equals cross_entropy", "[nn]") {
  const auto x = logits(), t = targets();
  CHECK(nn::nll_loss(x.log_softmax(1), t).item() == Approx(nn::cross_entropy(x, t).item()).epsilon(1e-14));
  CHECK(nn::NLLLoss({.reduction = nn::Reduction::Sum})(x.log_softmax(1), t).item() ==
        Approx(1.7634999328840217).epsilon(1e-14));
  check_grad("nll_loss", [&](const Inputs& in) { return nn::nll_loss(in[0], t); }, {logits()});
}

TEST_CASE("nn: mse_loss, l1_loss and the penalties", "[nn]") {
  const auto a = mg::tensor({1.0, 2.0, 3.0}, {.dtype = mg::kFloat64, .requires_grad = true});
  const auto b = mg::tensor({0.5, 2.5, 5.0}, {.dtype = mg::kFloat64});
  // F.mse_loss(a, b) = 1.5, F.l1_loss(a, b) = 1.0
  CHECK(nn::mse_loss(a, b).item() == Approx(1.5));
  CHECK(nn::MSELoss({.reduction = nn::Reduction::Sum})(a, b).item() == Approx(4.5));
  CHECK(nn::l1_loss(a, b).item() == Approx(1.0));
  CHECK(nn::L1Loss({.reduction = nn::Reduction::None})(a, b).to_vector<double>() == std::vector<double>{0.5, 0.5, 2.0});
  check_grad("mse_loss", [&](const Inputs& in) { return nn::mse_loss(in[0], b); }, {a});
  check_grad("l1_loss", [&](const Inputs& in) { return nn::l1_loss(in[0], b); }, {a});
  CHECK_THROWS_WITH(nn::mse_loss(a, mg::tensor({1.0, 2.0}, {.dtype = mg::kFloat64})),
                    Contains("mse_loss: input float64 (3,) and target float64 (2,) differ"));

  const auto w = mg::tensor({1.0, -2.0}, {.dtype = mg::kFloat64, .requires_grad = true});
  CHECK(nn::l1_penalty({a, w}).item() == Approx(9.0));
  CHECK(nn::l2_penalty({a, w}).item() == Approx(19.0));
  check_grad("penalties",
             [](const Inputs& in) {
               return nn::l1_penalty({in[0]}) + nn::l2_penalty({in[0], in[1]});
             },
             {w, a});
}

TEST_CASE("nn: init functions draw seeded values with the documented scale", "[nn]") {
  mg::Generator gen(5);
  auto w = mg::empty({400, 250});  // fan_in 250, fan_out 400
  auto stddev = [](const mg::Tensor& t) {
    const double mean = t.mean().item();
    return std::sqrt((t - mean).pow(2.0).mean().item());
  };
  nn::init::kaiming_normal_(w, {}, &gen);
  CHECK(stddev(w) == Approx(std::sqrt(2.0 / 250)).epsilon(0.02));
  nn::init::kaiming_normal_(w, {.mode = nn::init::FanMode::FanOut}, &gen);
  CHECK(stddev(w) == Approx(std::sqrt(2.0 / 400)).epsilon(0.02));
  nn::init::kaiming_uniform_(w, {.nonlinearity = nn::init::Nonlinearity::ReLU}, &gen);
  CHECK(w.max().item() <= std::sqrt(6.0 / 250));
  CHECK(w.max().item() > 0.99 * std::sqrt(6.0 / 250));
  nn::init::xavier_uniform_(w, 1.0, &gen);
  CHECK(w.abs().max().item() <= std::sqrt(6.0 / 650));
  nn::init::xavier_normal_(w, 2.0, &gen);
  CHECK(stddev(w) == Approx(2.0 * std::sqrt(2.0 / 650)).epsilon(0.02));
  nn::init::normal_(w, 3.0, 0.5, &gen);
  CHECK(w.mean().item() == Approx(3.0).epsilon(0.01));
  nn::init::uniform_(w, -1.0, 2.0, &gen);
  CHECK(w.min().item() >= -1.0);
  CHECK(w.mean().item() == Approx(0.5).epsilon(0.02));
  nn::init::constant_(w, 0.25);
  CHECK(w.sum().item() == Approx(0.25 * w.numel()));
  nn::init::zeros_(w);
  CHECK(w.abs().sum().item() == 0.0);

  CHECK(nn::init::calculate_gain(nn::init::Nonlinearity::Tanh) == Approx(5.0 / 3.0));
  CHECK(nn::init::calculate_gain(nn::init::Nonlinearity::LeakyReLU, 0.2) == Approx(std::sqrt(2.0 / 1.04)));
  auto a = mg::empty({3, 4}), b = mg::empty({3, 4});
  mg::Generator g1(11), g2(11);
  nn::init::kaiming_uniform_(a, {}, &g1);
  nn::init::kaiming_uniform_(b, {}, &g2);
  CHECK(a.to_vector<float>() == b.to_vector<float>());
  auto v = mg::empty({5});
  CHECK_THROWS_WITH(nn::init::xavier_uniform_(v), Contains("need at least 2 dimensions, got shape (5,)"));
  // In place on a parameter that requires grad: no graph is recorded.
  auto p = mg::zeros({2, 2}).requires_grad_();
  nn::init::normal_(p);
  CHECK(p.is_leaf());
}
