#include <minigrad/gradcheck.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include <minigrad/random.h>

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

std::vector<double> values_of(const Tensor& t) { return t.to_vector<double>(); }

// The elements of a tensor of n elements to check: all, or `samples` distinct ones at random.
std::vector<int64_t> pick_elements(int64_t n, int64_t samples, Generator& gen) {
  std::vector<int64_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  if (samples <= 0 || samples >= n) return all;
  for (int64_t i = 0; i < samples; ++i)  // partial Fisher-Yates
    std::swap(all[i], all[i + static_cast<int64_t>(gen.below(n - i))]);
  all.resize(samples);
  std::sort(all.begin(), all.end());
  return all;
}

// Keeps the `capacity` entries of largest excess, largest first.
class WorstEntries {
 public:
  explicit WorstEntries(int capacity) : capacity_(std::max(capacity, 1)) {}
  bool wants(double excess) const {
    return static_cast<int>(entries_.size()) < capacity_ || excess > entries_.back().excess;
  }
  void add(GradcheckEntry entry) {
    auto at = std::find_if(entries_.begin(), entries_.end(),
                           [&](const GradcheckEntry& e) { return entry.excess > e.excess; });
    entries_.insert(at, std::move(entry));
    if (static_cast<int>(entries_.size()) > capacity_) entries_.pop_back();
  }
  std::vector<GradcheckEntry> take() { return std::move(entries_); }

 private:
  int capacity_;
  std::vector<GradcheckEntry> entries_;
};

// A tensor being checked. The handle is a copy: zero_grad and data() act on the shared impl.
struct Leaf {
  mutable Tensor tensor;
  int id;  // index among the caller's inputs
  std::string name;
};

double tolerance(const GradcheckOptions& o, double reference) { return o.atol + o.rtol * std::abs(reference); }

// Relative error with a floor of atol: entries that are ~0 on both sides do not read as 100% off.
double relative(double err, double a, double n, const GradcheckOptions& o) {
  return err / std::max({std::abs(a), std::abs(n), o.atol});
}

void fill_worst_fields(GradcheckReport& report) {
  if (report.worst.empty()) return;
  const GradcheckEntry& w = report.worst.front();
  report.input = w.input;
  report.index = w.index;
  report.output_index = w.output_index;
  report.analytic = w.analytic;
  report.numeric = w.numeric;
  report.abs_error = w.abs_error;
  report.rel_error = w.rel_error;
}

std::string describe(const GradcheckEntry& e) {
  if (e.output_index < 0)
    return fmt::format("{} (projection u^T J v): analytic {:.10g}, numeric {:.10g}, abs error {:.3g}", e.name,
                       e.analytic, e.numeric, e.abs_error);
  return fmt::format(
      "{} index {} (output element {}): analytic {:.10g}, numeric {:.10g}, abs error "
      "{:.3g}, rel error {:.3g}",
      e.name, shape_str(e.index), e.output_index, e.analytic, e.numeric, e.abs_error, e.rel_error);
}

void write_message(GradcheckReport& report, const GradcheckOptions& o) {
  std::string text =
      fmt::format("gradcheck {}: {} Jacobian entries", report.passed ? "passed" : "FAILED", report.checked);
  if (report.fast)
    text += report.fast_passed ? " (fast mode: random projections)" : " (fast mode failed, so every entry was checked)";
  if (report.kinks > 0) text += fmt::format(", {} at kinks accepted", report.kinks);
  if (!report.worst.empty()) text += "; worst at " + describe(report.worst.front());
  text += fmt::format(" (eps {:g}, atol {:g}, rtol {:g})", o.eps, o.atol, o.rtol);
  report.message = std::move(text);
}

// u^T J v per leaf, against the directional central difference u . (f(x + eps v) - f(x - eps v)) / 2eps.
GradcheckReport check_fast(const std::function<Tensor()>& fn, const Tensor& output, const std::vector<Leaf>& leaves,
                           const GradcheckOptions& o) {
  GradcheckReport report;
  report.fast = true;
  Generator gen(o.seed ^ 0xfa57);
  const Tensor u = randn(output.shape(), {.dtype = DType::Float64}, &gen);
  if (output.requires_grad()) output.backward(u, /*retain_graph=*/true);
  const std::vector<double> uv = values_of(u);
  WorstEntries worst(o.worst);
  NoGradGuard no_grad;
  for (const Leaf& leaf : leaves) {
    const Tensor v = randn(leaf.tensor.shape(), {.dtype = DType::Float64}, &gen);
    const std::vector<double> vv = values_of(v);
    const Tensor g = leaf.tensor.grad();
    double analytic = 0;
    if (g.defined())
      for (std::size_t k = 0; k < vv.size(); ++k) analytic += vv[k] * g.data<double>()[k];
    double* x = leaf.tensor.data<double>();
    const std::vector<double> saved(x, x + vv.size());
    auto shifted = [&](double sign) {
      for (std::size_t k = 0; k < vv.size(); ++k) x[k] = saved[k] + sign * o.eps * vv[k];
      return values_of(fn());
    };
    const std::vector<double> plus = shifted(1.0), minus = shifted(-1.0);
    std::copy(saved.begin(), saved.end(), x);
    double numeric = 0;
    for (std::size_t r = 0; r < uv.size(); ++r) numeric += uv[r] * (plus[r] - minus[r]) / (2 * o.eps);
    const double err = std::abs(analytic - numeric);
    double excess = err - tolerance(o, numeric);
    if (std::isnan(excess)) excess = INFINITY;
    ++report.checked;
    if (excess > 0) report.passed = false;
    report.max_abs_error = std::max(report.max_abs_error, err);
    const double rel = relative(err, analytic, numeric, o);
    report.max_rel_error = std::max(report.max_rel_error, rel);
    if (worst.wants(excess))
      worst.add({.input = leaf.id,
                 .name = leaf.name,
                 .index = {},
                 .output_index = -1,
                 .analytic = analytic,
                 .numeric = numeric,
                 .abs_error = err,
                 .rel_error = rel,
                 .excess = excess});
  }
  report.worst = worst.take();
  report.fast_passed = report.passed;
  return report;
}

// Every sampled element of every leaf, against every output element.
GradcheckReport check_full(const std::function<Tensor()>& fn, const Tensor& output, const std::vector<Leaf>& leaves,
                           const GradcheckOptions& o) {
  const int64_t n_out = output.numel();
  Generator gen(o.seed);
  std::vector<std::vector<int64_t>> picked;
  for (const Leaf& leaf : leaves) picked.push_back(pick_elements(leaf.tensor.numel(), o.samples, gen));

  // Analytic Jacobian at the picked columns, one row per output element: backward of a one-hot.
  std::vector<std::vector<double>> analytic(leaves.size());
  for (std::size_t i = 0; i < leaves.size(); ++i) analytic[i].assign(n_out * picked[i].size(), 0.0);
  if (output.requires_grad()) {
    for (int64_t r = 0; r < n_out; ++r) {
      for (const Leaf& leaf : leaves) leaf.tensor.zero_grad();
      Tensor one_hot = zeros(output.shape(), {.dtype = DType::Float64});
      one_hot.data<double>()[r] = 1.0;
      output.backward(one_hot, /*retain_graph=*/true);
      for (std::size_t i = 0; i < leaves.size(); ++i) {
        const Tensor g = leaves[i].tensor.grad();
        if (!g.defined()) continue;
        const double* pg = g.data<double>();
        const std::size_t m = picked[i].size();
        for (std::size_t j = 0; j < m; ++j) analytic[i][r * m + j] = pg[picked[i][j]];
      }
    }
  }

  // Numerical Jacobian, one column per picked element, compared as it is computed.
  GradcheckReport report;
  WorstEntries worst(o.worst);
  NoGradGuard no_grad;
  std::vector<double> center;  // f(x), needed only for one-sided differences at kinks
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    double* x = leaves[i].tensor.data<double>();
    const std::size_t m = picked[i].size();
    for (std::size_t j = 0; j < m; ++j) {
      const int64_t k = picked[i][j];
      const double saved = x[k];
      x[k] = saved + o.eps;
      const std::vector<double> plus = values_of(fn());
      x[k] = saved - o.eps;
      const std::vector<double> minus = values_of(fn());
      x[k] = saved;
      for (int64_t r = 0; r < n_out; ++r) {
        const double numeric = (plus[r] - minus[r]) / (2 * o.eps);
        const double a = analytic[i][r * m + j];
        const double err = std::abs(a - numeric);
        double excess = err - tolerance(o, numeric);
        if (std::isnan(excess)) excess = INFINITY;  // a NaN on either side fails
        ++report.checked;
        GradcheckEntry entry{.input = leaves[i].id,
                             .name = leaves[i].name,
                             .output_index = r,
                             .analytic = a,
                             .numeric = numeric,
                             .abs_error = err,
                             .rel_error = relative(err, a, numeric, o),
                             .excess = excess};
        // A failing entry may sit at a kink; with declared kink values every entry is looked at,
        // since the central difference there (relu: 0.5) would pass a wrong value.
        if ((excess > 0 || !o.kink_values.empty()) && std::isfinite(excess)) {
          if (center.empty()) center = values_of(fn());
          entry.left = (center[r] - minus[r]) / o.eps;
          entry.right = (plus[r] - center[r]) / o.eps;
          const double lo = std::min(entry.left, entry.right), hi = std::max(entry.left, entry.right);
          const double tol = tolerance(o, std::max(std::abs(lo), std::abs(hi)));
          const bool at_kink = hi - lo > tol;
          const double outside = std::max(lo - a, a - hi);  // > 0 when not between
          double from_allowed = 0;                          // distance to the nearest declared value
          if (!o.kink_values.empty()) {
            from_allowed = INFINITY;
            for (double v : o.kink_values)
              from_allowed = std::min(from_allowed, std::abs(a - v) - tolerance(o, v) + tol);
          }
          if (at_kink && outside <= tol && from_allowed <= tol) {
            entry.kink = true;
            ++report.kinks;
            if (static_cast<int>(report.kink_entries.size()) < o.worst) {
              entry.index = unravel(k, leaves[i].tensor.shape());
              report.kink_entries.push_back(std::move(entry));
            }
            continue;
          }
          if (at_kink)
            excess = std::max(excess, std::max(outside, from_allowed) - tol);
          else
            entry.left = entry.right = 0;  // smooth here: the one-sided differences say nothing
          entry.excess = excess;
        }
        if (excess > 0) report.passed = false;
        report.max_abs_error = std::max(report.max_abs_error, err);
        report.max_rel_error = std::max(report.max_rel_error, entry.rel_error);
        if (worst.wants(excess)) {
          entry.index = unravel(k, leaves[i].tensor.shape());
          worst.add(std::move(entry));
        }
      }
    }
  }
  report.worst = worst.take();
  return report;
}

// The leaves requiring grad that a backward from `root` would reach, each once.
std::vector<Tensor> reachable_leaves(const Tensor& root) {
  std::vector<Tensor> leaves;
  std::vector<const Node*> stack, seen;
  if (root.grad_fn()) stack.push_back(root.grad_fn().get());
  while (!stack.empty()) {
    const Node* node = stack.back();
    stack.pop_back();
    if (std::find(seen.begin(), seen.end(), node) != seen.end()) continue;
    seen.push_back(node);
    for (const Tensor& in : node->inputs) {
      if (!in.defined() || !in.requires_grad()) continue;
      if (in.grad_fn())
        stack.push_back(in.grad_fn().get());
      else if (std::none_of(leaves.begin(), leaves.end(), [&](const Tensor& t) { return t.impl() == in.impl(); }))
        leaves.push_back(in);
    }
  }
  return leaves;
}

// The .grad of the leaves a backward from `root` reaches, other than `except`, to put back later.
class GradsOfOthers {
 public:
  GradsOfOthers(const Tensor& root, const std::vector<Tensor>& except) {
    for (const Tensor& t : reachable_leaves(root))
      if (std::none_of(except.begin(), except.end(), [&](const Tensor& e) { return e.impl() == t.impl(); })) {
        tensors_.push_back(t);
        grads_.push_back(t.grad());
      }
  }
  void restore() {
    for (std::size_t i = 0; i < tensors_.size(); ++i) tensors_[i].set_grad(grads_[i]);
  }

 private:
  std::vector<Tensor> tensors_, grads_;
};

GradcheckReport check(const std::function<Tensor()>& fn, const std::vector<Leaf>& leaves, const GradcheckOptions& o) {
  if (leaves.empty()) {
    GradcheckReport report;
    report.message = "gradcheck: no input requires grad; nothing was checked";
    report.passed = false;
    return report;
  }
  if (!(o.eps > 0) || !(o.atol >= 0) || !(o.rtol >= 0))
    throw Error(
        fmt::format("gradcheck: eps {} must be positive, atol {} and rtol {} non-negative", o.eps, o.atol, o.rtol));
  // Whatever .grad the leaves had is put back at the end.
  std::vector<Tensor> saved_grads;
  for (const Leaf& leaf : leaves) {
    saved_grads.push_back(leaf.tensor.grad());
    leaf.tensor.zero_grad();
  }
  GradcheckReport report;
  {
    const Tensor output = fn();
    detail::check_defined(output, "gradcheck");
    if (output.dtype() != DType::Float64)
      throw Error(
          fmt::format("gradcheck: the function returned {}; it must return float64", dtype_name(output.dtype())));
    // Tensors fn reads besides the leaves (constants that require grad) keep their .grad.
    std::vector<Tensor> checked;
    for (const Leaf& leaf : leaves) checked.push_back(leaf.tensor);
    GradsOfOthers others(output, checked);
    if (o.fast) {
      report = check_fast(fn, output, leaves, o);
      if (!report.passed) {
        for (const Leaf& leaf : leaves) leaf.tensor.zero_grad();
        report = check_full(fn, output, leaves, o);
        report.fast = true;
        report.fast_passed = false;
      }
    } else {
      report = check_full(fn, output, leaves, o);
    }
    others.restore();
  }
  for (std::size_t i = 0; i < leaves.size(); ++i) leaves[i].tensor.set_grad(saved_grads[i]);
  fill_worst_fields(report);
  write_message(report, o);
  return report;
}

std::string input_name(const GradcheckOptions& o, std::size_t i) {
  return i < o.names.size() ? o.names[i] : fmt::format("input {}", i);
}

void check_float64_leaf(const Tensor& t, const std::string& name) {
  detail::check_defined(t, "gradcheck");
  if (t.dtype() != DType::Float64)
    throw Error(
        fmt::format("gradcheck: {} is {}; finite differences need float64 "
                    "(convert with .to(kFloat64))",
                    name, dtype_name(t.dtype())));
}

// Concatenates the flattened tensors into one vector, differentiably (index_add into zeros).
Tensor concat_flat(const std::vector<Tensor>& parts) {
  int64_t total = 0;
  for (const Tensor& p : parts) total += p.numel();
  Tensor out = zeros({total}, {.dtype = DType::Float64});
  int64_t offset = 0;
  for (const Tensor& p : parts) {
    const Tensor at =
        arange(static_cast<double>(offset), static_cast<double>(offset + p.numel()), 1.0, {.dtype = DType::Int64});
    out = out + index_add({total}, 0, at, p.reshape({p.numel()}));
    offset += p.numel();
  }
  return out;
}

}  // namespace

GradcheckReport gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs, const GradcheckOptions& options) {
  // Private leaves: the caller's tensors and their .grad stay untouched.
  std::vector<Tensor> copies;
  std::vector<Leaf> leaves;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& in = inputs[i];
    detail::check_defined(in, "gradcheck");
    if (in.requires_grad()) check_float64_leaf(in, input_name(options, i));
    Tensor copy = in.detach().clone();
    if (in.requires_grad()) {
      copy.requires_grad_(true);
      leaves.push_back({copy, static_cast<int>(i), input_name(options, i)});
    }
    copies.push_back(copy);
  }
  return check([&] { return fn(copies); }, leaves, options);
}

GradcheckReport gradcheck_leaves(const std::function<Tensor()>& fn, const std::vector<Tensor>& tensors,
                                 const GradcheckOptions& options) {
  std::vector<Leaf> leaves;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    check_float64_leaf(t, input_name(options, i));
    if (!t.is_leaf() || !t.requires_grad())
      throw Error(fmt::format("gradcheck_leaves: {} must be a leaf that requires grad", input_name(options, i)));
    leaves.push_back({t, static_cast<int>(i), input_name(options, i)});
  }
  return check(fn, leaves, options);
}

GradcheckReport gradgradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options) {
  Tensor probe;
  {
    NoGradGuard no_grad;
    std::vector<Tensor> detached;
    for (const Tensor& in : inputs) detached.push_back(in.detach());
    probe = fn(detached);
  }
  detail::check_defined(probe, "gradgradcheck");
  Generator gen(options.seed ^ 0x9d9d);
  const Tensor v = randn(probe.shape(), {.dtype = DType::Float64}, &gen).requires_grad_(true);
  std::vector<Tensor> all = inputs;
  all.push_back(v);
  GradcheckOptions o = options;
  o.names.resize(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) o.names[i] = input_name(options, i);
  o.names.push_back("v (the output's gradient)");

  // in = inputs..., v  ->  the gradients of sum(fn(inputs) * v), flattened and concatenated.
  auto first_order = [&fn](const std::vector<Tensor>& in) {
    GradModeGuard grad_on(true);  // also when gradcheck evaluates under NoGradGuard
    std::vector<Tensor> xs(in.begin(), in.end() - 1);
    const Tensor& seed = in.back();
    for (Tensor& x : xs)
      if (x.requires_grad()) x.zero_grad();
    const Tensor y = fn(xs);
    // Other leaves fn reads (a module's parameters) would keep a gradient graph that refers back
    // to themselves, a cycle that is never freed: their .grad is put back as it was.
    GradsOfOthers others(y, xs);
    if (y.requires_grad()) y.backward(seed, false, /*create_graph=*/true);
    others.restore();
    std::vector<Tensor> grads;
    for (Tensor& x : xs) {
      if (!x.requires_grad()) continue;
      grads.push_back(x.grad().defined() ? x.grad() : zeros_like(x));
      x.zero_grad();  // the gradient lives on in the returned graph only
    }
    return concat_flat(grads);
  };
  return gradcheck(first_order, all, o);
}

}  // namespace minigrad
