#include "cli.h"

#include <chrono>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "report.h"

namespace minigrad::gradcheck_tool {

namespace {

struct Flags {
  std::vector<std::string> ops, modules;
  std::string model, activation = "relu", loss = "cross_entropy", checkpoint, data;
  int64_t batch = 4;
  double eps = 0, atol = 0, rtol = 0;
  int64_t seed = 1, samples = -1;
  bool fast = false, json = false, second_order = false, list = false;
};

std::vector<CheckResult> run_registry(const Registry& registry, const Flags& flags, const RunOptions& run) {
  std::vector<const OpEntry*> ops;
  std::vector<const ModuleEntry*> modules;
  for (const std::string& name : flags.ops) {
    const OpEntry* e = registry.find_op(name);
    if (!e) throw mg::Error(fmt::format("--op '{}' is not registered (gradcheck --list shows the registry)", name));
    ops.push_back(e);
  }
  for (const std::string& name : flags.modules) {
    const ModuleEntry* e = registry.find_module(name);
    if (!e) throw mg::Error(fmt::format("--module '{}' is not registered (gradcheck --list shows the registry)", name));
    modules.push_back(e);
  }
  if (ops.empty() && modules.empty()) {
    for (const OpEntry& e : registry.ops()) ops.push_back(&e);
    for (const ModuleEntry& e : registry.modules()) modules.push_back(&e);
  }
  if (!flags.json) fmt::print("{}", table_header());
  std::vector<CheckResult> results;
  auto keep = [&](std::vector<CheckResult> more) {
    for (CheckResult& r : more) {
      if (!flags.json) fmt::print("{}", table_row(r));
      std::fflush(stdout);
      results.push_back(std::move(r));
    }
  };
  for (bool second : {false, true}) {
    if (second && !flags.second_order) break;
    for (const OpEntry* e : ops)
      if (!second || e->policy.second_order) keep(check_op(*e, run, second));
    for (const ModuleEntry* e : modules)
      if (!second || e->policy.second_order) keep(check_module(*e, run, second));
  }
  return results;
}

void list_registry(const Registry& registry) {
  fmt::print("{} ops (name, kind, second order, check policy, cases):\n", registry.ops().size());
  for (const OpEntry& e : registry.ops())
    fmt::print(
        "  {:<28} {:<10} 2nd-order {:<3}  eps {:g} atol {:g} rtol {:g}{}  {} cases\n", e.name,
        e.composite ? "composite" : "op", has_second_order(e) ? "yes" : "no", e.policy.eps, e.policy.atol,
        e.policy.rtol,
        e.policy.kink_values.empty() ? "" : fmt::format(", at kinks {}", fmt::join(e.policy.kink_values, " or ")),
        e.cases.size());
  fmt::print("{} modules (name, second order, cases):\n", registry.modules().size());
  for (const ModuleEntry& e : registry.modules())
    fmt::print("  {:<28} 2nd-order {:<3}  {} cases\n", e.name, has_second_order(e) ? "yes" : "no", e.cases.size());
  fmt::print("{} checkpoint formats:\n", registry.checkpoints().size());
  for (const CheckpointEntry& e : registry.checkpoints())
    fmt::print("  {}{}\n", e.format, e.kind.empty() ? "" : fmt::format(" (kind {})", e.kind));
}

int run(const Registry& registry, const Flags& flags, const CLI::App& app) {
  if (flags.list) {
    list_registry(registry);
    return 0;
  }
  const bool model_mode = !flags.model.empty() || !flags.checkpoint.empty();
  if (!flags.model.empty() && !flags.checkpoint.empty()) throw mg::Error("--model and --checkpoint exclude each other");
  if (model_mode && (!flags.ops.empty() || !flags.modules.empty()))
    throw mg::Error("--op/--module check the registry; --model/--checkpoint check a whole model: pick one");
  if (model_mode && flags.second_order)
    throw mg::Error(
        "--second-order checks registry ops and modules; a model's second order is covered by the "
        "Hessian-vector test (tests/test_gradcheck_tool.cpp)");
  if (flags.samples < -1) throw mg::Error(fmt::format("--samples {} must be non-negative", flags.samples));
  if (flags.seed < 0) throw mg::Error(fmt::format("--seed {} must be non-negative", flags.seed));
  RunOptions options{.seed = static_cast<uint64_t>(flags.seed), .fast = flags.fast};
  if (app.count("--eps")) options.eps = flags.eps;
  if (app.count("--atol")) options.atol = flags.atol;
  if (app.count("--rtol")) options.rtol = flags.rtol;
  // Whole models have ~1e5 parameters: by default a sample of each tensor; --samples 0 checks all.
  options.samples = flags.samples >= 0 ? flags.samples : model_mode ? 64 : 0;

  const auto start = std::chrono::steady_clock::now();
  std::vector<CheckResult> results;
  if (model_mode) {
    CheckResult result;
    if (!flags.checkpoint.empty()) {
      CheckpointCheck check = check_checkpoint(
          registry, flags.checkpoint, {.data = flags.data, .batch = flags.batch, .seed = options.seed}, options);
      if (!check.warning.empty()) fmt::print(stderr, "{}\n", check.warning);
      result = std::move(check.result);
    } else {
      if (flags.batch <= 0) throw mg::Error(fmt::format("--batch {} must be positive", flags.batch));
      mg::Generator gen(options.seed);
      auto model = mlp_from_spec(flags.model, flags.activation, gen);
      const int64_t in = model->at<nn::Linear>(0).in_features;
      const int64_t classes = model->at<nn::Linear>(model->size() - 1).out_features;
      const mg::Tensor x = mg::randn({flags.batch, in}, {.dtype = mg::kFloat64}, &gen);
      std::vector<int64_t> labels;
      for (int64_t i = 0; i < flags.batch; ++i) labels.push_back(static_cast<int64_t>(gen.below(classes)));
      const LossFn loss = loss_by_name(flags.loss, mg::tensor(labels, {flags.batch}));
      result = check_model(*model, x, loss, options, "model", flags.model,
                           fmt::format("{} {}, batch {}", flags.activation, flags.loss, flags.batch));
    }
    if (!flags.json) fmt::print("{}{}", table_header(), table_row(result));
    results.push_back(std::move(result));
  } else {
    results = run_registry(registry, flags, options);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("{}", flags.json ? to_json(results, seconds) : summary_line(results, seconds));
  return std::all_of(results.begin(), results.end(), [](const CheckResult& r) { return r.report.passed; }) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv, const Registry& registry) {
  CLI::App app{"gradcheck: compares every gradient minigrad computes with central differences, in float64"};
  Flags flags;
  app.add_option("--op", flags.ops, "check only this op (repeatable; --list shows them)");
  app.add_option("--module", flags.modules, "check only this module (repeatable)");
  app.add_option("--model", flags.model, "check a whole MLP, e.g. 784-128-64-10");
  app.add_option("--activation", flags.activation,
                 "--model's activation: relu, leaky_relu, tanh, sigmoid, gelu, identity")
      ->capture_default_str();
  app.add_option("--loss", flags.loss, "--model's loss: cross_entropy, nll, mse")->capture_default_str();
  app.add_option("--batch", flags.batch, "inputs per --model or --checkpoint check")->capture_default_str();
  app.add_option("--checkpoint", flags.checkpoint,
                 "check a saved model: a fashion_mlp checkpoint at real test images, or a module saved with "
                 "nn::save whose kind the registry knows");
  app.add_option("--data", flags.data, "Fashion-MNIST folder for a fashion_mlp --checkpoint (default: the run's)");
  app.add_option("--eps", flags.eps, "finite-difference step (default: each op's policy, 1e-6 for most)");
  app.add_option("--atol", flags.atol, "absolute tolerance (default: each op's policy, 1e-5 for most)");
  app.add_option("--rtol", flags.rtol, "relative tolerance (default: each op's policy, 1e-3 for most)");
  app.add_option("--seed", flags.seed, "seed of the random inputs, samples and projections")->capture_default_str();
  app.add_option("--samples", flags.samples,
                 "check N random elements per tensor (0 = all; default all, 64 for --model/--checkpoint)");
  app.add_flag("--fast", flags.fast, "one random projection per tensor; re-checks every entry when it fails");
  app.add_flag("--second-order", flags.second_order, "also check gradients of gradients (gradgradcheck)");
  app.add_flag("--json", flags.json, "print JSON instead of the table");
  app.add_flag("--list", flags.list,
               "list the registry's ops (with their check policies), modules and checkpoint formats");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    fmt::print(stderr, "gradcheck: {}\n", e.what());
    return 2;
  }
  try {
    return run(registry, flags, app);
  } catch (const std::exception& e) {
    fmt::print(stderr, "gradcheck: {}\n", e.what());
    return 2;
  }
}

}  // namespace minigrad::gradcheck_tool
