// The gradcheck tool: the registry covers every op and module, the checker fails when it should
// (wrong backward, wrong second derivative, wrong value at a kink), the failing node of a model is
// named, second order is right (a Hessian-vector product), and model/checkpoint modes run.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <minigrad/minigrad.h>

#include "checkpoint_check.h"
#include "checks.h"
#include "cli.h"
#include "planted_ops.h"
#include "registry.h"
#include "train.h"

namespace mg = minigrad;
namespace nn = minigrad::nn;
namespace fs = std::filesystem;
namespace gt = minigrad::gradcheck_tool;
using Catch::Matchers::Contains;
using Inputs = std::vector<mg::Tensor>;

namespace {

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<fs::path> sources(const std::string& folder, const std::string& extension) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(MINIGRAD_SOURCE_DIR) / folder))
    if (e.path().extension() == extension) files.push_back(e.path());
  return files;
}

mg::Tensor leaf(std::vector<double> values) {
  const auto n = static_cast<int64_t>(values.size());
  return mg::tensor(values, {n}, {.dtype = mg::kFloat64}).requires_grad_();
}

// x^3 whose first derivative is right but built from a detached x: its second derivative is lost.
mg::Tensor cube_detached_backward(const mg::Tensor& x) {
  mg::Tensor out;
  {
    mg::NoGradGuard no_grad;
    out = x * x * x;
  }
  return mg::record_op("cube_detached", out, {x},
                       [x](const mg::Tensor& g) { return mg::TensorList{g * x.detach() * x.detach() * 3.0}; });
}

// What the gradcheck tool checks: the built-in registry and fashion_mlp's checkpoints.
gt::Registry tool_registry() {
  gt::Registry registry = gt::builtin_registry();
  registry.add(gt::fashion_checkpoint());
  return registry;
}

int run_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "gradcheck");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return gt::main(static_cast<int>(argv.size()), argv.data(), tool_registry());
}

}  // namespace

TEST_CASE("gradcheck registry: every name passed to record_op in autograd/ and nn/ has an op entry") {
  const gt::Registry registry = gt::builtin_registry();
  // Names computed at run time (not a literal at the call) come from these wrappers; each entry
  // lists the names its callers pass. A new non-literal call site fails the count below.
  const std::map<std::string, std::vector<std::string>> dynamic_sites = {
      {"ops_reduce.cpp", {"max", "min"}}, {"ops_elementwise.cpp", {"maximum", "minimum"}}};
  const std::regex call(R"re(record_op\(\s*("([^"]*)"|[^,]*),)re");
  std::set<std::string> literal_names;
  for (const std::string folder : {"autograd/src", "nn/src"})
    for (const fs::path& file : sources(folder, ".cpp")) {
      const std::string text = read_file(file);
      int dynamic = 0;
      for (auto it = std::sregex_iterator(text.begin(), text.end(), call); it != std::sregex_iterator(); ++it) {
        if ((*it)[2].matched)
          literal_names.insert((*it)[2]);
        else if ((*it)[1].str().find("std::string_view name") == std::string::npos)
          ++dynamic;  // the definition
      }
      const auto site = dynamic_sites.find(file.filename().string());
      INFO(file.string()
           << " calls record_op with a name that is not a string literal; list its names in dynamic_sites");
      // ops_reduce.cpp: extremum and extremum_all; ops_elementwise.cpp: extremum_of_two
      CHECK(dynamic <= (site == dynamic_sites.end() ? 0 : 2));
      if (site != dynamic_sites.end())
        for (const std::string& name : site->second) literal_names.insert(name);
    }
  REQUIRE(literal_names.size() >= 30);
  for (const std::string& name : literal_names) {
    INFO("op '" << name << "' is recorded by autograd/nn but has no entry in apps/gradcheck/registry.cpp");
    const gt::OpEntry* entry = registry.find_op(name);
    REQUIRE(entry != nullptr);
    CHECK_FALSE(entry->composite);
  }
}

TEST_CASE("gradcheck registry: each op entry exercises its op, and every node its cases record is registered") {
  const gt::Registry registry = gt::builtin_registry();
  std::set<std::string> seen;
  for (const gt::OpEntry& entry : registry.ops()) {
    std::set<std::string> recorded;
    const mg::RecordObserver previous = mg::set_record_observer([&](const mg::Node& node, const mg::Tensor&) {
      recorded.emplace(node.name);
      return mg::Tensor();
    });
    for (const gt::OpCase& c : entry.cases) {
      mg::Generator gen(1);
      c.fn(c.make_inputs(gen));
    }
    mg::set_record_observer(previous);
    INFO("entry '" << entry.name << "' records: " << fmt::format("{}", fmt::join(recorded, ", ")));
    if (!entry.composite) CHECK(recorded.contains(entry.name));  // not a check of some other op
    for (const std::string& name : recorded) {
      INFO("node '" << name << "' has no entry");
      CHECK(registry.find_op(name) != nullptr);
    }
  }
}

TEST_CASE("gradcheck registry: every nn module class has a module entry") {
  const gt::Registry registry = gt::builtin_registry();
  const std::regex declaration(R"(class\s+(\w+)\s*:\s*public\s+(\w+))");
  std::set<std::string> classes, bases;
  for (const fs::path& file : sources("nn/include", ".h")) {
    const std::string text = read_file(file);
    for (auto it = std::sregex_iterator(text.begin(), text.end(), declaration); it != std::sregex_iterator(); ++it) {
      classes.insert((*it)[1]);
      bases.insert((*it)[2]);
    }
  }
  REQUIRE(classes.size() >= 10);
  // Containers are not called; the modules they hold have their own entries.
  const std::set<std::string> containers{"ModuleList", "ModuleDict"};
  for (const std::string& name : classes) {
    if (bases.contains(name) || containers.contains(name)) continue;  // abstract bases such as ShapePreserving
    INFO("nn::" << name << " has no module entry in apps/gradcheck/registry.cpp");
    CHECK(registry.find_module(name) != nullptr);
  }
}

TEST_CASE("gradcheck: the registry refuses duplicates and entries without cases") {
  gt::Registry r;
  CHECK_THROWS_WITH(r.add(gt::OpEntry{.name = "empty"}), Contains("'empty' has no cases"));
  r.add(gt::OpEntry{.name = "neg",
                    .cases = {{"(2,)", gt::uniform_inputs({{2}}), [](const Inputs& in) { return -in[0]; }}}});
  CHECK_THROWS_WITH(r.add(gt::OpEntry{.name = "neg", .cases = r.ops()[0].cases}),
                    Contains("'neg' is registered twice"));
}

TEST_CASE("gradcheck: a module saved with nn::save is checked given the module or by a registry entry") {
  const std::string path = (fs::temp_directory_path() / fmt::format("gradcheck_saved_{}.ckpt", ::getpid())).string();
  mg::Generator gen(3);
  auto make = [&](mg::DType dtype) {
    const nn::LinearOptions o{.dtype = dtype, .generator = &gen};
    return std::make_shared<nn::Sequential>(nn::Linear(3, 4, o), nn::Tanh(), nn::Linear(4, 2, o));
  };
  nn::save(*make(mg::kFloat32), path);
  const mg::Tensor x = gt::uniform_inputs({{5, 3}})(gen)[0];

  auto module = make(mg::kFloat64);
  const gt::CheckResult result = gt::check_saved_module(*module, path, x, {}, {});
  INFO(result.report.message);
  CHECK(result.report.passed);
  CHECK(result.label == "Sequential, input (5, 3)");
  // Every element of the input and the parameters, against each of the 5 x 2 outputs (no loss given).
  CHECK(result.report.checked == (15 + 12 + 4 + 8 + 2) * 10);
  CHECK_THROWS_WITH(gt::check_saved_module(*make(mg::kFloat32), path, x, {}, {}),
                    Contains("parameter '0.weight' is float32: build the module with float64 parameters"));
  auto wider = std::make_shared<nn::Sequential>(nn::Linear(3, 5, {.dtype = mg::kFloat64}), nn::Tanh(),
                                                nn::Linear(5, 2, {.dtype = mg::kFloat64}));
  CHECK_THROWS_WITH(gt::check_saved_module(*wider, path, x, {}, {}), Contains(path));

  gt::Registry registry;
  registry.add(gt::saved_module("Sequential", [&] { return make(mg::kFloat64); }, {3}));
  CHECK_THROWS_WITH(registry.add(gt::saved_module("Sequential", [&] { return make(mg::kFloat64); }, {3})),
                    Contains("'minigrad.module' of kind 'Sequential' is registered twice"));
  const gt::CheckpointCheck check = gt::check_checkpoint(registry, path, {.batch = 2}, {});
  INFO(check.result.report.message);
  CHECK(check.result.report.passed);
  CHECK(check.result.label == "Sequential, input (2, 3)");
  CHECK_THAT(check.warning, Contains("float32"));
  CHECK_THROWS_WITH(gt::check_checkpoint(gt::Registry(), path, {}, {}),
                    Contains("no checkpoint entry for format 'minigrad.module' of kind 'Sequential' is registered "
                             "(registered: none;"));
  fs::remove(path);
}

TEST_CASE("gradcheck: at a kink the analytic value must lie between the one-sided differences") {
  // relu at 0: one-sided differences 0 and 1; PyTorch's relu'(0) = 0 lies between.
  const auto relu_report = mg::gradcheck([](const Inputs& in) { return in[0].relu(); }, {leaf({0.0, 1.0, -1.0})},
                                         {.kink_values = {0.0, 1.0}});
  CHECK(relu_report.passed);
  CHECK(relu_report.kinks == 1);
  REQUIRE(relu_report.kink_entries.size() == 1);
  CHECK(relu_report.kink_entries[0].index == mg::Shape{0});
  CHECK(relu_report.kink_entries[0].left == Approx(0.0).margin(1e-9));
  CHECK(relu_report.kink_entries[0].right == Approx(1.0));

  // A relu whose backward says 2 at zero is outside [0, 1]; one saying 0.5 is between but not
  // one of the declared values.
  for (double at_zero : {2.0, 0.5}) {
    auto bad_relu = [at_zero](const Inputs& in) {
      const mg::Tensor& x = in[0];
      mg::Tensor out;
      {
        mg::NoGradGuard no_grad;
        out = x.relu();
      }
      return mg::record_op("bad_relu", out, {x}, [x, at_zero](const mg::Tensor& g) {
        return mg::TensorList{g * (x.gt(0.0) + x.eq(0.0) * at_zero)};
      });
    };
    const auto report = mg::gradcheck(bad_relu, {leaf({0.0, 1.0})}, {.kink_values = {0.0, 1.0}});
    INFO(report.message);
    CHECK_FALSE(report.passed);
    CHECK(report.index == mg::Shape{0});
    CHECK(report.analytic == at_zero);
  }
}

TEST_CASE("gradcheck: samples, fast mode and its slow re-check") {
  const auto x = mg::randn({6, 5}, {.dtype = mg::kFloat64}).requires_grad_();
  auto square = [](const Inputs& in) { return (in[0] * in[0]).sum(); };
  const auto sampled = mg::gradcheck(square, {x}, {.samples = 7});
  CHECK(sampled.passed);
  CHECK(sampled.checked == 7);

  const auto fast = mg::gradcheck(square, {x}, {.fast = true});
  CHECK(fast.passed);
  CHECK(fast.fast);
  CHECK(fast.fast_passed);
  CHECK(fast.checked == 1);  // one projection per input

  auto wrong = [](const Inputs& in) { return planted::wrong_square(in[0]).sum(); };
  const auto failed = mg::gradcheck(wrong, {x}, {.fast = true, .names = {"x"}});
  CHECK_FALSE(failed.passed);
  CHECK(failed.fast);
  CHECK_FALSE(failed.fast_passed);
  CHECK(failed.checked == 30);  // the slow check ran over every entry
  CHECK_THAT(failed.message, Contains("fast mode failed") && Contains("x index"));
  CHECK(failed.worst.size() == 5);
}

TEST_CASE("gradcheck: gradcheck_leaves checks tensors a function reads itself and restores them") {
  mg::Generator gen(5);
  nn::Linear fc(3, 2, {.dtype = mg::kFloat64, .generator = &gen});
  const mg::Tensor x = mg::randn({4, 3}, {.dtype = mg::kFloat64}, &gen);
  const std::vector<double> before = fc.weight.to_vector<double>();
  fc(x).sum().backward();
  const std::vector<double> grad_before = fc.weight.grad().to_vector<double>();
  const auto report = mg::gradcheck_leaves([&] { return fc(x).tanh(); }, {fc.weight, fc.bias});
  CHECK(report.passed);
  CHECK(report.checked == 8 * 8);
  CHECK(fc.weight.to_vector<double>() == before);
  CHECK(fc.weight.grad().to_vector<double>() == grad_before);
  CHECK_THROWS_WITH(mg::gradcheck_leaves([&] { return fc(x); }, {x}), Contains("must be a leaf that requires grad"));
  nn::Linear f32(3, 2);
  CHECK_THROWS_WITH(mg::gradcheck_leaves([&] { return f32(x.to(mg::kFloat32)).to(mg::kFloat64); }, {f32.weight}),
                    Contains("float32") && Contains("float64"));
}

TEST_CASE("gradcheck: a failing model names the first op whose backward is wrong") {
  mg::Generator gen(2);
  // Linear -> wrong_square -> Linear -> cross-entropy: every op but one is right.
  auto model = std::make_shared<nn::Sequential>();
  model->push_back(std::make_shared<nn::Linear>(5, 4, nn::LinearOptions{.dtype = mg::kFloat64, .generator = &gen}));
  model->push_back(std::make_shared<planted::WrongSquare>());
  model->push_back(std::make_shared<nn::Linear>(4, 3, nn::LinearOptions{.dtype = mg::kFloat64, .generator = &gen}));
  const mg::Tensor x = mg::randn({2, 5}, {.dtype = mg::kFloat64}, &gen);
  const gt::LossFn loss = gt::loss_by_name("cross_entropy", mg::tensor(std::vector<int64_t>{0, 2}, {2}));
  const gt::CheckResult result = gt::check_model(*model, x, loss, {}, "model", "planted", "");
  CHECK_FALSE(result.report.passed);
  REQUIRE(result.wrong_node);
  CHECK(result.wrong_node->op == "wrong_square");
  CHECK(result.wrong_node->position >= 2);  // after the first Linear's node(s), which are right
  CHECK(result.wrong_node->position < result.wrong_node->nodes);
  CHECK_FALSE(result.wrong_node->report.passed);

  // The same model with x * x (one input used twice) is right, and no node is blamed.
  struct Square : nn::ShapePreserving {
    mg::Tensor forward(const mg::Tensor& x) override { return x * x; }
  };
  auto right = std::make_shared<nn::Sequential>();
  right->push_back(std::make_shared<nn::Linear>(5, 4, nn::LinearOptions{.dtype = mg::kFloat64, .generator = &gen}));
  right->push_back(std::make_shared<Square>());
  right->push_back(std::make_shared<nn::Linear>(4, 3, nn::LinearOptions{.dtype = mg::kFloat64, .generator = &gen}));
  const mg::Tensor xr = x.detach().clone().requires_grad_();
  const auto names = mg::nn::NamedTensors{{"input", xr}};
  std::vector<mg::Tensor> leaves{xr};
  for (const auto& p : right->parameters()) leaves.push_back(p);
  CHECK(mg::gradcheck_leaves([&] { return loss((*right)(xr)); }, leaves).passed);
  CHECK_FALSE(gt::first_wrong_node([&] { return loss((*right)(xr)); }, names, {}));
}

TEST_CASE("gradgradcheck: passes through an MLP and fails on a backward that is not differentiable") {
  mg::Generator gen(3);
  auto mlp = [](const Inputs& in) { return in[0].matmul(in[1]).tanh().matmul(in[2]).log_softmax(1); };
  const Inputs inputs{mg::randn({3, 4}, {.dtype = mg::kFloat64}, &gen).requires_grad_(),
                      mg::randn({4, 5}, {.dtype = mg::kFloat64}, &gen).requires_grad_(),
                      mg::randn({5, 2}, {.dtype = mg::kFloat64}, &gen).requires_grad_()};
  const auto report = mg::gradgradcheck(mlp, inputs);
  INFO(report.message);
  CHECK(report.passed);
  CHECK(report.checked > 1000);

  const auto detached =
      mg::gradgradcheck([](const Inputs& in) { return cube_detached_backward(in[0]); }, {leaf({0.5, -1.5, 2.0})});
  INFO(detached.message);
  CHECK_FALSE(detached.passed);
  CHECK(detached.worst[0].name == "input 0");  // d(3x^2 v)/dx = 6xv is missing; d/dv is right
  // A tensor fn reads besides its inputs keeps its .grad: no gradient graph is left on it (a
  // cycle through the tensor itself, which would leak).
  const mg::Tensor w = leaf({0.3, -0.7});
  CHECK(mg::gradgradcheck([&](const Inputs& in) { return (in[0] * w).tanh(); }, {leaf({0.1, 0.2})}).passed);
  CHECK_FALSE(w.grad().defined());
  // First order the same op is right: only the second derivative is wrong.
  CHECK(mg::gradcheck([](const Inputs& in) { return cube_detached_backward(in[0]); }, {leaf({0.5, -1.5, 2.0})}).passed);
}

TEST_CASE("second order: a Hessian-vector product of a small MLP matches differences of gradients") {
  mg::Generator gen(4);
  nn::Sequential model{nn::Linear(3, 4, {.dtype = mg::kFloat64, .generator = &gen}), nn::Tanh(),
                       nn::Linear(4, 3, {.dtype = mg::kFloat64, .generator = &gen})};
  const mg::Tensor x = mg::randn({5, 3}, {.dtype = mg::kFloat64}, &gen);
  const mg::Tensor y = mg::tensor(std::vector<int64_t>{0, 1, 2, 1, 0}, {5});
  const std::vector<mg::Tensor> params = model.parameters();
  std::vector<mg::Tensor> v;
  for (const auto& p : params) v.push_back(mg::randn(p.shape(), {.dtype = mg::kFloat64}, &gen));
  auto loss = [&] { return nn::cross_entropy(model(x), y); };

  // Hv = d/dθ (∇L(θ) · v), through backward(create_graph=true).
  model.zero_grad();
  loss().backward(mg::Tensor(), false, /*create_graph=*/true);
  mg::Tensor gv = mg::zeros({}, {.dtype = mg::kFloat64});
  std::vector<mg::Tensor> grads;
  for (std::size_t i = 0; i < params.size(); ++i) {
    grads.push_back(params[i].grad());
    gv = gv + (grads[i] * v[i]).sum();
  }
  model.zero_grad();
  gv.backward();
  std::vector<std::vector<double>> hv;
  for (const auto& p : params) hv.push_back(p.grad().to_vector<double>());

  // (∇L(θ + εv) - ∇L(θ - εv)) / 2ε
  const double eps = 1e-5;
  auto gradient_at = [&](double step) {
    {
      mg::NoGradGuard no_grad;
      for (std::size_t i = 0; i < params.size(); ++i) {
        mg::Tensor p = params[i];
        double* w = p.data<double>();
        const std::vector<double> dv = v[i].to_vector<double>();
        for (std::size_t k = 0; k < dv.size(); ++k) w[k] += step * dv[k];
      }
    }
    model.zero_grad();
    loss().backward();
    std::vector<std::vector<double>> g;
    for (const auto& p : params) g.push_back(p.grad().to_vector<double>());
    return g;
  };
  const auto plus = gradient_at(eps);
  const auto minus = gradient_at(-2 * eps);
  gradient_at(eps);  // back to θ
  double largest = 0;
  for (std::size_t i = 0; i < params.size(); ++i)
    for (std::size_t k = 0; k < hv[i].size(); ++k) {
      const double numeric = (plus[i][k] - minus[i][k]) / (2 * eps);
      INFO("param " << i << " element " << k);
      CHECK(hv[i][k] == Approx(numeric).margin(1e-7).epsilon(1e-5));
      largest = std::max(largest, std::abs(numeric));
    }
  CHECK(largest > 1e-2);  // the Hessian is not trivially zero
}

TEST_CASE("gradcheck tool: model mode and bad command lines") {
  CHECK(run_cli({"--model", "20-8-6-3", "--activation", "tanh", "--loss", "cross_entropy", "--batch", "3"}) == 0);
  CHECK(run_cli({"--model", "20-8-3", "--activation", "gelu", "--loss", "mse", "--samples", "0", "--fast"}) == 0);
  CHECK(run_cli({"--op", "no_such_op"}) == 2);
  CHECK(run_cli({"--model", "20-x-3"}) == 2);
  CHECK(run_cli({"--model", "20-3", "--activation", "swish"}) == 2);
  CHECK(run_cli({"--model", "20-3", "--second-order"}) == 2);
}

TEST_CASE("gradcheck tool: a trained fashion_mlp checkpoint checks at real inputs, promoted to float64", "[e2e]") {
  fashion::TrainConfig c;
  c.hidden = {32, 16};
  c.activation = "relu";
  c.dropout = 0.1;
  c.train_limit = 600;
  c.test_limit = 100;
  c.epochs = 2;
  c.batch_size = 64;
  c.out = (fs::temp_directory_path() / fmt::format("gradcheck_ckpt_{}", ::getpid())).string();
  const fashion::Splits splits = fashion::load_splits(c);
  fashion::train(c, splits, {.quiet = true, .evaluate_test = false});
  const std::string path = c.out + "/model.ckpt";
  REQUIRE(fs::exists(path));

  const gt::CheckpointCheck check = gt::check_checkpoint(tool_registry(), path, {.batch = 4}, {.samples = 16});
  INFO(check.result.report.message);
  CHECK(check.result.report.passed);
  CHECK_THAT(check.warning, Contains("float32") && Contains("float64"));
  CHECK(check.result.report.checked == 16 * 6 + 10);  // 16 elements of the input and 6 tensors, all 10 of the last bias
  CHECK(run_cli({"--checkpoint", path, "--samples", "8", "--fast"}) == 0);
  CHECK(run_cli({"--checkpoint", c.out + "/missing.ckpt"}) == 2);
  fs::remove_all(c.out);
}

TEST_CASE("record observer: sees each node, may replace its output, stays installed when it throws") {
  const mg::Tensor x = leaf({0.5, -1.0});
  std::vector<std::string> seen;
  mg::set_record_observer([&](const mg::Node& node, const mg::Tensor& out) {
    seen.emplace_back(node.name);
    return node.name == "exp" ? mg::zeros_like(out) : mg::Tensor();
  });
  const mg::Tensor y = x.exp() + 1.0;
  CHECK(seen == std::vector<std::string>{"exp", "add"});
  CHECK(y.to_vector<double>() == std::vector<double>{1.0, 1.0});  // the replacement flowed on

  mg::set_record_observer([](const mg::Node&, const mg::Tensor&) -> mg::Tensor { throw std::runtime_error("stop"); });
  CHECK_THROWS_WITH(x.exp(), "stop");
  CHECK(mg::set_record_observer(
      [](const mg::Node&, const mg::Tensor&) { return mg::zeros({3}, {.dtype = mg::kFloat64}); }));
  CHECK_THROWS_WITH(x.exp(), Contains("exp: the record observer replaced a float64 (2,) output with float64 (3,)"));
  CHECK(mg::set_record_observer(nullptr));
  CHECK_FALSE(x.detach().exp().requires_grad());
}
