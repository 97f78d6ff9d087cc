#include "registry.h"

#include <algorithm>
#include <map>

#include <fmt/ranges.h>

namespace minigrad::gradcheck_tool {

namespace nn = minigrad::nn;
using Inputs = std::vector<mg::Tensor>;
using mg::Shape;
using mg::Tensor;

// ---- the registry ----

void Registry::add(OpEntry entry) {
  if (entry.cases.empty()) throw mg::Error(fmt::format("gradcheck registry: op '{}' has no cases", entry.name));
  if (find_op(entry.name)) throw mg::Error(fmt::format("gradcheck registry: op '{}' is registered twice", entry.name));
  ops_.push_back(std::move(entry));
}

void Registry::add(ModuleEntry entry) {
  if (entry.cases.empty()) throw mg::Error(fmt::format("gradcheck registry: module '{}' has no cases", entry.name));
  if (find_module(entry.name))
    throw mg::Error(fmt::format("gradcheck registry: module '{}' is registered twice", entry.name));
  modules_.push_back(std::move(entry));
}

void Registry::add(CheckpointEntry entry) {
  if (!entry.load)
    throw mg::Error(fmt::format("gradcheck registry: checkpoint entry '{}' has no load function", entry.format));
  if (find_checkpoint(entry.format, entry.kind))
    throw mg::Error(fmt::format("gradcheck registry: checkpoint format '{}'{} is registered twice", entry.format,
                                entry.kind.empty() ? "" : fmt::format(" of kind '{}'", entry.kind)));
  checkpoints_.push_back(std::move(entry));
}

const OpEntry* Registry::find_op(const std::string& name) const {
  auto it = std::find_if(ops_.begin(), ops_.end(), [&](const OpEntry& e) { return e.name == name; });
  return it == ops_.end() ? nullptr : &*it;
}

const ModuleEntry* Registry::find_module(const std::string& name) const {
  auto it = std::find_if(modules_.begin(), modules_.end(), [&](const ModuleEntry& e) { return e.name == name; });
  return it == modules_.end() ? nullptr : &*it;
}

const CheckpointEntry* Registry::find_checkpoint(const std::string& format, const std::string& kind) const {
  auto it = std::find_if(checkpoints_.begin(), checkpoints_.end(), [&](const CheckpointEntry& e) {
    return e.format == format && (format != "minigrad.module" || e.kind == kind);
  });
  return it == checkpoints_.end() ? nullptr : &*it;
}

bool has_second_order(const OpEntry& entry) {
  return entry.policy.second_order &&
         std::any_of(entry.cases.begin(), entry.cases.end(), [](const OpCase& c) { return c.second_order; });
}

bool has_second_order(const ModuleEntry& entry) { return entry.policy.second_order; }

std::function<Inputs(mg::Generator&)> uniform_inputs(std::vector<Shape> shapes, double lo, double hi) {
  return [shapes = std::move(shapes), lo, hi](mg::Generator& gen) {
    Inputs inputs;
    for (const Shape& s : shapes)
      inputs.push_back((mg::rand(s, {.dtype = mg::kFloat64}, &gen) * (hi - lo) + lo).detach().requires_grad_());
    return inputs;
  };
}

std::function<Inputs(mg::Generator&)> fixed_inputs(std::vector<std::vector<double>> values, std::vector<Shape> shapes) {
  return [values = std::move(values), shapes = std::move(shapes)](mg::Generator&) {
    Inputs inputs;
    for (std::size_t i = 0; i < values.size(); ++i)
      inputs.push_back(mg::tensor(values[i], shapes[i], {.dtype = mg::kFloat64}).requires_grad_());
    return inputs;
  };
}

std::shared_ptr<nn::Module> activation_module(const std::string& name) {
  if (name == "identity") return std::make_shared<nn::Identity>();
  if (auto module = nn::make_activation(name)) return module;
  throw mg::Error(
      fmt::format("activation '{}' is not one of {}, identity", name, fmt::join(nn::activation_names(), ", ")));
}

namespace {

Tensor indices(std::vector<int64_t> values, Shape shape) { return mg::tensor(values, shape); }

const std::vector<std::pair<Shape, Shape>> kBroadcastPairs = {{{3, 4}, {3, 4}},    {{3, 4}, {4}}, {{3, 1}, {1, 4}},
                                                              {{2, 3, 4}, {3, 1}}, {{5}, {}},     {{}, {2, 2}}};

OpEntry binary(std::string name, std::string symbol, mg::GradcheckFn fn, double b_lo = -2.0, double b_hi = 2.0) {
  OpEntry e{.name = std::move(name)};
  for (const auto& [a, b] : kBroadcastPairs)
    e.cases.push_back({fmt::format("{} {} {}", mg::shape_str(a), symbol, mg::shape_str(b)),
                       [a, b, b_lo, b_hi](mg::Generator& gen) {
                         Inputs in = uniform_inputs({a})(gen);
                         in.push_back(uniform_inputs({b}, b_lo, b_hi)(gen)[0]);
                         return in;
                       },
                       fn});
  return e;
}

OpEntry unary(std::string name, mg::GradcheckFn fn, double lo = -2.0, double hi = 2.0, CheckPolicy policy = {}) {
  OpEntry e{.name = std::move(name), .policy = std::move(policy)};
  for (const Shape& s : {Shape{3, 5}, Shape{2, 3, 2}, Shape{}})
    e.cases.push_back({mg::shape_str(s), uniform_inputs({s}, lo, hi), fn});
  return e;
}

// A unary op with kinks: random cases plus one at the kinks themselves.
OpEntry unary_with_kinks(std::string name, mg::GradcheckFn fn, std::vector<double> kink_inputs,
                         std::vector<double> kink_values) {
  OpEntry e = unary(std::move(name), fn, -2.0, 2.0, {.kink_values = std::move(kink_values)});
  const auto n = static_cast<int64_t>(kink_inputs.size());
  e.cases.push_back({fmt::format("{} at kinks", mg::shape_str({n})), fixed_inputs({kink_inputs}, {{n}}), fn, false});
  return e;
}

// One case per axis (and keepdim) of a (2, 3, 4) input, plus the whole tensor.
OpEntry per_axis(std::string name, std::function<Tensor(const Tensor&, int64_t, bool)> along,
                 std::function<Tensor(const Tensor&)> all, bool keepdim_matters = true) {
  OpEntry e{.name = std::move(name)};
  for (int64_t axis : {0, 1, -1})
    for (bool keep : keepdim_matters ? std::vector<bool>{false, true} : std::vector<bool>{false})
      e.cases.push_back({fmt::format("(2, 3, 4) axis {}{}", axis, keep ? " keepdim" : ""), uniform_inputs({{2, 3, 4}}),
                         [=](const Inputs& in) { return along(in[0], axis, keep); }});
  if (all) e.cases.push_back({"(3, 4) all", uniform_inputs({{3, 4}}), [=](const Inputs& in) { return all(in[0]); }});
  return e;
}

void add_elementwise(Registry& r) {
  r.add(binary("add", "+", [](const Inputs& in) { return in[0] + in[1]; }));
  r.add(binary("sub", "-", [](const Inputs& in) { return in[0] - in[1]; }));
  r.add(binary("mul", "*", [](const Inputs& in) { return in[0] * in[1]; }));
  r.add(binary(
      "div", "/", [](const Inputs& in) { return in[0] / in[1]; }, 0.5, 2.0));
  for (auto [name, fn] : std::initializer_list<std::pair<std::string, mg::GradcheckFn>>{
           {"maximum", [](const Inputs& in) { return mg::maximum(in[0], in[1]); }},
           {"minimum", [](const Inputs& in) { return mg::minimum(in[0], in[1]); }}}) {
    OpEntry e = binary(name, name == "maximum" ? "max" : "min", fn);
    // Ties split the gradient evenly, which is the central difference there.
    e.cases.push_back(
        {"(4,) ties", fixed_inputs({{1.0, -2.0, 0.5, 3.0}, {1.0, 0.0, 0.5, 3.0}}, {{4}, {4}}), fn, false});
    r.add(std::move(e));
  }
  r.add(unary("neg", [](const Inputs& in) { return -in[0]; }));
  r.add(unary("exp", [](const Inputs& in) { return in[0].exp(); }));
  r.add(unary(
      "log", [](const Inputs& in) { return in[0].log(); }, 0.2, 3.0));
  {
    OpEntry e{.name = "pow"};
    for (double p : {2.5, -1.0, 3.0, 0.0})
      e.cases.push_back({fmt::format("(3, 5) ^ {}", p),
                         uniform_inputs({{3, 5}}, p == 3.0 || p == 0.0 ? -2.0 : 0.2, 3.0),
                         [p](const Inputs& in) { return in[0].pow(p); }});
    r.add(std::move(e));
  }
  r.add(unary(
      "sqrt", [](const Inputs& in) { return in[0].sqrt(); }, 0.2, 3.0));
  r.add(unary_with_kinks("abs", [](const Inputs& in) { return in[0].abs(); }, {-1.0, 0.0, 2.0, 0.0}, {-1.0, 0.0, 1.0}));
  r.add(unary_with_kinks("clamp", [](const Inputs& in) { return in[0].clamp(-0.5, 0.7); }, {-0.5, 0.7, 0.0, -2.0, 0.7},
                         {0.0, 1.0}));
  r.add(unary_with_kinks("relu", [](const Inputs& in) { return in[0].relu(); }, {-1.0, 0.0, 0.5, 0.0}, {0.0, 1.0}));
  r.add(unary_with_kinks("leaky_relu", [](const Inputs& in) { return in[0].leaky_relu(0.1); }, {-1.0, 0.0, 0.5},
                         {0.1, 1.0}));
  r.add(unary(
      "sigmoid", [](const Inputs& in) { return in[0].sigmoid(); }, -5.0, 5.0));
  r.add(unary(
      "tanh", [](const Inputs& in) { return in[0].tanh(); }, -3.0, 3.0));
  r.add(unary(
      "gelu", [](const Inputs& in) { return in[0].gelu(); }, -3.0, 3.0));
  r.add(unary(
      "normal_cdf", [](const Inputs& in) { return mg::normal_cdf(in[0]); }, -3.0, 3.0));
  r.add(unary("clone", [](const Inputs& in) { return in[0].clone() * 2.0; }));
  // Through float32 and back: the step must dwarf float32's rounding (~1e-7).
  r.add(unary("to", [](const Inputs& in) { return in[0].to(mg::kFloat32).to(mg::kFloat64); }, -2.0, 2.0,
              {.eps = 1e-2, .atol = 1e-4}));
}

void add_reductions(Registry& r) {
  r.add(per_axis(
      "sum", [](const Tensor& x, int64_t a, bool k) { return x.sum(a, k); }, [](const Tensor& x) { return x.sum(); }));
  OpEntry mean = per_axis(
      "mean", [](const Tensor& x, int64_t a, bool k) { return x.mean(a, k); },
      [](const Tensor& x) { return x.mean(); });
  mean.composite = true;
  r.add(std::move(mean));
  for (const std::string name : {"max", "min"}) {
    const bool is_max = name == "max";
    OpEntry e = per_axis(
        name, [is_max](const Tensor& x, int64_t a, bool k) { return is_max ? x.max(a, k) : x.min(a, k); },
        [is_max](const Tensor& x) { return is_max ? x.max() : x.min(); });
    // Tied extrema share the gradient: between the one-sided differences, no fixed value.
    e.cases.push_back({"(2, 3) ties along axis 1", fixed_inputs({{1.0, 3.0, 3.0, 0.0, 0.0, 0.0}}, {{2, 3}}),
                       [is_max](const Inputs& in) { return is_max ? in[0].max(1) : in[0].min(1); }, false});
    e.cases.push_back({"(2, 3) ties overall", fixed_inputs({{3.0, -1.0, 3.0, -1.0, 0.0, 3.0}}, {{2, 3}}),
                       [is_max](const Inputs& in) { return is_max ? in[0].max() : in[0].min(); }, false});
    r.add(std::move(e));
  }
  for (const std::string name : {"softmax", "log_softmax"}) {
    const bool log_form = name == "log_softmax";
    r.add(per_axis(
        name, [log_form](const Tensor& x, int64_t a, bool) { return log_form ? x.log_softmax(a) : x.softmax(a); },
        nullptr, false));
  }
  r.add({.name = "expand",
         .cases = {{"(3, 1) -> (2, 3, 4)", uniform_inputs({{3, 1}}),
                    [](const Inputs& in) {
                      return mg::expand(in[0], {2, 3, 4});
                    }},
                   {"() -> (2, 2)", uniform_inputs({{}}), [](const Inputs& in) {
                      return mg::expand(in[0], {2, 2});
                    }}}});
  r.add({.name = "sum_to",
         .composite = true,
         .cases = {{"(2, 3, 4) -> (3, 1)", uniform_inputs({{2, 3, 4}}),
                    [](const Inputs& in) {
                      return mg::sum_to(in[0], {3, 1});
                    }},
                   {"(2, 3, 4) -> (4,)", uniform_inputs({{2, 3, 4}}),
                    [](const Inputs& in) { return mg::sum_to(in[0], {4}); }}}});
}

void add_linalg_and_shape(Registry& r) {
  // The fused Linear: x [N, in] @ w[out, in]^T + b, optionally through ReLU.
  OpEntry linear{.name = "linear"};
  for (const auto activation : {mg::Activation::None, mg::Activation::ReLU}) {
    const std::string act = activation == mg::Activation::ReLU ? " + relu" : "";
    linear.cases.push_back({"(3, 4) @ (5, 4)^T + (5,)" + act, uniform_inputs({{3, 4}, {5, 4}, {5}}),
                            [=](const Inputs& in) { return mg::linear(in[0], in[1], in[2], activation); }});
    linear.cases.push_back({"(3, 4) @ (5, 4)^T, no bias" + act, uniform_inputs({{3, 4}, {5, 4}}),
                            [=](const Inputs& in) { return mg::linear(in[0], in[1], mg::Tensor(), activation); }});
  }
  r.add(std::move(linear));
  r.add({.name = "reshape",
         .cases = {{"(2, 3, 4) -> (6, -1)", uniform_inputs({{2, 3, 4}}),
                    [](const Inputs& in) {
                      return in[0].reshape({6, -1}) * 2.0;
                    }},
                   {"(6,) -> (3, 1, 2)", uniform_inputs({{6}}), [](const Inputs& in) {
                      return in[0].reshape({3, 1, 2}).exp();
                    }}}});
  r.add({.name = "flatten",
         .composite = true,
         .cases = {{"(2, 3, 4) from axis 1", uniform_inputs({{2, 3, 4}}),
                    [](const Inputs& in) { return in[0].flatten(1).exp(); }}}});
  const Tensor labels = indices({2, 0}, {2, 1});
  const Tensor rows = indices({1, 1, 0}, {3});
  const Tensor idx3 = indices({0, 2, 2, 1, 0, 0}, {2, 3});
  const Tensor idx_axis0 = indices({2, 0, 1, 1, 0, 2, 2, 2}, {4, 2});
  r.add(
      {.name = "gather",
       .cases = {{"(2, 3) axis 1", uniform_inputs({{2, 3}}), [=](const Inputs& in) { return in[0].gather(1, labels); }},
                 {"(3, 2) axis 0, repeats", uniform_inputs({{3, 2}}),
                  [=](const Inputs& in) { return in[0].gather(0, idx_axis0); }}}});
  r.add({.name = "index_select",
         .cases = {
             {"(2, 3) axis 0", uniform_inputs({{2, 3}}), [=](const Inputs& in) { return in[0].index_select(0, rows); }},
             {"(2, 3) axis -1", uniform_inputs({{2, 3}}),
              [=](const Inputs& in) { return in[0].index_select(-1, rows); }}}});
  r.add({.name = "scatter_add",
         .cases = {{"(2, 3) axis 1, repeats", uniform_inputs({{2, 3}}),
                    [=](const Inputs& in) {
                      return mg::scatter_add({2, 3}, 1, idx3, in[0]);
                    }},
                   {"(4, 2) -> (3, 2) axis 0", uniform_inputs({{4, 2}}), [=](const Inputs& in) {
                      return mg::scatter_add({3, 2}, 0, idx_axis0, in[0]);
                    }}}});
  r.add({.name = "index_add",
         .cases = {{"(3, 3) -> (2, 3) axis 0", uniform_inputs({{3, 3}}),
                    [=](const Inputs& in) {
                      return mg::index_add({2, 3}, 0, rows, in[0]);
                    }},
                   {"(2, 3) -> (2, 2) axis 1", uniform_inputs({{2, 3}}), [=](const Inputs& in) {
                      return mg::index_add({2, 2}, 1, indices({1, 0, 1}, {3}), in[0]);
                    }}}});
}

void add_losses(Registry& r) {
  const Tensor targets = indices({1, 0, 4, 4}, {4});
  OpEntry ce{.name = "cross_entropy"};
  for (auto [label, options] : std::initializer_list<std::pair<std::string, nn::CrossEntropyOptions>>{
           {"mean", {}},
           {"sum", {.reduction = nn::Reduction::Sum}},
           {"none", {.reduction = nn::Reduction::None}},
           {"label smoothing 0.1", {.label_smoothing = 0.1}}})
    ce.cases.push_back({"(4, 5) " + label, uniform_inputs({{4, 5}}, -3.0, 3.0),
                        [=](const Inputs& in) { return nn::cross_entropy(in[0], targets, options); }});
  r.add(std::move(ce));
  r.add({.name = "nll_loss", .composite = true, .cases = {{"(4, 5)", uniform_inputs({{4, 5}}), [=](const Inputs& in) {
                                                             return nn::nll_loss(in[0].log_softmax(1), targets);
                                                           }}}});
  r.add({.name = "mse_loss",
         .composite = true,
         .cases = {{"(3, 4) vs (3, 4)", uniform_inputs({{3, 4}, {3, 4}}),
                    [](const Inputs& in) { return nn::mse_loss(in[0], in[1]); }},
                   {"(2, 3, 2) vs (2, 3, 2), sum", uniform_inputs({{2, 3, 2}, {2, 3, 2}}),
                    [](const Inputs& in) { return nn::mse_loss(in[0], in[1], {.reduction = nn::Reduction::Sum}); }}}});
  r.add({.name = "l1_loss",
         .composite = true,
         .cases = {{"(3, 4) vs (3, 4)", uniform_inputs({{3, 4}, {3, 4}}),
                    [](const Inputs& in) { return nn::l1_loss(in[0], in[1]); }},
                   {"(5,) vs (5,), none", uniform_inputs({{5}, {5}}),
                    [](const Inputs& in) { return nn::l1_loss(in[0], in[1], {.reduction = nn::Reduction::None}); }}}});
  r.add({.name = "l1_penalty",
         .composite = true,
         .cases = {
             {"(3, 4) and (4,)", uniform_inputs({{3, 4}, {4}}), [](const Inputs& in) { return nn::l1_penalty(in); }}}});
  r.add({.name = "l2_penalty",
         .composite = true,
         .cases = {
             {"(3, 4) and (4,)", uniform_inputs({{3, 4}, {4}}), [](const Inputs& in) { return nn::l2_penalty(in); }}}});
}

template <typename M, typename... Args>
std::function<std::shared_ptr<nn::Module>(mg::Generator&)> stateless(Args... args) {
  return [=](mg::Generator&) { return std::make_shared<M>(args...); };
}

void add_modules(Registry& r) {
  auto linear = [](int64_t in, int64_t out, bool bias) {
    return [=](mg::Generator& gen) -> std::shared_ptr<nn::Module> {
      return std::make_shared<nn::Linear>(in, out,
                                          nn::LinearOptions{.bias = bias, .dtype = mg::kFloat64, .generator = &gen});
    };
  };
  r.add(ModuleEntry{.name = "Linear",
                    .cases = {{"4->3, input (3, 4)", linear(4, 3, true), {3, 4}},
                              {"4->2 no bias, input (3, 4)", linear(4, 2, false), {3, 4}},
                              {"4->3, input (2, 3, 4)", linear(4, 3, true), {2, 3, 4}}}});
  const Shape s{3, 4};
  r.add(ModuleEntry{.name = "ReLU", .cases = {{"(3, 4)", stateless<nn::ReLU>(), s}}});
  r.add(ModuleEntry{.name = "LeakyReLU", .cases = {{"slope 0.1, (3, 4)", stateless<nn::LeakyReLU>(0.1), s}}});
  r.add(ModuleEntry{.name = "Sigmoid", .cases = {{"(3, 4)", stateless<nn::Sigmoid>(), s}}});
  r.add(ModuleEntry{.name = "Tanh", .cases = {{"(3, 4)", stateless<nn::Tanh>(), s}}});
  r.add(ModuleEntry{.name = "GELU", .cases = {{"(3, 4)", stateless<nn::GELU>(), s}}});
  r.add(ModuleEntry{.name = "Softmax", .cases = {{"axis 1, (3, 4)", stateless<nn::Softmax>(int64_t{1}), s}}});
  r.add(ModuleEntry{.name = "LogSoftmax", .cases = {{"axis 0, (3, 4)", stateless<nn::LogSoftmax>(int64_t{0}), s}}});
  r.add(ModuleEntry{.name = "Identity", .cases = {{"(3, 4)", stateless<nn::Identity>(), s}}});
  r.add(ModuleEntry{.name = "Flatten", .cases = {{"(2, 3, 2)", stateless<nn::Flatten>(), {2, 3, 2}}}});
  r.add(ModuleEntry{.name = "Unflatten",
                    .cases = {{"(2, 12) to (2, 3, 4)",
                               [](mg::Generator&) {
                                 return std::make_shared<nn::Unflatten>(1, Shape{3, 4});
                               },
                               {2, 12}}}});
  r.add(ModuleEntry{.name = "Dropout",
                    .cases = {{"p 0.4, fixed mask, (3, 4)",
                               [](mg::Generator& gen) -> std::shared_ptr<nn::Module> {
                                 auto d = std::make_shared<nn::Dropout>(0.4, gen.next_u64());
                                 // Training mode with a drawn-once mask: deterministic, so checkable.
                                 d->set_mask(mg::rand({3, 4}, {.dtype = mg::kFloat64}, &gen).ge(0.4));
                                 return d;
                               },
                               s}}});
  r.add(ModuleEntry{.name = "Sequential",
                    .cases = {{"4-5-2 tanh, log_softmax",
                               [](mg::Generator& gen) -> std::shared_ptr<nn::Module> {
                                 const nn::LinearOptions o{.dtype = mg::kFloat64, .generator = &gen};
                                 return std::make_shared<nn::Sequential>(nn::Linear(4, 5, o), nn::Tanh(),
                                                                         nn::Linear(5, 2, o), nn::LogSoftmax(1));
                               },
                               s}}});
}

}  // namespace

Registry builtin_registry() {
  Registry r;
  add_elementwise(r);
  add_reductions(r);
  add_linalg_and_shape(r);
  add_views(r);
  add_losses(r);
  add_modules(r);
  add_conv(r);
  add_sequence_models(r);
  add_math(r);
  return r;
}

}  // namespace minigrad::gradcheck_tool
