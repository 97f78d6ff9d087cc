#include <minigrad/optim/rmsprop.h>

#include <cmath>

#include "check.h"

namespace minigrad::optim {

RMSprop::RMSprop(std::vector<Tensor> params, RMSpropOptions options)
    : RMSprop(std::vector<Group>{{std::move(params), std::nullopt}}, options) {}

RMSprop::RMSprop(std::vector<Group> groups, RMSpropOptions defaults)
    : OptimizerWith("RMSprop", std::move(groups), defaults) {
  validate_groups();
}

void RMSprop::validate(std::size_t group) const {
  const RMSpropOptions& o = opts_[group];
  detail::check_at_least(name(), "alpha", o.alpha);
  detail::check_at_least(name(), "eps", o.eps);
  detail::check_at_least(name(), "weight_decay", o.weight_decay);
  detail::check_at_least(name(), "momentum", o.momentum);
}

// Buffers absent from the configuration are not allocated, so their indices shift.
std::vector<std::string_view> RMSprop::state_names(std::size_t group) const {
  const RMSpropOptions& o = opts_[group];
  std::vector<std::string_view> names{"square_avg"};
  if (o.momentum > 0.0) names.push_back("momentum_buffer");
  if (o.centered) names.push_back("grad_avg");
  return names;
}

void RMSprop::visit_hypers(HyperVisitor& visit, std::size_t group) {
  RMSpropOptions& o = opts_[group];
  visit("alpha", o.alpha);
  visit("eps", o.eps);
  visit("weight_decay", o.weight_decay);
  visit("momentum", o.momentum);
  visit("centered", o.centered);
}

void RMSprop::update(Slot& slot) {
  const RMSpropOptions& o = opts_[slot.group];
  const double rate = lr(slot.group);
  with_buffers(slot, [&]<typename T>(Buffers<T> b) {
    const T alpha = T(o.alpha), keep = T(1.0 - o.alpha), eps = T(o.eps);
    const T decay = T(o.weight_decay), mu = T(o.momentum), neg_lr = T(-rate);
    const bool has_momentum = o.momentum > 0.0;
    T* square_avg = b.state[0];
    T* buf = has_momentum ? b.state[1] : nullptr;
    T* grad_avg = o.centered ? b.state[has_momentum ? 2 : 1] : nullptr;
    // One loop per case, no null test per element (see Adam::update).
    auto loop = [&]<bool kCentered, bool kMomentum>() {
      for (int64_t i = 0; i < b.n; ++i) {
        T g = b.grad[i];
        if (decay != T(0)) g += decay * b.param[i];
        square_avg[i] = square_avg[i] * alpha + keep * g * g;
        T variance = square_avg[i];
        if constexpr (kCentered) {
          grad_avg[i] = grad_avg[i] * alpha + keep * g;
          variance += -grad_avg[i] * grad_avg[i];
        }
        const T denom = std::sqrt(variance) + eps;
        if constexpr (kMomentum) {
          buf[i] = buf[i] * mu + g / denom;
          b.param[i] += neg_lr * buf[i];
        } else {
          b.param[i] += neg_lr * g / denom;
        }
      }
    };
    if (grad_avg && buf)
      loop.template operator()<true, true>();
    else if (grad_avg)
      loop.template operator()<true, false>();
    else if (buf)
      loop.template operator()<false, true>();
    else
      loop.template operator()<false, false>();
  });
}

}  // namespace minigrad::optim
