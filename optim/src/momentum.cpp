#include <minigrad/optim/momentum.h>

#include "check.h"

namespace minigrad::optim {

Momentum::Momentum(std::vector<Tensor> params, MomentumOptions options)
    : Momentum(std::vector<Group>{{std::move(params), std::nullopt}}, options) {}

Momentum::Momentum(std::vector<Group> groups, MomentumOptions defaults)
    : OptimizerWith("Momentum", std::move(groups), defaults) {
  validate_groups();
}

void Momentum::validate(std::size_t group) const {
  detail::check_at_least(name(), "momentum", opts_[group].momentum);
  detail::check_at_least(name(), "weight_decay", opts_[group].weight_decay);
}

std::vector<std::string_view> Momentum::state_names(std::size_t) const { return {"velocity"}; }

void Momentum::visit_hypers(HyperVisitor& visit, std::size_t group) {
  visit("momentum", opts_[group].momentum);
  visit("weight_decay", opts_[group].weight_decay);
}

void Momentum::update(Slot& slot) {
  const MomentumOptions& o = opts_[slot.group];
  const double rate = lr(slot.group);
  with_buffers(slot, [&]<typename T>(Buffers<T> b) {
    const T lr = T(rate), mu = T(o.momentum), decay = T(o.weight_decay);
    T* v = b.state[0];
    for (int64_t i = 0; i < b.n; ++i) {
      T d = b.grad[i];
      if (decay != T(0)) d += decay * b.param[i];
      v[i] = mu * v[i] - lr * d;
      b.param[i] += v[i];
    }
  });
}

}  // namespace minigrad::optim
