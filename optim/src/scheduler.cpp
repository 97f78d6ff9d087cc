#include <minigrad/optim/scheduler.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "check.h"

namespace minigrad::optim {
namespace {

void check_positive(std::string_view scheduler, std::string_view option, int64_t value) {
  if (value < 1) throw Error(fmt::format("{}: {} must be >= 1, got {}", scheduler, option, value));
}

void check_gamma(std::string_view scheduler, double gamma) {
  if (!(gamma > 0.0) || std::isinf(gamma))
    throw Error(fmt::format("{}: gamma must be finite and > 0, got {}", scheduler, gamma));
}

}  // namespace

LRScheduler::LRScheduler(std::string name, Optimizer& optimizer) : name_(std::move(name)), optimizer_(optimizer) {
  for (std::size_t g = 0; g < optimizer.num_groups(); ++g) base_lrs_.push_back(optimizer.lr(g));
}

double LRScheduler::base_lr(std::size_t group) const {
  if (group >= base_lrs_.size())
    throw Error(fmt::format("{}: group {} does not exist ({} groups)", name_, group, base_lrs_.size()));
  return base_lrs_[group];
}

void LRScheduler::start() { apply(); }

void LRScheduler::step() {
  ++epoch_;
  apply();
}

void LRScheduler::apply() {
  if (optimizer_.num_groups() != base_lrs_.size())
    throw Error(fmt::format("{}: the optimizer has {} parameter groups, the schedule was made for {}", name_,
                            optimizer_.num_groups(), base_lrs_.size()));
  for (std::size_t g = 0; g < base_lrs_.size(); ++g) optimizer_.set_lr(g, lr_at(epoch_, g));
}

StateDict LRScheduler::state_dict() const {
  return {{"last_epoch", tensor(std::vector<int64_t>{epoch_}, {})},
          {"base_lrs", tensor(base_lrs_, {static_cast<int64_t>(base_lrs_.size())}, {.dtype = kFloat64})}};
}

void LRScheduler::load_state_dict(const StateDict& state) {
  auto get = [&](const std::string& key, DType dtype, const Shape& shape) {
    const auto it = state.find(key);
    if (it == state.end()) throw Error(fmt::format("{}::load_state_dict: missing key '{}'", name_, key));
    if (!it->second.defined() || it->second.dtype() != dtype || it->second.shape() != shape)
      throw Error(fmt::format("{}::load_state_dict: '{}' must be {} of shape {}", name_, key, dtype, shape_str(shape)));
    return it->second;
  };
  const int64_t epoch = get("last_epoch", kInt64, {}).to_vector<int64_t>()[0];
  const auto base_lrs = get("base_lrs", kFloat64, {static_cast<int64_t>(base_lrs_.size())}).to_vector<double>();
  for (const auto& [key, _] : state)
    if (key != "last_epoch" && key != "base_lrs")
      throw Error(fmt::format("{}::load_state_dict: unexpected key '{}'", name_, key));
  if (epoch < 0) throw Error(fmt::format("{}::load_state_dict: last_epoch must be >= 0, got {}", name_, epoch));
  for (double lr : base_lrs)
    if (!(lr >= 0.0) || std::isinf(lr))
      throw Error(fmt::format("{}::load_state_dict: base lrs must be finite and >= 0, got {}", name_, lr));
  epoch_ = epoch;
  base_lrs_ = base_lrs;
  apply();
}

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler("StepLR", optimizer), step_size_(step_size), gamma_(gamma) {
  check_positive("StepLR", "step_size", step_size);
  check_gamma("StepLR", gamma);
  start();
}

double StepLR::lr_from(double base_lr, int64_t epoch) const {
  return base_lr * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma)
    : LRScheduler("ExponentialLR", optimizer), gamma_(gamma) {
  check_gamma("ExponentialLR", gamma);
  start();
}

double ExponentialLR::lr_from(double base_lr, int64_t epoch) const {
  return base_lr * std::pow(gamma_, static_cast<double>(epoch));
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min)
    : LRScheduler("CosineAnnealingLR", optimizer), T_max_(T_max), eta_min_(eta_min) {
  check_positive("CosineAnnealingLR", "T_max", T_max);
  detail::check_at_least("CosineAnnealingLR", "eta_min", eta_min);
  start();
}

double CosineAnnealingLR::lr_from(double base_lr, int64_t epoch) const {
  const double phase = std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(T_max_);
  return eta_min_ + (base_lr - eta_min_) * (1.0 + std::cos(phase)) / 2.0;
}

LinearWarmup::LinearWarmup(Optimizer& optimizer, int64_t warmup_steps, double start_factor)
    : LRScheduler("LinearWarmup", optimizer), warmup_steps_(warmup_steps), start_factor_(start_factor) {
  check_positive("LinearWarmup", "warmup_steps", warmup_steps);
  if (!(start_factor > 0.0 && start_factor <= 1.0))
    throw Error(fmt::format("LinearWarmup: start_factor must be in (0, 1], got {}", start_factor));
  start();
}

double LinearWarmup::lr_from(double base_lr, int64_t epoch) const {
  const double progress = static_cast<double>(std::min(epoch, warmup_steps_)) / static_cast<double>(warmup_steps_);
  return base_lr * (start_factor_ + (1.0 - start_factor_) * progress);
}

}  // namespace minigrad::optim
