#include <minigrad/optim/momentum.h>

#include "check.h"

namespace minigrad::optim {

Momentum::Momentum(std::vector<Tensor> params, MomentumOptions options)
    : Optimizer("Momentum", std::move(params), options.lr), opts_(options) {
  validate();
}

void Momentum::validate() const { detail::check_at_least(name(), "momentum", opts_.momentum); }

std::vector<std::string_view> Momentum::state_names() const { return {"velocity"}; }

void Momentum::visit_hypers(HyperVisitor& visit) { visit("momentum", opts_.momentum); }

void Momentum::update(Slot& slot) {
  with_buffers(slot, [&]<typename T>(Buffers<T> b) {
    const T lr = T(this->lr()), mu = T(opts_.momentum);
    T* v = b.state[0];
    for (int64_t i = 0; i < b.n; ++i) {
      v[i] = mu * v[i] - lr * b.grad[i];
      b.param[i] += v[i];
    }
  });
}

}  // namespace minigrad::optim
