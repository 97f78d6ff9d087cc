#pragma once
// The registry of differentiable ops and nn modules that `gradcheck` verifies. Each op declares
// how it is checked (step, tolerances, the values its derivative takes at a kink, as ggml's
// test-backend-ops grad_eps/grad_expect do) and the cases to check it at. A test
// (tests/test_gradcheck_tool.cpp) fails when a name passed to record_op in autograd/ or nn/ has
// no entry here, so an op cannot exist without a backward and a check.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <minigrad/minigrad.h>

namespace minigrad::gradcheck_tool {

namespace mg = minigrad;

struct CheckPolicy {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  // The derivative's values on either side of a kink (relu: 0 and 1). At a kink the analytic
  // value must lie between the one-sided differences and be one of these; empty: any value
  // between them (max's even split among ties).
  std::vector<double> kink_values{};
  bool second_order = true;  // the backward is built from differentiable ops
};

// One check: draws float64 inputs (those requiring grad are checked) and applies the op.
struct OpCase {
  std::string label{};  // the shapes, e.g. "(3, 1) * (1, 4)", or what is special ("ties")
  std::function<std::vector<mg::Tensor>(mg::Generator&)> make_inputs{};
  mg::GradcheckFn fn{};
  // False at kinks and ties: the first derivative jumps there, so a second does not exist.
  bool second_order = true;
};

struct OpEntry {
  std::string name{};      // the name the op passes to record_op (for composites: its API name)
  bool composite = false;  // built from other registered ops; records no node of its own
  CheckPolicy policy = CheckPolicy();
  std::vector<OpCase> cases{};
};

struct ModuleCase {
  std::string label{};
  std::function<std::shared_ptr<mg::nn::Module>(mg::Generator&)> make{};  // float64 parameters
  mg::Shape input{};
  // For a forward other than one float tensor in and out (indices, several tensors): draws the
  // float64 inputs checked besides the parameters (none when null) and calls the module on them;
  // `input` is then unused.
  std::function<std::vector<mg::Tensor>(mg::Generator&)> make_inputs{};
  std::function<mg::Tensor(mg::nn::Module&, const std::vector<mg::Tensor>&)> apply{};
};

struct ModuleEntry {
  std::string name{};  // the class name in minigrad::nn
  CheckPolicy policy = CheckPolicy();
  std::vector<ModuleCase> cases{};
};

// What a whole-model check differentiates: loss(model(input)); an empty LossFn checks the output itself.
using LossFn = std::function<mg::Tensor(const mg::Tensor& output)>;

// A model read back from a checkpoint, ready to check.
struct SavedModel {
  std::shared_ptr<mg::nn::Module> model{};  // float64 parameters
  mg::Tensor input{};
  LossFn loss{};
  std::string label{};  // the architecture and the input, for the report
};

// The command line's --data, --batch and --seed, for choosing the input.
struct CheckpointArgs {
  std::string data{};
  int64_t batch = 4;
  uint64_t seed = 1;
};

// A checkpoint format `--checkpoint FILE` can read, told apart by the file's metadata "format".
// nn::save writes "minigrad.module" and the module's kind(), which `kind` then also matches.
struct CheckpointEntry {
  std::string format = "minigrad.module";
  std::string kind{};
  std::function<SavedModel(const std::string& path, const CheckpointArgs& args)> load{};
};

// Whether `gradcheck --second-order` checks the entry: its policy allows it and (for an op) at
// least one case does. docs/ops.md's second-order column must agree (tests/test_ops_doc.cpp).
bool has_second_order(const OpEntry& entry);
bool has_second_order(const ModuleEntry& entry);

class Registry {
 public:
  // Throws on a duplicate name or an entry without cases.
  void add(OpEntry entry);
  void add(ModuleEntry entry);
  void add(CheckpointEntry entry);
  const OpEntry* find_op(const std::string& name) const;
  const ModuleEntry* find_module(const std::string& name) const;
  // `kind` matters only for the format "minigrad.module".
  const CheckpointEntry* find_checkpoint(const std::string& format, const std::string& kind) const;
  const std::vector<OpEntry>& ops() const { return ops_; }
  const std::vector<ModuleEntry>& modules() const { return modules_; }
  const std::vector<CheckpointEntry>& checkpoints() const { return checkpoints_; }

 private:
  std::vector<OpEntry> ops_;
  std::vector<ModuleEntry> modules_;
  std::vector<CheckpointEntry> checkpoints_;
};

// Every op of autograd and nn, and every nn module.
Registry builtin_registry();
// LayerNorm, Embedding, MultiheadAttention, LSTM, GRU and their ops (registry_seq.cpp).
void add_sequence_models(Registry& r);

// Float64 inputs uniform in [lo, hi), requiring grad.
std::function<std::vector<mg::Tensor>(mg::Generator&)> uniform_inputs(std::vector<mg::Shape> shapes, double lo = -2.0,
                                                                      double hi = 2.0);

// Fixed float64 values requiring grad: the kink and tie cases, where random inputs never land.
std::function<std::vector<mg::Tensor>(mg::Generator&)> fixed_inputs(std::vector<std::vector<double>> values,
                                                                    std::vector<mg::Shape> shapes);

// The convolution, pooling and batch-norm ops (registry_conv.cpp).
void add_conv(Registry& r);
// The layout ops and matrix products (registry_shape.cpp).
void add_views(Registry& r);
// Math and multi-axis reductions, masks, sort/topk (registry_math.cpp).
void add_math(Registry& r);

// An activation module by its name on the command line (relu, leaky_relu, tanh, sigmoid, gelu,
// identity); throws naming the choices.
std::shared_ptr<mg::nn::Module> activation_module(const std::string& name);

}  // namespace minigrad::gradcheck_tool
