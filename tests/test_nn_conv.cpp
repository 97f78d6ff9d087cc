// The convolution and pooling layers: PyTorch's layouts and init bounds, summaries, Dropout2d,
// and errors that name the layer. Their gradients are in the gradcheck registry.
#include <minigrad/minigrad.h>

#include <catch2/catch.hpp>
#include <cmath>

namespace mg = minigrad;
namespace nn = minigrad::nn;
using Catch::Matchers::Contains;

namespace {

// Every element within [-bound, bound]; of a large tensor, the spread not much narrower.
void require_uniform_within(const mg::Tensor& t, double bound) {
  const auto v = t.to(mg::kFloat64).to_vector<double>();
  double widest = 0;
  for (double x : v) {
    REQUIRE(std::abs(x) <= bound);
    widest = std::max(widest, std::abs(x));
  }
  if (v.size() >= 40) REQUIRE(widest > 0.8 * bound);
}

}  // namespace

TEST_CASE("nn: Conv2d and ConvTranspose2d have PyTorch's layouts and init bounds", "[nn_conv]") {
  mg::Generator gen(3);
  nn::Conv2d conv(4, 6, {3, 2}, {.groups = 2, .generator = &gen});
  REQUIRE(conv.weight.shape() == mg::Shape{6, 2, 3, 2});
  REQUIRE(conv.bias.shape() == mg::Shape{6});
  // kaiming_uniform_(a = sqrt(5)) and the bias both reduce to U(+-1/sqrt(fan_in)).
  require_uniform_within(conv.weight, 1.0 / std::sqrt(2.0 * 3 * 2));
  require_uniform_within(conv.bias, 1.0 / std::sqrt(2.0 * 3 * 2));
  REQUIRE(conv.parameters().size() == 2);

  nn::ConvTranspose2d up(6, 4, 2, {.stride = 2, .groups = 2, .bias = false, .generator = &gen});
  REQUIRE(up.weight.shape() == mg::Shape{6, 2, 2, 2});
  REQUIRE_FALSE(up.bias.defined());
  require_uniform_within(up.weight, 1.0 / std::sqrt(2.0 * 2 * 2));
  REQUIRE(up(mg::zeros({1, 6, 3, 5})).shape() == mg::Shape{1, 4, 6, 10});
}

TEST_CASE("nn: a CNN's summary follows the image shape through every layer", "[nn_conv]") {
  nn::Sequential model{nn::Conv2d(1, 8, 3, {.padding = 1}),
                       nn::ReLU(),
                       nn::MaxPool2d(2),
                       nn::Conv2d(8, 4, 3, {.stride = 2, .bias = false}),
                       nn::AvgPool2d(3, 1, 1),
                       nn::ConvTranspose2d(4, 2, 3, {.stride = 2, .padding = 1, .output_padding = 1}),
                       nn::AdaptiveAvgPool2d({2, 3}),
                       nn::Dropout2d(0.5),
                       nn::Flatten(),
                       nn::Linear(12, 10)};
  const std::string s = model.summary(mg::Shape{-1, 1, 28, 28});
  INFO(s);
  REQUIRE_THAT(s, Contains("Conv2d 1->8 3x3 pad 1") && Contains("(N, 8, 28, 28)"));
  REQUIRE_THAT(s, Contains("MaxPool2d 2x2") && Contains("(N, 8, 14, 14)"));
  REQUIRE_THAT(s, Contains("Conv2d 8->4 3x3 stride 2 no bias") && Contains("(N, 4, 6, 6)"));
  REQUIRE_THAT(s, Contains("AvgPool2d 3x3 pad 1"));
  REQUIRE_THAT(s, Contains("ConvTranspose2d 4->2 3x3 stride 2 pad 1 output_padding 1x1") && Contains("(N, 2, 12, 12)"));
  REQUIRE_THAT(s, Contains("AdaptiveAvgPool2d 2x3") && Contains("(N, 2, 2, 3)"));
  REQUIRE_THAT(s, Contains("Dropout2d p=0.5") && Contains("(N, 12)"));
  REQUIRE(model(mg::rand({2, 1, 28, 28})).shape() == mg::Shape{2, 10});
}

TEST_CASE("nn: Dropout2d zeroes whole channels in training and nothing in eval", "[nn_conv]") {
  nn::Dropout2d drop(0.5, 11);
  const mg::Tensor x = mg::ones({4, 8, 3, 3});
  const auto y = drop(x).to_vector<float>();
  int dropped = 0;
  for (int c = 0; c < 4 * 8; ++c) {
    const float first = y[size_t(c * 9)];
    REQUIRE((first == 0.0f || first == 2.0f));
    for (int i = 1; i < 9; ++i) REQUIRE(y[size_t(c * 9 + i)] == first);
    dropped += first == 0.0f;
  }
  REQUIRE(dropped > 4);
  REQUIRE(dropped < 28);
  drop.eval();
  REQUIRE(drop(x).to_vector<float>() == x.to_vector<float>());
  drop.train();
  REQUIRE_THROWS_WITH(drop(mg::ones({4, 8})), Contains("Dropout2d: input (4, 8) is not 3-D or 4-D"));
}

TEST_CASE("nn: conv layer errors name the layer and the shapes", "[nn_conv]") {
  nn::Sequential model{nn::Conv2d(3, 8, 3), nn::ReLU()};
  REQUIRE_THROWS_WITH(
      model(mg::zeros({2, 1, 8, 8})),
      Contains("model.0 (Conv2d 3->8 3x3): conv2d: input (2, 1, 8, 8) has 1 channels, weight (8, 3, 3, 3)"));
  REQUIRE_THROWS_WITH(nn::Conv2d(3, 8, 3, {.groups = 2}), Contains("Conv2d: groups 2 must divide both 3 input and 8"));
  REQUIRE_THROWS_WITH(nn::Conv2d(3, 0, 3), Contains("Conv2d: channels and kernel size must be positive"));
}

TEST_CASE("nn: BatchNorm2d keeps running statistics as buffers, saved and switched by eval", "[nn_conv]") {
  nn::BatchNorm2d bn(3, {.momentum = 0.5});
  REQUIRE(bn.parameters().size() == 2);  // weight and bias; the statistics are not trained
  const auto state = bn.state_dict();
  for (const char* name : {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"})
    REQUIRE(state.count(name) == 1);
  REQUIRE(bn.kind() == "BatchNorm2d 3");

  mg::Generator gen(5);
  const mg::Tensor x = mg::randn({4, 3, 2, 2}, {}, &gen) * 2.0 + 1.0;
  mg::Tensor mean = mg::zeros({3}), var = mg::ones({3});
  for (int step = 0; step < 2; ++step) {
    const auto y = bn(x).to_vector<float>();
    const auto want = mg::batch_norm(x, mean, var, mg::ones({3}), mg::zeros({3}), true, 0.5).to_vector<float>();
    REQUIRE(y == want);
  }
  REQUIRE(bn.num_batches_tracked.item() == 2);
  REQUIRE(bn.running_mean.to_vector<float>() == mean.to_vector<float>());
  REQUIRE(bn.running_var.to_vector<float>() == var.to_vector<float>());

  bn.eval();
  const auto before = bn.running_mean.to_vector<float>();
  REQUIRE(bn(x).to_vector<float>() == mg::batch_norm(x, mean, var, mg::ones({3}), mg::zeros({3})).to_vector<float>());
  REQUIRE(bn.running_mean.to_vector<float>() == before);  // eval leaves the statistics alone
  REQUIRE(bn.num_batches_tracked.item() == 2);

  nn::BatchNorm2d restored(3);
  restored.load_state_dict(bn.state_dict());
  REQUIRE(restored.running_var.to_vector<float>() == var.to_vector<float>());
  REQUIRE(restored.num_batches_tracked.item() == 2);
}

TEST_CASE("nn: BatchNorm2d then ReLU in a Sequential is one op with the same values and gradients", "[nn_conv]") {
  mg::Generator gen(8);
  nn::Sequential fused{nn::BatchNorm2d(3), nn::ReLU()};
  nn::BatchNorm2d& bn = fused.at<nn::BatchNorm2d>(0);
  bn.weight.data<float>()[1] = -0.5f;  // a negative scale: the gate follows the output's sign
  bn.bias.data<float>()[2] = 0.3f;
  nn::BatchNorm2d apart(3);
  apart.load_state_dict(bn.state_dict());
  const mg::Tensor x = (mg::randn({4, 3, 5, 7}, {}, &gen) * 2.0 + 1.0).requires_grad_();
  const mg::Tensor x_apart = x.detach().requires_grad_();
  const mg::Tensor g = mg::randn({4, 3, 5, 7}, {}, &gen);
  for (const bool training : {true, false}) {
    INFO((training ? "training" : "eval"));
    fused.train(training);
    apart.train(training);
    const mg::Tensor y = fused(x), y_apart = apart(x_apart).relu();
    if (training) REQUIRE(y.grad_fn()->name == "batch_norm");
    REQUIRE(y.to_vector<float>() == y_apart.to_vector<float>());
    (y * g).sum().backward();
    (y_apart * g).sum().backward();
    CHECK_THAT(x.grad().to_vector<float>(), Catch::Matchers::Approx(x_apart.grad().to_vector<float>()).margin(1e-6));
    CHECK_THAT(bn.weight.grad().to_vector<float>(),
               Catch::Matchers::Approx(apart.weight.grad().to_vector<float>()).margin(1e-5));
    CHECK_THAT(bn.bias.grad().to_vector<float>(),
               Catch::Matchers::Approx(apart.bias.grad().to_vector<float>()).margin(1e-5));
    for (mg::Tensor t : {x, x_apart, bn.weight, bn.bias, apart.weight, apart.bias}) t.zero_grad();
  }
  REQUIRE(bn.running_var.to_vector<float>() == apart.running_var.to_vector<float>());
  struct OwnBatchNorm : nn::BatchNorm2d {
    using nn::BatchNorm2d::BatchNorm2d;
  };
  CHECK_FALSE(OwnBatchNorm(3).fuses(nn::ReLU()));  // a subclass may change forward
}

TEST_CASE("nn: BatchNorm1d takes [N, C] and [N, C, L]; without running statistics eval uses the batch's", "[nn_conv]") {
  nn::BatchNorm1d bn(4, {.affine = false, .track_running_stats = false});
  REQUIRE(bn.parameters().empty());
  REQUIRE(bn.state_dict().empty());
  REQUIRE(bn.kind() == "BatchNorm1d 4 no affine");
  const mg::Tensor x = mg::randn({5, 4, 3});
  bn.eval();
  REQUIRE(bn(x).to_vector<float>() == mg::batch_norm(x, {}, {}, {}, {}, true).to_vector<float>());
  REQUIRE(bn(mg::randn({5, 4})).shape() == mg::Shape{5, 4});
  REQUIRE_THROWS_WITH(bn(mg::randn({5, 3})), Contains("input (5, 3) is not [N, C] or [N, C, L] with 4 channels"));
  REQUIRE_THROWS_WITH(nn::BatchNorm2d(0), Contains("BatchNorm2d: num_features must be positive, got 0"));
}
