#pragma once
// Module: the base of every layer and model. It owns named parameters and named submodules, so
// parameters(), train()/eval(), state_dict() and summary() work on any tree of modules.
#include <minigrad/tensor.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace minigrad::nn {

// Parameters by dotted name ("0.weight", "fc2.bias"). Sorted by name; saved and loaded by name.
using StateDict = std::map<std::string, Tensor>;
// Tensors with their names, in an order that matters (registration order for parameters).
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// What a module call throws when its forward fails: the path of the failing module from the
// outermost module called, its kind, and the underlying message, e.g.
// "model.2 (Linear 512->10): input has 784 features, expected 512".
struct ModuleError : Error {
  ModuleError(std::vector<std::string> path, std::string kind, std::string detail);
  std::vector<std::string> path;
  std::string kind, detail;
};

// One line of Module::summary(); built by Module::summary_rows, which containers override.
struct SummaryRow {
  std::string name;  // dotted path below the module summarized ("" for itself)
  int depth = 0;
  std::string kind;
  std::optional<Shape> output;  // with -1 for the batch axis; nullopt when not known
  int64_t parameters = 0;       // in this module and everything below it
};

class Module {
 public:
  virtual ~Module() = default;

  virtual Tensor forward(const Tensor& input) = 0;
  // Calls forward; a minigrad::Error from inside becomes a ModuleError naming this module.
  Tensor operator()(const Tensor& input);
  // Calls run(*this, input) with operator()'s error naming: for a container that calls one of
  // its children other than through forward (Sequential fusing Linear and ReLU).
  Tensor call(const Tensor& input, Tensor (*run)(Module& self, const Tensor& input));

  // Short description for summaries and errors ("Linear 784->256"). Defaults to the class name.
  virtual std::string kind() const;
  // The output shape for an input shape (-1 = batch), where the module knows it; used by summary.
  virtual std::optional<Shape> output_shape(const std::optional<Shape>& input) const;

  // Registration order, own parameters first, then each child's, depth-first (as PyTorch).
  std::vector<Tensor> parameters() const;
  NamedTensors named_parameters() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const {
    return children_;
  }
  int64_t num_parameters() const;

  virtual void train(bool on = true);  // recursive; modules start in training mode
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad();  // drops every parameter's .grad

  // Detached handles sharing the parameters' buffers.
  StateDict state_dict() const;
  // Copies values in place (existing handles stay valid). Checks every name and shape before
  // copying anything; strict also refuses missing and unexpected names.
  void load_state_dict(const StateDict& state, bool strict = true);

  // A table of modules, output shapes (where known) and parameter counts, with the total.
  // `input` is the shape fed to this module (-1 for the batch axis), when known.
  std::string summary(const std::optional<Shape>& input = std::nullopt) const;

  // The name used for this module at the head of error paths when it is called as the root.
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }

  // Marks `value` as requiring grad and returns it (the handle shares the registered tensor).
  Tensor register_parameter(std::string name, Tensor value);
  template <typename M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> module) {
    attach(std::move(name), module);
    return module;
  }
  // Rows for this module and its descendants; Sequential overrides it to chain shapes through.
  virtual void summary_rows(std::vector<SummaryRow>& rows, const std::string& name, int depth,
                            const std::optional<Shape>& input) const;

 private:
  void attach(std::string name, std::shared_ptr<Module> module);

  NamedTensors parameters_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  std::string name_ = "model";
  bool training_ = true;
};

template <typename M>
concept ModuleType = std::is_base_of_v<Module, std::remove_cvref_t<M>>;

}  // namespace minigrad::nn

// fmt::format("{}", module) prints module.summary().
template <typename M>
struct fmt::formatter<M, char, std::enable_if_t<std::is_base_of_v<minigrad::nn::Module, M>>>
    : fmt::formatter<std::string_view> {
  auto format(const minigrad::nn::Module& m, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(m.summary(), ctx);
  }
};
