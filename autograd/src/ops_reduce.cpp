// Reductions and the axis-wise ops built on them: sum, mean, max, min, argmax, softmax,
// log_softmax, and the broadcast pair expand / sum_to.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "impl.h"

namespace minigrad {

using detail::AxisView;
using detail::dispatch_float;
using Grads = TensorList;

namespace {

// Where a fold starts: 0 (sum), 1 (prod) or the first element (max, min).
enum class Init { Zero, One, First };

// out[o, i] = step-fold over k of x[o, k, i], starting from init. Floats accumulate in double (a
// 47M-element float sum loses digits otherwise), integers and bools in int64, exactly.
template <typename T, typename R, typename Step>
void reduce_axis(const T* x, R* out, const AxisView& v, Init init, Step step) {
  const bool from_first = init == Init::First;
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
  const int64_t rows = v.outer * v.inner;
  detail::parallel_for(
      rows,
      [&](int64_t lo, int64_t hi) {
        for (int64_t r = lo; r < hi; ++r) {
          const int64_t o = r / v.inner, i = r % v.inner;
          const T* p = x + o * v.n * v.inner + i;
          Acc acc = from_first ? static_cast<Acc>(p[0]) : Acc(init == Init::One ? 1 : 0);
          for (int64_t k = from_first ? 1 : 0; k < v.n; ++k) acc = step(acc, static_cast<Acc>(p[k * v.inner]));
          out[r] = static_cast<R>(acc);
        }
      },
      detail::rows_grain(v.n));
}

// A reduction of x along axis into a tensor of dtype out_dtype: x's own, or int64.
Tensor reduce(const Tensor& x, int64_t axis, bool keepdim, std::string_view op, DType out_dtype, Init init, auto step) {
  detail::check_defined(x, op);
  axis = detail::normalize_axis(axis, x.dim(), op);
  const AxisView v = detail::axis_view(x.shape(), axis);
  Tensor out = empty(detail::reduced_shape(x.shape(), axis, keepdim), {.dtype = out_dtype});
  detail::dispatch_any(x.dtype(), [&](auto z) {
    using T = decltype(z);
    if (out_dtype == x.dtype())
      reduce_axis(x.data<T>(), out.data<T>(), v, init, step);
    else
      reduce_axis(x.data<T>(), out.data<int64_t>(), v, init, step);
  });
  return out;
}

Tensor reduce_all(const Tensor& x, std::string_view op, DType out_dtype, Init init, auto step) {
  detail::check_defined(x, op);
  return reduce(x.detach().reshape({x.numel()}), 0, false, op, out_dtype, init, step);
}

void check_nonempty(const Tensor& x, int64_t axis, std::string_view op) {
  detail::check_defined(x, op);
  axis = detail::normalize_axis(axis, x.dim(), op);
  if (x.numel() == 0 || (x.dim() > 0 && x.shape()[axis] == 0))
    throw Error(fmt::format("{}: cannot reduce an empty tensor of shape {}", op, shape_str(x.shape())));
}

const auto kSum = [](auto acc, auto v) { return acc + v; };
const auto kProd = [](auto acc, auto v) { return acc * v; };
// A NaN, once met, stays: v > NaN and v < NaN are false.
const auto kMax = [](auto acc, auto v) { return v > acc || detail::is_nan(v) ? v : acc; };
const auto kMin = [](auto acc, auto v) { return v < acc || detail::is_nan(v) ? v : acc; };

// sum's and prod's dtype: int64 for int64 and bool, as in PyTorch.
DType sum_dtype(const Tensor& x) { return is_floating(x.dtype()) ? x.dtype() : DType::Int64; }

// The gradient of max/min: shared evenly among the elements equal to the extremum (the NaNs,
// when the extremum is NaN, as PyTorch's evenly_distribute_backward).
Tensor extremum_grad(const Tensor& x, const Tensor& value_keepdim, const Tensor& g_keepdim, int64_t axis) {
  const Tensor mask = x.eq(value_keepdim).logical_or(x.isnan().logical_and(value_keepdim.isnan()));
  const Tensor count = axis < 0 ? mask.sum() : mask.sum(axis, true);
  return expand(g_keepdim / count, x.shape()) * mask;
}

Tensor extremum(const Tensor& x, int64_t axis, bool keepdim, std::string_view op, auto step) {
  check_nonempty(x, axis, op);
  Tensor out = reduce(x.detach(), axis, keepdim, op, x.dtype(), Init::First, step);
  const int64_t ax = detail::normalize_axis(axis, x.dim(), op);
  const Shape keep = detail::reduced_shape(x.shape(), ax, true);
  return record_op(op, out, {x}, [x, y = out.detach(), keep, ax](const Tensor& g) {
    return Grads{extremum_grad(x, y.reshape(keep), g.reshape(keep), ax)};
  });
}

Tensor extremum_all(const Tensor& x, std::string_view op, auto step) {
  check_nonempty(x, 0, op);
  Tensor out = reduce_all(x, op, x.dtype(), Init::First, step);
  return record_op(op, out, {x}, [x, y = out.detach()](const Tensor& g) { return Grads{extremum_grad(x, y, g, -1)}; });
}

}  // namespace

// ---- sum and mean ----

Tensor Tensor::sum() const {
  Tensor out = reduce_all(*this, "sum", sum_dtype(*this), Init::Zero, kSum);
  return record_op("sum", out, {*this}, [shape = shape()](const Tensor& g) { return Grads{expand(g, shape)}; });
}

Tensor Tensor::sum(int64_t axis, bool keepdim) const {
  Tensor out = reduce(*this, axis, keepdim, "sum", sum_dtype(*this), Init::Zero, kSum);
  const Shape keep = detail::reduced_shape(shape(), detail::normalize_axis(axis, dim(), "sum"), true);
  return record_op("sum", out, {*this},
                   [shape = shape(), keep](const Tensor& g) { return Grads{expand(g.reshape(keep), shape)}; });
}

Tensor Tensor::mean() const {
  detail::check_floating(*this, "mean");
  if (numel() == 0) throw Error(fmt::format("mean: tensor of shape {} is empty", shape_str(shape())));
  return sum() / static_cast<double>(numel());
}

Tensor Tensor::mean(int64_t axis, bool keepdim) const {
  detail::check_floating(*this, "mean");
  const int64_t n = shape()[detail::normalize_axis(axis, dim(), "mean")];
  if (n == 0) throw Error(fmt::format("mean: axis {} of shape {} is empty", axis, shape_str(shape())));
  return sum(axis, keepdim) / static_cast<double>(n);
}

// ---- over several axes ----

namespace {

// The axes of `dims` normalized, sorted and checked for repeats; all axes when dims is empty.
std::vector<int64_t> normalize_dims(const Tensor& x, const std::vector<int64_t>& dims, std::string_view op) {
  detail::check_defined(x, op);
  std::vector<int64_t> axes;
  if (dims.empty()) {
    axes.resize(static_cast<std::size_t>(x.dim()));
    std::iota(axes.begin(), axes.end(), int64_t{0});
    return axes;
  }
  for (int64_t d : dims) axes.push_back(detail::normalize_axis(d, x.dim(), op));
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
    throw Error(fmt::format("{}: axis {} appears twice in ({}) for shape {}", op,
                            *std::adjacent_find(axes.begin(), axes.end()), fmt::join(dims, ", "),
                            shape_str(x.shape())));
  return axes;
}

// x's shape with the axes set to 1 (keepdim) or removed.
Shape reduced_shape(const Shape& shape, const std::vector<int64_t>& axes, bool keepdim) {
  Shape out;
  for (int64_t i = 0; i < static_cast<int64_t>(shape.size()); ++i) {
    const bool reduced = std::binary_search(axes.begin(), axes.end(), i);
    if (!reduced)
      out.push_back(shape[i]);
    else if (keepdim)
      out.push_back(1);
  }
  return out;
}

// Number of elements each output of a reduction over axes combines.
int64_t reduced_count(const Shape& shape, const std::vector<int64_t>& axes) {
  int64_t n = 1;
  for (int64_t a : axes) n *= shape.empty() ? 1 : shape[a];
  return n;
}

// one(t, axis) applied axis by axis with keepdim, then the axes dropped unless keepdim.
Tensor over_axes(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim, auto one) {
  Tensor r = x;
  for (int64_t a : axes) r = one(r, a);
  if (x.dim() == 0) return r;
  return keepdim ? r : r.reshape(reduced_shape(x.shape(), axes, false));
}

}  // namespace

Tensor Tensor::sum(const std::vector<int64_t>& dims, bool keepdim) const {
  const auto axes = normalize_dims(*this, dims, "sum");
  return over_axes(*this, axes, keepdim, [](const Tensor& t, int64_t a) { return t.sum(a, true); });
}

Tensor Tensor::mean(const std::vector<int64_t>& dims, bool keepdim) const {
  detail::check_floating(*this, "mean");
  const auto axes = normalize_dims(*this, dims, "mean");
  const int64_t n = reduced_count(shape(), axes);
  if (n == 0)
    throw Error(fmt::format("mean: axes ({}) of shape {} are empty", fmt::join(dims, ", "), shape_str(shape())));
  return sum(dims, keepdim) / static_cast<double>(n);
}

Tensor Tensor::logsumexp(const std::vector<int64_t>& dims, bool keepdim) const {
  detail::check_floating(*this, "logsumexp");
  const auto axes = normalize_dims(*this, dims, "logsumexp");
  if (reduced_count(shape(), axes) == 0)  // log(0), as PyTorch
    return full(reduced_shape(shape(), axes, keepdim), -std::numeric_limits<double>::infinity(), {.dtype = dtype()});
  // A constant shift by the max keeps exp in range; infinite maxima shift by 0 instead (an all
  // -inf row gives -inf, a +inf gives +inf), as PyTorch does.
  Tensor m = over_axes(detach(), axes, true, [](const Tensor& t, int64_t a) { return t.max(a, true); });
  m = m.masked_fill(m.abs().eq(std::numeric_limits<double>::infinity()), 0.0);
  const Tensor lse = (*this - m).exp().sum(dims, true).log() + m;
  return keepdim || dim() == 0 ? lse : lse.reshape(reduced_shape(shape(), axes, false));
}

Tensor Tensor::var(const std::vector<int64_t>& dims, int64_t correction, bool keepdim) const {
  detail::check_floating(*this, "var");
  const auto axes = normalize_dims(*this, dims, "var");
  const int64_t n = reduced_count(shape(), axes);
  const Tensor d = *this - sum(dims, true) / static_cast<double>(n);
  return (d * d).sum(dims, keepdim) / static_cast<double>(std::max<int64_t>(0, n - correction));
}

Tensor Tensor::std(const std::vector<int64_t>& dims, int64_t correction, bool keepdim) const {
  detail::check_floating(*this, "std");
  const auto axes = normalize_dims(*this, dims, "std");
  Tensor out = detach().var(dims, correction, keepdim).sqrt();
  const int64_t n = reduced_count(shape(), axes);
  const Shape keep = reduced_shape(shape(), axes, true);
  // d std / dx = (x - mean) / (std (N - correction)), and 0 where std is 0 (PyTorch's choice:
  // a constant input has no direction to move in).
  return record_op(
      "std", out, {*this}, [x = *this, dims, correction, keepdim, keep, n, y = out.detach()](const Tensor& g) {
        const Tensor s = (grad_enabled() ? x.std(dims, correction, true) : y.reshape(keep));
        const Tensor scale = where(s.eq(0.0), scalar_like(0.0, s),
                                   g.reshape(keep) / (s * static_cast<double>(std::max<int64_t>(0, n - correction))));
        const Tensor d = x - x.sum(dims, true) / static_cast<double>(n);
        return Grads{expand(scale, x.shape()) * d};
      });
}

Tensor Tensor::norm(double p, const std::vector<int64_t>& dims, bool keepdim) const {
  detail::check_floating(*this, "norm");
  if (!(p >= 0)) throw Error(fmt::format("norm: p must be non-negative (or inf), got {}", p));
  const auto axes = normalize_dims(*this, dims, "norm");
  const Shape keep = reduced_shape(shape(), axes, true);
  const bool is_inf = std::isinf(p);
  const Tensor a = detach().abs();
  Tensor out;
  if (is_inf)
    out = over_axes(a, axes, keepdim, [](const Tensor& t, int64_t ax) { return t.max(ax, true); });
  else if (p == 0)
    out = a.ne(0.0).to(dtype()).sum(dims, keepdim);
  else if (p == 1)
    out = a.sum(dims, keepdim);
  else
    out = a.pow(p).sum(dims, keepdim).pow(1.0 / p);
  // As PyTorch: the gradient is 0 where the norm is 0; inf shares it among the largest |x|.
  return record_op("norm", out, {*this}, [x = *this, p, dims, keep, is_inf, y = out.detach()](const Tensor& g) {
    const Tensor n = (grad_enabled() ? x.norm(p, dims, true) : y.reshape(keep));
    const Tensor gk = g.reshape(keep);
    const Tensor zero = scalar_like(0.0, x);
    if (p == 0) return Grads{zeros_like(x)};
    if (is_inf) {
      const Tensor mask = x.abs().eq(n).to(x.dtype());
      return Grads{detail::sign(x) * mask * expand(gk / mask.sum(dims, true), x.shape())};
    }
    const Tensor scaled = p == 1 ? detail::sign(x) : where(x.eq(0.0), zero, detail::sign(x) * x.abs().pow(p - 1.0));
    const Tensor scale = where(n.eq(0.0), zero, gk / n.pow(p - 1.0));
    return Grads{scaled * expand(scale, x.shape())};
  });
}

// ---- cumsum and prod ----

Tensor Tensor::cumsum(int64_t axis) const {
  detail::check_defined(*this, "cumsum");
  axis = detail::normalize_axis(axis, dim(), "cumsum");
  const AxisView v = detail::axis_view(shape(), axis);
  Tensor out = empty(shape(), {.dtype = sum_dtype(*this)});
  detail::dispatch_any(dtype(), [&](auto z) {
    using T = decltype(z);
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
    using R = std::conditional_t<std::is_floating_point_v<T>, T, int64_t>;
    const T* px = data<T>();
    R* po = out.data<R>();
    for (int64_t r = 0; r < v.outer * v.inner; ++r) {
      const int64_t base = (r / v.inner) * v.n * v.inner + r % v.inner;
      Acc acc = 0;
      for (int64_t k = 0; k < v.n; ++k) {
        acc += static_cast<Acc>(px[base + k * v.inner]);
        po[base + k * v.inner] = static_cast<R>(acc);
      }
    }
  });
  // The adjoint sums from the end: total - cumsum(g) + g.
  return record_op("cumsum", out, {*this}, [axis](const Tensor& g) {
    return Grads{expand(g.sum(axis, true), g.shape()) - g.cumsum(axis) + g};
  });
}

Tensor Tensor::prod(int64_t axis, bool keepdim) const {
  Tensor out = reduce(*this, axis, keepdim, "prod", sum_dtype(*this), Init::One, kProd);
  axis = detail::normalize_axis(axis, dim(), "prod");
  const Shape keep = detail::reduced_shape(shape(), axis, true);
  // Each element's gradient is the product of the others: prod / x without zeros; with one zero,
  // the product of the nonzeros at the zero and 0 elsewhere; 0 everywhere with two or more.
  return record_op("prod", out, {*this}, [x = *this, axis, keep](const Tensor& g) {
    const Tensor is_zero = x.eq(0.0);
    const Tensor safe = x.masked_fill(is_zero, 1.0);
    const Tensor nonzero_prod = safe.prod(axis, true);
    const Tensor zeros_count = is_zero.sum(axis, true);
    const Tensor others = where(is_zero, nonzero_prod * zeros_count.eq(1), nonzero_prod / safe * zeros_count.eq(0));
    return Grads{expand(g.reshape(keep), x.shape()) * others};
  });
}

Tensor Tensor::prod() const {
  detail::check_defined(*this, "prod");
  return reshape({numel()}).prod(0, false);
}

// ---- sort, topk ----

namespace {

// The int64 indices that sort each row along axis (stable; NaN largest), first k of each.
Tensor sort_indices(const Tensor& x, int64_t axis, bool descending, int64_t k) {
  const AxisView v = detail::axis_view(x.shape(), axis);
  Shape out_shape = x.shape();
  if (x.dim() > 0) out_shape[axis] = k;
  Tensor out = empty(out_shape, {.dtype = DType::Int64});
  int64_t* po = out.data<int64_t>();
  detail::dispatch_any(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* px = x.data<T>();
    detail::parallel_for(
        v.outer * v.inner,
        [&](int64_t lo, int64_t hi) {
          std::vector<int64_t> order(static_cast<std::size_t>(v.n));
          for (int64_t r = lo; r < hi; ++r) {
            const T* p = px + (r / v.inner) * v.n * v.inner + r % v.inner;
            const auto at = [&](int64_t i) { return p[i * v.inner]; };
            std::iota(order.begin(), order.end(), int64_t{0});
            std::stable_sort(order.begin(), order.end(), [&](int64_t i, int64_t j) {
              const T a = at(i), b = at(j);
              if (descending) return !detail::is_nan(b) && (detail::is_nan(a) || a > b);
              return !detail::is_nan(a) && (detail::is_nan(b) || a < b);
            });
            int64_t* o = po + (r / v.inner) * k * v.inner + r % v.inner;
            for (int64_t i = 0; i < k; ++i) o[i * v.inner] = order[static_cast<std::size_t>(i)];
          }
        },
        detail::rows_grain(v.n));
  });
  return out;
}

}  // namespace

std::pair<Tensor, Tensor> Tensor::sort(int64_t axis, bool descending) const {
  detail::check_defined(*this, "sort");
  axis = detail::normalize_axis(axis, dim(), "sort");
  const int64_t n = dim() == 0 ? 1 : shape()[axis];
  Tensor indices = sort_indices(*this, axis, descending, n);
  // The values are a gather: their gradient goes back through gather's.
  return {gather(axis, indices), indices};
}

std::pair<Tensor, Tensor> Tensor::topk(int64_t k, int64_t axis, bool largest) const {
  detail::check_defined(*this, "topk");
  axis = detail::normalize_axis(axis, dim(), "topk");
  const int64_t n = dim() == 0 ? 1 : shape()[axis];
  if (k < 0 || k > n || (dim() == 0 && k == 0))  // a 0-d result holds one value
    throw Error(
        fmt::format("topk: k = {} is out of range for axis {} of size {} (shape {})", k, axis, n, shape_str(shape())));
  Tensor indices = sort_indices(*this, axis, largest, k);
  return {gather(axis, indices), indices};
}

Tensor one_hot(const Tensor& indices, int64_t num_classes) {
  detail::check_defined(indices, "one_hot");
  if (indices.dtype() != DType::Int64)
    throw Error(fmt::format("one_hot: indices must be int64, got {} {}", dtype_name(indices.dtype()),
                            shape_str(indices.shape())));
  const int64_t* idx = indices.data<int64_t>();
  const int64_t count = indices.numel();
  if (num_classes == -1) {
    if (count == 0)
      throw Error(
          fmt::format("one_hot: cannot infer the number of classes from empty indices of "
                      "shape {}",
                      shape_str(indices.shape())));
    num_classes = *std::max_element(idx, idx + count) + 1;
  }
  if (num_classes < 0) throw Error(fmt::format("one_hot: num_classes must be -1 or non-negative, got {}", num_classes));
  for (int64_t i = 0; i < count; ++i)
    if (idx[i] < 0 || idx[i] >= num_classes)
      throw Error(
          fmt::format("one_hot: index {} at position {} is out of range for {} classes", idx[i], i, num_classes));
  Shape shape = indices.shape();
  shape.push_back(num_classes);
  Tensor out = zeros(shape, {.dtype = DType::Int64});
  int64_t* o = out.data<int64_t>();
  for (int64_t i = 0; i < count; ++i) o[i * num_classes + idx[i]] = 1;
  return out;
}

// ---- max, min, argmax ----

Tensor Tensor::max() const { return extremum_all(*this, "max", kMax); }
Tensor Tensor::min() const { return extremum_all(*this, "min", kMin); }
Tensor Tensor::max(int64_t axis, bool keepdim) const { return extremum(*this, axis, keepdim, "max", kMax); }
Tensor Tensor::min(int64_t axis, bool keepdim) const { return extremum(*this, axis, keepdim, "min", kMin); }

Tensor Tensor::argmax(int64_t axis, bool keepdim) const {
  detail::check_defined(*this, "argmax");
  axis = detail::normalize_axis(axis, dim(), "argmax");
  check_nonempty(*this, axis, "argmax");
  const AxisView v = detail::axis_view(shape(), axis);
  Tensor out = empty(detail::reduced_shape(shape(), axis, keepdim), {.dtype = DType::Int64});
  int64_t* o = out.data<int64_t>();
  detail::dispatch_any(dtype(), [&](auto z) {
    using T = decltype(z);
    const T* x = data<T>();
    for (int64_t r = 0; r < v.outer * v.inner; ++r) {
      const T* p = x + (r / v.inner) * v.n * v.inner + r % v.inner;
      int64_t best = 0;
      for (int64_t k = 1; k < v.n && !detail::is_nan(p[best * v.inner]); ++k)
        if (p[k * v.inner] > p[best * v.inner] || detail::is_nan(p[k * v.inner])) best = k;
      o[r] = best;
    }
  });
  return out;
}

Tensor Tensor::argmax() const {
  check_nonempty(*this, 0, "argmax");  // before flattening, so the error shows the real shape
  return reshape({numel()}).argmax(0, false);
}

// ---- broadcast pair ----

Tensor expand(const Tensor& t, const Shape& shape) {
  if (t.shape() == shape) return t;
  if (detail::broadcast_shapes(t.shape(), shape, "expand") != shape)
    throw Error(fmt::format("expand: shape {} cannot be expanded to {}", shape_str(t.shape()), shape_str(shape)));
  // zeros + t: the binary loop already knows every broadcast pattern.
  Tensor out = zeros(shape, {.dtype = t.dtype()}) + t.detach();
  return record_op("expand", out, {t}, [from = t.shape()](const Tensor& g) { return Grads{sum_to(g, from)}; });
}

Tensor sum_to(const Tensor& t, const Shape& shape) {
  if (t.shape() == shape) return t;
  if (detail::broadcast_shapes(shape, t.shape(), "sum_to") != t.shape())
    throw Error(fmt::format("sum_to: shape {} is not a broadcast of {}", shape_str(t.shape()), shape_str(shape)));
  Tensor r = t;
  while (r.dim() > static_cast<int64_t>(shape.size())) r = r.sum(0, false);
  for (int64_t i = 0; i < r.dim(); ++i)
    if (shape[i] == 1 && r.size(i) != 1) r = r.sum(i, true);
  return r;
}

// ---- softmax family ----

namespace {
// Numerically stable: subtract the row max before exp. `log_form` gives log_softmax.
Tensor softmax_forward(const Tensor& x, int64_t axis, bool log_form, std::string_view op) {
  detail::check_defined(x, op);
  axis = detail::normalize_axis(axis, x.dim(), op);
  const AxisView v = detail::axis_view(x.shape(), axis);
  Tensor out = empty(x.shape(), {.dtype = x.dtype()});
  dispatch_float(x, op, [&](auto z) {
    using T = decltype(z);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    const int64_t rows = v.outer * v.inner;
    detail::parallel_for(
        rows,
        [&](int64_t lo, int64_t hi) {
          for (int64_t r = lo; r < hi; ++r) {
            const int64_t base = (r / v.inner) * v.n * v.inner + r % v.inner;
            const T* p = px + base;
            T* o = po + base;
            T m = -std::numeric_limits<T>::infinity();
            for (int64_t k = 0; k < v.n; ++k) m = std::max(m, p[k * v.inner]);
            T s = 0;
            for (int64_t k = 0; k < v.n; ++k) {
              const T e = std::exp(p[k * v.inner] - m);
              o[k * v.inner] = e;
              s += e;
            }
            if (log_form) {
              const T log_s = std::log(s);
              for (int64_t k = 0; k < v.n; ++k) o[k * v.inner] = p[k * v.inner] - m - log_s;
            } else {
              const T inv = T(1) / s;
              for (int64_t k = 0; k < v.n; ++k) o[k * v.inner] *= inv;
            }
          }
        },
        detail::rows_grain(v.n));
  });
  return out;
}
}  // namespace

Tensor Tensor::softmax(int64_t axis) const {
  Tensor out = softmax_forward(*this, axis, false, "softmax");
  return record_op("softmax", out, {*this}, [x = *this, y = out.detach(), axis](const Tensor& g) {
    const Tensor s = grad_enabled() ? x.softmax(axis) : y;
    return Grads{s * (g - (g * s).sum(axis, true))};
  });
}

Tensor Tensor::log_softmax(int64_t axis) const {
  Tensor out = softmax_forward(*this, axis, true, "log_softmax");
  return record_op("log_softmax", out, {*this}, [x = *this, y = out.detach(), axis](const Tensor& g) {
    const Tensor p = grad_enabled() ? x.softmax(axis) : y.exp();
    return Grads{g - p * g.sum(axis, true)};
  });
}

}  // namespace minigrad
