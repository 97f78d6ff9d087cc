// Elementwise ops: unary maps, broadcasting binary ops, comparisons. Each op's backward sits
// right under its forward and is written with Tensor ops, so it is differentiable in turn.
#include <cmath>
#include <numbers>

#include "impl.h"

namespace minigrad {

using detail::dispatch_float;
using Grads = TensorList;

namespace {

// out[i] = f(x[i]); f is a generic lambda so one definition serves float and double.
template <typename F>
Tensor map(const Tensor& x, std::string_view op, F f) {
  detail::check_defined(x, op);
  Tensor out = empty(x.shape(), {.dtype = x.dtype()});
  dispatch_float(x, op, [&](auto z) {
    using T = decltype(z);
    const T* in = x.data<T>();
    T* o = out.data<T>();
    detail::parallel_for(x.numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) o[i] = f(in[i]);
    });
  });
  return out;
}

// Strides of `shape` seen from a broadcast output of rank `rank` (0 on broadcast axes).
Shape broadcast_strides(const Shape& shape, const Shape& out) {  // a Shape: no allocation
  Shape strides(out.size(), 0);
  int64_t stride = 1;
  for (int64_t i = static_cast<int64_t>(shape.size()) - 1; i >= 0; --i) {
    const std::size_t o = i + out.size() - shape.size();
    strides[o] = shape[i] == 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

// o = f(a, b) with NumPy broadcasting. Same-shape and scalar operands take flat loops; everything
// else runs row by row over the last axis, which covers the row-broadcast (bias) case at full speed.
template <typename T, typename R, typename F>
void broadcast_loop(const Tensor& a, const Tensor& b, R* o, const Shape& out_shape, F f) {
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  const int64_t n = shape_numel(out_shape);
  if (a.shape() == b.shape() || b.numel() == 1 || a.numel() == 1) {
    const bool a_scalar = a.numel() == 1 && n != 1, b_scalar = b.numel() == 1 && n != 1;
    detail::parallel_for(n, [&](int64_t lo, int64_t hi) {
      if (b_scalar) for (int64_t i = lo; i < hi; ++i) o[i] = f(pa[i], pb[0]);
      else if (a_scalar) for (int64_t i = lo; i < hi; ++i) o[i] = f(pa[0], pb[i]);
      else for (int64_t i = lo; i < hi; ++i) o[i] = f(pa[i], pb[i]);
    });
    return;
  }
  const auto sa = broadcast_strides(a.shape(), out_shape);
  const auto sb = broadcast_strides(b.shape(), out_shape);
  const int64_t rank = static_cast<int64_t>(out_shape.size());
  const int64_t cols = out_shape.back();
  const int64_t rows = cols == 0 ? 0 : n / cols;
  const int64_t ca = sa.back(), cb = sb.back();
  auto row_offsets = [&](int64_t row, int64_t& oa, int64_t& ob) {
    oa = ob = 0;
    for (int64_t d = rank - 2; d >= 0; --d) {
      const int64_t idx = row % out_shape[d];
      row /= out_shape[d];
      oa += idx * sa[d];
      ob += idx * sb[d];
    }
  };
  detail::parallel_for(rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t oa, ob;
      row_offsets(r, oa, ob);
      const T* ra = pa + oa;
      const T* rb = pb + ob;
      R* ro = o + r * cols;
      if (ca == 1 && cb == 1) for (int64_t j = 0; j < cols; ++j) ro[j] = f(ra[j], rb[j]);
      else if (ca == 1) for (int64_t j = 0; j < cols; ++j) ro[j] = f(ra[j], rb[0]);
      else if (cb == 1) for (int64_t j = 0; j < cols; ++j) ro[j] = f(ra[0], rb[j]);
      else for (int64_t j = 0; j < cols; ++j) ro[j] = f(ra[0], rb[0]);
    }
  }, detail::rows_grain(cols));
}

template <typename F>
Tensor binary(const Tensor& a, const Tensor& b, std::string_view op, F f) {
  detail::check_same_dtype(a, b, op);
  const Shape shape = detail::broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = empty(shape, {.dtype = a.dtype()});
  dispatch_float(a, op, [&](auto z) {
    using T = decltype(z);
    broadcast_loop<T>(a, b, out.data<T>(), shape, f);
  });
  return out;
}

// Keeps only the gradients whose inputs want one (saves work for masks and constants).
Tensor if_needed(const Tensor& input, const auto& make) {
  return input.requires_grad() ? make() : Tensor();
}

}  // namespace

// ---- arithmetic ----

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary(a, b, "add", [](auto x, auto y) { return x + y; });
  return record_op("add", out, {a, b}, [a, b](const Tensor& g) {
    return Grads{if_needed(a, [&] { return sum_to(g, a.shape()); }),
                 if_needed(b, [&] { return sum_to(g, b.shape()); })};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary(a, b, "sub", [](auto x, auto y) { return x - y; });
  return record_op("sub", out, {a, b}, [a, b](const Tensor& g) {
    return Grads{if_needed(a, [&] { return sum_to(g, a.shape()); }),
                 if_needed(b, [&] { return sum_to(-g, b.shape()); })};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary(a, b, "mul", [](auto x, auto y) { return x * y; });
  return record_op("mul", out, {a, b}, [a, b](const Tensor& g) {
    return Grads{if_needed(a, [&] { return sum_to(g * b, a.shape()); }),
                 if_needed(b, [&] { return sum_to(g * a, b.shape()); })};
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary(a, b, "div", [](auto x, auto y) { return x / y; });
  return record_op("div", out, {a, b}, [a, b](const Tensor& g) {
    return Grads{if_needed(a, [&] { return sum_to(g / b, a.shape()); }),
                 if_needed(b, [&] { return sum_to(-g * a / (b * b), b.shape()); })};
  });
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(b, a)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_like(b, a)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_like(b, a)); }
Tensor operator/(const Tensor& a, double b) { return div(a, scalar_like(b, a)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(a, b), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(a, b), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(a, b), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(a, b), b); }
Tensor operator-(const Tensor& a) { return a.neg(); }

Tensor Tensor::neg() const {
  Tensor out = map(*this, "neg", [](auto v) { return -v; });
  return record_op("neg", out, {*this}, [](const Tensor& g) { return Grads{-g}; });
}

// ---- unary maps ----
// Ops whose derivative reuses the output keep it detached (capturing it would be a cycle) and
// recompute it from the input when a differentiable gradient is being built.

Tensor Tensor::exp() const {
  Tensor out = map(*this, "exp", [](auto v) { return std::exp(v); });
  return record_op("exp", out, {*this}, [x = *this, y = out.detach()](const Tensor& g) {
    return Grads{g * (grad_enabled() ? x.exp() : y)};
  });
}

Tensor Tensor::log() const {
  Tensor out = map(*this, "log", [](auto v) { return std::log(v); });
  return record_op("log", out, {*this}, [x = *this](const Tensor& g) { return Grads{g / x}; });
}

Tensor Tensor::pow(double exponent) const {
  Tensor out = map(*this, "pow", [exponent](auto v) {
    return static_cast<decltype(v)>(std::pow(v, static_cast<decltype(v)>(exponent)));
  });
  return record_op("pow", out, {*this}, [x = *this, exponent](const Tensor& g) {
    if (exponent == 0.0) return Grads{zeros_like(x)};
    return Grads{g * (x.pow(exponent - 1.0) * exponent)};
  });
}

Tensor Tensor::sqrt() const {
  Tensor out = map(*this, "sqrt", [](auto v) { return std::sqrt(v); });
  return record_op("sqrt", out, {*this}, [x = *this, y = out.detach()](const Tensor& g) {
    return Grads{g / ((grad_enabled() ? x.sqrt() : y) * 2.0)};
  });
}

Tensor Tensor::abs() const {
  Tensor out = map(*this, "abs", [](auto v) { return std::abs(v); });
  // sign(0) = 0, as in PyTorch.
  return record_op("abs", out, {*this},
                   [x = *this](const Tensor& g) { return Grads{g * (x.gt(0.0) - x.lt(0.0))}; });
}

Tensor Tensor::clamp(double min, double max) const {
  if (min > max) throw Error(fmt::format("clamp: min {} is greater than max {}", min, max));
  Tensor out = map(*this, "clamp", [min, max](auto v) {
    using T = decltype(v);
    return std::min(std::max(v, static_cast<T>(min)), static_cast<T>(max));
  });
  // Gradient passes where min <= x <= max, boundaries included (PyTorch's convention).
  return record_op("clamp", out, {*this}, [x = *this, min, max](const Tensor& g) {
    return Grads{g * (x.ge(min) * x.le(max))};
  });
}

Tensor Tensor::relu() const {
  Tensor out = map(*this, "relu", [](auto v) { return v > 0 ? v : decltype(v)(0); });
  return record_op("relu", out, {*this}, [x = *this](const Tensor& g) { return Grads{g * x.gt(0.0)}; });
}

Tensor Tensor::leaky_relu(double negative_slope) const {
  Tensor out = map(*this, "leaky_relu", [negative_slope](auto v) {
    return v > 0 ? v : v * static_cast<decltype(v)>(negative_slope);
  });
  return record_op("leaky_relu", out, {*this}, [x = *this, negative_slope](const Tensor& g) {
    return Grads{g * (x.gt(0.0) * (1.0 - negative_slope) + negative_slope)};
  });
}

Tensor Tensor::sigmoid() const {
  Tensor out = map(*this, "sigmoid", [](auto v) {
    using T = decltype(v);
    // Two branches keep exp's argument non-positive: no overflow for large |v|.
    return v >= 0 ? T(1) / (T(1) + std::exp(-v)) : std::exp(v) / (T(1) + std::exp(v));
  });
  return record_op("sigmoid", out, {*this}, [x = *this, y = out.detach()](const Tensor& g) {
    const Tensor s = grad_enabled() ? x.sigmoid() : y;
    return Grads{g * s * (1.0 - s)};
  });
}

Tensor Tensor::tanh() const {
  Tensor out = map(*this, "tanh", [](auto v) { return std::tanh(v); });
  return record_op("tanh", out, {*this}, [x = *this, y = out.detach()](const Tensor& g) {
    const Tensor t = grad_enabled() ? x.tanh() : y;
    return Grads{g * (1.0 - t * t)};
  });
}

namespace {
// The standard normal density, phi(x), as Tensor ops.
Tensor normal_pdf(const Tensor& x) {
  return (x * x * -0.5).exp() * (0.5 * std::numbers::inv_sqrtpi * std::numbers::sqrt2);
}
}  // namespace

Tensor normal_cdf(const Tensor& x) {
  Tensor out = map(x, "normal_cdf", [](auto v) {
    using T = decltype(v);
    return T(0.5) * std::erfc(-v * static_cast<T>(std::numbers::sqrt2 / 2));
  });
  return record_op("normal_cdf", out, {x}, [x](const Tensor& g) { return Grads{g * normal_pdf(x)}; });
}

Tensor Tensor::gelu() const {
  Tensor out = map(*this, "gelu", [](auto v) {
    using T = decltype(v);
    return T(0.5) * v * std::erfc(-v * static_cast<T>(std::numbers::sqrt2 / 2));
  });
  // d/dx x*Phi(x) = Phi(x) + x*phi(x)
  return record_op("gelu", out, {*this}, [x = *this](const Tensor& g) {
    return Grads{g * (normal_cdf(x) + x * normal_pdf(x))};
  });
}

// Ties split the gradient evenly, matching the central difference at the tie (and PyTorch).
Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor out = binary(a, b, "maximum", [](auto x, auto y) { return x >= y ? x : y; });
  return record_op("maximum", out, {a, b}, [a, b](const Tensor& g) {
    const Tensor tie = a.eq(b) * 0.5;
    return Grads{if_needed(a, [&] { return sum_to(g * (a.gt(b) + tie), a.shape()); }),
                 if_needed(b, [&] { return sum_to(g * (b.gt(a) + tie), b.shape()); })};
  });
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  Tensor out = binary(a, b, "minimum", [](auto x, auto y) { return x <= y ? x : y; });
  return record_op("minimum", out, {a, b}, [a, b](const Tensor& g) {
    const Tensor tie = a.eq(b) * 0.5;
    return Grads{if_needed(a, [&] { return sum_to(g * (a.lt(b) + tie), a.shape()); }),
                 if_needed(b, [&] { return sum_to(g * (b.lt(a) + tie), b.shape()); })};
  });
}

Tensor Tensor::maximum(const Tensor& other) const { return minigrad::maximum(*this, other); }
Tensor Tensor::minimum(const Tensor& other) const { return minigrad::minimum(*this, other); }

// ---- comparisons: masks, never differentiable ----

#define MINIGRAD_COMPARISON(name, expr)                                                          \
  Tensor Tensor::name(const Tensor& other) const {                                              \
    return binary(*this, other, #name, [](auto x, auto y) { return decltype(x)(expr); });       \
  }                                                                                             \
  Tensor Tensor::name(double other) const { return name(scalar_like(other, *this)); }
MINIGRAD_COMPARISON(eq, x == y)
MINIGRAD_COMPARISON(ne, x != y)
MINIGRAD_COMPARISON(lt, x < y)
MINIGRAD_COMPARISON(le, x <= y)
MINIGRAD_COMPARISON(gt, x > y)
MINIGRAD_COMPARISON(ge, x >= y)
#undef MINIGRAD_COMPARISON

}  // namespace minigrad
