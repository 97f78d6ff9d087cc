#pragma once
// Optimizer: what every update rule shares. The base owns the parameters in their groups, each
// group's learning rate, per-parameter state (allocated on a parameter's first step), the loop
// over parameters and the state_dict round trip; a subclass supplies the elementwise update of a
// range of one parameter, the names of its state buffers and its hyper-parameters, per group.
//
// Parameter groups (as torch.optim's param_groups): each group has its own options, the whole
// options struct as in torch's C++ frontend (a group given without options takes the optimizer's):
//   SGD sgd({{decayed, SGDOptions{.lr = 0.1, .weight_decay = 1e-4}}, {biases}}, {.lr = 0.1});
//   sgd.add_param_group({head, SGDOptions{.lr = 0.01}});
// (When no group in the list has options, name the type: std::vector<SGD::Group>{{a}, {b}}, as
// {{{a}}} alone also reads as a list of tensors.)
// Parameters are numbered across groups in order (state_dict's "param.<i>").
//
// step() is one fused pass over all parameters: their elements are cut into fixed chunks that the
// thread pool updates in parallel. Updates are elementwise, so the result does not depend on the
// chunking or the thread count.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <minigrad/tensor.h>

namespace minigrad::optim {

// Visits each hyper-parameter other than lr by name, so one list per optimizer serves both
// state_dict() and load_state_dict(). Flags travel as 0.0 and 1.0.
class HyperVisitor {
 public:
  virtual void operator()(std::string_view name, double& value) = 0;
  virtual void operator()(std::string_view name, bool& value) = 0;

 protected:
  ~HyperVisitor() = default;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;  // copies would share state buffers
  Optimizer& operator=(const Optimizer&) = delete;

  // One update, in place, of every parameter that has a .grad; the others are skipped, as in
  // PyTorch (their state and step count stay as they were).
  virtual void step();
  // Drops every parameter's .grad (PyTorch's set_to_none=True).
  void zero_grad();

  double lr(std::size_t group = 0) const;
  void set_lr(double lr);  // of every group
  void set_lr(std::size_t group, double lr);
  std::size_t num_groups() const { return groups_.size(); }
  // All parameters, group after group.
  const std::vector<Tensor>& params() const { return params_; }
  // Group g's parameters are params()[group_begin(g)] up to params()[group_begin(g + 1)].
  std::size_t group_begin(std::size_t group) const;
  const std::string& name() const { return name_; }

  // A copy of the optimizer's state: per group, "lr" and the other hyper-parameters (float64 of
  // shape (groups,)) and "group_sizes" (int64, (groups,)); for each parameter i that has stepped,
  // "param.<i>.step" (0-d int64) and its buffers "param.<i>.<buffer>" (e.g. "param.3.exp_avg").
  StateDict state_dict() const;
  // Replaces hyper-parameters and state with copies of `state`'s. Every key, shape and dtype is
  // checked before anything changes; an error names the key (and both shapes or dtypes). Reads
  // the single-group format written before groups existed too (0-d hyper-parameters and
  // "num_params").
  void load_state_dict(const StateDict& state);

 protected:
  static constexpr std::size_t kMaxBuffers = 3;

  // Elements [begin, end) of one parameter of `group` during one step. `step` counts this step (1
  // on a parameter's first update).
  struct Slot {
    std::size_t group;
    Tensor& param;
    const Tensor& grad;
    std::vector<Tensor>& buffers;  // in state_names() order
    int64_t step;
    int64_t begin, end;
  };
  // Raw views of a Slot's range for the update loops (element 0 is the range's first).
  template <typename T>
  struct Buffers {
    T* param;
    const T* grad;
    std::array<T*, kMaxBuffers> state;
    int64_t n;
  };
  // Calls fn(Buffers<float>) or fn(Buffers<double>), as the parameter's dtype says.
  template <typename F>
  static void with_buffers(Slot& slot, F&& fn) {
    if (slot.param.dtype() == DType::Float32)
      fn(buffers_of<float>(slot));
    else
      fn(buffers_of<double>(slot));
  }

  // `name` prefixes every error ("Adam: ..."). Subclasses add the groups.
  explicit Optimizer(std::string name) : name_(std::move(name)) {}
  // Appends a group; refuses parameters that are undefined, not float, not leaves or already in
  // the optimizer, naming them by their number across groups.
  void add_group(std::vector<Tensor> params, double lr);
  void pop_group();  // undoes the last add_group, when its options are refused

  // Updates the slot's range; runs concurrently on disjoint ranges, so it must be elementwise.
  virtual void update(Slot& slot) = 0;
  virtual std::vector<std::string_view> state_names(std::size_t group) const = 0;
  virtual void visit_hypers(HyperVisitor& visit, std::size_t group) = 0;
  // Of a group's hyper-parameters; throws naming the bad value.
  virtual void validate(std::size_t group) const = 0;

 private:
  template <typename T>
  static Buffers<T> buffers_of(Slot& slot) {
    Buffers<T> b{slot.param.data<T>() + slot.begin, slot.grad.data<T>() + slot.begin, {}, slot.end - slot.begin};
    for (std::size_t k = 0; k < slot.buffers.size(); ++k) b.state[k] = slot.buffers[k].data<T>() + slot.begin;
    return b;
  }
  void check_lr(double lr) const;

  std::string name_;
  std::vector<Tensor> params_;
  struct Group {
    std::size_t begin;  // of its parameters in params_
    double lr;
  };
  std::vector<Group> groups_;
  std::vector<std::size_t> group_of_;                            // per parameter
  std::unordered_map<const TensorImpl*, std::size_t> index_of_;  // parameter -> its number
  std::vector<int64_t> steps_;                                   // per parameter, like PyTorch's state["step"]
  std::vector<std::vector<Tensor>> buffers_;                     // per parameter; empty until its first step
  // Scratch of step(), kept so that steady-state steps do not allocate.
  struct Chunk {
    std::size_t param;
    int64_t begin, end;
  };
  std::vector<Chunk> chunks_;
  std::vector<Tensor> grads_;
};

// A group of parameters with its own options; without them, the optimizer's defaults.
template <typename Options>
struct ParamGroup {
  std::vector<Tensor> params;
  std::optional<Options> options = std::nullopt;
};

// Keeps each group's options for an optimizer whose options struct is Options.
template <typename Options>
class OptimizerWith : public Optimizer {
 public:
  using Group = ParamGroup<Options>;

  // Appends a group, as torch's add_param_group; it is checked whole before anything changes.
  void add_param_group(Group group) {
    const Options options = group.options.value_or(defaults_);
    add_group(std::move(group.params), options.lr);
    opts_.push_back(options);
    try {
      validate(opts_.size() - 1);
    } catch (...) {
      opts_.pop_back();
      pop_group();
      throw;
    }
  }
  const Options& defaults() const { return defaults_; }

 protected:
  OptimizerWith(std::string name, std::vector<Group> groups, Options defaults)
      : Optimizer(std::move(name)), defaults_(defaults) {
    if (groups.empty()) throw Error(fmt::format("{}: got no parameter groups", this->name()));
    for (Group& group : groups) {
      opts_.push_back(group.options.value_or(defaults_));
      add_group(std::move(group.params), opts_.back().lr);
    }
  }
  // Subclasses call it last in their constructors, once validate works.
  void validate_groups() const {
    for (std::size_t g = 0; g < opts_.size(); ++g) validate(g);
  }

  // Per group; each .lr only seeds the group's lr, which schedulers change (read lr(group)).
  std::vector<Options> opts_;

 private:
  Options defaults_;
};

}  // namespace minigrad::optim
