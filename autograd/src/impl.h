#pragma once
// What a Tensor handle points at, and helpers shared by the op files. Private to autograd.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>

#include <minigrad/allocator.h>
#include <minigrad/autograd.h>
#include <minigrad/kernels/float_env.h>
#include <minigrad/kernels/thread_pool.h>
#include <minigrad/tensor.h>

namespace minigrad {

struct Storage {
  void* ptr;
  std::size_t bytes;
  explicit Storage(std::size_t n) : ptr(allocate_buffer(n)), bytes(n) {}
  ~Storage() { release_buffer(ptr, bytes); }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

struct TensorImpl {
  Shape shape;
  DType dtype = DType::Float32;
  int64_t numel = 0;
  std::shared_ptr<Storage> storage;
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
  // Tensor::set_grad_ready_hook's hook (behind a pointer: most tensors have none), and the
  // gradients still to come to this leaf in the running backward().
  std::unique_ptr<Tensor::GradReadyHook> grad_ready_hook;
  int pending_grads = 0;
};

namespace detail {

// f(T{}) under T's denormal policy (kernels/float_env.h): float32 work flushes denormals unless
// turned off, float64 work never does.
template <typename T, typename F>
decltype(auto) with_denormal_policy(F&& f) {
  const auto scope = kernels::denormal_scope_for<T>();
  return f(T{});
}

// Calls f(T{}) with T the C++ type of t's floating dtype, under T's denormal policy; other dtypes
// are an error naming the op and t's shape.
template <typename F>
decltype(auto) dispatch_float(const Tensor& t, std::string_view op, F&& f) {
  switch (t.dtype()) {
    case DType::Float32:
      return with_denormal_policy<float>(f);
    case DType::Float64:
      return with_denormal_policy<double>(f);
    default:
      throw Error(fmt::format("{}: a {} tensor of shape {} is not supported (float32 or float64 expected)", op,
                              dtype_name(t.dtype()), shape_str(t.shape())));
  }
}

// Calls f(T{}) with T the C++ type of any dtype (bool for Bool); floating types under their
// denormal policy.
template <typename F>
decltype(auto) dispatch_any(DType dtype, F&& f) {
  switch (dtype) {
    case DType::Float32:
      return with_denormal_policy<float>(f);
    case DType::Float64:
      return with_denormal_policy<double>(f);
    case DType::Int64:
      return f(int64_t{});
    case DType::Bool:
      return f(bool{});
  }
  throw Error("dispatch: unknown dtype");
}

// The category order PyTorch promotes along: bool < integer < floating.
inline int dtype_category(DType d) { return d == DType::Bool ? 0 : d == DType::Int64 ? 1 : 2; }

// v converted to T. Float to int64 casts NaN, infinities and out-of-range values to INT64_MIN
// (what PyTorch gives on x86) instead of undefined behaviour; to bool, nonzero (NaN too) is true.
template <typename T, typename S>
T convert(S v) {
  if constexpr (std::is_same_v<T, int64_t> && std::is_floating_point_v<S>) {
    if (!(v >= S(-0x1p63) && v < S(0x1p63))) return INT64_MIN;
  }
  if constexpr (std::is_same_v<T, bool>) return v != S(0);
  return static_cast<T>(v);
}

template <typename T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>)
    return std::isnan(v);
  else
    return false;
}

// Below this many elements a loop runs on one thread: forking costs more than it saves.
inline constexpr int64_t kParallelGrain = 1 << 15;

// Runs body(begin, end) over [0, n) in fixed chunks of `grain` items, in parallel when there is
// more than one chunk. Chunk boundaries depend only on n and grain, so per-chunk results are
// thread-count independent.
template <typename F>
void parallel_for(int64_t n, F&& body, int64_t grain = kParallelGrain) {
  kernels::parallel_for(n, grain, std::forward<F>(body));
}

// A grain for loops over rows of `row_size` elements: about kParallelGrain elements per chunk.
inline int64_t rows_grain(int64_t row_size) {
  return std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(row_size, 1));
}

int64_t normalize_axis(int64_t axis, int64_t ndim, std::string_view op);
void check_same_dtype(const Tensor& a, const Tensor& b, std::string_view op);
// Throws naming the op unless t is float32 or float64.
void check_floating(const Tensor& t, std::string_view op);
void check_defined(const Tensor& t, std::string_view op);
Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op);

// -1, 0 or 1 in x's dtype (differentiable ops, gradient 0).
Tensor sign(const Tensor& x);

// ReLU's input gradient as PyTorch's threshold_backward: g where y > 0 or NaN, and 0 where
// y <= 0 even when g is not finite. y is the ReLU's input or output (same sign). One pass unless
// create_graph asks for a differentiable result.
Tensor relu_backward(const Tensor& g, const Tensor& y);

// [outer, n, inner] view of a shape around one axis: the layout every axis op loops over.
struct AxisView {
  int64_t outer = 1, n = 1, inner = 1;
};
AxisView axis_view(const Shape& shape, int64_t axis);
Shape reduced_shape(const Shape& shape, int64_t axis, bool keepdim);

}  // namespace detail
}  // namespace minigrad
