#pragma once
// Losses, as functions and as small callable objects (torch.nn.functional and torch.nn forms).
#include <minigrad/tensor.h>

#include <vector>

namespace minigrad::nn {

enum class Reduction { Mean, Sum, None };

struct CrossEntropyOptions {
  Reduction reduction = Reduction::Mean;
  double label_smoothing = 0.0;  // in [0, 1]: targets become (1-s) one-hot + s/C
};
struct LossOptions {
  Reduction reduction = Reduction::Mean;
};

// logits [N, C] (float), targets [N] (int64 class indices). One fused op: log-softmax, pick and
// reduce forward, (softmax - target distribution) backward; stable for logits of any size.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, CrossEntropyOptions options = {});
// log_probs [N, C], targets [N]: -log_probs[i, targets[i]], reduced.
Tensor nll_loss(const Tensor& log_probs, const Tensor& targets, LossOptions options = {});
// input and target of the same shape: (input - target)^2 and |input - target|, reduced.
Tensor mse_loss(const Tensor& input, const Tensor& target, LossOptions options = {});
Tensor l1_loss(const Tensor& input, const Tensor& target, LossOptions options = {});

// Regularizers over a parameter list (e.g. model.parameters()), as 0-d tensors:
// l1 = sum |w|, l2 = sum w^2. Adding (lambda/2) * l2_penalty gives the gradient lambda*w that
// SGD's weight_decay = lambda applies.
Tensor l1_penalty(const std::vector<Tensor>& params);
Tensor l2_penalty(const std::vector<Tensor>& params);

class CrossEntropyLoss {
 public:
  explicit CrossEntropyLoss(CrossEntropyOptions options = {}) : options(options) {}
  Tensor operator()(const Tensor& logits, const Tensor& targets) const {
    return cross_entropy(logits, targets, options);
  }
  CrossEntropyOptions options;
};

// The forms whose only option is the reduction.
template <Tensor (*Fn)(const Tensor&, const Tensor&, LossOptions)>
class ReducedLoss {
 public:
  explicit ReducedLoss(LossOptions options = {}) : options(options) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const { return Fn(input, target, options); }
  LossOptions options;
};
using NLLLoss = ReducedLoss<nll_loss>;
using MSELoss = ReducedLoss<mse_loss>;
using L1Loss = ReducedLoss<l1_loss>;

}  // namespace minigrad::nn
