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

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer), base_lr_(optimizer.lr()) {}

void LRScheduler::start() { optimizer_.set_lr(lr_at(0)); }

void LRScheduler::step() { optimizer_.set_lr(lr_at(++epoch_)); }

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  check_positive("StepLR", "step_size", step_size);
  check_gamma("StepLR", gamma);
  start();
}

double StepLR::lr_at(int64_t epoch) const {
  return base_lr() * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma)
    : LRScheduler(optimizer), gamma_(gamma) {
  check_gamma("ExponentialLR", gamma);
  start();
}

double ExponentialLR::lr_at(int64_t epoch) const {
  return base_lr() * std::pow(gamma_, static_cast<double>(epoch));
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min)
    : LRScheduler(optimizer), T_max_(T_max), eta_min_(eta_min) {
  check_positive("CosineAnnealingLR", "T_max", T_max);
  detail::check_at_least("CosineAnnealingLR", "eta_min", eta_min);
  start();
}

double CosineAnnealingLR::lr_at(int64_t epoch) const {
  const double phase = std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(T_max_);
  return eta_min_ + (base_lr() - eta_min_) * (1.0 + std::cos(phase)) / 2.0;
}

LinearWarmup::LinearWarmup(Optimizer& optimizer, int64_t warmup_steps, double start_factor)
    : LRScheduler(optimizer), warmup_steps_(warmup_steps), start_factor_(start_factor) {
  check_positive("LinearWarmup", "warmup_steps", warmup_steps);
  if (!(start_factor > 0.0 && start_factor <= 1.0))
    throw Error(fmt::format("LinearWarmup: start_factor must be in (0, 1], got {}", start_factor));
  start();
}

double LinearWarmup::lr_at(int64_t epoch) const {
  const double progress = static_cast<double>(std::min(epoch, warmup_steps_)) /
                          static_cast<double>(warmup_steps_);
  return base_lr() * (start_factor_ + (1.0 - start_factor_) * progress);
}

}  // namespace minigrad::optim
