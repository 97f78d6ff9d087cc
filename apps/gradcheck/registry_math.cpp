// Registry entries of the math ops, the multi-axis reductions, where/masked_fill and sort/topk.
#include "registry.h"

#include <limits>
#include <tuple>

namespace minigrad::gradcheck_tool {

using Inputs = std::vector<mg::Tensor>;
using mg::Shape;
using mg::Tensor;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// One op of one input at a few random shapes (empty and 0-d included), in [lo, hi).
OpEntry smooth(std::string name, mg::GradcheckFn fn, double lo = -2.0, double hi = 2.0) {
  OpEntry e{.name = std::move(name)};
  for (const Shape& s : {Shape{3, 5}, Shape{2, 1, 3}, Shape{}, Shape{0, 3}})
    e.cases.push_back({mg::shape_str(s), uniform_inputs({s}, lo, hi), fn});
  return e;
}

// Cases of a reduction over a list of axes of a (2, 3, 4) input: single, several, negative, all
// (the empty list), keepdim, and an input with a size-1 axis.
using DimsFn = std::function<Tensor(const Tensor&, const std::vector<int64_t>&, bool)>;
std::vector<OpCase> dims_cases(const DimsFn& f) {
  std::vector<OpCase> cases;
  for (const auto& dims_keep : std::vector<std::pair<std::vector<int64_t>, bool>>{
           {{1}, false}, {{0, 2}, false}, {{-1, 0}, true}, {{}, false}, {{2, -2}, true}}) {
    const std::vector<int64_t> dims = dims_keep.first;  // named copies: lambdas capture them
    const bool keep = dims_keep.second;
    cases.push_back({fmt::format("(2, 3, 4) dims ({}){}", fmt::join(dims, ", "), keep ? " keepdim" : ""),
                     uniform_inputs({{2, 3, 4}}), [=](const Inputs& in) { return f(in[0], dims, keep); }});
  }
  cases.push_back({"(3, 1, 2) dims (1, 2)", uniform_inputs({{3, 1, 2}}), [=](const Inputs& in) {
                     return f(in[0], {1, 2}, false);
                   }});
  return cases;
}

void add_unary_math(Registry& r) {
  r.add(smooth(
      "sin", [](const Inputs& in) { return in[0].sin(); }, -4.0, 4.0));
  r.add(smooth(
      "cos", [](const Inputs& in) { return in[0].cos(); }, -4.0, 4.0));
  r.add(smooth(
      "log1p", [](const Inputs& in) { return in[0].log1p(); }, -0.8, 3.0));
  r.add(smooth("expm1", [](const Inputs& in) { return in[0].expm1(); }));
  r.add(smooth("erf", [](const Inputs& in) { return in[0].erf(); }));
  r.add(smooth(
      "silu", [](const Inputs& in) { return in[0].silu(); }, -4.0, 4.0));
  OpEntry softplus = smooth(
      "softplus", [](const Inputs& in) { return in[0].softplus(); }, -4.0, 4.0);
  // beta 2, threshold 3: inputs past 1.5 take the linear branch.
  softplus.cases.push_back({"(3, 5) beta 2 threshold 3", uniform_inputs({{3, 5}}, -3.0, 3.0),
                            [](const Inputs& in) { return in[0].softplus(2.0, 3.0); }});
  r.add(std::move(softplus));
  // alpha 0.5: the derivative is 0.5 at and left of 0, 1 right of it.
  const auto elu = [](const Inputs& in) { return in[0].elu(0.5); };
  OpEntry e = smooth("elu", elu);
  e.policy.kink_values = {0.5, 1.0};
  e.cases.push_back({"(4,) at the kink", fixed_inputs({{-1.0, 0.0, 0.5, 0.0}}, {{4}}), elu, false});
  r.add(std::move(e));
}

void add_reductions_math(Registry& r) {
  r.add({.name = "sum over dims",
         .composite = true,
         .cases = dims_cases([](const Tensor& x, const std::vector<int64_t>& d, bool k) { return x.sum(d, k); })});
  r.add({.name = "mean over dims",
         .composite = true,
         .cases = dims_cases([](const Tensor& x, const std::vector<int64_t>& d, bool k) { return x.mean(d, k); })});
  OpEntry lse{
      .name = "logsumexp",
      .composite = true,
      .cases = dims_cases([](const Tensor& x, const std::vector<int64_t>& d, bool k) { return x.logsumexp(d, k); })};
  // -inf entries (masked) in rows with a finite maximum: they get gradient 0.
  lse.cases.push_back(
      {"(2, 3) with -inf entries",
       [](mg::Generator& gen) {
         Inputs in = uniform_inputs({{2, 3}})(gen);
         in.push_back(mg::tensor({0.0, -kInf, 0.0, -kInf, -kInf, 0.0}, {2, 3}, {.dtype = mg::kFloat64}));
         return in;
       },
       [](const Inputs& in) { return (in[0] + in[1]).logsumexp({1}); }});
  r.add(std::move(lse));
  OpEntry var{.name = "var", .composite = true};
  for (int64_t correction : {0, 1})
    for (OpCase c : dims_cases(
             [correction](const Tensor&x, const std::vector<int64_t>&d, bool k) { return x.var(d, correction, k); })) {
      c.label += fmt::format(" correction {}", correction);
      var.cases.push_back(std::move(c));
    }
  var.cases.push_back({"(2, 3, 4) dims (0, 2) correction 2", uniform_inputs({{2, 3, 4}}), [](const Inputs& in) {
                         return in[0].var({0, 2}, 2);
                       }});
  r.add(std::move(var));
  // At a constant row the gradient is 0, between the one-sided slopes +-1/sqrt(N - correction).
  OpEntry stdev{.name = "std", .cases = dims_cases([](const Tensor& x, const std::vector<int64_t>& d, bool k) {
                                 return x.std(d, 1, k);
                               })};
  stdev.policy.kink_values = {0.0};
  stdev.cases.push_back({"(2, 3) constant row", fixed_inputs({{2.0, 2.0, 2.0, 1.0, 2.0, 3.5}}, {{2, 3}}),
                         [](const Inputs& in) { return in[0].std({1}); }, false});
  r.add(std::move(stdev));
  // Kinks: |x| at 0 (p = 1), a zero row (gradient 0), and ties of |x| for p = inf (shared).
  OpEntry norm{.name = "norm"};
  for (double p : {2.0, 1.0, 3.0, 0.5, kInf}) {
    auto cases = dims_cases([p](const Tensor& x, const std::vector<int64_t>& d, bool k) { return x.norm(p, d, k); });
    for (OpCase& c : cases) {
      c.label += fmt::format(" p {}", p);
      norm.cases.push_back(std::move(c));
    }
  }
  for (double p : {2.0, 1.0, 3.0, kInf})
    norm.cases.push_back({fmt::format("(2, 3) zero row and ties p {}", p),
                          fixed_inputs({{0.0, 0.0, 0.0, 1.5, -1.5, 0.5}}, {{2, 3}}),
                          [p](const Inputs& in) { return in[0].norm(p, {1}); }, false});
  r.add(std::move(norm));
  OpEntry cumsum{.name = "cumsum"};
  for (int64_t axis : {0, 1, -1})
    cumsum.cases.push_back({fmt::format("(2, 3, 4) axis {}", axis), uniform_inputs({{2, 3, 4}}),
                            [axis](const Inputs& in) { return in[0].cumsum(axis); }});
  cumsum.cases.push_back({"(0, 3) axis 1", uniform_inputs({{0, 3}}), [](const Inputs& in) { return in[0].cumsum(1); }});
  r.add(std::move(cumsum));
  OpEntry prod{.name = "prod"};
  for (int64_t axis : {0, 1, -1})
    for (bool keep : {false, true})
      prod.cases.push_back({fmt::format("(2, 3, 4) axis {}{}", axis, keep ? " keepdim" : ""),
                            uniform_inputs({{2, 3, 4}}), [=](const Inputs& in) { return in[0].prod(axis, keep); }});
  prod.cases.push_back({"(3, 4) all", uniform_inputs({{3, 4}}), [](const Inputs& in) { return in[0].prod(); }});
  prod.cases.push_back({"(2, 0) axis 1", uniform_inputs({{2, 0}}), [](const Inputs& in) { return in[0].prod(1); }});
  // Rows with no, one and two zeros: prod is smooth there, but the backward's zero branches are
  // constants, so no second order at zeros.
  prod.cases.push_back({"(3, 3) with zeros", fixed_inputs({{1.5, -0.5, 2.0, 1.5, 0.0, 2.0, 0.0, 3.0, 0.0}}, {{3, 3}}),
                        [](const Inputs& in) { return in[0].prod(1); }, false});
  r.add(std::move(prod));
}

void add_selection(Registry& r) {
  // sort and topk are gathers at the sorted indices. At a tie the gradient goes to the element
  // the stable order puts there: 0 or 1, one of the one-sided slopes.
  const std::vector<double> ties = {1.0, 3.0, 3.0, 0.0, 2.0, 2.0, 1.0, 0.5, -1.0, 3.0, -1.0, 3.0};
  OpEntry sort{.name = "sort", .composite = true};
  sort.policy.kink_values = {0.0, 1.0};
  for (int64_t axis : {0, 1, -1})
    for (bool descending : {false, true})
      sort.cases.push_back({fmt::format("(2, 3, 4) axis {}{}", axis, descending ? " descending" : ""),
                            uniform_inputs({{2, 3, 4}}),
                            [=](const Inputs& in) { return in[0].sort(axis, descending).first; }});
  sort.cases.push_back(
      {"(3, 4) ties", fixed_inputs({ties}, {{3, 4}}), [](const Inputs& in) { return in[0].sort(-1).first; }, false});
  r.add(std::move(sort));
  OpEntry topk{.name = "topk", .composite = true};
  topk.policy.kink_values = {0.0, 1.0};
  for (const auto& c :
       std::vector<std::tuple<int64_t, int64_t, bool>>{{2, -1, true}, {1, 0, false}, {3, 1, true}, {0, 2, true}}) {
    const int64_t k = std::get<0>(c), axis = std::get<1>(c);
    const bool largest = std::get<2>(c);
    topk.cases.push_back({fmt::format("(2, 3, 4) k {} axis {}{}", k, axis, largest ? "" : " smallest"),
                          uniform_inputs({{2, 3, 4}}),
                          [=](const Inputs& in) { return in[0].topk(k, axis, largest).first; }});
  }
  topk.cases.push_back(
      {"(3, 4) ties k 2", fixed_inputs({ties}, {{3, 4}}), [](const Inputs& in) { return in[0].topk(2).first; }, false});
  r.add(std::move(topk));

  const Tensor cond = mg::tensor({1.0, 0.0, 1.0}, {3, 1}).to(mg::kBool);
  const Tensor mask = mg::tensor({1.0, 0.0, 0.0, 1.0}, {4}).to(mg::kBool);
  r.add({.name = "where",
         .cases = {{"(3, 1) ? (3, 4) : (4,)", uniform_inputs({{3, 4}, {4}}),
                    [=](const Inputs& in) { return mg::where(cond, in[0], in[1]); }},
                   {"(3, 1) ? () : (2, 3, 4)", uniform_inputs({{}, {2, 3, 4}}),
                    [=](const Inputs& in) { return mg::where(cond, in[0], in[1]); }},
                   {"(4,) ? (3, 4) : (3, 1)", uniform_inputs({{3, 4}, {3, 1}}),
                    [=](const Inputs& in) { return mg::where(mask, in[0], in[1]); }}}});
  r.add({.name = "masked_fill",
         .composite = true,
         .cases = {{"(3, 4) with (4,)", uniform_inputs({{3, 4}}),
                    [=](const Inputs& in) { return in[0].masked_fill(mask, -7.0); }},
                   {"(3, 1) with (4,)", uniform_inputs({{3, 1}}),
                    [=](const Inputs& in) { return in[0].masked_fill(mask, 0.5); }}}});
}

}  // namespace

void add_math(Registry& r) {
  add_unary_math(r);
  add_reductions_math(r);
  add_selection(r);
}

}  // namespace minigrad::gradcheck_tool
