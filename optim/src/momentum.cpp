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
}

std::vector<std::string_view> Momentum::state_names(std::size_t) const { return {"velocity"}; }

void Momentum::visit_hypers(HyperVisitor& visit, std::size_t group) {
  visit("momentum", opts_[group].momentum);
}

void Momentum::update(Slot& slot) {
  const double momentum = opts_[slot.group].momentum, rate = lr(slot.group);
  with_buffers(slot, [&]<typename T>(Buffers<T> b) {
    const T lr = T(rate), mu = T(momentum);
    T* v = b.state[0];
    for (int64_t i = 0; i < b.n; ++i) {
      v[i] = mu * v[i] - lr * b.grad[i];
      b.param[i] += v[i];
    }
  });
}

}  // namespace minigrad::optim
