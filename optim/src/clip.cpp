#include <minigrad/optim/clip.h>

#include <algorithm>
#include <cmath>

namespace minigrad::optim {
namespace {

// Calls fn(data, n) with the typed buffer of each parameter's gradient; parameters without one
// are skipped.
template <typename F>
void for_each_grad(const std::vector<Tensor>& params, F&& fn) {
  for (const Tensor& p : params) {
    Tensor g = p.defined() ? p.grad() : Tensor();
    if (!g.defined()) continue;
    if (g.dtype() == DType::Float32)
      fn(g.data<float>(), g.numel());
    else
      fn(g.data<double>(), g.numel());
  }
}

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  if (!(max_norm >= 0.0)) throw Error(fmt::format("clip_grad_norm_: max_norm must be >= 0, got {}", max_norm));
  if (!(norm_type > 0.0))
    throw Error(fmt::format("clip_grad_norm_: norm_type must be > 0 or infinity, got {}", norm_type));
  const bool inf_norm = std::isinf(norm_type);
  // Accumulated in double whatever the gradients' dtype.
  double acc = 0.0;
  for_each_grad(params, [&]<typename T>(const T* g, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      const double a = std::abs(static_cast<double>(g[i]));
      if (inf_norm)
        acc = std::max(acc, a);
      else if (norm_type == 2.0)
        acc += a * a;
      else
        acc += std::pow(a, norm_type);
    }
  });
  const double total = inf_norm ? acc : norm_type == 2.0 ? std::sqrt(acc) : std::pow(acc, 1.0 / norm_type);
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1.0)
    for_each_grad(params, [&]<typename T>(T* g, int64_t n) {
      for (int64_t i = 0; i < n; ++i) g[i] *= T(coef);
    });
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  if (!(clip_value >= 0.0)) throw Error(fmt::format("clip_grad_value_: clip_value must be >= 0, got {}", clip_value));
  for_each_grad(params, [&]<typename T>(T* g, int64_t n) {
    for (int64_t i = 0; i < n; ++i) g[i] = std::clamp(g[i], T(-clip_value), T(clip_value));
  });
}

}  // namespace minigrad::optim
