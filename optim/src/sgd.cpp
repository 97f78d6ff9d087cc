#include <minigrad/optim/sgd.h>

#include "check.h"

namespace minigrad::optim {

SGD::SGD(std::vector<Tensor> params, SGDOptions options)
    : Optimizer("SGD", std::move(params), options.lr), opts_(options) {
  validate();
}

void SGD::validate() const {
  detail::check_at_least(name(), "momentum", opts_.momentum);
  detail::check_at_least(name(), "weight_decay", opts_.weight_decay);
  if (!(opts_.dampening >= 0.0 && opts_.dampening <= 1.0))
    throw Error(fmt::format("SGD: dampening must be in [0, 1], got {}", opts_.dampening));
  if (opts_.nesterov && (opts_.momentum <= 0.0 || opts_.dampening != 0.0))
    throw Error(fmt::format("SGD: nesterov requires momentum > 0 and dampening == 0, got "
                            "momentum={} and dampening={}",
                            opts_.momentum, opts_.dampening));
}

std::vector<std::string_view> SGD::state_names() const {
  if (opts_.momentum == 0.0) return {};
  return {"momentum_buffer"};
}

void SGD::visit_hypers(HyperVisitor& visit) {
  visit("momentum", opts_.momentum);
  visit("dampening", opts_.dampening);
  visit("nesterov", opts_.nesterov);
  visit("weight_decay", opts_.weight_decay);
}

void SGD::update(Slot& slot) {
  with_buffers(slot, [&]<typename T>(Buffers<T> b) {
    const T lr = T(this->lr()), mu = T(opts_.momentum), keep = T(1.0 - opts_.dampening);
    const T decay = T(opts_.weight_decay);
    const bool first = slot.step == 1, nesterov = opts_.nesterov;
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
    if (buf) loop.template operator()<true>();
    else loop.template operator()<false>();
  });
}

}  // namespace minigrad::optim
