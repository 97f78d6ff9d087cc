// Reductions and the axis-wise ops built on them: sum, mean, max, min, argmax, softmax,
// log_softmax, and the broadcast pair expand / sum_to.
#include <cmath>
#include <limits>

#include "impl.h"

namespace minigrad {

using detail::AxisView;
using detail::dispatch_float;
using Grads = TensorList;

namespace {

// out[o, i] = step-fold over k of x[o, k, i], starting from init. Accumulates in double: a
// 47M-element float sum loses digits otherwise.
template <typename T, typename Step>
void reduce_axis(const T* x, T* out, const AxisView& v, double init, Step step) {
  const int64_t rows = v.outer * v.inner;
  detail::parallel_for(rows, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t o = r / v.inner, i = r % v.inner;
      const T* p = x + o * v.n * v.inner + i;
      double acc = init;
      for (int64_t k = 0; k < v.n; ++k) acc = step(acc, static_cast<double>(p[k * v.inner]));
      out[r] = static_cast<T>(acc);
    }
  }, detail::rows_grain(v.n));
}

Tensor reduce(const Tensor& x, int64_t axis, bool keepdim, std::string_view op, double init,
              auto step) {
  detail::check_defined(x, op);
  axis = detail::normalize_axis(axis, x.dim(), op);
  const AxisView v = detail::axis_view(x.shape(), axis);
  Tensor out = empty(detail::reduced_shape(x.shape(), axis, keepdim), {.dtype = x.dtype()});
  dispatch_float(x, op, [&](auto z) {
    using T = decltype(z);
    reduce_axis<T>(x.data<T>(), out.data<T>(), v, init, step);
  });
  return out;
}

Tensor reduce_all(const Tensor& x, std::string_view op, double init, auto step) {
  detail::check_defined(x, op);
  return reduce(x.detach().reshape({x.numel()}), 0, false, op, init, step);
}

void check_nonempty(const Tensor& x, int64_t axis, std::string_view op) {
  detail::check_defined(x, op);
  axis = detail::normalize_axis(axis, x.dim(), op);
  if (x.numel() == 0 || (x.dim() > 0 && x.shape()[axis] == 0))
    throw Error(fmt::format("{}: cannot reduce an empty tensor of shape {}", op,
                            shape_str(x.shape())));
}

constexpr double kInf = std::numeric_limits<double>::infinity();
const auto kSum = [](double acc, double v) { return acc + v; };
const auto kMax = [](double acc, double v) { return v > acc || std::isnan(v) ? v : acc; };
const auto kMin = [](double acc, double v) { return v < acc || std::isnan(v) ? v : acc; };

// The gradient of max/min: shared evenly among the elements equal to the extremum.
Tensor extremum_grad(const Tensor& x, const Tensor& value_keepdim, const Tensor& g_keepdim,
                     int64_t axis) {
  const Tensor mask = x.eq(value_keepdim);
  const Tensor count = axis < 0 ? mask.sum() : mask.sum(axis, true);
  return expand(g_keepdim / count, x.shape()) * mask;
}

Tensor extremum(const Tensor& x, int64_t axis, bool keepdim, std::string_view op, double init,
                auto step) {
  check_nonempty(x, axis, op);
  Tensor out = reduce(x.detach(), axis, keepdim, op, init, step);
  const int64_t ax = detail::normalize_axis(axis, x.dim(), op);
  const Shape keep = detail::reduced_shape(x.shape(), ax, true);
  return record_op(op, out, {x}, [x, y = out.detach(), keep, ax](const Tensor& g) {
    return Grads{extremum_grad(x, y.reshape(keep), g.reshape(keep), ax)};
  });
}

Tensor extremum_all(const Tensor& x, std::string_view op, double init, auto step) {
  check_nonempty(x, 0, op);
  Tensor out = reduce_all(x, op, init, step);
  return record_op(op, out, {x}, [x, y = out.detach()](const Tensor& g) {
    return Grads{extremum_grad(x, y, g, -1)};
  });
}

}  // namespace

// ---- sum and mean ----

Tensor Tensor::sum() const {
  Tensor out = reduce_all(*this, "sum", 0.0, kSum);
  return record_op("sum", out, {*this},
                   [shape = shape()](const Tensor& g) { return Grads{expand(g, shape)}; });
}

Tensor Tensor::sum(int64_t axis, bool keepdim) const {
  Tensor out = reduce(*this, axis, keepdim, "sum", 0.0, kSum);
  const Shape keep = detail::reduced_shape(shape(), detail::normalize_axis(axis, dim(), "sum"), true);
  return record_op("sum", out, {*this}, [shape = shape(), keep](const Tensor& g) {
    return Grads{expand(g.reshape(keep), shape)};
  });
}

Tensor Tensor::mean() const {
  if (numel() == 0) throw Error(fmt::format("mean: tensor of shape {} is empty", shape_str(shape())));
  return sum() / static_cast<double>(numel());
}

Tensor Tensor::mean(int64_t axis, bool keepdim) const {
  detail::check_defined(*this, "mean");
  const int64_t n = shape()[detail::normalize_axis(axis, dim(), "mean")];
  if (n == 0) throw Error(fmt::format("mean: axis {} of shape {} is empty", axis, shape_str(shape())));
  return sum(axis, keepdim) / static_cast<double>(n);
}

// ---- max, min, argmax ----

Tensor Tensor::max() const { return extremum_all(*this, "max", -kInf, kMax); }
Tensor Tensor::min() const { return extremum_all(*this, "min", kInf, kMin); }
Tensor Tensor::max(int64_t axis, bool keepdim) const {
  return extremum(*this, axis, keepdim, "max", -kInf, kMax);
}
Tensor Tensor::min(int64_t axis, bool keepdim) const {
  return extremum(*this, axis, keepdim, "min", kInf, kMin);
}

Tensor Tensor::argmax(int64_t axis, bool keepdim) const {
  detail::check_defined(*this, "argmax");
  axis = detail::normalize_axis(axis, dim(), "argmax");
  check_nonempty(*this, axis, "argmax");
  const AxisView v = detail::axis_view(shape(), axis);
  Tensor out = empty(detail::reduced_shape(shape(), axis, keepdim), {.dtype = DType::Int64});
  int64_t* o = out.data<int64_t>();
  dispatch_float(*this, "argmax", [&](auto z) {
    using T = decltype(z);
    const T* x = data<T>();
    for (int64_t r = 0; r < v.outer * v.inner; ++r) {
      const T* p = x + (r / v.inner) * v.n * v.inner + r % v.inner;
      int64_t best = 0;
      for (int64_t k = 1; k < v.n; ++k)
        if (p[k * v.inner] > p[best * v.inner]) best = k;
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
    throw Error(fmt::format("expand: shape {} cannot be expanded to {}", shape_str(t.shape()),
                            shape_str(shape)));
  // zeros + t: the binary loop already knows every broadcast pattern.
  Tensor out = zeros(shape, {.dtype = t.dtype()}) + t.detach();
  return record_op("expand", out, {t}, [from = t.shape()](const Tensor& g) {
    return Grads{sum_to(g, from)};
  });
}

Tensor sum_to(const Tensor& t, const Shape& shape) {
  if (t.shape() == shape) return t;
  if (detail::broadcast_shapes(shape, t.shape(), "sum_to") != t.shape())
    throw Error(fmt::format("sum_to: shape {} is not a broadcast of {}", shape_str(t.shape()),
                            shape_str(shape)));
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
    detail::parallel_for(rows, [&](int64_t lo, int64_t hi) {
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
    }, detail::rows_grain(v.n));
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
