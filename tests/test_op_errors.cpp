// Every op given bad input: mismatched shapes or dtypes, empty tensors, out-of-range axes or
// indices, undefined tensors. Each must throw minigrad::Error naming the op and the shapes; none
// may read or write out of bounds (the ASan+UBSan and valgrind runs of this file check that).
#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

#include <minigrad/minigrad.h>

namespace mg = minigrad;
namespace nn = minigrad::nn;

namespace {

struct BadCall {
  std::string what;                 // the case, for the report
  std::function<void()> call;       // must throw mg::Error
  std::vector<std::string> expect;  // substrings of the message: the op, the shapes, the problem
};

mg::Tensor f32(const mg::Shape& s) { return mg::ones(s); }
mg::Tensor f64(const mg::Shape& s) { return mg::ones(s, {.dtype = mg::kFloat64}); }
mg::Tensor i64(const mg::Shape& s) { return mg::zeros(s, {.dtype = mg::kInt64}); }
mg::Tensor idx(std::vector<int64_t> v) {
  const auto n = static_cast<int64_t>(v.size());
  return mg::tensor(std::move(v), {n});
}

using Binary = std::function<mg::Tensor(const mg::Tensor&, const mg::Tensor&)>;

// The binary elementwise ops, by the name their errors carry.
std::vector<std::pair<std::string, Binary>> binary_ops() {
  return {
      {"add", [](auto& a, auto& b) { return a + b; }},
      {"sub", [](auto& a, auto& b) { return a - b; }},
      {"mul", [](auto& a, auto& b) { return a * b; }},
      {"div", [](auto& a, auto& b) { return a / b; }},
      {"maximum", [](auto& a, auto& b) { return mg::maximum(a, b); }},
      {"minimum", [](auto& a, auto& b) { return mg::minimum(a, b); }},
      {"eq", [](auto& a, auto& b) { return a.eq(b); }},
      {"ne", [](auto& a, auto& b) { return a.ne(b); }},
      {"lt", [](auto& a, auto& b) { return a.lt(b); }},
      {"le", [](auto& a, auto& b) { return a.le(b); }},
      {"gt", [](auto& a, auto& b) { return a.gt(b); }},
      {"ge", [](auto& a, auto& b) { return a.ge(b); }},
  };
}

using Unary = std::function<mg::Tensor(const mg::Tensor&)>;

std::vector<std::pair<std::string, Unary>> float_only_unary_ops() {
  return {
      {"exp", [](auto& a) { return a.exp(); }},
      {"log", [](auto& a) { return a.log(); }},
      {"pow", [](auto& a) { return a.pow(2.0); }},
      {"sqrt", [](auto& a) { return a.sqrt(); }},
      {"sigmoid", [](auto& a) { return a.sigmoid(); }},
      {"tanh", [](auto& a) { return a.tanh(); }},
      {"gelu", [](auto& a) { return a.gelu(); }},
      {"sin", [](auto& a) { return a.sin(); }},
      {"cos", [](auto& a) { return a.cos(); }},
      {"log1p", [](auto& a) { return a.log1p(); }},
      {"expm1", [](auto& a) { return a.expm1(); }},
      {"erf", [](auto& a) { return a.erf(); }},
      {"softplus", [](auto& a) { return a.softplus(); }},
      {"silu", [](auto& a) { return a.silu(); }},
      {"elu", [](auto& a) { return a.elu(); }},
      {"logsumexp", [](auto& a) { return a.logsumexp({0}); }},
      {"std", [](auto& a) { return a.std(); }},
      {"softmax", [](auto& a) { return a.softmax(0); }},
      {"log_softmax", [](auto& a) { return a.log_softmax(0); }},
  };
}

using Axis = std::function<mg::Tensor(const mg::Tensor&, int64_t)>;

std::vector<std::pair<std::string, Axis>> axis_ops() {
  return {
      {"sum", [](auto& a, int64_t ax) { return a.sum(ax); }},
      {"mean", [](auto& a, int64_t ax) { return a.mean(ax); }},
      {"max", [](auto& a, int64_t ax) { return a.max(ax); }},
      {"min", [](auto& a, int64_t ax) { return a.min(ax); }},
      {"argmax", [](auto& a, int64_t ax) { return a.argmax(ax); }},
      {"softmax", [](auto& a, int64_t ax) { return a.softmax(ax); }},
      {"log_softmax", [](auto& a, int64_t ax) { return a.log_softmax(ax); }},
      {"flatten", [](auto& a, int64_t ax) { return a.flatten(ax); }},
      {"transpose", [](auto& a, int64_t ax) { return a.transpose(0, ax); }},
      {"gather",
       [](auto& a, int64_t ax) {
         return a.gather(ax, mg::zeros({2, 3}, {.dtype = mg::kInt64}));
       }},
      {"index_select", [](auto& a, int64_t ax) { return a.index_select(ax, idx({0})); }},
      {"cumsum", [](auto& a, int64_t ax) { return a.cumsum(ax); }},
      {"prod", [](auto& a, int64_t ax) { return a.prod(ax); }},
      {"sort", [](auto& a, int64_t ax) { return a.sort(ax).first; }},
      {"topk", [](auto& a, int64_t ax) { return a.topk(1, ax).first; }},
      {"norm", [](auto& a, int64_t ax) { return a.norm(2.0, {ax}); }},
  };
}

std::vector<BadCall> bad_calls() {
  std::vector<BadCall> cases;
  for (const auto& [name, op] : binary_ops()) {
    cases.push_back({name + " of shapes that do not broadcast",
                     [op] {
                       op(f32({2, 3}), f32({4}));
                     },
                     {name + ":", "(2, 3)", "(4,)", "cannot be broadcast"}});
    cases.push_back(
        {name + " with an undefined operand", [op] { op(f32({2}), mg::Tensor()); }, {name + ":", "undefined"}});
  }
  for (const auto& [name, op] : float_only_unary_ops())
    cases.push_back({name + " of int64", [op] { op(i64({3})); }, {name + ":", "int64", "(3,)"}});
  for (const auto& [name, op] : axis_ops()) {
    cases.push_back({name + " on axis 2 of a 2-D tensor",
                     [op] {
                       op(f32({2, 3}), 2);
                     },
                     {name + ":", "axis 2", "2 dimensions"}});
    cases.push_back({name + " on axis -3 of a 2-D tensor",
                     [op] {
                       op(f32({2, 3}), -3);
                     },
                     {name + ":", "axis -3", "2 dimensions"}});
  }
  // Reductions with no element to pick or divide by.
  for (const auto& [name, op] :
       std::vector<std::pair<std::string, Unary>>{{"max", [](auto& a) { return a.max(); }},
                                                  {"min", [](auto& a) { return a.min(); }},
                                                  {"argmax", [](auto& a) { return a.argmax(); }},
                                                  {"mean", [](auto& a) { return a.mean(); }}})
    cases.push_back({name + " of an empty tensor", [op] { op(f32({0, 3})); }, {name + ":", "(0, 3)", "empty"}});
  for (const auto& [name, op] :
       std::vector<std::pair<std::string, Unary>>{{"max", [](auto& a) { return a.max(1); }},
                                                  {"min", [](auto& a) { return a.min(1); }},
                                                  {"argmax", [](auto& a) { return a.argmax(1); }},
                                                  {"mean", [](auto& a) { return a.mean(1); }}})
    cases.push_back({name + " over an empty axis", [op] { op(f32({2, 0})); }, {name + ":", "(2, 0)", "empty"}});

  auto add = [&](std::string what, std::function<void()> call, std::vector<std::string> expect) {
    cases.push_back({std::move(what), std::move(call), std::move(expect)});
  };
  // Mixed dtypes promote (tests/test_ops_math.cpp); these are the combinations PyTorch refuses.
  add("sub of two bool tensors",
      [] {
        mg::ones({2}, {.dtype = mg::kBool}) - mg::ones({3, 1}, {.dtype = mg::kBool});
      },
      {"sub:", "bool", "(2,)", "(3, 1)"});
  add("floor_divide of floats", [] { mg::floor_divide(f32({2}), i64({2})); },
      {"floor_divide:", "float32", "int64", "(2,)"});
  add("floor_divide by zero",
      [] {
        mg::floor_divide(mg::ones({2}, {.dtype = mg::kInt64}), i64({3, 1}));
      },
      {"floor_divide:", "division by zero", "(3, 1)"});
  add("mean of int64", [] { i64({2, 3}).mean(); }, {"mean:", "int64", "(2, 3)"});
  add("where with a float condition", [] { mg::where(f32({2}), f32({2}), f32({2})); },
      {"where:", "bool", "float32", "(2,)"});
  add("where of shapes that do not broadcast",
      [] { mg::where(mg::ones({2}, {.dtype = mg::kBool}), f32({3}), f32({3})); }, {"where:", "(2,)", "(3,)"});
  add("sum over a repeated axis", [] { f32({2, 3}).sum({1, -1}); }, {"sum:", "axis 1", "twice", "(2, 3)"});
  add("var over an axis out of range", [] { f32({2, 3}).var({2}); }, {"var:", "axis 2"});
  add("topk with k past the axis", [] { f32({2, 3}).topk(4); }, {"topk:", "k = 4", "size 3", "(2, 3)"});
  add("topk with k 0 of a 0-d tensor", [] { f32({}).topk(0); }, {"topk:", "k = 0", "()"});
  add("one_hot with an index past num_classes",
      [] {
        mg::one_hot(idx({0, 3}), 3);
      },
      {"one_hot:", "index 3", "3 classes"});
  add("one_hot of float32", [] { mg::one_hot(f32({2}), 3); }, {"one_hot:", "int64", "float32"});
  add("norm with a negative p", [] { f32({3}).norm(-1.0); }, {"norm:", "-1"});
  add("randint with low >= high", [] { mg::randint(3, 3, {2}); }, {"randint:", "3"});
  add("matmul inner dimensions",
      [] {
        f32({128, 784}).matmul(f32({512, 256}));
      },
      {"matmul:", "(128, 784)", "(512, 256)", "784 and 512 differ"});
  add("matmul of 3-D with mismatched inner dimensions",
      [] {
        f32({2, 2, 3}).matmul(f32({2, 2}));
      },
      {"matmul:", "(2, 2, 3)", "(2, 2)", "3 and 2 differ"});
  add("matmul of 0-D", [] { f32({}).matmul(f32({2})); }, {"matmul:", "()", "(2,)"});
  add("matmul of float32 and float64", [] { f32({2, 2}).matmul(f64({2, 2})); }, {"matmul:", "float32", "float64"});
  add("matmul of int64", [] { i64({2, 2}).matmul(i64({2, 2})); }, {"matmul:", "int64", "(2, 2)"});
  add("mm transposed inner dimensions",
      [] {
        mg::mm(f32({3, 4}), f32({3, 5}), false, true);
      },
      {"matmul:", "(3, 4)", "(3, 5)^T", "4 and 5 differ"});
  add("mm of 1-D", [] { mg::mm(f32({3}), f32({3, 5})); }, {"matmul:", "(3,)", "(3, 5)"});
  add("reshape to a different size", [] { f32({2, 3}).reshape({4, 2}); }, {"reshape:", "(2, 3)", "(4, 2)"});
  add("reshape with two -1", [] { f32({2, 3}).reshape({-1, -1}); }, {"reshape:", "(-1, -1)"});
  add("reshape with a negative dimension", [] { f32({2, 3}).reshape({-2, -3}); }, {"reshape:", "-2"});
  add("reshape -1 with an empty tensor", [] { f32({0, 3}).reshape({0, -1}); }, {"reshape:", "(0, 3)", "(0, -1)"});
  add("flatten with start after end", [] { f32({2, 3, 4}).flatten(2, 1); }, {"flatten:", "2", "1"});
  add("t of 3-D", [] { f32({2, 3, 4}).t(); }, {"t:", "(2, 3, 4)"});
  add("gather with a float index", [] { f32({2, 3}).gather(1, f32({2, 1})); }, {"gather:", "int64", "float32"});
  add("gather with an index out of range",
      [] {
        f32({2, 3}).gather(1, mg::tensor(std::vector<int64_t>{0, 3}, {2, 1}));
      },
      {"gather:", "index 3", "size 3"});
  add("gather with a negative index",
      [] {
        f32({2, 3}).gather(1, mg::tensor(std::vector<int64_t>{0, -1}, {2, 1}));
      },
      {"gather:", "index -1", "size 3"});
  add("gather with an index of another rank",
      [] {
        f32({2, 3}).gather(1, idx({0, 1}));
      },
      {"gather:", "(2,)", "(2, 3)"});
  add("gather with an index of another size",
      [] {
        f32({2, 3}).gather(1, i64({3, 1}));
      },
      {"gather:", "(3, 1)", "(2, 3)"});
  add("index_select with a 2-D index", [] { f32({2, 3}).index_select(0, i64({1, 1})); }, {"index_select:", "(1, 1)"});
  add("index_select out of range",
      [] {
        f32({2, 3}).index_select(0, idx({0, 2}));
      },
      {"index_select:", "index 2", "size 2"});
  add("index_select with a float index",
      [] {
        f32({2, 3}).index_select(0, f32({1}));
      },
      {"index_select:", "int64", "float32"});
  add("scatter_add src and index differ",
      [] {
        mg::scatter_add({2, 3}, 1, i64({2, 1}), f32({2, 2}));
      },
      {"scatter_add:", "(2, 2)", "(2, 1)"});
  add("scatter_add index out of range",
      [] {
        mg::scatter_add({2, 3}, 1, mg::tensor(std::vector<int64_t>{0, 7}, {2, 1}), f32({2, 1}));
      },
      {"scatter_add:", "index 7", "size 3"});
  add("scatter_add on axis 2",
      [] {
        mg::scatter_add({2, 3}, 2, i64({2, 1}), f32({2, 1}));
      },
      {"scatter_add:", "axis 2"});
  add("index_add rows that do not fit",
      [] {
        mg::index_add({4, 3}, 0, idx({0, 1}), f32({2, 5}));
      },
      {"index_add:", "(2, 5)", "(4, 3)"});
  add("index_add index out of range",
      [] {
        mg::index_add({4, 3}, 0, idx({0, 4}), f32({2, 3}));
      },
      {"index_add:", "index 4", "size 4"});
  add("expand to an incompatible shape", [] { mg::expand(f32({2, 3}), {3, 3}); }, {"expand:", "(2, 3)", "(3, 3)"});
  add("sum_to a shape that is not a broadcast", [] { mg::sum_to(f32({2, 3}), {4}); }, {"sum_to:", "(2, 3)", "(4,)"});
  add("clamp with min > max", [] { f32({2}).clamp(1.0, 0.0); }, {"clamp:", "min 1", "max 0"});
  add("size of axis 3", [] { f32({2, 3}).size(3); }, {"axis 3", "2 dimensions"});
  add("item of a 2-element tensor", [] { f32({2}).item(); }, {"item", "(2,)", "2 elements"});
  add("data<float> of float64", [] { f64({2}).data<float>(); }, {"data<float32>", "float64"});
  add("a shape with a negative dimension", [] { mg::zeros({2, -1}); }, {"(2, -1)", "negative dimension -1"});
  add("a shape whose size overflows",
      [] {
        mg::zeros({int64_t{1} << 32, int64_t{1} << 32});
      },
      {"(4294967296, 4294967296)", "overflows"});
  add("tensor with too few values", [] { mg::tensor({1.0, 2.0, 3.0}, {2, 2}); }, {"tensor:", "3 values", "(2, 2)"});
  add("backward of a non-scalar",
      [] {
        f32({2, 2}).requires_grad_().exp().backward();
      },
      {"backward:", "(2, 2)", "not a scalar"});
  add("backward with a gradient of another shape",
      [] {
        f32({2, 2}).requires_grad_().exp().backward(f32({2}));
      },
      {"backward:", "(2,)", "(2, 2)"});

  add("cross_entropy with fewer labels than rows",
      [] {
        nn::cross_entropy(f32({4, 10}), i64({3}));
      },
      {"cross_entropy:", "(4, 10)", "(3,)"});
  add("cross_entropy with a label out of range",
      [] {
        nn::cross_entropy(f32({2, 10}), idx({1, 10}));
      },
      {"cross_entropy:", "target 10", "10 classes"});
  add("cross_entropy with a negative label",
      [] {
        nn::cross_entropy(f32({2, 10}), idx({-1, 0}));
      },
      {"cross_entropy:", "target -1"});
  add("cross_entropy with float labels",
      [] {
        nn::cross_entropy(f32({2, 10}), f32({2}));
      },
      {"cross_entropy:", "int64", "float32 (2,)"});
  add("cross_entropy of 1-D logits", [] { nn::cross_entropy(f32({10}), i64({1})); }, {"cross_entropy:", "(10,)"});
  add("cross_entropy of no classes", [] { nn::cross_entropy(f32({2, 0}), i64({2})); }, {"cross_entropy:", "(2, 0)"});
  add("nll_loss with a label out of range",
      [] {
        nn::nll_loss(f32({2, 3}), idx({3, 0}));
      },
      {"nll_loss:", "target 3", "3 classes"});
  add("mse_loss of different shapes",
      [] {
        nn::mse_loss(f32({2, 3}), f32({3, 2}));
      },
      {"mse_loss:", "(2, 3)", "(3, 2)"});
  add("l1_loss of different dtypes", [] { nn::l1_loss(f32({2}), f64({2})); }, {"l1_loss:", "float32", "float64"});
  add("Linear given the wrong features",
      [] {
        nn::Linear(784, 10)(f32({2, 100}));
      },
      {"100 features", "784", "(2, 100)"});
  add("Linear given a float64 input", [] { nn::Linear(4, 2)(f64({3, 4})); }, {"float64", "(3, 4)"});
  return cases;
}

}  // namespace

TEST_CASE("ops: bad input throws an Error naming the op and the shapes", "[ops][bad-input]") {
  const auto cases = bad_calls();
  for (const BadCall& c : cases) {
    INFO(c.what);
    std::string message;
    try {
      c.call();
    } catch (const mg::Error& e) {
      message = e.what();
    } catch (const std::exception& e) {
      FAIL_CHECK("threw a " << typeid(e).name() << " instead of minigrad::Error: " << e.what());
      continue;
    }
    INFO("message: " << message);
    CHECK_FALSE(message.empty());
    for (const std::string& part : c.expect) CHECK_THAT(message, Catch::Matchers::Contains(part));
  }
  CHECK(cases.size() > 100);
}

TEST_CASE("ops: empty tensors flow through the ops that have a value for them", "[ops][bad-input]") {
  const mg::Tensor e = mg::ones({0, 3}, {.requires_grad = true});
  CHECK(e.matmul(mg::ones({3, 4})).shape() == mg::Shape{0, 4});
  CHECK(mg::ones({2, 0}).matmul(mg::ones({0, 4})).sum().item() == 0.0);  // sums of no terms
  CHECK((e + mg::ones({3})).shape() == mg::Shape{0, 3});
  CHECK(e.sum().item() == 0.0);
  CHECK(e.sum(0).to_vector<float>() == std::vector<float>{0, 0, 0});
  CHECK(e.exp().relu().softmax(1).shape() == mg::Shape{0, 3});
  CHECK(mg::ones({2, 0}).log_softmax(1).shape() == mg::Shape{2, 0});  // no classes: nothing to normalize
  CHECK(e.transpose(0, 1).shape() == mg::Shape{3, 0});
  CHECK(e.reshape({3, 0}).shape() == mg::Shape{3, 0});
  CHECK(e.index_select(0, mg::zeros({0}, {.dtype = mg::kInt64})).shape() == mg::Shape{0, 3});
  e.sum().backward();
  CHECK(e.grad().shape() == mg::Shape{0, 3});
}
