#pragma once
// Optimizer: what every update rule shares. The base owns the parameter list, the learning rate,
// per-parameter state (allocated on a parameter's first step), the loop over parameters and the
// state_dict round trip; a subclass supplies the elementwise update of a range of one parameter,
// the names of its state buffers and its hyper-parameters.
//
// step() is one fused pass over all parameters: their elements are cut into fixed chunks that the
// thread pool updates in parallel. Updates are elementwise, so the result does not depend on the
// chunking or the thread count.
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
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

  double lr() const { return lr_; }
  void set_lr(double lr);
  const std::vector<Tensor>& params() const { return params_; }
  const std::string& name() const { return name_; }

  // A copy of the optimizer's state: "lr" and the other hyper-parameters (0-d float64),
  // "num_params" (0-d int64) and, for each parameter i that has stepped, "param.<i>.step"
  // (0-d int64) and its buffers "param.<i>.<buffer>" (e.g. "param.3.exp_avg").
  std::map<std::string, Tensor> state_dict() const;
  // Replaces hyper-parameters and state with copies of `state`'s. Every key, shape and dtype is
  // checked before anything changes; an error names the key (and both shapes or dtypes).
  void load_state_dict(const std::map<std::string, Tensor>& state);

 protected:
  static constexpr std::size_t kMaxBuffers = 3;

  // Elements [begin, end) of one parameter during one step. `step` counts this step (1 on a
  // parameter's first update).
  struct Slot {
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

  // `name` prefixes every error ("Adam: ...").
  Optimizer(std::string name, std::vector<Tensor> params, double lr);

  // Updates the slot's range; runs concurrently on disjoint ranges, so it must be elementwise.
  virtual void update(Slot& slot) = 0;
  virtual std::vector<std::string_view> state_names() const = 0;
  virtual void visit_hypers(HyperVisitor& visit) = 0;
  virtual void validate() const = 0;  // of the hyper-parameters; throws naming the bad value

 private:
  template <typename T>
  static Buffers<T> buffers_of(Slot& slot) {
    Buffers<T> b{slot.param.data<T>() + slot.begin, slot.grad.data<T>() + slot.begin, {},
                 slot.end - slot.begin};
    for (std::size_t k = 0; k < slot.buffers.size(); ++k)
      b.state[k] = slot.buffers[k].data<T>() + slot.begin;
    return b;
  }
  void check_lr(double lr) const;

  std::string name_;
  std::vector<Tensor> params_;
  double lr_;
  std::vector<int64_t> steps_;               // per parameter, like PyTorch's state["step"]
  std::vector<std::vector<Tensor>> buffers_;  // per parameter; empty until its first step
  // Scratch of step(), kept so that steady-state steps do not allocate.
  struct Chunk {
    std::size_t param;
    int64_t begin, end;
  };
  std::vector<Chunk> chunks_;
  std::vector<Tensor> grads_;
};

}  // namespace minigrad::optim
