#include <minigrad/optim/rmsprop.h>

#include <cmath>

#include "check.h"

namespace minigrad::optim {

RMSprop::RMSprop(std::vector<Tensor> params, RMSpropOptions options)
    : Optimizer("RMSprop", std::move(params), options.lr), opts_(options) {
  validate();
}

void RMSprop::validate() const {
  detail::check_at_least(name(), "alpha", opts_.alpha);
  detail::check_at_least(name(), "eps", opts_.eps);
  detail::check_at_least(name(), "weight_decay", opts_.weight_decay);
  detail::check_at_least(name(), "momentum", opts_.momentum);
}

// Buffers absent from the configuration are not allocated, so their indices shift.
std::vector<std::string_view> RMSprop::state_names() const {
  std::vector<std::string_view> names{"square_avg"};
  if (opts_.momentum > 0.0) names.push_back("momentum_buffer");
  if (opts_.centered) names.push_back("grad_avg");
  return names;
}

void RMSprop::visit_hypers(HyperVisitor& visit) {
  visit("alpha", opts_.alpha);
  visit("eps", opts_.eps);
  visit("weight_decay", opts_.weight_decay);
  visit("momentum", opts_.momentum);
  visit("centered", opts_.centered);
}

void RMSprop::update(Slot& slot) {
  with_buffers(slot, [&]<typename T>(Buffers<T> b) {
    const T alpha = T(opts_.alpha), keep = T(1.0 - opts_.alpha), eps = T(opts_.eps);
    const T decay = T(opts_.weight_decay), mu = T(opts_.momentum), neg_lr = T(-lr());
    const bool has_momentum = opts_.momentum > 0.0;
    T* square_avg = b.state[0];
    T* buf = has_momentum ? b.state[1] : nullptr;
    T* grad_avg = opts_.centered ? b.state[has_momentum ? 2 : 1] : nullptr;
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
    if (grad_avg && buf) loop.template operator()<true, true>();
    else if (grad_avg) loop.template operator()<true, false>();
    else if (buf) loop.template operator()<false, true>();
    else loop.template operator()<false, false>();
  });
}

}  // namespace minigrad::optim
