#pragma once
// Module: the base of every layer and model. It owns named parameters (trained), buffers (state
// such as running statistics: saved, never trained) and submodules, so parameters(), train()/eval(),
// state_dict() and summary() work on any tree of modules.
//
// Forward with one tensor or several. A module that maps one tensor to one tensor overrides
//   Tensor forward(const Tensor& x) override;
// and is called as module(x); Sequential chains such modules. A module that takes or returns
// several tensors declares its own typed forward instead, as torch::nn does (MultiheadAttention's
// forward(query, key, value) returns a tuple), plus an operator() that runs it through call(), so
// that its errors name the module's path like every other module's:
//   struct Mix : nn::Module {
//     std::pair<Tensor, Tensor> forward(const Tensor& a, const Tensor& b) { return {a + b, a * b}; }
//     std::pair<Tensor, Tensor> operator()(const Tensor& a, const Tensor& b) {
//       return call([&] { return forward(a, b); });
//     }
//   };
//   auto [sum, product] = mix(a, b);
// Such a module has no forward(const Tensor&): Sequential refuses it at compile time when given its
// type, and when given a shared_ptr<Module> the inherited forward(const Tensor&) throws an error
// naming the module. A model that wires several-tensor modules writes its own forward, calling its
// children as it needs (and may still use Sequential for the single-tensor stretches).
#include <minigrad/tensor.h>

#include <concepts>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

namespace minigrad::nn {

// Tensors with their names, in an order that matters (registration order for parameters).
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// What a module call throws when its forward fails: the path of the failing module from the
// outermost module called, its kind, and the underlying message, e.g.
// "model.2 (Linear 512->10): input has 784 features, expected 512".
class Module;
struct ModuleError : Error {
  ModuleError(std::vector<std::string> path, std::string kind, std::string detail, const Module* origin = nullptr);
  std::vector<std::string> path;
  std::string kind, detail;
  // The module named by path.front(), so that a caller can find where it sits in its own tree
  // (only compared, never dereferenced).
  const Module* origin;
};

// One line of Module::summary(); built by Module::summary_rows, which containers override.
struct SummaryRow {
  std::string name;  // dotted path below the module summarized ("" for itself)
  int depth = 0;
  std::string kind;
  std::optional<Shape> output;  // with -1 for the batch axis; nullopt when not known
  int64_t parameters = 0;       // in this module and everything below it
};

// Modules nest at most this deep; deeper trees (or a module registered inside itself) are refused
// with an error instead of overflowing the stack.
inline constexpr int kMaxModuleDepth = 1000;

class Module {
 public:
  virtual ~Module() = default;

  // One tensor in, one out. Modules with several inputs or outputs do not override it (see the top
  // of this file); then it throws, naming the module.
  virtual Tensor forward(const Tensor& input);
  // Calls forward; a minigrad::Error from inside becomes a ModuleError naming this module.
  Tensor operator()(const Tensor& input);
  // Sequential's fusion step: when fuses(next), Sequential runs this module and the `next` after
  // it as one call of forward_fused, which computes next(forward(input)) as a single op (Linear
  // puts a following ReLU into its GEMM: one pass less over the activations each way). No module
  // fuses by default.
  virtual bool fuses(const Module& next) const;
  virtual Tensor forward_fused(const Tensor& input, Module& next);
  // Returns run() with operator()'s error naming: for a module's own typed forward, and for a
  // container that calls a child other than through forward (Sequential's forward_fused).
  template <typename F>
  std::invoke_result_t<F> call(F&& run) {
    try {
      return std::forward<F>(run)();
    } catch (const Error&) {
      rethrow_with_path();
    }
  }

  // Short description for summaries and errors ("Linear 784->256"). Defaults to the class name.
  virtual std::string kind() const;
  // The output shape for an input shape (-1 = batch), where the module knows it; used by summary.
  virtual std::optional<Shape> output_shape(const std::optional<Shape>& input) const;

  // Registration order, own parameters first, then each child's, depth-first (as PyTorch). A tensor
  // reachable under several names (tied weights, a module registered twice) is listed once, under
  // the first name.
  std::vector<Tensor> parameters() const;
  NamedTensors named_parameters() const;
  // Buffers, in the same order and with the same de-duplication; non-persistent ones included.
  std::vector<Tensor> buffers() const;
  NamedTensors named_buffers() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
  int64_t num_parameters() const;

  // Recursive; modules start in training mode. Layers whose forward differs read is_training().
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad();  // drops every parameter's .grad

  // Detached handles sharing the parameters' and persistent buffers' storage. As in PyTorch, a
  // tensor reachable under several names appears under each.
  StateDict state_dict() const;
  // Copies values in place (existing handles stay valid), converting dtypes as PyTorch's copy_.
  // Checks every name and shape before copying anything; strict also refuses missing and
  // unexpected names.
  void load_state_dict(const StateDict& state, bool strict = true);

  // A table of modules, output shapes (where known) and parameter counts, with the total.
  // `input` is the shape fed to this module (-1 for the batch axis), when known.
  std::string summary(const std::optional<Shape>& input = std::nullopt) const;

  // The name used for this module at the head of error paths when it is called as the root.
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }

  // Parameters, buffers and children share one namespace per module; a name is non-empty and has
  // no '.'.
  // Marks `value` as requiring grad and returns it (the handle shares the registered tensor).
  Tensor register_parameter(std::string name, Tensor value);
  // Registers state that is not trained, of any dtype (running_mean, num_batches_tracked as int64).
  // The returned handle shares the registered tensor: update it in place (under NoGradGuard), not
  // by assigning a new tensor to the handle. Persistent buffers are part of state_dict and so of
  // checkpoints; non-persistent ones (a cached mask) are not.
  Tensor register_buffer(std::string name, Tensor value, bool persistent = true);
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
  void claim_name(const std::string& name, std::string_view what);
  // Called inside a catch block: rethrows the current Error as a ModuleError with this module's
  // name in front of its path.
  [[noreturn]] void rethrow_with_path() const;
  // Calls fn(prefix, module) for root and every module below it, depth-first in registration
  // order, with prefix "" for root and "a.b." below; refuses trees deeper than kMaxModuleDepth.
  // M is Module or const Module.
  template <typename M, typename F>
  static void walk(M& root, F&& fn);
  // (name, tensor, is a parameter) for state_dict and load_state_dict, without de-duplication.
  std::vector<std::tuple<std::string, Tensor, bool>> saved_tensors() const;

  NamedTensors parameters_;
  NamedTensors buffers_;
  std::unordered_set<std::string> transient_buffers_;  // registered with persistent = false
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  std::unordered_set<std::string> names_;  // of parameters_, buffers_ and children_
  std::string name_ = "model";
  bool training_ = true;
};

template <typename M>
concept ModuleType = std::is_base_of_v<Module, std::remove_cvref_t<M>>;

// A module called with one tensor, returning one: what Sequential chains. A module that declares
// its own forward with other arguments hides Module::forward(const Tensor&) and is not one.
template <typename M>
concept TensorModule = ModuleType<M> && requires(std::remove_cvref_t<M>& m, const Tensor& x) {
  { m.forward(x) } -> std::same_as<Tensor>;
};

}  // namespace minigrad::nn

// fmt::format("{}", module) prints module.summary().
template <typename M>
struct fmt::formatter<M, char, std::enable_if_t<std::is_base_of_v<minigrad::nn::Module, M>>>
    : fmt::formatter<std::string_view> {
  auto format(const minigrad::nn::Module& m, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(m.summary(), ctx);
  }
};
