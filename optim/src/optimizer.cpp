#include <minigrad/optim/optimizer.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>
#include <utility>

#include <minigrad/autograd.h>
#include <minigrad/threads.h>

namespace minigrad::optim {
namespace {

struct CollectHypers final : HyperVisitor {
  std::map<std::string, double, std::less<>> values;
  void operator()(std::string_view name, double& value) override { values.emplace(name, value); }
  void operator()(std::string_view name, bool& value) override {
    values.emplace(name, value ? 1.0 : 0.0);
  }
};

struct AssignHypers final : HyperVisitor {
  std::function<double(std::string_view)> lookup;
  std::string_view optimizer;
  void operator()(std::string_view name, double& value) override { value = lookup(name); }
  void operator()(std::string_view name, bool& value) override {
    const double v = lookup(name);
    if (v != 0.0 && v != 1.0)
      throw Error(fmt::format("{}::load_state_dict: '{}' is a flag, expected 0 or 1, got {}",
                              optimizer, name, v));
    value = v != 0.0;
  }
};

Tensor scalar(double value) { return full({}, value, {.dtype = kFloat64}); }
Tensor scalar(int64_t value) { return tensor(std::vector<int64_t>{value}, {}); }

}  // namespace

Optimizer::Optimizer(std::string name, std::vector<Tensor> params, double lr)
    : name_(std::move(name)), params_(std::move(params)), lr_(lr) {
  check_lr(lr);
  if (params_.empty()) throw Error(fmt::format("{}: got an empty parameter list", name_));
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    if (!p.defined()) throw Error(fmt::format("{}: parameter {} is undefined", name_, i));
    if (!is_floating(p.dtype()))
      throw Error(fmt::format("{}: parameter {} is {}; only float32 and float64 can be optimized",
                              name_, i, p.dtype()));
    if (!p.is_leaf())
      throw Error(fmt::format("{}: parameter {} is not a leaf (it has a grad_fn)", name_, i));
    for (std::size_t j = 0; j < i; ++j)
      if (params_[j].impl() == p.impl())
        throw Error(fmt::format("{}: parameters {} and {} are the same tensor", name_, j, i));
  }
  steps_.assign(params_.size(), 0);
  buffers_.resize(params_.size());
}

void Optimizer::check_lr(double lr) const {
  if (!(lr >= 0.0) || std::isinf(lr))
    throw Error(fmt::format("{}: lr must be finite and >= 0, got {}", name_, lr));
}

void Optimizer::set_lr(double lr) {
  check_lr(lr);
  lr_ = lr;
}

void Optimizer::step() {
  NoGradGuard no_grad;
  // Elements per chunk of the fused update: big enough to amortize a task, small enough to
  // balance two threads on the smallest layers.
  constexpr int64_t kChunk = int64_t{1} << 14;
  chunks_.clear();
  grads_.resize(params_.size());
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Tensor grad = params_[i].grad();
    if (!grad.defined()) continue;
    if (steps_[i] == 0) {
      const std::size_t count = state_names().size();
      if (count > kMaxBuffers)
        throw Error(fmt::format("{}: {} state buffers per parameter, at most {} are supported",
                                name_, count, kMaxBuffers));
      buffers_[i].assign(count, Tensor());
      for (Tensor& buffer : buffers_[i]) buffer = zeros_like(params_[i]);
    }
    ++steps_[i];
    grads_[i] = grad;
    const int64_t n = params_[i].numel();
    for (int64_t begin = 0; begin < n; begin += kChunk)
      chunks_.push_back({i, begin, std::min(n, begin + kChunk)});
  }
  parallel_tasks(static_cast<int64_t>(chunks_.size()), [&](int64_t c) {
    const Chunk& chunk = chunks_[c];
    const std::size_t i = chunk.param;
    const kernels::DenormalScope scope(params_[i].dtype() == kFloat32 && flush_denormal());
    Slot slot{params_[i], grads_[i], buffers_[i], steps_[i], chunk.begin, chunk.end};
    update(slot);
  });
  for (Tensor& g : grads_) g = Tensor();  // the optimizer holds no gradient between steps
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

std::map<std::string, Tensor> Optimizer::state_dict() const {
  // visit_hypers is shared with load_state_dict, hence non-const; collecting does not modify.
  CollectHypers hypers;
  const_cast<Optimizer*>(this)->visit_hypers(hypers);
  std::map<std::string, Tensor> out{{"lr", scalar(lr_)},
                                    {"num_params", scalar(static_cast<int64_t>(params_.size()))}};
  for (const auto& [name, value] : hypers.values) out[name] = scalar(value);
  const auto names = state_names();
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (steps_[i] == 0) continue;
    const std::string prefix = fmt::format("param.{}.", i);
    out[prefix + "step"] = scalar(steps_[i]);
    for (std::size_t k = 0; k < names.size(); ++k)
      out[prefix + std::string(names[k])] = buffers_[i][k].clone();
  }
  return out;
}

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& state) {
  std::set<std::string> used;
  auto get = [&](const std::string& key, DType dtype, const Shape& shape) -> const Tensor& {
    const auto it = state.find(key);
    if (it == state.end())
      throw Error(fmt::format("{}::load_state_dict: missing key '{}'", name_, key));
    const Tensor& t = it->second;
    if (!t.defined()) throw Error(fmt::format("{}::load_state_dict: '{}' is undefined", name_, key));
    if (t.shape() != shape)
      throw Error(fmt::format("{}::load_state_dict: '{}' has shape {}, expected {}", name_, key,
                              shape_str(t.shape()), shape_str(shape)));
    if (t.dtype() != dtype)
      throw Error(fmt::format("{}::load_state_dict: '{}' has dtype {}, expected {}", name_, key,
                              t.dtype(), dtype));
    used.insert(key);
    return t;
  };
  auto get_count = [&](const std::string& key) {
    return get(key, kInt64, {}).data<int64_t>()[0];
  };

  const int64_t num_params = get_count("num_params");
  if (num_params != static_cast<int64_t>(params_.size()))
    throw Error(fmt::format("{}::load_state_dict: state has {} parameters, this optimizer has {}",
                            name_, num_params, params_.size()));

  // Hyper-parameters decide which buffers exist, so they are applied first and rolled back if
  // anything later is refused.
  CollectHypers old;
  visit_hypers(old);
  const double old_lr = lr_;
  AssignHypers assign;
  assign.optimizer = name_;
  try {
    assign.lookup = [&](std::string_view key) { return get(std::string(key), kFloat64, {}).item(); };
    visit_hypers(assign);
    validate();
    set_lr(get("lr", kFloat64, {}).item());

    const auto names = state_names();
    std::vector<int64_t> steps(params_.size(), 0);
    std::vector<std::vector<Tensor>> buffers(params_.size());
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const std::string prefix = fmt::format("param.{}.", i);
      if (!state.contains(prefix + "step")) continue;  // this parameter has not stepped yet
      steps[i] = get_count(prefix + "step");
      if (steps[i] < 1)
        throw Error(fmt::format("{}::load_state_dict: '{}step' must be >= 1, got {}", name_, prefix,
                                steps[i]));
      for (std::string_view buffer : names)
        buffers[i].push_back(
            get(prefix + std::string(buffer), params_[i].dtype(), params_[i].shape()).clone());
    }
    for (const auto& [key, value] : state)
      if (!used.contains(key))
        throw Error(fmt::format("{}::load_state_dict: unexpected key '{}'", name_, key));
    steps_ = std::move(steps);
    buffers_ = std::move(buffers);
  } catch (...) {
    assign.lookup = [&](std::string_view key) { return old.values.find(key)->second; };
    visit_hypers(assign);
    lr_ = old_lr;
    throw;
  }
}

}  // namespace minigrad::optim
