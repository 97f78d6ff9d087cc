#include <minigrad/gradcheck.h>

#include <cmath>

#include "impl.h"

namespace minigrad {

namespace {

Shape unravel(int64_t flat, const Shape& shape) {
  Shape index(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return index;
}

}  // namespace

GradcheckReport gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  // Private leaves: the caller's tensors and their .grad stay untouched.
  std::vector<Tensor> leaves;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& in = inputs[i];
    detail::check_defined(in, "gradcheck");
    if (in.requires_grad() && in.dtype() != DType::Float64)
      throw Error(fmt::format("gradcheck: input {} is {}; finite differences need float64 "
                              "(convert with .to(kFloat64))",
                              i, dtype_name(in.dtype())));
    Tensor leaf = in.detach().clone();
    if (in.requires_grad()) leaf.requires_grad_(true);
    leaves.push_back(leaf);
  }

  const Tensor output = fn(leaves);
  detail::check_defined(output, "gradcheck");
  if (output.dtype() != DType::Float64)
    throw Error(fmt::format("gradcheck: the function returned {}; it must return float64",
                            dtype_name(output.dtype())));
  const int64_t n_out = output.numel();

  // Analytic Jacobian, one row per output element: backward of a one-hot gradient.
  std::vector<std::vector<double>> analytic(leaves.size());
  for (std::size_t i = 0; i < leaves.size(); ++i)
    if (leaves[i].requires_grad()) analytic[i].assign(n_out * leaves[i].numel(), 0.0);
  if (output.requires_grad()) {
    for (int64_t r = 0; r < n_out; ++r) {
      for (Tensor& leaf : leaves) leaf.zero_grad();
      Tensor one_hot = zeros(output.shape(), {.dtype = DType::Float64});
      one_hot.data<double>()[r] = 1.0;
      output.backward(one_hot, /*retain_graph=*/true);
      for (std::size_t i = 0; i < leaves.size(); ++i) {
        const Tensor g = leaves[i].grad();
        if (!leaves[i].requires_grad() || !g.defined()) continue;
        const double* pg = g.data<double>();
        for (int64_t k = 0; k < leaves[i].numel(); ++k) analytic[i][r * leaves[i].numel() + k] = pg[k];
      }
    }
  }

  // Numerical Jacobian, one column per input element, compared as it is computed.
  GradcheckReport report;
  double worst_excess = -INFINITY;
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    if (!leaves[i].requires_grad()) continue;
    double* x = leaves[i].data<double>();
    const int64_t n_in = leaves[i].numel();
    for (int64_t k = 0; k < n_in; ++k) {
      const double saved = x[k];
      x[k] = saved + options.eps;
      const std::vector<double> plus = fn(leaves).to_vector<double>();
      x[k] = saved - options.eps;
      const std::vector<double> minus = fn(leaves).to_vector<double>();
      x[k] = saved;
      for (int64_t r = 0; r < n_out; ++r) {
        const double numeric = (plus[r] - minus[r]) / (2 * options.eps);
        const double a = analytic[i][r * n_in + k];
        const double err = std::abs(a - numeric);
        double excess = err - (options.atol + options.rtol * std::abs(numeric));
        if (std::isnan(excess)) excess = INFINITY;  // a NaN on either side fails
        ++report.checked;
        if (excess > 0) report.passed = false;
        // The largest excess is a failing entry whenever one exists.
        if (excess > worst_excess) {
          worst_excess = excess;
          report.input = static_cast<int>(i);
          report.index = unravel(k, leaves[i].shape());
          report.output_index = r;
          report.analytic = a;
          report.numeric = numeric;
          report.abs_error = err;
          report.rel_error = err / std::max(std::abs(numeric), 1e-300);
        }
      }
    }
  }
  if (report.input < 0) {
    report.message = "gradcheck: no input requires grad; nothing was checked";
    report.passed = false;
    return report;
  }
  report.message = fmt::format(
      "gradcheck {}: {} Jacobian entries; worst at input {} index {} (output element {}): "
      "analytic {:.10g}, numeric {:.10g}, abs error {:.3g}, rel error {:.3g} "
      "(eps {:g}, atol {:g}, rtol {:g})",
      report.passed ? "passed" : "FAILED", report.checked, report.input,
      shape_str(report.index), report.output_index, report.analytic, report.numeric,
      report.abs_error, report.rel_error, options.eps, options.atol, options.rtol);
  return report;
}

}  // namespace minigrad
