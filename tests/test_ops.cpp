// Every op: forward values on known inputs and the conventions of its backward. Each op's backward
// is gradchecked in float64 by the gradcheck registry (apps/gradcheck/registry.cpp), which the
// ctest "gradcheck: every registered op and module" runs whole.
#include <catch2/catch.hpp>

#include <cmath>

#include <minigrad/minigrad.h>

namespace mg = minigrad;
using Catch::Matchers::Contains;

namespace {

mg::Generator gen(1234);

// A random float64 leaf in [-2, 2).
mg::Tensor input(const mg::Shape& shape) {
  return (mg::rand(shape, {.dtype = mg::kFloat64}, &gen) * 4.0 - 2.0).detach().requires_grad_();
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
}

TEST_CASE("ops: softmax and log_softmax") {
  auto x = mg::tensor({1.0, 2.0, 3.0, 1.0, 1.0, 1.0}, {2, 3}, {.dtype = mg::kFloat64});
  auto s = x.softmax(1);
  CHECK(values(s.sum(1))[0] == Approx(1.0));
  CHECK(values(s.sum(1))[1] == Approx(1.0));
  CHECK(values(s)[3] == Approx(1.0 / 3));
  CHECK(values(x.log_softmax(1))[2] ==
        Approx(std::log(std::exp(3.0) / (std::exp(1.0) + std::exp(2.0) + std::exp(3.0)))));
  // Stable at extreme logits.
  auto big = mg::tensor({1e4, -1e4, 0.0}, {.dtype = mg::kFloat64});
  CHECK(values(big.softmax(0)) == std::vector<double>{1.0, 0.0, 0.0});
  CHECK(std::isfinite(values(big.log_softmax(0))[1]));
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
}

TEST_CASE("ops: shape ops") {
  auto t = mg::arange(6, {.dtype = mg::kFloat64}).reshape({2, 3});
  CHECK(values(t.t()) == std::vector<double>{0, 3, 1, 4, 2, 5});
  auto u = mg::arange(24, {.dtype = mg::kFloat64}).reshape({2, 3, 4});
  CHECK(u.transpose(0, 2).shape() == mg::Shape{4, 3, 2});
  CHECK(values(u.transpose(0, 2))[1] == 12.0);
}

TEST_CASE("ops: gather and index_select") {
  auto x = mg::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3}, {.dtype = mg::kFloat64});
  auto labels = mg::tensor(std::vector<int64_t>{2, 0}, {2, 1});
  CHECK(values(x.gather(1, labels)) == std::vector<double>{3, 4});
  auto rows = mg::tensor(std::vector<int64_t>{1, 1, 0}, {3});
  CHECK(values(x.index_select(0, rows)) == std::vector<double>{4, 5, 6, 4, 5, 6, 1, 2, 3});
  CHECK(values(x.index_select(1, mg::tensor(std::vector<int64_t>{2}, {1}))) == std::vector<double>{3, 6});
}

TEST_CASE("ops: linear (fused bias and ReLU epilogue) matches its parts") {
  for (const mg::Activation act : {mg::Activation::None, mg::Activation::ReLU}) {
    const bool relu = act == mg::Activation::ReLU;
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
