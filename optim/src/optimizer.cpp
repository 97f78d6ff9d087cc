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
  void operator()(std::string_view name, bool& value) override { values.emplace(name, value ? 1.0 : 0.0); }
};

struct AssignHypers final : HyperVisitor {
  std::function<double(std::string_view)> lookup;
  std::string_view optimizer;
  void operator()(std::string_view name, double& value) override { value = lookup(name); }
  void operator()(std::string_view name, bool& value) override {
    const double v = lookup(name);
    if (v != 0.0 && v != 1.0)
      throw Error(fmt::format("{}::load_state_dict: '{}' is a flag, expected 0 or 1, got {}", optimizer, name, v));
    value = v != 0.0;
  }
};

Tensor scalar(int64_t value) { return tensor(std::vector<int64_t>{value}, {}); }

}  // namespace

void Optimizer::add_group(std::vector<Tensor> params, double lr) {
  check_lr(lr);
  if (params.empty()) throw Error(fmt::format("{}: parameter group {} is empty", name_, groups_.size()));
  // Checked whole before anything changes; one hash lookup per parameter keeps construction
  // linear in their number.
  const std::size_t first = params_.size();
  std::unordered_map<const TensorImpl*, std::size_t> added;
  for (std::size_t k = 0; k < params.size(); ++k) {
    const Tensor& p = params[k];
    const std::size_t i = first + k;
    if (!p.defined()) throw Error(fmt::format("{}: parameter {} is undefined", name_, i));
    if (!is_floating(p.dtype()))
      throw Error(
          fmt::format("{}: parameter {} is {}; only float32 and float64 can be optimized", name_, i, p.dtype()));
    if (!p.is_leaf()) throw Error(fmt::format("{}: parameter {} is not a leaf (it has a grad_fn)", name_, i));
    if (const auto it = index_of_.find(p.impl()); it != index_of_.end())
      throw Error(
          fmt::format("{}: parameters {} and {} are the same tensor (parameter {} is in "
                      "group {})",
                      name_, it->second, i, it->second, group_of_[it->second]));
    if (const auto [it, fresh] = added.emplace(p.impl(), i); !fresh)
      throw Error(fmt::format("{}: parameters {} and {} are the same tensor", name_, it->second, i));
  }
  index_of_.merge(added);
  groups_.push_back({first, lr});
  for (Tensor& p : params) params_.push_back(std::move(p));
  group_of_.resize(params_.size(), groups_.size() - 1);
  steps_.resize(params_.size(), 0);
  buffers_.resize(params_.size());
}

void Optimizer::pop_group() {
  const std::size_t first = groups_.back().begin;
  for (std::size_t i = first; i < params_.size(); ++i) index_of_.erase(params_[i].impl());
  params_.resize(first);
  group_of_.resize(first);
  steps_.resize(first);
  buffers_.resize(first);
  groups_.pop_back();
}

double Optimizer::lr(std::size_t group) const {
  if (group >= groups_.size())
    throw Error(fmt::format("{}: group {} does not exist ({} groups)", name_, group, groups_.size()));
  return groups_[group].lr;
}

std::size_t Optimizer::group_begin(std::size_t group) const {
  if (group > groups_.size())
    throw Error(fmt::format("{}: group {} does not exist ({} groups)", name_, group, groups_.size()));
  return group == groups_.size() ? params_.size() : groups_[group].begin;
}

void Optimizer::check_lr(double lr) const {
  if (!(lr >= 0.0) || std::isinf(lr)) throw Error(fmt::format("{}: lr must be finite and >= 0, got {}", name_, lr));
}

void Optimizer::set_lr(double lr) {
  check_lr(lr);
  for (Group& group : groups_) group.lr = lr;
}

void Optimizer::set_lr(std::size_t group, double lr) {
  check_lr(lr);
  this->lr(group);  // checks the group
  groups_[group].lr = lr;
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
      const std::size_t count = state_names(group_of_[i]).size();
      if (count > kMaxBuffers)
        throw Error(
            fmt::format("{}: {} state buffers per parameter, at most {} are supported", name_, count, kMaxBuffers));
      buffers_[i].assign(count, Tensor());
      for (Tensor& buffer : buffers_[i]) buffer = zeros_like(params_[i]);
    }
    ++steps_[i];
    grads_[i] = grad;
    const int64_t n = params_[i].numel();
    for (int64_t begin = 0; begin < n; begin += kChunk) chunks_.push_back({i, begin, std::min(n, begin + kChunk)});
  }
  parallel_tasks(static_cast<int64_t>(chunks_.size()), [&](int64_t c) {
    const Chunk& chunk = chunks_[c];
    const std::size_t i = chunk.param;
    const kernels::DenormalScope scope(params_[i].dtype() == kFloat32 && flush_denormal());
    Slot slot{group_of_[i], params_[i], grads_[i], buffers_[i], steps_[i], chunk.begin, chunk.end};
    update(slot);
  });
  for (Tensor& g : grads_) g = Tensor();  // the optimizer holds no gradient between steps
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

StateDict Optimizer::state_dict() const {
  // Hyper-parameters as columns over the groups: "lr" = [lr of group 0, lr of group 1, ...].
  std::map<std::string, std::vector<double>, std::less<>> columns;
  std::vector<int64_t> sizes;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    // visit_hypers is shared with load_state_dict, hence non-const; collecting does not modify.
    CollectHypers hypers;
    const_cast<Optimizer*>(this)->visit_hypers(hypers, g);
    columns["lr"].push_back(groups_[g].lr);
    for (const auto& [name, value] : hypers.values) columns[std::string(name)].push_back(value);
    sizes.push_back(static_cast<int64_t>(group_begin(g + 1) - groups_[g].begin));
  }
  const auto n = static_cast<int64_t>(groups_.size());
  StateDict out{{"group_sizes", tensor(sizes, {n})}};
  for (const auto& [name, values] : columns) out[name] = tensor(values, {n}, {.dtype = kFloat64});
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (steps_[i] == 0) continue;
    const std::string prefix = fmt::format("param.{}.", i);
    out[prefix + "step"] = scalar(steps_[i]);
    const auto names = state_names(group_of_[i]);
    for (std::size_t k = 0; k < names.size(); ++k) out[prefix + std::string(names[k])] = buffers_[i][k].clone();
  }
  return out;
}

void Optimizer::load_state_dict(const StateDict& state) {
  std::set<std::string> used;
  auto get = [&](const std::string& key, DType dtype, const Shape& shape) -> const Tensor& {
    const auto it = state.find(key);
    if (it == state.end()) throw Error(fmt::format("{}::load_state_dict: missing key '{}'", name_, key));
    const Tensor& t = it->second;
    if (!t.defined()) throw Error(fmt::format("{}::load_state_dict: '{}' is undefined", name_, key));
    if (t.shape() != shape)
      throw Error(fmt::format("{}::load_state_dict: '{}' has shape {}, expected {}", name_, key, shape_str(t.shape()),
                              shape_str(shape)));
    if (t.dtype() != dtype)
      throw Error(fmt::format("{}::load_state_dict: '{}' has dtype {}, expected {}", name_, key, t.dtype(), dtype));
    used.insert(key);
    return t;
  };
  auto get_count = [&](const std::string& key) { return get(key, kInt64, {}).data<int64_t>()[0]; };

  const auto n = static_cast<int64_t>(groups_.size());
  std::vector<int64_t> ours;
  for (std::size_t g = 0; g < groups_.size(); ++g)
    ours.push_back(static_cast<int64_t>(group_begin(g + 1) - groups_[g].begin));
  // The format before groups: one group, 0-d hyper-parameters and the parameter count.
  const bool single = !state.contains("group_sizes") && state.contains("num_params");
  auto group_sizes = [&] {
    // Any length, so that a different number of groups is reported as such.
    const auto it = state.find("group_sizes");
    const bool listed = it != state.end() && it->second.defined() && it->second.dim() == 1;
    return get("group_sizes", kInt64, listed ? it->second.shape() : Shape{n}).to_vector<int64_t>();
  };
  const std::vector<int64_t> theirs = single ? std::vector<int64_t>{get_count("num_params")} : group_sizes();
  if (theirs != ours)
    throw Error(
        fmt::format("{}::load_state_dict: state has groups of [{}] parameters, this "
                    "optimizer has [{}]",
                    name_, fmt::join(theirs, ", "), fmt::join(ours, ", ")));
  const Shape column_shape = single ? Shape{} : Shape{n};
  auto hyper = [&](const std::string& key, std::size_t g) {
    return get(key, kFloat64, column_shape).data<double>()[single ? 0 : g];
  };

  // Hyper-parameters decide which buffers exist, so they are applied first and rolled back if
  // anything later is refused.
  std::vector<CollectHypers> old(groups_.size());
  for (std::size_t g = 0; g < groups_.size(); ++g) visit_hypers(old[g], g);
  const std::vector<Group> old_groups = groups_;
  AssignHypers assign;
  assign.optimizer = name_;
  try {
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      assign.lookup = [&](std::string_view key) { return hyper(std::string(key), g); };
      visit_hypers(assign, g);
      validate(g);
      set_lr(g, hyper("lr", g));
    }

    std::vector<int64_t> steps(params_.size(), 0);
    std::vector<std::vector<Tensor>> buffers(params_.size());
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const std::string prefix = fmt::format("param.{}.", i);
      if (!state.contains(prefix + "step")) continue;  // this parameter has not stepped yet
      steps[i] = get_count(prefix + "step");
      if (steps[i] < 1)
        throw Error(fmt::format("{}::load_state_dict: '{}step' must be >= 1, got {}", name_, prefix, steps[i]));
      for (std::string_view buffer : state_names(group_of_[i]))
        buffers[i].push_back(get(prefix + std::string(buffer), params_[i].dtype(), params_[i].shape()).clone());
    }
    for (const auto& [key, value] : state)
      if (!used.contains(key)) throw Error(fmt::format("{}::load_state_dict: unexpected key '{}'", name_, key));
    steps_ = std::move(steps);
    buffers_ = std::move(buffers);
  } catch (...) {
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      assign.lookup = [&](std::string_view key) { return old[g].values.find(key)->second; };
      visit_hypers(assign, g);
    }
    groups_ = old_groups;
    throw;
  }
}

}  // namespace minigrad::optim
