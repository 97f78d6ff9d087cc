// Math ops, multi-axis reductions, masks, dtypes and NaN/infinity against PyTorch: the values
// and gradients tests/op_reference/math.py wrote into math.inc, in float32 and float64. Then the
// promotion rules, factories and conversions the table does not cover.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <minigrad/minigrad.h>

namespace mg = minigrad;
namespace nn = minigrad::nn;

namespace {

struct RefTensor {
  std::string kind;  // "float" (the dtype under test), "float32", "float64", "int64", "bool"; "" none
  mg::Shape shape;
  std::vector<double> values;
};
struct RefCase {
  std::string label;
  std::vector<RefTensor> inputs;
  std::vector<RefTensor> outputs;
  RefTensor grad;  // of sum(out[0] * w) by input 0, w[i] = 0.5 + i / n
};
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

#include "op_reference/math.inc"

using Ins = std::vector<mg::Tensor>;
using Outs = std::vector<mg::Tensor>;
Outs outs(mg::Tensor t) { return {std::move(t)}; }
Outs outs(std::pair<mg::Tensor, mg::Tensor> p) { return {std::move(p.first), std::move(p.second)}; }

// The minigrad call for each label of math.py.
const std::map<std::string, std::function<Outs(const Ins&)>>& calls() {
#define CALL(label, expr)                           \
  {                                                 \
    label, [](const Ins& in) { return outs(expr); } \
  }
  static const std::map<std::string, std::function<Outs(const Ins&)>> table = {
      CALL("sin", in[0].sin()),
      CALL("cos", in[0].cos()),
      CALL("log1p", in[0].log1p()),
      CALL("expm1", in[0].expm1()),
      CALL("erf", in[0].erf()),
      CALL("softplus", in[0].softplus()),
      CALL("softplus beta 2 threshold 1", in[0].softplus(2.0, 1.0)),
      CALL("silu", in[0].silu()),
      CALL("elu", in[0].elu()),
      CALL("elu alpha 0.5 at 0", in[0].elu(0.5)),
      CALL("sum dims (0, 2)", in[0].sum({0, 2})),
      CALL("sum dims (-1, 0) keepdim", in[0].sum({-1, 0}, true)),
      CALL("mean dims (1, 2)", in[0].mean({1, 2})),
      CALL("logsumexp dim 1", in[0].logsumexp({1})),
      CALL("logsumexp dims (0, 2) keepdim", in[0].logsumexp({0, 2}, true)),
      CALL("logsumexp -inf entries", in[0].logsumexp({1})),
      CALL("var dim 1", in[0].var({1})),
      CALL("var dims (0, 2) correction 0 keepdim", in[0].var({0, 2}, 0, true)),
      CALL("var all", in[0].var()),
      CALL("std dim -1", in[0].std({-1})),
      CALL("std constant rows", in[0].std({1})),
      CALL("std all correction 0", in[0].std({}, 0)),
      CALL("cumsum dim 1", in[0].cumsum(1)),
      CALL("cumsum dim -1", in[0].cumsum(-1)),
      CALL("prod dim 1", in[0].prod(1)),
      CALL("prod with zeros", in[0].prod(1)),
      CALL("prod all", in[0].prod()),
      CALL("sort", in[0].sort(-1)),
      CALL("sort descending dim 0", in[0].sort(0, true)),
      CALL("sort NaN", in[0].sort(-1)),
      CALL("topk 2", in[0].topk(2, -1)),
      CALL("topk 3 smallest dim 0", in[0].topk(2, 0, false)),
      CALL("norm", in[0].norm()),
      CALL("norm p 1 dim 1", in[0].norm(1.0, {1})),
      CALL("norm p 3 dims (0, 2)", in[0].norm(3.0, {0, 2})),
      CALL("norm p inf dim 1", in[0].norm(kInf, {1})),
      CALL("norm p 0", in[0].norm(0.0)),
      CALL("norm at 0", in[0].norm(2.0, {1})),
      CALL("one_hot", mg::one_hot(in[0], 4)),
      CALL("one_hot inferred", mg::one_hot(in[0])),
      CALL("relu NaN", in[0].relu()),
      CALL("maximum NaN", mg::maximum(in[0], in[1])),
      CALL("minimum NaN", mg::minimum(in[0], in[1])),
      CALL("linear relu NaN", mg::linear(in[0], in[1], in[2], mg::Activation::ReLU)),
      CALL("clamp NaN", in[0].clamp(-1.0, 1.0)),
      CALL("max NaN", in[0].max()),
      CALL("min dim NaN", in[0].min(1)),
      CALL("argmax NaN", in[0].argmax(1)),
      CALL("softmax -inf", in[0].softmax(1)),
      CALL("log_softmax -inf", in[0].log_softmax(1)),
      CALL("cross_entropy -inf", nn::cross_entropy(in[0], in[1])),
      CALL("cross_entropy -inf label smoothing", nn::cross_entropy(in[0], in[1], {.label_smoothing = 0.1})),
      CALL("where", mg::where(in[0], in[1], in[2])),
      CALL("masked_fill", in[0].masked_fill(in[1], -1e9)),
      CALL("gt scalar", in[0].gt(0.25)),
      CALL("eq", in[0].eq(in[1])),
      CALL("mul bool", in[0] * in[1]),
      CALL("add int64 float", in[0] + in[1]),
      CALL("add int64", in[0] + in[1]),
      CALL("mul int64 scalar", in[0] * 3),
      CALL("mul int64 float scalar", in[0] * 2.5),
      CALL("add bool int64", in[0] + in[1]),
      CALL("add bool bool", in[0] + in[1]),
      CALL("div int64", in[0] / in[1]),
      CALL("floor_divide", mg::floor_divide(in[0], in[1])),
      CALL("sum bool", in[0].sum()),
      CALL("sum int64 dim 0", in[0].sum(0)),
      CALL("max int64 dim 1", in[0].max(1)),
      CALL("argmax int64", in[0].argmax()),
      CALL("cumsum bool", in[0].cumsum(0)),
      CALL("prod int64", in[0].prod()),
      CALL("logical_and", in[0].logical_and(in[1])),
      CALL("logical_or", in[0].logical_or(in[1])),
      CALL("logical_not", in[0].logical_not()),
      CALL("to int64", in[0].to(mg::kInt64)),
      CALL("to bool", in[0].to(mg::kBool)),
      CALL("to float from bool", in[0].to(mg::kFloat64)),
  };
#undef CALL
  return table;
}

mg::DType dtype_of(const std::string& kind, mg::DType tested) {
  if (kind == "float") return tested;
  if (kind == "float32") return mg::kFloat32;
  if (kind == "float64") return mg::kFloat64;
  if (kind == "int64") return mg::kInt64;
  REQUIRE(kind == "bool");
  return mg::kBool;
}

void check_close(const mg::Tensor& got, const RefTensor& want, mg::DType tested, const std::string& what) {
  INFO(what);
  REQUIRE(got.defined());
  CHECK(got.dtype() == dtype_of(want.kind, tested));
  REQUIRE(got.shape() == want.shape);
  const std::vector<double> v = got.to(mg::kFloat64).to_vector<double>();
  // float32 runs see the float32 rounding of every intermediate; float64 only summation order.
  const double tol = got.dtype() == mg::kFloat32 ? 2e-5 : 1e-11;
  for (std::size_t i = 0; i < v.size(); ++i) {
    INFO("element " << i << ": got " << v[i] << ", PyTorch " << want.values[i]);
    const double w = want.values[i];
    if (std::isnan(w))
      CHECK(std::isnan(v[i]));
    else if (std::isinf(w))
      CHECK(v[i] == w);
    else
      CHECK(std::abs(v[i] - w) <= tol * (1.0 + std::abs(w)));
  }
}

}  // namespace

TEST_CASE("math ops, reductions, dtypes and NaN match PyTorch", "[ops][math]") {
  std::map<std::string, int> used;
  for (const RefCase& c : kMathCases) {
    const auto it = calls().find(c.label);
    INFO(c.label);
    REQUIRE(it != calls().end());
    ++used[c.label];
    for (const mg::DType tested : {mg::kFloat32, mg::kFloat64}) {
      INFO(mg::dtype_name(tested));
      Ins in;
      for (const RefTensor& r : c.inputs)
        in.push_back(mg::tensor(r.values, r.shape, {.dtype = dtype_of(r.kind, tested)}));
      if (!c.grad.kind.empty()) in[0].requires_grad_();
      const Outs out = it->second(in);
      REQUIRE(out.size() == c.outputs.size());
      for (std::size_t k = 0; k < out.size(); ++k)
        check_close(out[k], c.outputs[k], tested, fmt::format("output {}", k));
      if (c.grad.kind.empty()) continue;
      const mg::Tensor& y = out[0];
      const auto n = static_cast<double>(y.numel());
      const mg::Tensor w = (mg::arange(y.numel(), {.dtype = y.dtype()}) / n + 0.5).reshape(y.shape());
      (y * w).sum().backward();
      check_close(in[0].grad(), c.grad, tested, "gradient");
    }
  }
  CHECK(used.size() == calls().size());  // every call has a reference case
}

// PyTorch's threshold_backward selects rather than multiplies: an infinite gradient where the
// input is <= 0 gives 0, not inf * 0 = NaN. Both paths: one pass, and create_graph's.
TEST_CASE("relu blocks any gradient where its input is <= 0, as PyTorch", "[ops][math]") {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  for (const mg::DType dtype : {mg::kFloat32, mg::kFloat64})
    for (const bool create_graph : {false, true}) {
      INFO(mg::dtype_name(dtype) << (create_graph ? ", create_graph" : ""));
      auto x = mg::tensor({-1.0, 0.0, 2.0, nan}, {4}, {.dtype = dtype}).requires_grad_();
      x.relu().backward(mg::tensor({inf, nan, 3.0, 4.0}, {4}, {.dtype = dtype}), false, create_graph);
      CHECK(x.grad().to(mg::kFloat64).to_vector<double>() == std::vector<double>{0, 0, 3, 4});

      auto rows = mg::tensor({-1.0, 0.5, 2.0, -3.0}, {2, 2}, {.dtype = dtype}).requires_grad_();
      auto w = mg::tensor({1.0, 0.0, 0.0, 1.0}, {2, 2}, {.dtype = dtype}).requires_grad_();
      auto b = mg::zeros({2}, {.dtype = dtype}).requires_grad_();
      mg::linear(rows, w, b, mg::Activation::ReLU)
          .backward(mg::tensor({inf, 1.0, 2.0, nan}, {2, 2}, {.dtype = dtype}), false, create_graph);
      CHECK(rows.grad().to(mg::kFloat64).to_vector<double>() == std::vector<double>{0, 1, 2, 0});
      CHECK(b.grad().to(mg::kFloat64).to_vector<double>() == std::vector<double>{2, 1});
    }
}

TEST_CASE("type promotion follows PyTorch", "[ops][dtype]") {
  const auto f32 = mg::ones({3});
  const auto f64 = mg::ones({3}, {.dtype = mg::kFloat64});
  const auto i64 = mg::ones({3}, {.dtype = mg::kInt64});
  const auto b = mg::ones({3}, {.dtype = mg::kBool});
  CHECK(mg::promote_types(mg::kInt64, mg::kFloat32) == mg::kFloat32);
  CHECK(mg::promote_types(mg::kFloat32, mg::kFloat64) == mg::kFloat64);
  CHECK(mg::promote_types(mg::kBool, mg::kInt64) == mg::kInt64);
  CHECK((f32 + f64).dtype() == mg::kFloat64);
  CHECK((i64 * f32).dtype() == mg::kFloat32);
  CHECK((b + i64).dtype() == mg::kInt64);
  CHECK((b * f64).dtype() == mg::kFloat64);
  // Numbers and 0-d tensors do not widen within a category, only across.
  CHECK((f32 * 2.5).dtype() == mg::kFloat32);
  CHECK((f32 + mg::full({}, 1.0, {.dtype = mg::kFloat64})).dtype() == mg::kFloat32);
  CHECK((i64 + mg::full({}, 1.0, {.dtype = mg::kFloat64})).dtype() == mg::kFloat64);
  CHECK((i64 + 1).dtype() == mg::kInt64);
  CHECK((i64 + 1.5).dtype() == mg::kFloat32);
  CHECK((b + true).dtype() == mg::kBool);
  CHECK((b + 1).dtype() == mg::kInt64);
  CHECK((i64 / 2).dtype() == mg::kFloat32);
  CHECK(f32.gt(0.5).dtype() == mg::kBool);
  // A float64 gradient through a promoted float32 operand comes back as float32.
  auto x = mg::ones({3}).requires_grad_();
  (x * f64).sum().backward();
  CHECK(x.grad().dtype() == mg::kFloat32);
}

TEST_CASE("factories: arange overloads, randint, conversions", "[ops][dtype]") {
  CHECK(mg::arange(12.0, {}).numel() == 12);  // not arange(12, 0): empty
  CHECK(mg::arange(2, 11, 3, {.dtype = mg::kInt64}).to_vector<int64_t>() == std::vector<int64_t>{2, 5, 8});
  CHECK(mg::arange(1.0, 2.0, 0.25).numel() == 4);
  CHECK(mg::arange(5, {.dtype = mg::kInt64}).dtype() == mg::kInt64);
  mg::Generator gen(7);
  const auto r = mg::randint(-3, 4, {1000}, {.dtype = mg::kInt64}, &gen);
  CHECK(r.dtype() == mg::kInt64);
  CHECK(r.min().item() == -3);
  CHECK(r.max().item() == 3);
  mg::Generator again(7);
  CHECK(mg::randint(-3, 4, {1000}, {.dtype = mg::kInt64}, &again).to_vector<int64_t>() == r.to_vector<int64_t>());
  CHECK(mg::randint(0, 2, {3}).dtype() == mg::kInt64);
  // Float to int64: truncation; NaN and out-of-range values to INT64_MIN, not undefined behaviour.
  CHECK(mg::tensor({kNaN, kInf, 1e30, -2.5}).to(mg::kInt64).to_vector<int64_t>() ==
        std::vector<int64_t>{INT64_MIN, INT64_MIN, INT64_MIN, -2});
  // No gradient into int64 or bool: the conversion is cut from the graph, as in PyTorch.
  auto x = mg::tensor({1.5, -2.0}).requires_grad_();
  CHECK_FALSE(x.to(mg::kInt64).requires_grad());
  CHECK_FALSE(x.gt(0.0).requires_grad());
  CHECK_THAT(fmt::format("{}", x.gt(0.0)), Catch::Contains("true") && Catch::Contains("bool"));
}

TEST_CASE("indexing accepts int64 and bool data", "[ops][dtype]") {
  const auto n = mg::tensor(std::vector<int64_t>{10, 20, 30, 40, 50, 60}, {2, 3});
  const auto rows = mg::tensor(std::vector<int64_t>{1, 1, 0}, {3});
  CHECK(n.index_select(0, rows).to_vector<int64_t>() == std::vector<int64_t>{40, 50, 60, 40, 50, 60, 10, 20, 30});
  CHECK(n.gather(1, mg::tensor(std::vector<int64_t>{2, 0}, {2, 1})).to_vector<int64_t>() ==
        std::vector<int64_t>{30, 40});
  const auto m = n.gt(25);
  CHECK(m.index_select(1, rows).to_vector<int64_t>() == std::vector<int64_t>{0, 0, 0, 1, 1, 1});
}

TEST_CASE("masks in backward formulas keep the gradient's dtype", "[ops][dtype]") {
  // A bool mask times a float number is float32 (PyTorch's rule): inside leaky_relu's and
  // Dropout's float64 math that would round 0.9 and 1/0.7 to float32.
  auto x = mg::tensor({-1.0, 2.0}, {2}, {.dtype = mg::kFloat64}).requires_grad_();
  x.leaky_relu(0.1).sum().backward();
  CHECK(x.grad().dtype() == mg::kFloat64);
  CHECK(x.grad().to(mg::kFloat64).to_vector<double>()[0] == 0.1);
  nn::Dropout dropout(0.3, 1);
  dropout.set_mask(mg::tensor({1.0, 0.0}).to(mg::kBool));
  const auto y = dropout(mg::ones({2}, {.dtype = mg::kFloat64}));
  CHECK(y.dtype() == mg::kFloat64);
  CHECK(y.to_vector<double>()[0] == 1.0 / 0.7);
}
