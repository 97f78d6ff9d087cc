#pragma once
// Classical momentum, as textbooks write it, with weight decay as in torch.optim.SGD (added to
// the gradient):
//   d = g + weight_decay * w
//   v = momentum * v - lr * d
//   w += v
//
// Relation to SGD(momentum, dampening = 0): SGD keeps its buffer in gradient units and applies lr
// at the update (buf = momentum * buf + g; w -= lr * buf). While lr is constant the two follow
// the same trajectory, with buf_sgd = -v / lr. When lr changes mid-run they part: SGD applies the
// new lr to the whole accumulated buffer at once, while here the velocity keeps the steps taken
// at the old lr and the new lr only enters through new gradients.
#include <minigrad/optim/optimizer.h>

namespace minigrad::optim {

struct MomentumOptions {
  double lr = 0.01;
  double momentum = 0.9;
  double weight_decay = 0.0;
};

class Momentum final : public OptimizerWith<MomentumOptions> {
 public:
  Momentum(std::vector<Tensor> params, MomentumOptions options = {});
  Momentum(std::vector<Group> groups, MomentumOptions defaults = {});

 private:
  void update(Slot& slot) override;
  std::vector<std::string_view> state_names(std::size_t group) const override;
  void visit_hypers(HyperVisitor& visit, std::size_t group) override;
  void validate(std::size_t group) const override;
};

}  // namespace minigrad::optim
