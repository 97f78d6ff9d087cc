// Every op: forward values on known inputs, and its backward gradchecked in float64.
#include <catch2/catch.hpp>

#include <cmath>

#include <minigrad/minigrad.h>

namespace mg = minigrad;
using Catch::Matchers::Contains;
using Inputs = std::vector<mg::Tensor>;

namespace {

mg::Generator gen(1234);

// Random float64 leaf; `away_from_zero` keeps values off the kinks of relu/abs/clamp.
mg::Tensor input(const mg::Shape& shape, double lo = -2.0, double hi = 2.0, bool away_from_zero = false) {
  auto t = mg::rand(shape, {.dtype = mg::kFloat64}, &gen) * (hi - lo) + lo;
  if (away_from_zero) t = t + t.gt(0.0) * 0.2 - t.lt(0.0) * 0.2;
  return t.detach().requires_grad_();
}

void check_grad(const std::string& name, const mg::GradcheckFn& fn, const Inputs& inputs) {
  const auto report = mg::gradcheck(fn, inputs);
  INFO(name << ": " << report.message);
  CHECK(report.passed);
}

std::vector<double> values(const mg::Tensor& t) { return t.to(mg::kFloat64).to_vector<double>(); }

}  // namespace

TEST_CASE("ops: binary arithmetic broadcasts like NumPy") {
  auto a = mg::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3});
  auto b = mg::tensor({10.0, 20.0, 30.0});
  CHECK(values(a + b) == std::vector<double>{11, 22, 33, 14, 25, 36});
  auto col = mg::tensor({1.0, 2.0}, {2, 1});
  CHECK(values(a * col) == std::vector<double>{1, 2, 3, 8, 10, 12});
  CHECK((col + b).shape() == mg::Shape{2, 3});
  CHECK(values(a - 1.0) == std::vector<double>{0, 1, 2, 3, 4, 5});
  CHECK(values(12.0 / a)[2] == Approx(4.0));
  CHECK(values(-a)[0] == -1.0);
}

TEST_CASE("ops: gradcheck binary ops over broadcasting shapes") {
  const std::vector<std::pair<mg::Shape, mg::Shape>> shapes = {
      {{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{3, 1}, {1, 4}}, {{2, 3, 4}, {3, 1}}, {{5}, {}}, {{}, {2, 2}}};
  for (const auto& [sa, sb] : shapes) {
    const std::string tag = mg::shape_str(sa) + " and " + mg::shape_str(sb);
    check_grad("add " + tag, [](const Inputs& in) { return in[0] + in[1]; }, {input(sa), input(sb)});
    check_grad("sub " + tag, [](const Inputs& in) { return in[0] - in[1]; }, {input(sa), input(sb)});
    check_grad("mul " + tag, [](const Inputs& in) { return in[0] * in[1]; }, {input(sa), input(sb)});
    check_grad("div " + tag, [](const Inputs& in) { return in[0] / in[1]; },
               {input(sa), input(sb, 0.5, 2.0)});
    check_grad("maximum " + tag, [](const Inputs& in) { return mg::maximum(in[0], in[1]); },
               {input(sa), input(sb)});
    check_grad("minimum " + tag, [](const Inputs& in) { return in[0].minimum(in[1]); },
               {input(sa), input(sb)});
  }
  check_grad("scalar ops", [](const Inputs& in) { return (2.0 - in[0] * 3.0 + 1.0) / 4.0 + 1.0 / in[0]; },
             {input({3, 2}, 0.5, 2.0)});
  check_grad("neg", [](const Inputs& in) { return -in[0]; }, {input({4})});
}

TEST_CASE("ops: gradcheck unary maps") {
  const mg::Shape s{3, 5};
  check_grad("exp", [](const Inputs& in) { return in[0].exp(); }, {input(s)});
  check_grad("log", [](const Inputs& in) { return in[0].log(); }, {input(s, 0.2, 3.0)});
  check_grad("pow 2.5", [](const Inputs& in) { return in[0].pow(2.5); }, {input(s, 0.2, 3.0)});
  check_grad("pow -1", [](const Inputs& in) { return in[0].pow(-1.0); }, {input(s, 0.2, 3.0)});
  check_grad("pow 3", [](const Inputs& in) { return in[0].pow(3.0); }, {input(s)});
  check_grad("pow 0", [](const Inputs& in) { return in[0].pow(0.0); }, {input(s)});
  check_grad("sqrt", [](const Inputs& in) { return in[0].sqrt(); }, {input(s, 0.2, 3.0)});
  check_grad("abs", [](const Inputs& in) { return in[0].abs(); }, {input(s, -2, 2, true)});
  check_grad("clamp", [](const Inputs& in) { return in[0].clamp(-0.5, 0.7); }, {input(s, -2, 2, true)});
  check_grad("relu", [](const Inputs& in) { return in[0].relu(); }, {input(s, -2, 2, true)});
  check_grad("leaky_relu", [](const Inputs& in) { return in[0].leaky_relu(0.1); }, {input(s, -2, 2, true)});
  check_grad("sigmoid", [](const Inputs& in) { return in[0].sigmoid(); }, {input(s, -5, 5)});
  check_grad("tanh", [](const Inputs& in) { return in[0].tanh(); }, {input(s, -3, 3)});
  check_grad("gelu", [](const Inputs& in) { return in[0].gelu(); }, {input(s, -3, 3)});
  check_grad("normal_cdf", [](const Inputs& in) { return mg::normal_cdf(in[0]); }, {input(s)});
  check_grad("clone", [](const Inputs& in) { return in[0].clone() * 2.0; }, {input(s)});
}

TEST_CASE("ops: unary forward values") {
  auto x = mg::tensor({-2.0, -0.5, 0.0, 0.5, 2.0}, {.dtype = mg::kFloat64});
  CHECK(values(x.relu()) == std::vector<double>{0, 0, 0, 0.5, 2});
  CHECK(values(x.leaky_relu(0.1))[0] == Approx(-0.2));
  CHECK(values(x.abs()) == std::vector<double>{2, 0.5, 0, 0.5, 2});
  CHECK(values(x.clamp(-1, 1)) == std::vector<double>{-1, -0.5, 0, 0.5, 1});
  CHECK(values(x.sigmoid())[2] == 0.5);
  CHECK(values(x.tanh())[4] == Approx(std::tanh(2.0)));
  CHECK(values(x.gelu())[4] == Approx(2.0 * 0.9772498680518208));
  CHECK(values(x.gelu())[2] == 0.0);
  // Large inputs stay finite: sigmoid never overflows exp.
  auto big = mg::tensor({-1000.0, 1000.0}, {.dtype = mg::kFloat64});
  CHECK(values(big.sigmoid()) == std::vector<double>{0.0, 1.0});
  // Kink conventions (PyTorch's): relu'(0) = 0, abs'(0) = 0, clamp passes at the boundary.
  auto k = mg::tensor({0.0, 1.0}, {.dtype = mg::kFloat64, .requires_grad = true});
  k.relu().sum().backward();
  CHECK(values(k.grad()) == std::vector<double>{0, 1});
  k.zero_grad();
  k.abs().sum().backward();
  CHECK(values(k.grad()) == std::vector<double>{0, 1});
  k.zero_grad();
  k.clamp(0.0, 1.0).sum().backward();
  CHECK(values(k.grad()) == std::vector<double>{1, 1});
}

TEST_CASE("ops: comparisons return 0/1 masks without gradient") {
  auto a = mg::tensor({1.0, 2.0, 3.0}, {.requires_grad = true});
  auto b = mg::tensor({2.0, 2.0, 2.0});
  CHECK(values(a.lt(b)) == std::vector<double>{1, 0, 0});
  CHECK(values(a.le(b)) == std::vector<double>{1, 1, 0});
  CHECK(values(a.gt(b)) == std::vector<double>{0, 0, 1});
  CHECK(values(a.ge(2.0)) == std::vector<double>{0, 1, 1});
  CHECK(values(a.eq(b)) == std::vector<double>{0, 1, 0});
  CHECK(values(a.ne(2.0)) == std::vector<double>{1, 0, 1});
  CHECK_FALSE(a.gt(b).requires_grad());
}

TEST_CASE("ops: reductions over all and over each axis, with and without keepdim") {
  auto t = mg::arange(24, {.dtype = mg::kFloat64}).reshape({2, 3, 4});
  CHECK(t.sum().item() == 276.0);
  CHECK(t.sum().shape() == mg::Shape{});
  CHECK(t.sum(1).shape() == mg::Shape{2, 4});
  CHECK(t.sum(1, true).shape() == mg::Shape{2, 1, 4});
  CHECK(values(t.sum(0))[0] == 12.0);
  CHECK(values(t.sum(-1))[0] == 6.0);
  CHECK(t.mean().item() == 11.5);
  CHECK(values(t.mean(2))[1] == 5.5);
  CHECK(t.max().item() == 23.0);
  CHECK(values(t.min(1))[3] == 3.0);
  CHECK(t.argmax().item() == 23.0);
  CHECK(t.argmax(1).to_vector<int64_t>()[0] == 2);
  CHECK(t.argmax(2, true).shape() == mg::Shape{2, 3, 1});

  for (int64_t axis : {0, 1, 2, -1}) {
    for (bool keep : {false, true}) {
      const std::string tag = fmt::format(" axis {} keepdim {}", axis, keep);
      check_grad("sum" + tag, [=](const Inputs& in) { return in[0].sum(axis, keep); }, {input({2, 3, 4})});
      check_grad("mean" + tag, [=](const Inputs& in) { return in[0].mean(axis, keep); }, {input({2, 3, 4})});
      check_grad("max" + tag, [=](const Inputs& in) { return in[0].max(axis, keep); }, {input({2, 3, 4})});
      check_grad("min" + tag, [=](const Inputs& in) { return in[0].min(axis, keep); }, {input({2, 3, 4})});
    }
  }
  check_grad("sum all", [](const Inputs& in) { return in[0].sum(); }, {input({3, 4})});
  check_grad("mean all", [](const Inputs& in) { return in[0].mean(); }, {input({3, 4})});
  check_grad("max all", [](const Inputs& in) { return in[0].max(); }, {input({3, 4})});
  check_grad("min all", [](const Inputs& in) { return in[0].min(); }, {input({3, 4})});
}

TEST_CASE("ops: max and min share the gradient evenly among ties") {
  auto x = mg::tensor({1.0, 3.0, 3.0, 0.0, 2.0, 2.0}, {2, 3}).to(mg::kFloat64).detach().requires_grad_();
  x.max().backward();
  CHECK(values(x.grad()) == std::vector<double>{0, 0.5, 0.5, 0, 0, 0});
  x.zero_grad();
  x.max(1).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{0, 0.5, 0.5, 0, 0.5, 0.5});
  x.zero_grad();
  x.min(0).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{0, 0, 0, 1, 1, 1});
  // At a tie, the even split is exactly the central difference, so gradcheck agrees.
  check_grad("max with ties", [](const Inputs& in) { return in[0].max(1); }, {x});
}

TEST_CASE("ops: softmax and log_softmax") {
  auto x = mg::tensor({1.0, 2.0, 3.0, 1.0, 1.0, 1.0}, {2, 3}, {.dtype = mg::kFloat64});
  auto s = x.softmax(1);
  CHECK(values(s.sum(1))[0] == Approx(1.0));
  CHECK(values(s.sum(1))[1] == Approx(1.0));
  CHECK(values(s)[3] == Approx(1.0 / 3));
  CHECK(values(x.log_softmax(1))[2] == Approx(std::log(std::exp(3.0) / (std::exp(1.0) + std::exp(2.0) + std::exp(3.0)))));
  // Stable at extreme logits.
  auto big = mg::tensor({1e4, -1e4, 0.0}, {.dtype = mg::kFloat64});
  CHECK(values(big.softmax(0)) == std::vector<double>{1.0, 0.0, 0.0});
  CHECK(std::isfinite(values(big.log_softmax(0))[1]));
  for (int64_t axis : {0, 1, 2, -1}) {
    check_grad(fmt::format("softmax axis {}", axis), [=](const Inputs& in) { return in[0].softmax(axis); },
               {input({2, 3, 4})});
    check_grad(fmt::format("log_softmax axis {}", axis),
               [=](const Inputs& in) { return in[0].log_softmax(axis); }, {input({2, 3, 4})});
  }
}

TEST_CASE("ops: matmul of matrices and vectors") {
  auto a = mg::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3});
  auto b = mg::tensor({1.0, 0.0, 0.0, 1.0, 1.0, 1.0}, {3, 2});
  CHECK(values(a.matmul(b)) == std::vector<double>{4, 5, 10, 11});
  auto v = mg::tensor({1.0, 1.0, 1.0});
  CHECK(a.matmul(v).shape() == mg::Shape{2});
  CHECK(values(a.matmul(v)) == std::vector<double>{6, 15});
  CHECK(values(mg::tensor({1.0, 1.0}).matmul(a)) == std::vector<double>{5, 7, 9});
  CHECK(v.matmul(v).shape() == mg::Shape{});
  CHECK(v.matmul(v).item() == 3.0);
  CHECK(mg::mm(a, a, false, true).shape() == mg::Shape{2, 2});
  CHECK(values(mg::mm(a, a, true, false))[0] == 17.0);

  check_grad("matmul 2-D", [](const Inputs& in) { return in[0].matmul(in[1]); }, {input({3, 4}), input({4, 5})});
  check_grad("matmul vec @ mat", [](const Inputs& in) { return in[0].matmul(in[1]); }, {input({4}), input({4, 3})});
  check_grad("matmul mat @ vec", [](const Inputs& in) { return in[0].matmul(in[1]); }, {input({3, 4}), input({4})});
  check_grad("matmul dot", [](const Inputs& in) { return in[0].matmul(in[1]); }, {input({5}), input({5})});
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      check_grad(fmt::format("mm ta={} tb={}", ta, tb),
                 [=](const Inputs& in) { return mg::mm(in[0], in[1], ta, tb); },
                 {input(ta ? mg::Shape{4, 3} : mg::Shape{3, 4}), input(tb ? mg::Shape{5, 4} : mg::Shape{4, 5})});
  // A matmul of a chain: the MLP's shape of computation.
  check_grad("mlp", [](const Inputs& in) { return in[0].matmul(in[1]).tanh().matmul(in[2]).sum(); },
             {input({4, 6}), input({6, 5}), input({5, 3})});
}

TEST_CASE("ops: shape ops") {
  auto t = mg::arange(6, {.dtype = mg::kFloat64}).reshape({2, 3});
  CHECK(values(t.t()) == std::vector<double>{0, 3, 1, 4, 2, 5});
  auto u = mg::arange(24, {.dtype = mg::kFloat64}).reshape({2, 3, 4});
  CHECK(u.transpose(0, 2).shape() == mg::Shape{4, 3, 2});
  CHECK(values(u.transpose(0, 2))[1] == 12.0);
  check_grad("reshape", [](const Inputs& in) { return in[0].reshape({6, -1}) * 2.0; }, {input({2, 3, 4})});
  check_grad("flatten", [](const Inputs& in) { return in[0].flatten(1).exp(); }, {input({2, 3, 4})});
  check_grad("transpose 0 2", [](const Inputs& in) { return in[0].transpose(0, 2); }, {input({2, 3, 4})});
  check_grad("transpose 1 2", [](const Inputs& in) { return in[0].transpose(-1, 1); }, {input({2, 3, 4})});
  check_grad("t", [](const Inputs& in) { return in[0].t(); }, {input({3, 5})});
  check_grad("expand", [](const Inputs& in) { return mg::expand(in[0], {2, 3, 4}); }, {input({3, 1})});
  check_grad("sum_to", [](const Inputs& in) { return mg::sum_to(in[0], {3, 1}); }, {input({2, 3, 4})});
}

TEST_CASE("ops: gather, index_select and their adjoints") {
  auto x = mg::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3}, {.dtype = mg::kFloat64});
  auto labels = mg::tensor(std::vector<int64_t>{2, 0}, {2, 1});
  CHECK(values(x.gather(1, labels)) == std::vector<double>{3, 4});
  auto rows = mg::tensor(std::vector<int64_t>{1, 1, 0}, {3});
  CHECK(values(x.index_select(0, rows)) == std::vector<double>{4, 5, 6, 4, 5, 6, 1, 2, 3});
  CHECK(values(x.index_select(1, mg::tensor(std::vector<int64_t>{2}, {1}))) == std::vector<double>{3, 6});
  auto idx3 = mg::tensor(std::vector<int64_t>{0, 2, 2, 1, 0, 0}, {2, 3});
  check_grad("gather axis 1", [=](const Inputs& in) { return in[0].gather(1, labels); }, {input({2, 3})});
  auto idx_axis0 = mg::tensor(std::vector<int64_t>{2, 0, 1, 1, 0, 2, 2, 2}, {4, 2});
  check_grad("gather axis 0", [=](const Inputs& in) { return in[0].gather(0, idx_axis0); }, {input({3, 2})});
  check_grad("index_select axis 0", [=](const Inputs& in) { return in[0].index_select(0, rows); }, {input({2, 3})});
  check_grad("index_select axis 1", [=](const Inputs& in) { return in[0].index_select(-1, rows); }, {input({2, 3})});
  check_grad("scatter_add", [=](const Inputs& in) { return mg::scatter_add({2, 3}, 1, idx3, in[0]); }, {input({2, 3})});
  check_grad("index_add", [=](const Inputs& in) { return mg::index_add({2, 3}, 0, rows, in[0]); }, {input({3, 3})});
}

TEST_CASE("ops: linear (fused bias and ReLU epilogue) gradchecks and matches its parts") {
  const mg::Tensor weights = input({5, 3});  // a fixed weighting makes every output count
  for (const mg::Activation act : {mg::Activation::None, mg::Activation::ReLU}) {
    const bool relu = act == mg::Activation::ReLU;
    check_grad(relu ? "linear relu" : "linear", [&](const Inputs& in) {
      return (mg::linear(in[0], in[1], in[2], act) * weights.detach()).sum();
    }, {input({5, 4}), input({3, 4}), input({3})});
    check_grad(relu ? "linear relu, no bias" : "linear, no bias", [&](const Inputs& in) {
      return (mg::linear(in[0], in[1], mg::Tensor(), act) * weights.detach()).sum();
    }, {input({5, 4}), input({3, 4})});

    const mg::Tensor x = input({5, 4}), w = input({3, 4}), b = input({3});
    const mg::Tensor fused = mg::linear(x, w, b, act);
    const mg::Tensor plain = mg::mm(x, w, false, true) + b;
    const auto expected = values(relu ? plain.relu() : plain);
    const auto got = values(fused);
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(expected[i]).epsilon(1e-12));
  }
}

TEST_CASE("ops: linear's create_graph gradient is differentiable") {
  mg::Tensor x = input({4, 3});
  const mg::Tensor w = input({2, 3}), b = input({2});
  const mg::Tensor y = mg::linear(x, w, b, mg::Activation::ReLU).pow(2.0).sum();
  y.backward(mg::Tensor(), false, true);
  const mg::Tensor gw = w.grad();
  REQUIRE(gw.requires_grad());
  // dL/dw depends on x through the masked product: differentiating it again reaches x.
  x.zero_grad();
  gw.sum().backward();
  REQUIRE(x.grad().defined());
  for (double v : values(x.grad())) CHECK(std::isfinite(v));
}

TEST_CASE("ops: linear names bad shapes") {
  const mg::Tensor x = mg::zeros({2, 4}), w = mg::zeros({3, 4});
  CHECK_THROWS_WITH(mg::linear(x, mg::zeros({3, 5})), Contains("input (2, 4) and weight (3, 5)"));
  CHECK_THROWS_WITH(mg::linear(x, w, mg::zeros({4})), Contains("bias (4,) does not match weight (3, 4)"));
  CHECK_THROWS_WITH(mg::linear(x, w, mg::zeros({3}, {.dtype = mg::kFloat64})), Contains("linear"));
}
