// The Tensor handle: accessors, factories, conversion and printing.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include <minigrad/random.h>
#include <minigrad/threads.h>

#include "impl.h"

namespace minigrad {

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return "float32";
    case DType::Float64:
      return "float64";
    case DType::Int64:
      return "int64";
    case DType::Bool:
      return "bool";
  }
  return "unknown";
}

std::size_t dtype_size(DType dtype) { return dtype == DType::Float32 ? 4 : dtype == DType::Bool ? 1 : 8; }
bool is_floating(DType dtype) { return dtype == DType::Float32 || dtype == DType::Float64; }

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  const int ca = detail::dtype_category(a), cb = detail::dtype_category(b);
  if (ca != cb) return ca > cb ? a : b;
  return DType::Float64;  // the only same-category pair that differs: float32 and float64
}

DType result_type(const Tensor& a, const Tensor& b) {
  // As PyTorch: a 0-d operand is like a number, it promotes a dimensioned one only when it is
  // of a higher category (float32 (3,) + float64 () stays float32).
  if ((a.dim() == 0) == (b.dim() == 0)) return promote_types(a.dtype(), b.dtype());
  const DType dimmed = a.dim() == 0 ? b.dtype() : a.dtype();
  const DType zero = a.dim() == 0 ? a.dtype() : b.dtype();
  return detail::dtype_category(zero) > detail::dtype_category(dimmed) ? promote_types(dimmed, zero) : dimmed;
}

std::string shape_str(const Shape& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error(fmt::format("shape {}: negative dimension {}", shape_str(shape), d));
    if (d != 0 && n > INT64_MAX / d)
      throw Error(fmt::format("shape {}: element count overflows int64", shape_str(shape)));
    n *= d;
  }
  return n;
}

namespace detail {

int64_t normalize_axis(int64_t axis, int64_t ndim, std::string_view op) {
  const int64_t rank = std::max<int64_t>(ndim, 1);  // a 0-d tensor accepts axis 0 and -1
  if (axis < -rank || axis >= rank)
    throw Error(fmt::format("{}: axis {} is out of range for a tensor with {} dimensions", op, axis, ndim));
  return axis < 0 ? axis + rank : axis;
}

void check_defined(const Tensor& t, std::string_view op) {
  if (!t.defined()) throw Error(fmt::format("{}: tensor is undefined", op));
}

void check_floating(const Tensor& t, std::string_view op) {
  check_defined(t, op);
  if (!is_floating(t.dtype()))
    throw Error(
        fmt::format("{}: a {} tensor of shape {} is not supported (float32 or float64 "
                    "expected)",
                    op, dtype_name(t.dtype()), shape_str(t.shape())));
}

void check_same_dtype(const Tensor& a, const Tensor& b, std::string_view op) {
  check_defined(a, op);
  check_defined(b, op);
  if (a.dtype() != b.dtype())
    throw Error(fmt::format("{}: dtypes differ: {} {} and {} {}", op, dtype_name(a.dtype()), shape_str(a.shape()),
                            dtype_name(b.dtype()), shape_str(b.shape())));
}

Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw Error(fmt::format("{}: shapes {} and {} cannot be broadcast (dimension {}: {} vs {})", op, shape_str(a),
                              shape_str(b), i, da, db));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

AxisView axis_view(const Shape& shape, int64_t axis) {
  AxisView v;
  for (int64_t i = 0; i < static_cast<int64_t>(shape.size()); ++i) {
    if (i < axis)
      v.outer *= shape[i];
    else if (i == axis)
      v.n = shape[i];
    else
      v.inner *= shape[i];
  }
  return v;
}

Shape reduced_shape(const Shape& shape, int64_t axis, bool keepdim) {
  Shape out;
  for (int64_t i = 0; i < static_cast<int64_t>(shape.size()); ++i) {
    if (i != axis)
      out.push_back(shape[i]);
    else if (keepdim)
      out.push_back(1);
  }
  return out;
}

}  // namespace detail

// ---- handle ----

Tensor::Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

namespace {
const TensorImpl& checked(const std::shared_ptr<TensorImpl>& impl) {
  if (!impl) throw Error("use of an undefined Tensor");
  return *impl;
}
}  // namespace

const Shape& Tensor::shape() const { return checked(impl_).shape; }
int64_t Tensor::dim() const { return static_cast<int64_t>(shape().size()); }
int64_t Tensor::size(int64_t axis) const { return shape()[detail::normalize_axis(axis, dim(), "size")]; }
int64_t Tensor::numel() const { return checked(impl_).numel; }
DType Tensor::dtype() const { return checked(impl_).dtype; }
void* Tensor::raw_data() { return checked(impl_).storage->ptr; }
const void* Tensor::raw_data() const { return checked(impl_).storage->ptr; }

namespace {
template <typename T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>)
    return DType::Float32;
  else if constexpr (std::is_same_v<T, double>)
    return DType::Float64;
  else if constexpr (std::is_same_v<T, bool>)
    return DType::Bool;
  else
    return DType::Int64;
}
}  // namespace

template <typename T>
T* Tensor::data() {
  if (dtype() != dtype_of<T>())
    throw Error(fmt::format("data<{}>() on a {} tensor", dtype_name(dtype_of<T>()), dtype_name(dtype())));
  return static_cast<T*>(raw_data());
}
template <typename T>
const T* Tensor::data() const {
  return const_cast<Tensor*>(this)->data<T>();
}
template float* Tensor::data<float>();
template double* Tensor::data<double>();
template int64_t* Tensor::data<int64_t>();
template bool* Tensor::data<bool>();
template const bool* Tensor::data<bool>() const;
template const float* Tensor::data<float>() const;
template const double* Tensor::data<double>() const;
template const int64_t* Tensor::data<int64_t>() const;

using detail::dispatch_any;

double Tensor::item() const {
  if (numel() != 1)
    throw Error(fmt::format("item(): tensor of shape {} has {} elements, expected 1", shape_str(shape()), numel()));
  return dispatch_any(dtype(), [&](auto t) { return static_cast<double>(data<decltype(t)>()[0]); });
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  std::vector<T> out(numel());
  dispatch_any(dtype(), [&](auto t) {
    const auto* p = data<decltype(t)>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = detail::convert<T>(p[i]);
  });
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;

Tensor Tensor::detach() const {
  auto impl = make_pooled<TensorImpl>();
  impl->shape = shape();
  impl->dtype = dtype();
  impl->numel = numel();
  impl->storage = impl_->storage;
  return Tensor(std::move(impl));
}

namespace {
Tensor copy_as(const Tensor& src, DType dtype) {
  Tensor out = empty(src.shape(), {.dtype = dtype});
  dispatch_any(dtype, [&](auto d) {
    using D = decltype(d);
    D* o = out.data<D>();
    dispatch_any(src.dtype(), [&](auto s) {
      const auto* p = src.data<decltype(s)>();
      const int64_t n = src.numel();  // numel() and data() are calls: not in the loop
      for (int64_t i = 0; i < n; ++i) o[i] = detail::convert<D>(p[i]);
    });
  });
  return out;
}
}  // namespace

Tensor Tensor::clone() const {
  return record_op("clone", copy_as(*this, dtype()), {*this}, [](const Tensor& g) { return TensorList{g}; });
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  if (!is_floating(target)) return copy_as(*this, target);  // no gradient into int64 or bool
  const DType source = dtype();
  return record_op("to", copy_as(*this, target), {*this},
                   [source](const Tensor& g) { return TensorList{g.to(source)}; });
}

// ---- autograd fields ----

bool Tensor::requires_grad() const { return checked(impl_).requires_grad; }

Tensor& Tensor::requires_grad_(bool value) {
  checked(impl_);
  if (impl_->grad_fn && !value)
    throw Error("requires_grad_(false): only leaf tensors can stop requiring grad; use detach()");
  if (value && !is_floating(dtype()))
    throw Error(
        fmt::format("requires_grad_: a {} tensor cannot require grad (only float32 and "
                    "float64 can)",
                    dtype_name(dtype())));
  impl_->requires_grad = value;
  return *this;
}

bool Tensor::is_leaf() const { return checked(impl_).grad_fn == nullptr; }
Tensor Tensor::grad() const { return checked(impl_).grad; }

void Tensor::set_grad(const Tensor& grad) {
  checked(impl_);
  if (grad.defined() && (grad.shape() != shape() || grad.dtype() != dtype()))
    throw Error(fmt::format("set_grad: gradient {} {} does not match tensor {} {}", dtype_name(grad.dtype()),
                            shape_str(grad.shape()), dtype_name(dtype()), shape_str(shape())));
  impl_->grad = grad;
}

void Tensor::zero_grad() {
  checked(impl_);
  impl_->grad = Tensor();
}

const std::shared_ptr<Node>& Tensor::grad_fn() const { return checked(impl_).grad_fn; }

void Tensor::set_grad_ready_hook(GradReadyHook hook) {
  checked(impl_);
  if (!hook) {
    impl_->grad_ready_hook.reset();
    return;
  }
  if (!is_leaf() || !requires_grad())
    throw Error(fmt::format("set_grad_ready_hook: the tensor {} {} is not a leaf that requires grad",
                            dtype_name(dtype()), shape_str(shape())));
  if (impl_->grad_ready_hook)
    throw Error(fmt::format("set_grad_ready_hook: the tensor {} {} has a hook already; remove it first",
                            dtype_name(dtype()), shape_str(shape())));
  impl_->grad_ready_hook = std::make_unique<GradReadyHook>(std::move(hook));
}

// ---- factories ----

Tensor empty(const Shape& shape, TensorOptions options) {
  auto impl = make_pooled<TensorImpl>();
  impl->shape = shape;
  impl->dtype = options.dtype;
  impl->numel = shape_numel(shape);
  impl->storage = make_pooled<Storage>(impl->numel * dtype_size(options.dtype));
  Tensor t(std::move(impl));
  if (options.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor full(const Shape& shape, double value, TensorOptions options) {
  const bool wants_grad = options.requires_grad;
  options.requires_grad = false;
  Tensor t = empty(shape, options);
  dispatch_any(options.dtype, [&](auto z) {
    using T = decltype(z);
    T* p = t.data<T>();
    const T v = detail::convert<T>(value);
    detail::parallel_for(t.numel(), [&](int64_t b, int64_t e) { std::fill(p + b, p + e, v); });
  });
  if (wants_grad) t.requires_grad_(true);
  return t;
}

Tensor zeros(const Shape& shape, TensorOptions options) { return full(shape, 0.0, options); }
Tensor ones(const Shape& shape, TensorOptions options) { return full(shape, 1.0, options); }

Tensor arange(Scalar start, Scalar end, Scalar step, TensorOptions options) {
  const double a = start.to_double(), b = end.to_double(), d = step.to_double();
  if (d == 0 || !std::isfinite(a) || !std::isfinite(b) || !std::isfinite(d))
    throw Error(fmt::format("arange({}, {}, {}): bounds and step must be finite, step nonzero", a, b, d));
  const auto n = static_cast<int64_t>(std::max(0.0, std::ceil((b - a) / d)));
  const bool integral = start.kind() != DType::Float64 && step.kind() != DType::Float64;
  const bool wants_grad = options.requires_grad;
  options.requires_grad = false;
  Tensor t = empty({n}, options);
  dispatch_any(options.dtype, [&](auto z) {
    using T = decltype(z);
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i)  // integral bounds count exactly, past 2^53 too
      p[i] = integral ? detail::convert<T>(start.to_int() + i * step.to_int())
                      : detail::convert<T>(a + static_cast<double>(i) * d);
  });
  if (wants_grad) t.requires_grad_(true);
  return t;
}

Tensor arange(Scalar end, TensorOptions options) { return arange(0, end, 1, options); }

namespace {
template <typename V>
Tensor from_values(const std::vector<V>& values, const Shape& shape, TensorOptions options) {
  if (static_cast<int64_t>(values.size()) != shape_numel(shape))
    throw Error(fmt::format("tensor: {} values do not fill shape {} ({} elements)", values.size(), shape_str(shape),
                            shape_numel(shape)));
  const bool wants_grad = options.requires_grad;
  options.requires_grad = false;
  Tensor t = empty(shape, options);
  dispatch_any(options.dtype, [&](auto z) {
    using T = decltype(z);
    T* p = t.data<T>();
    for (std::size_t i = 0; i < values.size(); ++i) p[i] = detail::convert<T>(values[i]);
  });
  if (wants_grad) t.requires_grad_(true);
  return t;
}
}  // namespace

Tensor tensor(std::initializer_list<double> values, TensorOptions options) {
  return from_values(std::vector<double>(values), {static_cast<int64_t>(values.size())}, options);
}
Tensor tensor(std::initializer_list<double> values, std::initializer_list<int64_t> shape, TensorOptions options) {
  return from_values(std::vector<double>(values), shape, options);
}
Tensor tensor(const std::vector<double>& values, const Shape& shape, TensorOptions options) {
  return from_values(values, shape, options);
}
Tensor tensor(const std::vector<float>& values, const Shape& shape, TensorOptions options) {
  return from_values(values, shape, options);
}
Tensor tensor(const std::vector<int64_t>& values, const Shape& shape, TensorOptions options) {
  return from_values(values, shape, options);
}

Tensor zeros_like(const Tensor& like, TensorOptions options) { return zeros(like.shape(), options); }
Tensor zeros_like(const Tensor& like) { return zeros(like.shape(), {.dtype = like.dtype()}); }
Tensor ones_like(const Tensor& like, TensorOptions options) { return ones(like.shape(), options); }
Tensor ones_like(const Tensor& like) { return ones(like.shape(), {.dtype = like.dtype()}); }

Tensor scalar_like(double value, const Tensor& like) { return full({}, value, {.dtype = like.dtype()}); }

Tensor scalar_for(Scalar value, const Tensor& like) {
  detail::check_defined(like, "scalar");
  const DType own = value.kind() == DType::Float64 ? DType::Float32 : value.kind();
  const DType dtype = detail::dtype_category(own) > detail::dtype_category(like.dtype()) ? own : like.dtype();
  Tensor t = empty({}, {.dtype = dtype});
  dispatch_any(dtype, [&](auto z) {
    using T = decltype(z);
    *t.data<T>() =
        value.kind() == DType::Float64 ? detail::convert<T>(value.to_double()) : detail::convert<T>(value.to_int());
  });
  return t;
}

namespace {
// rand's parallel pieces: at least this many draws each, starting at multiples of kPieceAlign
// (Generator::discard costs about 256 steps per set bit of the start from 2^8 up).
constexpr int64_t kMinDrawsPerPiece = 8192;
constexpr int64_t kPieceAlign = 4096;

// A new tensor filled by fill(generator, out, count), which draws count elements in order.
// Element i holds what one sequential pass would give it, whatever the thread count. Where every
// element takes one draw (rand), pieces are filled in parallel, each from where that pass would
// be (Generator::discard); randn's Box-Muller pairs and rejections keep it sequential.
template <bool kOneDrawEach, typename Fill>
Tensor random_tensor(const Shape& shape, TensorOptions options, Generator* gen, Fill fill, std::string_view name) {
  Generator& g = gen ? *gen : default_generator();
  const bool wants_grad = options.requires_grad;
  options.requires_grad = false;
  Tensor t = empty(shape, options);
  detail::dispatch_float(t, name, [&](auto z) {
    using T = decltype(z);
    T* p = t.data<T>();
    const int64_t n = t.numel();
    const int64_t pieces = kOneDrawEach ? std::clamp<int64_t>(n / kMinDrawsPerPiece, 1, get_num_threads()) : 1;
    if (pieces == 1) return fill(g, p, n);
    const auto start = [&](int64_t k) { return k == pieces ? n : n * k / pieces / kPieceAlign * kPieceAlign; };
    Generator end_state = g;
    parallel_tasks(pieces, [&](int64_t k) {
      Generator local = g;
      local.discard(uint64_t(start(k)));
      fill(local, p + start(k), start(k + 1) - start(k));
      if (k + 1 == pieces) end_state = local;
    });
    g = end_state;
  });
  if (wants_grad) t.requires_grad_(true);
  return t;
}
}  // namespace

Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions options, Generator* gen) {
  if (low >= high) throw Error(fmt::format("randint: low {} must be less than high {}", low, high));
  if (options.requires_grad && !is_floating(options.dtype))
    throw Error(fmt::format("randint: a {} tensor cannot require grad", dtype_name(options.dtype)));
  Generator& g = gen ? *gen : default_generator();
  const auto range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  std::vector<int64_t> values(static_cast<std::size_t>(shape_numel(shape)));
  for (int64_t& v : values) v = static_cast<int64_t>(static_cast<uint64_t>(low) + g.below(range));
  return tensor(values, shape, options);
}

Tensor rand(const Shape& shape, TensorOptions options, Generator* gen) {
  return random_tensor<true>(
      shape, options, gen, [](Generator& g, auto* out, int64_t n) { g.fill_uniform(out, n); }, "rand");
}
Tensor randn(const Shape& shape, TensorOptions options, Generator* gen) {
  return random_tensor<false>(
      shape, options, gen,
      [](Generator& g, auto* out, int64_t n) {
        Generator local = g;  // a local copy's state stays in registers
        for (int64_t i = 0; i < n; ++i) out[i] = static_cast<std::remove_reference_t<decltype(*out)>>(local.normal());
        g = local;
      },
      "randn");
}

// ---- threads ----

void set_num_threads(int threads) {
  if (threads < 1) throw Error(fmt::format("set_num_threads: {} is not a positive count", threads));
  kernels::set_max_threads(threads);
}

int get_num_threads() { return kernels::max_threads(); }

}  // namespace minigrad

// ---- printing ----

namespace {
using minigrad::Tensor;

// Writes the values of one sub-tensor, eliding the middle of long dimensions like NumPy does.
template <typename T>
void format_values(fmt::memory_buffer& out, const T* p, const minigrad::Shape& shape, std::size_t axis, int64_t offset,
                   int64_t stride_prod, bool abbreviate, int indent) {
  if (shape.empty()) {
    if constexpr (std::is_integral_v<T>)
      fmt::format_to(std::back_inserter(out), "{}", p[0]);
    else
      fmt::format_to(std::back_inserter(out), "{:.4f}", p[0]);
    return;
  }
  const int64_t n = shape[axis];
  const int64_t stride = stride_prod / n;
  constexpr int64_t kEdge = 3;
  out.push_back('[');
  for (int64_t i = 0; i < n; ++i) {
    if (abbreviate && n > 2 * kEdge && i == kEdge) {
      fmt::format_to(std::back_inserter(out), "...");
      i = n - kEdge - 1;
      if (axis + 1 == shape.size())
        fmt::format_to(std::back_inserter(out), ", ");
      else
        fmt::format_to(std::back_inserter(out), ",\n{:{}}", "", indent + 1);
      continue;
    }
    if (axis + 1 == shape.size()) {
      if constexpr (std::is_integral_v<T>)
        fmt::format_to(std::back_inserter(out), "{}", p[offset + i]);
      else
        fmt::format_to(std::back_inserter(out), "{:.4f}", p[offset + i]);
      if (i + 1 < n) fmt::format_to(std::back_inserter(out), ", ");
    } else {
      format_values(out, p, shape, axis + 1, offset + i * stride, stride, abbreviate, indent + 1);
      if (i + 1 < n) fmt::format_to(std::back_inserter(out), ",\n{:{}}", "", indent + 1);
    }
  }
  out.push_back(']');
}
}  // namespace

fmt::format_context::iterator fmt::formatter<minigrad::Tensor>::format(const minigrad::Tensor& t,
                                                                       fmt::format_context& ctx) const {
  if (!t.defined()) return fmt::format_to(ctx.out(), "tensor(undefined)");
  fmt::memory_buffer body;
  if (t.numel() == 0) fmt::format_to(std::back_inserter(body), "[]");
  const bool abbreviate = t.numel() > 1000;
  constexpr int kIndent = 7;  // width of "tensor("
  if (t.numel() > 0) switch (t.dtype()) {
      case minigrad::DType::Float32:
        format_values(body, t.data<float>(), t.shape(), 0, 0, t.numel(), abbreviate, kIndent);
        break;
      case minigrad::DType::Float64:
        format_values(body, t.data<double>(), t.shape(), 0, 0, t.numel(), abbreviate, kIndent);
        break;
      case minigrad::DType::Int64:
        format_values(body, t.data<int64_t>(), t.shape(), 0, 0, t.numel(), abbreviate, kIndent);
        break;
      case minigrad::DType::Bool:
        format_values(body, t.data<bool>(), t.shape(), 0, 0, t.numel(), abbreviate, kIndent);
        break;
    }
  return fmt::format_to(ctx.out(), "tensor({}, shape={}, dtype={}{})", fmt::to_string(body),
                        minigrad::shape_str(t.shape()), minigrad::dtype_name(t.dtype()),
                        t.requires_grad() ? ", requires_grad=true" : "");
}
