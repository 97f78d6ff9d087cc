// Elementwise ops: unary maps, broadcasting binary ops, comparisons. Each op's backward sits
// right under its forward and is written with Tensor ops, so it is differentiable in turn.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <tuple>

#include "impl.h"

namespace minigrad {

using detail::dispatch_float;
using Grads = TensorList;

namespace {

// out[i] = f(x[i]); f is a generic lambda so one definition serves float and double (and int64
// when kIntegers).
template <bool kIntegers = false, typename F>
Tensor map(const Tensor& x, std::string_view op, F f) {
  detail::check_defined(x, op);
  if (!kIntegers || x.dtype() != DType::Int64) detail::check_floating(x, op);
  Tensor out = empty(x.shape(), {.dtype = x.dtype()});
  auto run = [&](auto z) {
    using T = decltype(z);
    const T* in = x.data<T>();
    T* o = out.data<T>();
    detail::parallel_for(x.numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) o[i] = static_cast<T>(f(in[i]));
    });
  };
  if constexpr (kIntegers) {
    if (x.dtype() == DType::Int64) {
      run(int64_t{});
      return out;
    }
  }
  dispatch_float(x, op, run);
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
      if (b_scalar)
        for (int64_t i = lo; i < hi; ++i) o[i] = f(pa[i], pb[0]);
      else if (a_scalar)
        for (int64_t i = lo; i < hi; ++i) o[i] = f(pa[0], pb[i]);
      else
        for (int64_t i = lo; i < hi; ++i) o[i] = f(pa[i], pb[i]);
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
  detail::parallel_for(
      rows,
      [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          int64_t oa, ob;
          row_offsets(r, oa, ob);
          const T* ra = pa + oa;
          const T* rb = pb + ob;
          R* ro = o + r * cols;
          if (ca == 1 && cb == 1)
            for (int64_t j = 0; j < cols; ++j) ro[j] = f(ra[j], rb[j]);
          else if (ca == 1)
            for (int64_t j = 0; j < cols; ++j) ro[j] = f(ra[j], rb[0]);
          else if (cb == 1)
            for (int64_t j = 0; j < cols; ++j) ro[j] = f(ra[0], rb[j]);
          else
            for (int64_t j = 0; j < cols; ++j) ro[j] = f(ra[0], rb[0]);
        }
      },
      detail::rows_grain(cols));
}

// out = f(a, b) for operands of one dtype (any): in that dtype, or bool for a comparison.
template <typename F>
Tensor binary(const Tensor& a, const Tensor& b, std::string_view op, F f, bool to_bool = false) {
  detail::check_same_dtype(a, b, op);
  const Shape shape = detail::broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = empty(shape, {.dtype = to_bool ? DType::Bool : a.dtype()});
  detail::dispatch_any(a.dtype(), [&](auto z) {
    using T = decltype(z);
    if (to_bool)
      broadcast_loop<T>(a, b, out.data<bool>(), shape, f);
    else
      broadcast_loop<T>(a, b, out.data<T>(), shape, [&](T x, T y) { return static_cast<T>(f(x, y)); });
  });
  return out;
}

// Both operands in their promoted dtype (result_type); a no-op for operands that agree.
std::pair<Tensor, Tensor> promoted(const Tensor& a, const Tensor& b, std::string_view op, bool to_floating = false) {
  detail::check_defined(a, op);
  detail::check_defined(b, op);
  DType t = result_type(a, b);
  if (to_floating && !is_floating(t)) t = DType::Float32;
  return {a.to(t), b.to(t)};
}

// A bool mask as 0/1 in like's dtype (a mask times a float number would be float32 otherwise).
Tensor as_float(const Tensor& mask, const Tensor& like) { return mask.to(like.dtype()); }

// Keeps only the gradients whose inputs want one (saves work for masks and constants).
Tensor if_needed(const Tensor& input, const auto& make) { return input.requires_grad() ? make() : Tensor(); }

}  // namespace

Tensor detail::sign(const Tensor& x) { return as_float(x.gt(0), x) - as_float(x.lt(0), x); }

// ---- arithmetic ----

Tensor add(const Tensor& a_in, const Tensor& b_in) {
  Tensor a, b;
  std::tie(a, b) = promoted(a_in, b_in, "add");
  Tensor out = binary(a, b, "add", [](auto x, auto y) { return x + y; });
  return record_op("add", out, {a, b}, [a, b](const Tensor& g) {
    return Grads{if_needed(a, [&] { return sum_to(g, a.shape()); }),
                 if_needed(b, [&] { return sum_to(g, b.shape()); })};
  });
}

Tensor sub(const Tensor& a_in, const Tensor& b_in) {
  Tensor a, b;
  std::tie(a, b) = promoted(a_in, b_in, "sub");
  if (a.dtype() == DType::Bool)
    throw Error(
        fmt::format("sub: two bool tensors {} and {} cannot be subtracted (use "
                    "logical_xor or logical_not, as in PyTorch)",
                    shape_str(a.shape()), shape_str(b.shape())));
  Tensor out = binary(a, b, "sub", [](auto x, auto y) { return x - y; });
  return record_op("sub", out, {a, b}, [a, b](const Tensor& g) {
    return Grads{if_needed(a, [&] { return sum_to(g, a.shape()); }),
                 if_needed(b, [&] { return sum_to(-g, b.shape()); })};
  });
}

Tensor mul(const Tensor& a_in, const Tensor& b_in) {
  Tensor a, b;
  std::tie(a, b) = promoted(a_in, b_in, "mul");
  Tensor out = binary(a, b, "mul", [](auto x, auto y) { return x * y; });
  return record_op("mul", out, {a, b}, [a, b](const Tensor& g) {
    return Grads{if_needed(a, [&] { return sum_to(g * b, a.shape()); }),
                 if_needed(b, [&] { return sum_to(g * a, b.shape()); })};
  });
}

Tensor div(const Tensor& a_in, const Tensor& b_in) {
  Tensor a, b;
  std::tie(a, b) = promoted(a_in, b_in, "div", true);
  Tensor out = binary(a, b, "div", [](auto x, auto y) { return x / y; });
  return record_op("div", out, {a, b}, [a, b](const Tensor& g) {
    return Grads{if_needed(a, [&] { return sum_to(g / b, a.shape()); }),
                 if_needed(b, [&] { return sum_to(-g * a / (b * b), b.shape()); })};
  });
}

Tensor floor_divide(const Tensor& a_in, const Tensor& b_in) {
  Tensor a, b;
  std::tie(a, b) = promoted(a_in, b_in, "floor_divide");
  if (is_floating(a.dtype()))
    throw Error(fmt::format("floor_divide: {} {} and {} {}: integer operands expected", dtype_name(a_in.dtype()),
                            shape_str(a.shape()), dtype_name(b_in.dtype()), shape_str(b.shape())));
  const Tensor num = a.to(DType::Int64), den = b.to(DType::Int64);
  const int64_t* d = den.data<int64_t>();
  if (std::find(d, d + den.numel(), int64_t{0}) != d + den.numel())
    throw Error(fmt::format("floor_divide: division by zero (divisor of shape {})", shape_str(den.shape())));
  return binary(num, den, "floor_divide", [](int64_t x, int64_t y) {
    // x / -1 would overflow for INT64_MIN: negate with unsigned wrap-around, as PyTorch's result.
    if (y == -1) return static_cast<int64_t>(uint64_t{0} - static_cast<uint64_t>(x));
    const int64_t q = x / y;
    return (x % y != 0 && (x < 0) != (y < 0)) ? q - 1 : q;
  });
}

Tensor where(const Tensor& cond, const Tensor& a_in, const Tensor& b_in) {
  detail::check_defined(cond, "where");
  if (cond.dtype() != DType::Bool)
    throw Error(
        fmt::format("where: condition must be bool, got {} {}", dtype_name(cond.dtype()), shape_str(cond.shape())));
  Tensor a, b;
  std::tie(a, b) = promoted(a_in, b_in, "where");
  const Shape shape =
      detail::broadcast_shapes(cond.shape(), detail::broadcast_shapes(a.shape(), b.shape(), "where"), "where");
  // Expanded copies make the loop flat; where is not on a hot path.
  const Tensor c = expand(cond, shape), x = expand(a.detach(), shape), y = expand(b.detach(), shape);
  Tensor out = empty(shape, {.dtype = a.dtype()});
  detail::dispatch_any(a.dtype(), [&](auto z) {
    using T = decltype(z);
    const bool* pc = c.data<bool>();
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    T* o = out.data<T>();
    detail::parallel_for(out.numel(), [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) o[i] = pc[i] ? px[i] : py[i];
    });
  });
  return record_op("where", out, {a, b}, [cond, a, b](const Tensor& g) {
    const Tensor zero = scalar_like(0.0, g);
    return Grads{if_needed(a, [&] { return sum_to(where(cond, g, zero), a.shape()); }),
                 if_needed(b, [&] { return sum_to(where(cond, zero, g), b.shape()); })};
  });
}

Tensor Tensor::masked_fill(const Tensor& mask, Scalar value) const {
  detail::check_defined(*this, "masked_fill");
  // The value takes this tensor's dtype, as in PyTorch.
  return where(mask, full({}, value.to_double(), {.dtype = dtype()}), *this);
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, Scalar b) { return add(a, scalar_for(b, a)); }
Tensor operator-(const Tensor& a, Scalar b) { return sub(a, scalar_for(b, a)); }
Tensor operator*(const Tensor& a, Scalar b) { return mul(a, scalar_for(b, a)); }
Tensor operator/(const Tensor& a, Scalar b) { return div(a, scalar_for(b, a)); }
Tensor operator+(Scalar a, const Tensor& b) { return add(scalar_for(a, b), b); }
Tensor operator-(Scalar a, const Tensor& b) { return sub(scalar_for(a, b), b); }
Tensor operator*(Scalar a, const Tensor& b) { return mul(scalar_for(a, b), b); }
Tensor operator/(Scalar a, const Tensor& b) { return div(scalar_for(a, b), b); }
Tensor operator-(const Tensor& a) { return a.neg(); }

Tensor Tensor::neg() const {
  Tensor out = map<true>(*this, "neg", [](auto v) { return -v; });
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
  Tensor out = map<true>(*this, "abs", [](auto v) { return v < 0 ? -v : v; });
  // sign(0) = 0, as in PyTorch.
  return record_op("abs", out, {*this}, [x = *this](const Tensor& g) { return Grads{g * detail::sign(x)}; });
}

Tensor Tensor::clamp(double min, double max) const {
  if (min > max) throw Error(fmt::format("clamp: min {} is greater than max {}", min, max));
  Tensor out = map(*this, "clamp", [min, max](auto v) {
    using T = decltype(v);
    return std::min(std::max(v, static_cast<T>(min)), static_cast<T>(max));
  });
  // Gradient passes where min <= x <= max, boundaries included (PyTorch's convention).
  return record_op("clamp", out, {*this},
                   [x = *this, min, max](const Tensor& g) { return Grads{g * (x.ge(min) * x.le(max))}; });
}

Tensor Tensor::relu() const {
  // NaN passes through (a diverging run must show), as PyTorch's relu.
  Tensor out = map(*this, "relu", [](auto v) { return v > 0 || std::isnan(v) ? v : decltype(v)(0); });
  return record_op("relu", out, {*this}, [x = *this](const Tensor& g) { return Grads{detail::relu_backward(g, x)}; });
}

Tensor detail::relu_backward(const Tensor& g, const Tensor& y) {
  if (grad_enabled()) return g.masked_fill(y.le(0.0), 0.0);
  check_same_dtype(g, y, "relu backward");
  Tensor out = empty(g.shape(), {.dtype = g.dtype()});
  dispatch_float(g, "relu backward", [&](auto z) {
    using T = decltype(z);
    const T* pg = g.data<T>();
    const T* py = y.data<T>();
    T* po = out.data<T>();
    parallel_for(g.numel(), [&](int64_t b, int64_t e) {
      // Both loads unconditional and the pointers restrict, so GCC vectorizes the select: as a
      // branch on the sign it mispredicted every other element.
      const T* __restrict gi = pg;
      const T* __restrict yi = py;
      T* __restrict oi = po;
      for (int64_t i = b; i < e; ++i) {
        const T gv = gi[i], yv = yi[i];
        oi[i] = yv <= T(0) ? T(0) : gv;
      }
    });
  });
  return out;
}

Tensor Tensor::leaky_relu(double negative_slope) const {
  Tensor out = map(*this, "leaky_relu",
                   [negative_slope](auto v) { return v > 0 ? v : v * static_cast<decltype(v)>(negative_slope); });
  return record_op("leaky_relu", out, {*this}, [x = *this, negative_slope](const Tensor& g) {
    return Grads{g * (as_float(x.gt(0.0), x) * (1.0 - negative_slope) + negative_slope)};
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
  return record_op("gelu", out, {*this},
                   [x = *this](const Tensor& g) { return Grads{g * (normal_cdf(x) + x * normal_pdf(x))}; });
}

// ---- smooth maps ----

Tensor Tensor::sin() const {
  Tensor out = map(*this, "sin", [](auto v) { return std::sin(v); });
  return record_op("sin", out, {*this}, [x = *this](const Tensor& g) { return Grads{g * x.cos()}; });
}

Tensor Tensor::cos() const {
  Tensor out = map(*this, "cos", [](auto v) { return std::cos(v); });
  return record_op("cos", out, {*this}, [x = *this](const Tensor& g) { return Grads{-g * x.sin()}; });
}

Tensor Tensor::log1p() const {
  Tensor out = map(*this, "log1p", [](auto v) { return std::log1p(v); });
  return record_op("log1p", out, {*this}, [x = *this](const Tensor& g) { return Grads{g / (x + 1.0)}; });
}

Tensor Tensor::expm1() const {
  Tensor out = map(*this, "expm1", [](auto v) { return std::expm1(v); });
  return record_op("expm1", out, {*this}, [x = *this](const Tensor& g) { return Grads{g * x.exp()}; });
}

Tensor Tensor::erf() const {
  Tensor out = map(*this, "erf", [](auto v) { return std::erf(v); });
  return record_op("erf", out, {*this}, [x = *this](const Tensor& g) {
    return Grads{g * (x * x * -1.0).exp() * (2.0 * std::numbers::inv_sqrtpi)};
  });
}

Tensor Tensor::softplus(double beta, double threshold) const {
  Tensor out = map(*this, "softplus", [beta, threshold](auto v) {
    using T = decltype(v);
    const T bv = v * static_cast<T>(beta);
    return bv > static_cast<T>(threshold) ? v : std::log1p(std::exp(bv)) / static_cast<T>(beta);
  });
  // The derivative is sigmoid(beta x), and 1 past the threshold, as in PyTorch.
  return record_op("softplus", out, {*this}, [x = *this, beta, threshold](const Tensor& g) {
    const Tensor bx = x * beta;
    return Grads{g * where(bx.gt(threshold), scalar_like(1.0, x), bx.sigmoid())};
  });
}

Tensor Tensor::silu() const {
  Tensor out = map(*this, "silu", [](auto v) {
    using T = decltype(v);
    return v >= 0 ? v / (T(1) + std::exp(-v)) : v * std::exp(v) / (T(1) + std::exp(v));
  });
  return record_op("silu", out, {*this}, [x = *this](const Tensor& g) {
    const Tensor s = x.sigmoid();
    return Grads{g * s * (x * (1.0 - s) + 1.0)};
  });
}

Tensor Tensor::elu(double alpha) const {
  Tensor out = map(*this, "elu", [alpha](auto v) {
    using T = decltype(v);
    return v > 0 ? v : static_cast<T>(alpha) * std::expm1(v);
  });
  // At 0 the derivative is alpha (PyTorch takes the x <= 0 side).
  return record_op("elu", out, {*this}, [x = *this, alpha](const Tensor& g) {
    return Grads{g * where(x.gt(0.0), scalar_like(1.0, x), x.exp() * alpha)};
  });
}

// NaN in either operand gives NaN. Ties split the gradient evenly, matching the central
// difference at the tie; where a NaN is involved both operands get the whole gradient (PyTorch's
// formula, which masks only the strictly losing side).
Tensor extremum_of_two(const Tensor& a_in, const Tensor& b_in, bool is_max, std::string_view op) {
  Tensor a, b;
  std::tie(a, b) = promoted(a_in, b_in, op);
  Tensor out =
      binary(a, b, op, [is_max](auto x, auto y) { return detail::is_nan(x) || (is_max ? x >= y : x <= y) ? x : y; });
  return record_op(op, out, {a, b}, [a, b, is_max](const Tensor& g) {
    const Tensor tie = as_float(a.eq(b), a) * 0.5;
    const auto losing = [is_max](const Tensor& x, const Tensor& y) { return is_max ? x.lt(y) : x.gt(y); };
    return Grads{if_needed(a, [&] { return sum_to(g * (losing(a, b).logical_not() - tie), a.shape()); }),
                 if_needed(b, [&] { return sum_to(g * (losing(b, a).logical_not() - tie), b.shape()); })};
  });
}

Tensor maximum(const Tensor& a, const Tensor& b) { return extremum_of_two(a, b, true, "maximum"); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum_of_two(a, b, false, "minimum"); }

Tensor Tensor::maximum(const Tensor& other) const { return minigrad::maximum(*this, other); }
Tensor Tensor::minimum(const Tensor& other) const { return minigrad::minimum(*this, other); }

// ---- comparisons: bool masks, never differentiable ----

#define MINIGRAD_COMPARISON(name, expr)                          \
  Tensor Tensor::name(const Tensor& other) const {               \
    Tensor a, b;                                                 \
    std::tie(a, b) = promoted(*this, other, #name);              \
    return binary(                                               \
        a, b, #name, [](auto x, auto y) { return expr; }, true); \
  }                                                              \
  Tensor Tensor::name(Scalar other) const { return name(scalar_for(other, *this)); }
MINIGRAD_COMPARISON(eq, x == y)
MINIGRAD_COMPARISON(ne, x != y)
MINIGRAD_COMPARISON(lt, x < y)
MINIGRAD_COMPARISON(le, x <= y)
MINIGRAD_COMPARISON(gt, x > y)
MINIGRAD_COMPARISON(ge, x >= y)
#undef MINIGRAD_COMPARISON

Tensor Tensor::isnan() const {
  detail::check_defined(*this, "isnan");
  return is_floating(dtype()) ? ne(*this) : zeros(shape(), {.dtype = DType::Bool});
}

// One pass to bool: relu's backward runs it on every step.
Tensor Tensor::logical_not() const {
  detail::check_defined(*this, "logical_not");
  Tensor out = empty(shape(), {.dtype = DType::Bool});
  bool* o = out.data<bool>();
  detail::dispatch_any(dtype(), [&](auto z) {
    using T = decltype(z);
    const T* p = data<T>();
    detail::parallel_for(numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) o[i] = p[i] == T(0);
    });
  });
  return out;
}
Tensor Tensor::logical_and(const Tensor& other) const { return ne(0) * other.ne(0); }
Tensor Tensor::logical_or(const Tensor& other) const { return ne(0) + other.ne(0); }

}  // namespace minigrad
