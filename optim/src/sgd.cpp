#include <minigrad/optim/sgd.h>

#include "check.h"

namespace minigrad::optim {

SGD::SGD(std::vector<Tensor> params, SGDOptions options)
    : SGD(std::vector<Group>{{std::move(params), std::nullopt}}, options) {}

SGD::SGD(std::vector<Group> groups, SGDOptions defaults) : OptimizerWith("SGD", std::move(groups), defaults) {
  validate_groups();
}

void SGD::validate(std::size_t group) const {
  const SGDOptions& o = opts_[group];
  detail::check_at_least(name(), "momentum", o.momentum);
  detail::check_at_least(name(), "weight_decay", o.weight_decay);
  if (!(o.dampening >= 0.0 && o.dampening <= 1.0))
    throw Error(fmt::format("SGD: dampening must be in [0, 1], got {}", o.dampening));
  if (o.nesterov && (o.momentum <= 0.0 || o.dampening != 0.0))
    throw Error(
        fmt::format("SGD: nesterov requires momentum > 0 and dampening == 0, got "
                    "momentum={} and dampening={}",
                    o.momentum, o.dampening));
}

std::vector<std::string_view> SGD::state_names(std::size_t group) const {
  const SGDOptions& o = opts_[group];
  if (o.momentum == 0.0) return {};
  return {"momentum_buffer"};
}

void SGD::visit_hypers(HyperVisitor& visit, std::size_t group) {
  SGDOptions& o = opts_[group];
  visit("momentum", o.momentum);
  visit("dampening", o.dampening);
  visit("nesterov", o.nesterov);
  visit("weight_decay", o.weight_decay);
}

void SGD::update(Slot& slot) {
  const SGDOptions& o = opts_[slot.group];
  const double rate = lr(slot.group);
  with_buffers(slot, [&]<typename T>(Buffers<T> b) {
    const T lr = T(rate), mu = T(o.momentum), keep = T(1.0 - o.dampening);
    const T decay = T(o.weight_decay);
    const bool first = slot.step == 1, nesterov = o.nesterov;
    T* buf = b.state[0];
    // One loop per case, no null test per element (see Adam::update).
    auto loop = [&]<bool kMomentum>() {
      for (int64_t i = 0; i < b.n; ++i) {
        T d = b.grad[i];
        if (decay != T(0)) d += decay * b.param[i];
        if constexpr (kMomentum) {
          buf[i] = first ? d : buf[i] * mu + keep * d;
          d = nesterov ? d + mu * buf[i] : buf[i];
        }
        b.param[i] -= lr * d;
      }
    };
    if (buf)
      loop.template operator()<true>();
    else
      loop.template operator()<false>();
  });
}

}  // namespace minigrad::optim
