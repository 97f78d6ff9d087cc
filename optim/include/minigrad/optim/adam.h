#pragma once
// Adam and AdamW, as torch.optim.Adam / AdamW (step t counted per parameter):
//   g += weight_decay * w                          (Adam: L2 penalty folded into the gradient)
//   w *= 1 - lr * weight_decay                     (AdamW: decay decoupled from the gradient)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g^2
//   v_hat = amsgrad ? (v_max = max(v_max, v)) : v
//   w -= lr / (1 - beta1^t) * m / (sqrt(v_hat) / sqrt(1 - beta2^t) + eps)
#include <utility>

#include <minigrad/optim/optimizer.h>

namespace minigrad::optim {

struct AdamOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;
};

// Adam's options with AdamW's default decay.
struct AdamWOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
};

class Adam : public OptimizerWith<AdamOptions> {
 public:
  Adam(std::vector<Tensor> params, AdamOptions options = {});
  Adam(std::vector<Group> groups, AdamOptions defaults = {});

 protected:
  Adam(std::string name, std::vector<Group> groups, AdamOptions defaults, bool decoupled);

 private:
  void update(Slot& slot) override;
  std::vector<std::string_view> state_names(std::size_t group) const override;
  void visit_hypers(HyperVisitor& visit, std::size_t group) override;
  void validate(std::size_t group) const override;

  bool decoupled_;  // AdamW
};

// Its groups' options are AdamOptions, whose weight_decay default is Adam's: a group given options
// states its decay.
class AdamW final : public Adam {
 public:
  AdamW(std::vector<Tensor> params, AdamWOptions options = {});
  AdamW(std::vector<Group> groups, AdamWOptions defaults = {});
};

}  // namespace minigrad::optim
