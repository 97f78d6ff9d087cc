#include <minigrad/autograd.h>
#include <minigrad/nn/loss.h>

namespace minigrad::nn {
namespace {

Tensor reduce(const Tensor& per_element, Reduction reduction) {
  switch (reduction) {
    case Reduction::Mean:
      return per_element.mean();
    case Reduction::Sum:
      return per_element.sum();
    case Reduction::None:
      return per_element;
  }
  return per_element;
}

// scores [N, C] float, targets [N] int64 in [0, C).
void check_classification(const Tensor& scores, const Tensor& targets, std::string_view op) {
  if (!scores.defined() || !targets.defined()) throw Error(fmt::format("{}: undefined input", op));
  if (scores.dim() != 2 || scores.size(1) == 0 || !is_floating(scores.dtype()))
    throw Error(fmt::format("{}: expected float scores of shape [N, C] with C >= 1, got {} {}", op, scores.dtype(),
                            shape_str(scores.shape())));
  if (targets.dtype() != kInt64 || targets.dim() != 1 || targets.size(0) != scores.size(0))
    throw Error(fmt::format("{}: expected int64 targets of shape ({},) for scores {}, got {} {}", op, scores.size(0),
                            shape_str(scores.shape()), targets.dtype(), shape_str(targets.shape())));
  const int64_t classes = scores.size(1);
  const int64_t* t = targets.data<int64_t>();
  for (int64_t i = 0; i < targets.numel(); ++i)
    if (t[i] < 0 || t[i] >= classes)
      throw Error(fmt::format("{}: target {} at position {} is out of range for {} classes", op, t[i], i, classes));
}

void check_same_shape(const Tensor& input, const Tensor& target, std::string_view op) {
  if (!input.defined() || !target.defined()) throw Error(fmt::format("{}: undefined input", op));
  if (input.shape() != target.shape() || input.dtype() != target.dtype())
    throw Error(fmt::format("{}: input {} {} and target {} {} differ (no broadcasting in losses)", op, input.dtype(),
                            shape_str(input.shape()), target.dtype(), shape_str(target.shape())));
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, CrossEntropyOptions options) {
  check_classification(logits, targets, "cross_entropy");
  const double s = options.label_smoothing;
  if (!(s >= 0.0 && s <= 1.0)) throw Error(fmt::format("cross_entropy: label_smoothing must be in [0, 1], got {}", s));
  const int64_t n = logits.size(0), classes = logits.size(1);
  // The forward is computed outside the graph; record_op below makes the whole thing one node.
  Tensor log_probs, target_dist, loss;
  {
    NoGradGuard no_grad;
    log_probs = logits.detach().log_softmax(1);
    // q = (1-s) one_hot(targets) + s/C
    target_dist =
        scatter_add({n, classes}, 1, targets.reshape({n, 1}), full({n, 1}, 1.0 - s, {.dtype = logits.dtype()})) +
        s / static_cast<double>(classes);
    // -(1-s) log p[target] - s/C sum_c log p[c], not -sum(q log p): a masked class (logit -inf)
    // would make 0 * -inf = NaN there. With smoothing its -inf enters the sum and the loss is
    // +inf, as in PyTorch 1.13 (the gradient, probs - q, stays finite).
    Tensor log_likelihood = log_probs.gather(1, targets.reshape({n, 1})).reshape({n}) * (1.0 - s);
    if (s > 0) log_likelihood = log_likelihood + log_probs.sum(1) * (s / static_cast<double>(classes));
    loss = reduce(-log_likelihood, options.reduction);
  }
  const Reduction reduction = options.reduction;
  return record_op("cross_entropy", loss, {logits}, [logits, log_probs, target_dist, reduction, n](const Tensor& g) {
    // Recomputed from the logits when the gradient itself is being differentiated.
    const Tensor probs = grad_enabled() ? logits.softmax(1) : log_probs.exp();
    const Tensor scale = reduction == Reduction::None   ? g.reshape({n, 1})
                         : reduction == Reduction::Mean ? g / static_cast<double>(n)
                                                        : g;
    return TensorList{(probs - target_dist) * scale};
  });
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& targets, LossOptions options) {
  check_classification(log_probs, targets, "nll_loss");
  const int64_t n = log_probs.size(0);
  return reduce(-log_probs.gather(1, targets.reshape({n, 1})).reshape({n}), options.reduction);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, LossOptions options) {
  check_same_shape(input, target, "mse_loss");
  return reduce((input - target).pow(2.0), options.reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, LossOptions options) {
  check_same_shape(input, target, "l1_loss");
  return reduce((input - target).abs(), options.reduction);
}

namespace {
template <typename F>
Tensor penalty(const std::vector<Tensor>& params, std::string_view op, F term) {
  if (params.empty()) throw Error(fmt::format("{}: no parameters given", op));
  Tensor total = term(params[0]).sum();
  for (std::size_t i = 1; i < params.size(); ++i) total = total + term(params[i]).sum();
  return total;
}
}  // namespace

Tensor l1_penalty(const std::vector<Tensor>& params) {
  return penalty(params, "l1_penalty", [](const Tensor& w) { return w.abs(); });
}

Tensor l2_penalty(const std::vector<Tensor>& params) {
  return penalty(params, "l2_penalty", [](const Tensor& w) { return w.pow(2.0); });
}

}  // namespace minigrad::nn
