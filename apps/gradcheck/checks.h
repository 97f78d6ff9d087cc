#pragma once
// Running checks: registry ops and modules, whole models, trained checkpoints; and, when a model
// fails, finding the first node of its graph whose backward is wrong.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "registry.h"

namespace minigrad::gradcheck_tool {

namespace nn = minigrad::nn;

// What the command line sets for every check.
struct RunOptions {
  std::optional<double> eps{}, atol{}, rtol{};  // override every policy when given
  uint64_t seed = 1;
  int64_t samples = 0;  // elements per tensor (0 = all)
  bool fast = false;
  int worst = 5;
};

// The node of a failing graph whose backward disagrees with finite differences at its actual inputs.
struct WrongNode {
  int64_t position = 0;  // in recording (forward) order, from 1
  int64_t nodes = 0;     // how many nodes the graph has
  std::string op{};
  std::string inputs{};  // their shapes, and the parameter names of leaves
  mg::GradcheckReport report{};
};

struct CheckResult {
  std::string kind{};   // op, module, model, ckpt
  std::string name{};   // the op, module or model
  std::string label{};  // the case: shapes
  bool second_order = false;
  mg::GradcheckReport report{};
  std::optional<WrongNode> wrong_node{};  // searched for when a module or model fails
  double seconds = 0;
};

mg::GradcheckOptions gradcheck_options(const CheckPolicy& policy, const RunOptions& run);

// Every case of the entry; second order runs gradgradcheck instead.
std::vector<CheckResult> check_op(const OpEntry& entry, const RunOptions& run, bool second_order = false);
// Every case, with respect to the input and every parameter (second order: the input).
std::vector<CheckResult> check_module(const ModuleEntry& entry, const RunOptions& run, bool second_order = false);

// loss(model(input)) with respect to the input and every parameter (all float64, leaves).
CheckResult check_model(nn::Module& model, const mg::Tensor& input, const LossFn& loss, const RunOptions& run,
                        std::string kind, std::string name, std::string label);

// A module saved with nn::save, given the module: loads `path` into it (strictly: every name and
// shape must match; the module's parameters must be float64, the file's are converted) and checks
// loss(module(input)) in eval mode.
CheckResult check_saved_module(nn::Module& module, const std::string& path, const mg::Tensor& input, const LossFn& loss,
                               const RunOptions& run);

// The registry entry that lets `--checkpoint FILE` check modules of kind `kind` saved with
// nn::save: make() builds one of the saved architecture with float64 parameters; the input is
// --batch samples of shape `sample`, uniform in [-2, 2) from --seed.
CheckpointEntry saved_module(std::string kind, std::function<std::shared_ptr<nn::Module>()> make, mg::Shape sample,
                             LossFn loss = {});

struct CheckpointCheck {
  CheckResult result;
  std::string warning;  // the float32 -> float64 promotion, when it happened
};

// `--checkpoint FILE`: the registry's entry for FILE's format (and kind) rebuilds the model,
// which is checked in eval mode (no dropout) with float64 parameters.
CheckpointCheck check_checkpoint(const Registry& registry, const std::string& path, const CheckpointArgs& args,
                                 const RunOptions& run);

// Re-checks every node that fn() records, in forward order, at the inputs it actually received,
// and returns the first whose backward disagrees with central differences. Each check replays
// fn() with the node's other inputs frozen, so only the node itself is measured. `names` names
// leaves (parameters) in the report.
std::optional<WrongNode> first_wrong_node(const std::function<mg::Tensor()>& fn, const mg::nn::NamedTensors& names,
                                          const mg::GradcheckOptions& options);

// An MLP from "784-128-64-10": Linear layers (float64) with the activation between them.
std::shared_ptr<nn::Sequential> mlp_from_spec(const std::string& spec, const std::string& activation,
                                              mg::Generator& gen);
// cross_entropy, nll (log_softmax then nll_loss) or mse (against one-hot targets).
LossFn loss_by_name(const std::string& name, const mg::Tensor& targets, double label_smoothing = 0.0);

}  // namespace minigrad::gradcheck_tool
