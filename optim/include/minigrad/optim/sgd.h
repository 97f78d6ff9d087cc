#pragma once
// Stochastic gradient descent with PyTorch's momentum form (torch.optim.SGD):
//   d = g + weight_decay * w
//   buf = d on a parameter's first step, then buf = momentum * buf + (1 - dampening) * d
//   d = nesterov ? d + momentum * buf : buf
//   w -= lr * d
#include <minigrad/optim/optimizer.h>

namespace minigrad::optim {

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  bool nesterov = false;  // requires momentum > 0 and dampening == 0
  double weight_decay = 0.0;
};

class SGD final : public OptimizerWith<SGDOptions> {
 public:
  SGD(std::vector<Tensor> params, SGDOptions options = {});
  SGD(std::vector<Group> groups, SGDOptions defaults = {});

 private:
  void update(Slot& slot) override;
  std::vector<std::string_view> state_names(std::size_t group) const override;
  void visit_hypers(HyperVisitor& visit, std::size_t group) override;
  void validate(std::size_t group) const override;
};

}  // namespace minigrad::optim
