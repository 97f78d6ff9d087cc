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

class SGD final : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, SGDOptions options = {});

 private:
  void update(Slot& slot) override;
  std::vector<std::string_view> state_names() const override;
  void visit_hypers(HyperVisitor& visit) override;
  void validate() const override;

  SGDOptions opts_;  // opts_.lr only seeds the base's lr, which schedulers change
};

}  // namespace minigrad::optim
