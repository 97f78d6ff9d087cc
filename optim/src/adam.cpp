#include <minigrad/optim/adam.h>

#include <algorithm>
#include <cmath>

#include "check.h"

namespace minigrad::optim {

namespace {

AdamOptions as_adam(const AdamWOptions& o) {
  return {.lr = o.lr, .betas = o.betas, .eps = o.eps, .weight_decay = o.weight_decay, .amsgrad = o.amsgrad};
}

}  // namespace

Adam::Adam(std::vector<Tensor> params, AdamOptions options)
    : Adam(std::vector<Group>{{std::move(params), std::nullopt}}, options) {}

Adam::Adam(std::vector<Group> groups, AdamOptions defaults) : Adam("Adam", std::move(groups), defaults, false) {}

Adam::Adam(std::string name, std::vector<Group> groups, AdamOptions defaults, bool decoupled)
    : OptimizerWith(std::move(name), std::move(groups), defaults), decoupled_(decoupled) {
  validate_groups();
}

AdamW::AdamW(std::vector<Tensor> params, AdamWOptions options)
    : AdamW(std::vector<Group>{{std::move(params), std::nullopt}}, options) {}

AdamW::AdamW(std::vector<Group> groups, AdamWOptions defaults)
    : Adam("AdamW", std::move(groups), as_adam(defaults), true) {}

void Adam::validate(std::size_t group) const {
  const AdamOptions& o = opts_[group];
  detail::check_unit_interval(name(), "betas.first", o.betas.first);
  detail::check_unit_interval(name(), "betas.second", o.betas.second);
  detail::check_at_least(name(), "eps", o.eps);
  detail::check_at_least(name(), "weight_decay", o.weight_decay);
}

std::vector<std::string_view> Adam::state_names(std::size_t group) const {
  const AdamOptions& o = opts_[group];
  if (o.amsgrad) return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  return {"exp_avg", "exp_avg_sq"};
}

void Adam::visit_hypers(HyperVisitor& visit, std::size_t group) {
  AdamOptions& o = opts_[group];
  visit("beta1", o.betas.first);
  visit("beta2", o.betas.second);
  visit("eps", o.eps);
  visit("weight_decay", o.weight_decay);
  visit("amsgrad", o.amsgrad);
}

void Adam::update(Slot& slot) {
  const AdamOptions& o = opts_[slot.group];
  const double rate = lr(slot.group);
  // Not a structured binding: clang 14 (the fuzz build) cannot capture those in the lambda below.
  const double beta1 = o.betas.first, beta2 = o.betas.second;
  const double t = static_cast<double>(slot.step);
  const double step_size = rate / (1.0 - std::pow(beta1, t));
  const double bias_correction2_sqrt = std::sqrt(1.0 - std::pow(beta2, t));
  with_buffers(slot, [&]<typename T>(Buffers<T> b) {
    const T b1 = T(beta1), b2 = T(beta2), c1 = T(1.0 - beta1), c2 = T(1.0 - beta2);
    const T eps = T(o.eps), neg_step = T(-step_size), bc2 = T(bias_correction2_sqrt);
    const T l2 = decoupled_ ? T(0) : T(o.weight_decay);
    const T shrink = T(1.0 - rate * (decoupled_ ? o.weight_decay : 0.0));
    T *m = b.state[0], *v = b.state[1], *v_max = b.state[2];
    auto loop = [&]<bool kAmsgrad>() {
      for (int64_t i = 0; i < b.n; ++i) {
        if (shrink != T(1)) b.param[i] *= shrink;
        T g = b.grad[i];
        if (l2 != T(0)) g += l2 * b.param[i];
        m[i] = m[i] * b1 + c1 * g;
        v[i] = v[i] * b2 + c2 * g * g;
        T v_hat = v[i];
        if constexpr (kAmsgrad) v_hat = v_max[i] = std::max(v_max[i], v[i]);
        b.param[i] += neg_step * m[i] / (std::sqrt(v_hat) / bc2 + eps);
      }
    };
    // Two loops, not a test per element: GCC turns `if (v_max)` into masked vector loads from
    // the null pointer, which fault-suppression assists make ~50x slower.
    if (v_max)
      loop.template operator()<true>();
    else
      loop.template operator()<false>();
  });
}

}  // namespace minigrad::optim
