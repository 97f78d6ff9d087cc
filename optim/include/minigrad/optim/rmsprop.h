#pragma once
// RMSprop as torch.optim.RMSprop:
//   g += weight_decay * w
//   s = alpha * s + (1 - alpha) * g^2
//   centered: a = alpha * a + (1 - alpha) * g; denom = sqrt(s - a^2) + eps, else sqrt(s) + eps
//   momentum > 0: buf = momentum * buf + g / denom; w -= lr * buf, else w -= lr * g / denom
#include <minigrad/optim/optimizer.h>

namespace minigrad::optim {

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
};

class RMSprop final : public OptimizerWith<RMSpropOptions> {
 public:
  RMSprop(std::vector<Tensor> params, RMSpropOptions options = {});
  RMSprop(std::vector<Group> groups, RMSpropOptions defaults = {});

 private:
  void update(Slot& slot) override;
  std::vector<std::string_view> state_names(std::size_t group) const override;
  void visit_hypers(HyperVisitor& visit, std::size_t group) override;
  void validate(std::size_t group) const override;
};

}  // namespace minigrad::optim
