// The layout ops (permute to pad) and the matrix products: forward values against PyTorch's, which
// tests/op_reference/shape.py wrote into shape.inc, in float32, float64 and (for the ops that only
// move elements) int64; which ops share the buffer; gradients at a few known points; batched
// products against one mm per matrix at every thread count; errors naming the op and the shapes.
// The gradients themselves are gradchecked by the registry (apps/gradcheck/registry_shape.cpp).
#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

#include <minigrad/minigrad.h>

namespace mg = minigrad;
using Catch::Matchers::Contains;

namespace {

struct RefTensor {
  mg::Shape shape;
  std::vector<double> values;
};
struct RefCase {
  std::string op;
  std::vector<int64_t> args;
  double value;  // pad's fill value
  std::vector<RefTensor> inputs;
  std::vector<RefTensor> outputs;
};

#include "op_reference/shape.inc"

// The reference case's op with its arguments, as shape.py's run() applies it in PyTorch; pad's
// fill value scaled like the inputs.
std::vector<mg::Tensor> run_case(const RefCase& c, const std::vector<mg::Tensor>& in, double scale) {
  const std::vector<int64_t>& a = c.args;
  const mg::Shape args(a);
  const mg::Tensor& x = in[0];
  if (c.op == "permute") return {x.permute(args)};
  if (c.op == "transpose") return {x.transpose(a[0], a[1])};
  if (c.op == "squeeze") return {a.empty() ? x.squeeze() : x.squeeze(a[0])};
  if (c.op == "unsqueeze") return {x.unsqueeze(a[0])};
  if (c.op == "slice") return {x.slice(a[0], a[1], a[2], a[3])};
  if (c.op == "narrow") return {x.narrow(a[0], a[1], a[2])};
  if (c.op == "select") return {x.select(a[0], a[1])};
  if (c.op == "split") return x.split(a[0], a[1]);
  if (c.op == "split_sizes") return x.split(std::vector<int64_t>(a.begin() + 1, a.end()), a[0]);
  if (c.op == "chunk") return x.chunk(a[0], a[1]);
  if (c.op == "cat") return {mg::cat(in, a[0])};
  if (c.op == "stack") return {mg::stack(in, a[0])};
  if (c.op == "repeat") return {x.repeat(args)};
  if (c.op == "flip") return {x.flip(args)};
  if (c.op == "pad") return {mg::pad(x, a, c.value * scale)};
  if (c.op == "matmul") return {mg::matmul(in[0], in[1])};
  if (c.op == "bmm") return {mg::bmm(in[0], in[1], a[0] != 0, a[1] != 0)};
  FAIL("no such op in shape.inc: " << c.op);
  return {};
}

std::string describe(const RefCase& c) {
  std::vector<std::string> shapes;
  for (const RefTensor& t : c.inputs) shapes.push_back(mg::shape_str(t.shape));
  return fmt::format("{}({}) of {}", c.op, fmt::join(c.args, ", "), fmt::join(shapes, ", "));
}

// Runs the reference cases in `dtype`, with inputs and expected outputs scaled by `scale`;
// without the products when `products` is false.
void check_reference(mg::DType dtype, double scale, bool products) {
  int checked = 0;
  for (const RefCase& c : kRefCases) {
    if (!products && (c.op == "matmul" || c.op == "bmm")) continue;
    INFO(describe(c) << " in " << mg::dtype_name(dtype));
    std::vector<mg::Tensor> in;
    for (const RefTensor& t : c.inputs) {
      std::vector<double> v = t.values;
      for (double& e : v) e *= scale;
      in.push_back(mg::tensor(v, t.shape, {.dtype = dtype}));
    }
    const std::vector<mg::Tensor> out = run_case(c, in, scale);
    REQUIRE(out.size() == c.outputs.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
      INFO("output " << i);
      CHECK(out[i].dtype() == dtype);
      CHECK(out[i].shape() == c.outputs[i].shape);
      std::vector<double> expected = c.outputs[i].values;
      for (double& e : expected) e *= scale;
      CHECK(out[i].to_vector<double>() == expected);  // exact: every value is a multiple of 1/8
    }
    ++checked;
  }
  CHECK(checked > 40);
}

mg::Tensor f32(const mg::Shape& s) { return mg::ones(s); }

}  // namespace

TEST_CASE("shape ops: forward values match PyTorch in float32 and float64", "[ops][shape]") {
  check_reference(mg::kFloat64, 1.0, true);
  check_reference(mg::kFloat32, 1.0, true);
}

TEST_CASE("shape ops: the ops that move elements do the same on int64", "[ops][shape]") {
  check_reference(mg::kInt64, 8.0, false);
}

TEST_CASE("shape ops: squeeze and unsqueeze share the buffer, the other layout ops copy", "[ops][shape]") {
  const mg::Tensor x = mg::arange(6).reshape({2, 1, 3});
  CHECK(x.squeeze().raw_data() == x.raw_data());
  CHECK(x.squeeze(1).raw_data() == x.raw_data());
  CHECK(x.unsqueeze(0).raw_data() == x.raw_data());
  for (const mg::Tensor& copy :
       {x.permute({0, 1, 2}), x.transpose(0, 1), x.slice(2), x.narrow(0, 0, 2), x.select(1, 0), x.flip({}),
        x.repeat({1, 1, 1}), mg::pad(x, {}), mg::cat({x}), x.split(3, 2)[0], x.chunk(1)[0]}) {
    CHECK(copy.raw_data() != x.raw_data());
    CHECK(copy.to_vector<double>() == x.to_vector<double>());
  }
}

TEST_CASE("shape ops: gradients at known points", "[ops][shape]") {
  const auto leaf = [](const mg::Shape& s) {
    return mg::arange(0.0, double(mg::shape_numel(s)), 1.0, {.dtype = mg::kFloat64})
        .reshape(s)
        .detach()
        .requires_grad_();
  };
  const auto grad_of = [](const mg::Tensor& x, const mg::Tensor& y) {
    (y * mg::arange(1.0, 1.0 + double(y.numel()), 1.0, {.dtype = mg::kFloat64}).reshape(y.shape())).sum().backward();
    return x.grad().to_vector<double>();
  };
  {  // a slice with step 2 passes its gradient to every other element, zero elsewhere
    const mg::Tensor x = leaf({7});
    CHECK(grad_of(x, x.slice(0, 1, 7, 2)) == std::vector<double>{0, 1, 0, 2, 0, 3, 0});
  }
  {  // a step past the end takes one element (the gradient does not spread it over step zeros)
    const mg::Tensor x = leaf({7});
    CHECK(grad_of(x, x.slice(0, 2, 7, INT64_MAX)) == std::vector<double>{0, 0, 1, 0, 0, 0, 0});
  }
  {  // a crop passes back only what it kept; padding gets none
    const mg::Tensor x = leaf({2, 3});
    CHECK(grad_of(x, mg::pad(x, {-1, 1, 1, 0})) == std::vector<double>{0, 4, 5, 0, 7, 8});
  }
  {  // repeat sums the copies
    const mg::Tensor x = leaf({2});
    CHECK(grad_of(x, x.repeat({2, 2})) == std::vector<double>{1 + 3 + 5 + 7, 2 + 4 + 6 + 8});
  }
  {  // cat hands each input its own stretch; flip and permute move gradients back
    const mg::Tensor a = leaf({2, 1}), b = leaf({2, 2});
    const mg::Tensor y = mg::cat({a, b.flip({0}).permute({1, 0})}, 1);  // [[a0, 2, 0], [a1, 3, 1]]
    (y * mg::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3}, {.dtype = mg::kFloat64})).sum().backward();
    CHECK(a.grad().to_vector<double>() == std::vector<double>{1, 4});
    CHECK(b.grad().to_vector<double>() == std::vector<double>{3, 6, 2, 5});
  }
  {  // broadcast batch axes sum their gradients
    const mg::Tensor a = mg::ones({2, 3}, {.dtype = mg::kFloat64, .requires_grad = true});
    const mg::Tensor b = mg::ones({4, 3, 5}, {.dtype = mg::kFloat64, .requires_grad = true});
    a.matmul(b).sum().backward();
    CHECK(a.grad().to_vector<double>() == std::vector<double>(6, 20.0));  // 4 batches x 5 columns
    CHECK(b.grad().to_vector<double>() == std::vector<double>(60, 2.0));
  }
}

TEST_CASE("bmm: every matrix is one GEMM, bit for bit, at any thread count", "[ops][shape][gemm]") {
  mg::Generator gen(7);
  // Many small matrices, many of 2^19 flops, a few big ones, broadcast batch axes.
  for (const auto& [sa, sb] : std::vector<std::pair<mg::Shape, mg::Shape>>{{{64, 1, 8, 64}, {64, 1, 64, 8}},
                                                                           {{16, 1, 64, 64}, {16, 1, 64, 64}},
                                                                           {{3, 1, 96, 80}, {3, 1, 80, 112}},
                                                                           {{2, 1, 24, 40}, {3, 40, 16}}}) {
    INFO(mg::shape_str(sa) << " @ " << mg::shape_str(sb));
    const mg::Tensor a = mg::randn(sa, {}, &gen), b = mg::randn(sb, {}, &gen);
    // Each matrix alone through mm: a top-level GEMM call, threaded when big enough.
    const mg::Tensor b4 = b.dim() == 3 ? b.unsqueeze(0) : b;
    const int64_t p = std::max(a.size(0), b4.size(0)), q = std::max(a.size(1), b4.size(1));
    const auto pick = [](const mg::Tensor& t, int64_t i, int64_t j) {
      return t.select(0, t.size(0) == 1 ? 0 : i).select(0, t.size(1) == 1 ? 0 : j);
    };
    std::vector<float> expected;
    for (int64_t i = 0; i < p; ++i)
      for (int64_t j = 0; j < q; ++j) {
        const std::vector<float> c = mg::mm(pick(a, i, j), pick(b4, i, j)).to_vector<float>();
        expected.insert(expected.end(), c.begin(), c.end());
      }
    const int saved = mg::get_num_threads();
    for (int threads : {1, 2, 3}) {
      INFO(threads << " threads");
      mg::set_num_threads(threads);
      const mg::Tensor c = a.matmul(b);
      mg::set_num_threads(saved);
      CHECK(c.to_vector<float>() == expected);
    }
  }
}

TEST_CASE("shape ops: bad input throws an Error naming the op and the shapes", "[ops][shape][bad-input]") {
  struct BadCall {
    std::string what;
    std::function<void()> call;
    std::vector<std::string> expect;
  };
  const std::vector<BadCall> cases = {
      {"permute with too few axes",
       [] {
         f32({2, 3, 4}).permute({1, 0});
       },
       {"permute:", "(1, 0)", "(2, 3, 4)"}},
      {"permute with a repeated axis",
       [] {
         f32({2, 3}).permute({1, -1});
       },
       {"permute:", "axis 1 appears twice", "(1, -1)"}},
      {"permute out of range",
       [] {
         f32({2, 3}).permute({0, 2});
       },
       {"permute:", "axis 2", "2 dimensions"}},
      {"squeeze out of range",
       [] {
         f32({2, 3}).squeeze(2);
       },
       {"squeeze:", "axis 2", "2 dimensions"}},
      {"unsqueeze out of range",
       [] {
         f32({2, 3}).unsqueeze(3);
       },
       {"unsqueeze:", "axis 3", "2 dimensions", "-3 to 2"}},
      {"unsqueeze below range",
       [] {
         f32({2, 3}).unsqueeze(-4);
       },
       {"unsqueeze:", "axis -4"}},
      {"slice of a 0-d tensor", [] { f32({}).slice(0, 0, 1); }, {"slice:", "0-d"}},
      {"slice out of range",
       [] {
         f32({2, 3}).slice(-3, 0, 1);
       },
       {"slice:", "axis -3", "2 dimensions"}},
      {"slice with step 0",
       [] {
         f32({2, 3}).slice(1, 0, 3, 0);
       },
       {"slice:", "step", "positive", "0", "(2, 3)"}},
      {"slice with a negative step",
       [] {
         f32({2, 3}).slice(1, 3, 0, -1);
       },
       {"slice:", "step", "-1"}},
      {"narrow past the end",
       [] {
         f32({4, 5}).narrow(1, 3, 3);
       },
       {"narrow:", "start 3", "length 3", "(4, 5)"}},
      {"narrow from before the start",
       [] {
         f32({4, 5}).narrow(1, -6, 1);
       },
       {"narrow:", "start -6", "(4, 5)"}},
      {"narrow a negative length",
       [] {
         f32({4, 5}).narrow(0, 0, -1);
       },
       {"narrow:", "length -1", "(4, 5)"}},
      {"select out of range",
       [] {
         f32({2, 3}).select(1, 3);
       },
       {"select:", "index 3", "axis 1", "(2, 3)"}},
      {"select below range",
       [] {
         f32({2, 3}).select(0, -3);
       },
       {"select:", "index -3", "(2, 3)"}},
      {"select of a 0-d tensor", [] { f32({}).select(0, 0); }, {"select:", "0-d"}},
      {"split size 0",
       [] {
         f32({4, 5}).split(0, 1);
       },
       {"split:", "split size 0", "(4, 5)"}},
      {"split sizes that do not add up",
       [] {
         f32({4, 5}).split(std::vector<int64_t>{2, 2}, 1);
       },
       {"split:", "[2, 2]", "sum to 4", "size 5", "(4, 5)"}},
      {"split a negative size",
       [] {
         f32({4, 5}).split(std::vector<int64_t>{6, -1}, 1);
       },
       {"split:", "[6, -1]", "negative"}},
      {"chunk into 0",
       [] {
         f32({4, 5}).chunk(0);
       },
       {"chunk:", "got 0", "(4, 5)"}},
      {"cat of nothing", [] { mg::cat({}); }, {"cat:", "non-empty"}},
      {"cat of mismatched shapes",
       [] {
         mg::cat({f32({2, 3}), f32({2, 4})}, 0);
       },
       {"cat:", "tensor 1", "(2, 4)", "tensor 0", "(2, 3)", "outside axis 0"}},
      {"cat of different ranks",
       [] {
         mg::cat({f32({2, 3}), f32({2, 3, 1})}, 1);
       },
       {"cat:", "(2, 3, 1)", "(2, 3)"}},
      {"cat of a 0-d tensor",
       [] {
         mg::cat({f32({}), f32({})});
       },
       {"cat:", "tensor 0", "0-d"}},
      {"cat of different dtypes",
       [] {
         mg::cat({f32({2}), mg::ones({2}, {.dtype = mg::kFloat64})});
       },
       {"cat:", "float64", "float32", "(2,)"}},
      {"cat out of range",
       [] {
         mg::cat({f32({2, 3}), f32({2, 3})}, 2);
       },
       {"cat:", "axis 2", "2 dimensions"}},
      {"cat of an undefined tensor",
       [] {
         mg::cat({f32({2}), mg::Tensor()});
       },
       {"cat:", "undefined"}},
      {"stack of different shapes",
       [] {
         mg::stack({f32({2, 3}), f32({3, 2})});
       },
       {"stack:", "tensor 1", "(3, 2)", "(2, 3)"}},
      {"stack out of range",
       [] {
         mg::stack({f32({2, 3}), f32({2, 3})}, 3);
       },
       {"stack:", "axis 3", "-3 to 2"}},
      {"stack of nothing", [] { mg::stack({}); }, {"stack:", "non-empty"}},
      {"repeat with too few counts",
       [] {
         f32({2, 3}).repeat({2});
       },
       {"repeat:", "(2,)", "(2, 3)"}},
      {"repeat a negative count",
       [] {
         f32({2, 3}).repeat({2, -1});
       },
       {"repeat:", "negative", "(2, -1)"}},
      {"repeat past int64",
       [] {
         f32({2, 3}).repeat({int64_t{1} << 62, 4});
       },
       {"overflows"}},
      {"flip a repeated axis",
       [] {
         f32({2, 3}).flip({0, -2});
       },
       {"flip:", "axis 0 appears twice"}},
      {"flip out of range",
       [] {
         f32({2, 3}).flip({2});
       },
       {"flip:", "axis 2", "2 dimensions"}},
      {"pad an odd count",
       [] {
         mg::pad(f32({2, 3}), {1, 2, 3});
       },
       {"pad:", "[1, 2, 3]", "(2, 3)", "pairs"}},
      {"pad more axes than there are",
       [] {
         mg::pad(f32({3}), {1, 1, 1, 1});
       },
       {"pad:", "[1, 1, 1, 1]", "(3,)"}},
      {"pad crops below zero",
       [] {
         mg::pad(f32({2, 3}), {-2, -2});
       },
       {"pad:", "axis 1", "size 3", "(-2, -2)", "-1", "(2, 3)"}},
      {"matmul of 0-d", [] { f32({}).matmul(f32({2})); }, {"matmul:", "()", "(2,)"}},
      {"matmul inner dimensions, batched",
       [] {
         f32({2, 3, 4}).matmul(f32({2, 5, 6}));
       },
       {"matmul:", "(2, 3, 4)", "(2, 5, 6)", "4 and 5 differ"}},
      {"matmul inner dimensions, vector",
       [] {
         f32({5}).matmul(f32({2, 4, 3}));
       },
       {"matmul:", "(5,)", "(2, 4, 3)", "5 and 4 differ"}},
      {"matmul inner dimensions, folded",
       [] {
         f32({2, 3, 4}).matmul(f32({3}));
       },
       {"matmul:", "(2, 3, 4)", "(3,)", "4 and 3 differ"}},
      {"matmul batch axes that do not broadcast",
       [] {
         f32({2, 3, 4}).matmul(f32({3, 4, 5}));
       },
       {"matmul:", "(2, 3, 4)", "(3, 4, 5)", "batch", "2 vs 3"}},
      {"matmul of int64, batched",
       [] {
         mg::ones({2, 2, 2}, {.dtype = mg::kInt64}).matmul(mg::ones({2, 2, 2}, {.dtype = mg::kInt64}));
       },
       {"matmul:", "int64", "(2, 2, 2)"}},
      {"bmm of 2-D",
       [] {
         mg::bmm(f32({2, 3}), f32({3, 2}));
       },
       {"bmm:", "3-D", "(2, 3)", "(3, 2)"}},
      {"bmm of different batches",
       [] {
         mg::bmm(f32({2, 3, 4}), f32({3, 4, 5}));
       },
       {"bmm:", "batch", "(2, 3, 4)", "(3, 4, 5)"}},
      {"bmm transposed inner dimensions",
       [] {
         mg::bmm(f32({2, 3, 4}), f32({2, 4, 5}), true);
       },
       {"bmm:", "(2, 3, 4)^T", "(2, 4, 5)", "3 and 4 differ"}},
      {"bmm of different dtypes",
       [] {
         mg::bmm(f32({2, 3, 4}), mg::ones({2, 4, 5}, {.dtype = mg::kFloat64}));
       },
       {"bmm:", "float32", "float64"}},
  };
  for (const BadCall& c : cases) {
    INFO(c.what);
    std::string message;
    try {
      c.call();
    } catch (const mg::Error& e) {
      message = e.what();
    }
    INFO("message: " << message);
    CHECK_FALSE(message.empty());
    for (const std::string& part : c.expect) CHECK_THAT(message, Contains(part));
  }
}
