#pragma once
// The Tensor: a cheap handle to a shape, a dtype and one contiguous row-major buffer, plus the
// autograd fields (requires_grad, grad, grad_fn). Ops record graph nodes when an input requires
// grad and grad mode is on; backward() walks them in reverse.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <minigrad/allocator.h>
#include <minigrad/small_vector.h>

namespace minigrad {

enum class DType : uint8_t { Float32, Float64, Int64, Bool };
inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;
inline constexpr DType kInt64 = DType::Int64;  // indices: labels, gather/index_select, argmax
inline constexpr DType kBool = DType::Bool;    // masks: comparisons, where, masked_fill (1 byte)

std::string_view dtype_name(DType dtype);
std::size_t dtype_size(DType dtype);
bool is_floating(DType dtype);
// PyTorch's promotion of two tensors' dtypes: bool < int64 < float32 < float64.
DType promote_types(DType a, DType b);

// A number handed to an op (t * 2, t.gt(0.5), masked_fill(m, -1e9)), typed as PyTorch types a
// Python number: floating, integral or bool. Like PyTorch, it never widens a tensor's dtype
// within its category (float32 * 2.5 stays float32); a higher category gives that category's
// default (int64 * 2.5 is float32, bool + 1 is int64).
class Scalar {
 public:
  Scalar(double value) : value_(value), int_(0), kind_(DType::Float64) {}  // NOLINT: implicit
  template <typename I>
  requires std::is_integral_v<I> Scalar(I value)  // NOLINT: implicit
      : value_(static_cast<double>(value)),
        int_(static_cast<int64_t>(value)),
        kind_(std::is_same_v<I, bool> ? DType::Bool : DType::Int64) {}

  double to_double() const { return value_; }
  int64_t to_int() const { return kind_ == DType::Float64 ? static_cast<int64_t>(value_) : int_; }
  // Float64 (a floating number), Int64 or Bool.
  DType kind() const { return kind_; }

 private:
  double value_;
  int64_t int_;
  DType kind_;
};

// Sizes of the axes. Inline up to rank 5, so making a tensor allocates no shape.
using Shape = SmallVector<int64_t, 5>;
std::string shape_str(const Shape& shape);  // "(128, 784)"
int64_t shape_numel(const Shape& shape);

// Every error minigrad throws for bad input: shapes, dtypes, axes, indices, misuse of autograd.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct TensorOptions {
  DType dtype = DType::Float32;
  bool requires_grad = false;
};

class Generator;
struct Node;
struct TensorImpl;
class Tensor;

class Tensor {
 public:
  Tensor() = default;  // undefined: holds nothing; defined() is false
  explicit Tensor(std::shared_ptr<TensorImpl> impl);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int64_t dim() const;
  int64_t size(int64_t axis) const;  // negative axes count from the end
  int64_t numel() const;
  DType dtype() const;

  template <typename T>
  T* data();
  template <typename T>
  const T* data() const;
  void* raw_data();
  const void* raw_data() const;

  double item() const;  // the value of a one-element tensor
  template <typename T>
  std::vector<T> to_vector() const;
  // Differentiable between float types; a conversion to int64 or bool carries no gradient (as
  // in PyTorch). Float to int64 truncates toward zero; NaN and out-of-range values give INT64_MIN.
  Tensor to(DType dtype) const;
  Tensor clone() const;   // differentiable copy with its own buffer
  Tensor detach() const;  // shares the buffer, no graph

  // ---- autograd ----
  bool requires_grad() const;
  Tensor& requires_grad_(bool value = true);  // leaves only
  bool is_leaf() const;
  Tensor grad() const;  // undefined until a backward reaches this tensor
  void set_grad(const Tensor& grad);
  void zero_grad();  // drops .grad (like PyTorch's set_to_none=True)
  const std::shared_ptr<Node>& grad_fn() const;
  // Runs hook(leaf) inside backward() as soon as this leaf's gradient is final for that backward
  // (every consumer has delivered its part), while the rest of the graph is still running: for work
  // that can start early, such as a data-parallel all-reduce. Leaves that require grad only; one
  // hook per tensor, an empty function removes it. Not run for a leaf backward() does not reach.
  using GradReadyHook = std::function<void(const Tensor& leaf)>;
  void set_grad_ready_hook(GradReadyHook hook);
  // Scalars need no gradient argument; other tensors need one of their own shape.
  // create_graph records the backward itself (for higher derivatives) and implies retain_graph.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false, bool create_graph = false) const;

  // ---- elementwise ----
  Tensor neg() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor pow(double exponent) const;
  Tensor sqrt() const;
  Tensor abs() const;
  Tensor clamp(double min, double max) const;
  Tensor relu() const;
  Tensor leaky_relu(double negative_slope = 0.01) const;
  Tensor sigmoid() const;
  Tensor tanh() const;
  Tensor gelu() const;  // exact, erf-based
  Tensor sin() const;
  Tensor cos() const;
  Tensor log1p() const;
  Tensor expm1() const;
  Tensor erf() const;
  // log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (PyTorch's linear cut).
  Tensor softplus(double beta = 1.0, double threshold = 20.0) const;
  Tensor silu() const;                   // x sigmoid(x)
  Tensor elu(double alpha = 1.0) const;  // x > 0 ? x : alpha (exp(x) - 1)
  Tensor maximum(const Tensor& other) const;
  Tensor minimum(const Tensor& other) const;
  // out = value where mask (bool, broadcast against this) is true, this tensor elsewhere; this
  // tensor's dtype. The gradient flows to the unfilled elements.
  Tensor masked_fill(const Tensor& mask, Scalar value) const;

  // Comparisons return bool masks (no gradient); operands are compared in their promoted dtype.
  // Multiplying a mask by a float tensor promotes it to that tensor's dtype.
  Tensor eq(const Tensor& other) const;
  Tensor ne(const Tensor& other) const;
  Tensor lt(const Tensor& other) const;
  Tensor le(const Tensor& other) const;
  Tensor gt(const Tensor& other) const;
  Tensor ge(const Tensor& other) const;
  Tensor eq(Scalar other) const;
  Tensor ne(Scalar other) const;
  Tensor lt(Scalar other) const;
  Tensor le(Scalar other) const;
  Tensor gt(Scalar other) const;
  Tensor ge(Scalar other) const;
  Tensor isnan() const;  // bool
  // Of any dtype, nonzero is true; the results are bool.
  Tensor logical_not() const;
  Tensor logical_and(const Tensor& other) const;
  Tensor logical_or(const Tensor& other) const;

  // ---- reductions (axis may be negative) ----
  // sum of an int64 or bool tensor is int64 (exact), as in PyTorch; mean needs a float tensor.
  Tensor sum() const;
  Tensor sum(int64_t axis, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(int64_t axis, bool keepdim = false) const;
  // max/min propagate NaN; the gradient is shared evenly among tied extrema (NaNs tie with NaN).
  Tensor max() const;
  Tensor max(int64_t axis, bool keepdim = false) const;
  Tensor min() const;
  Tensor min(int64_t axis, bool keepdim = false) const;
  // Over several axes at once (negative allowed, no repeats); an empty list reduces them all.
  Tensor sum(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor mean(const std::vector<int64_t>& dims, bool keepdim = false) const;
  // log(sum(exp(x))) over dims, stable (the max is taken out); rows of -inf give -inf.
  Tensor logsumexp(const std::vector<int64_t>& dims, bool keepdim = false) const;
  // sum((x - mean)^2) / (N - correction) over dims (all when empty); N <= correction gives NaN
  // (inf for a nonzero sum), as PyTorch.
  Tensor var(const std::vector<int64_t>& dims = {}, int64_t correction = 1, bool keepdim = false) const;
  Tensor std(const std::vector<int64_t>& dims = {}, int64_t correction = 1, bool keepdim = false) const;
  // (sum |x|^p)^(1/p) over dims (all when empty); p = inf is max |x|. The gradient at x = 0 is 0.
  Tensor norm(double p = 2.0, const std::vector<int64_t>& dims = {}, bool keepdim = false) const;
  Tensor cumsum(int64_t axis) const;
  // The gradient is exact with zeros: each element's is the product of all the others.
  Tensor prod() const;
  Tensor prod(int64_t axis, bool keepdim = false) const;
  // (values, int64 indices) along axis, stable: equal values keep their order (as PyTorch's
  // stable sort); NaN sorts as the largest value. The values are differentiable.
  std::pair<Tensor, Tensor> sort(int64_t axis = -1, bool descending = false) const;
  // The k largest (or smallest) along axis, sorted, as (values, int64 indices); ties keep the
  // earlier index first.
  std::pair<Tensor, Tensor> topk(int64_t k, int64_t axis = -1, bool largest = true) const;
  // int64, no gradient; the first maximum wins and NaN counts as the maximum (as PyTorch).
  Tensor argmax() const;
  Tensor argmax(int64_t axis, bool keepdim = false) const;
  Tensor softmax(int64_t axis) const;
  Tensor log_softmax(int64_t axis) const;

  // ---- linear algebra and shape ----
  // PyTorch's rules: a 1-D left (right) operand is a row (column), its axis dropped from the
  // result; axes before the last two are batch axes, broadcast. See also mm and bmm below.
  Tensor matmul(const Tensor& other) const;
  Tensor reshape(Shape shape) const;  // shares the buffer; one dimension may be -1
  Tensor flatten(int64_t start_axis = 0, int64_t end_axis = -1) const;
  // PyTorch's names, argument order and index rules (negative axes and indices count from the
  // end). squeeze and unsqueeze share the buffer, like reshape; the others, where PyTorch
  // returns a view, return a contiguous copy.
  Tensor squeeze() const;                                // drops every size-1 axis
  Tensor squeeze(int64_t axis) const;                    // drops `axis` if its size is 1
  Tensor unsqueeze(int64_t axis) const;                  // a size-1 axis at `axis`, in [-dim() - 1, dim()]
  Tensor permute(const Shape& axes) const;               // output axis i is input axis axes[i]
  Tensor transpose(int64_t axis0, int64_t axis1) const;  // a permute
  Tensor t() const;                                      // transpose of a 2-D tensor
  // Indices start, start + step, ... below end along `axis`; start and end clamp to the axis
  // like a Python slice's, step is positive.
  Tensor slice(int64_t axis, int64_t start = 0, int64_t end = INT64_MAX, int64_t step = 1) const;
  Tensor narrow(int64_t axis, int64_t start, int64_t length) const;  // must lie inside the axis
  Tensor select(int64_t axis, int64_t index) const;                  // drops the axis
  // Pieces of split_size along `axis` (the last may be smaller), or of the given sizes, which
  // must add up to the axis; chunk makes pieces of ceil(size / chunks), so maybe fewer.
  std::vector<Tensor> split(int64_t split_size, int64_t axis = 0) const;
  std::vector<Tensor> split(const std::vector<int64_t>& sizes, int64_t axis = 0) const;
  std::vector<Tensor> chunk(int64_t chunks, int64_t axis = 0) const;
  // Tiles the tensor repeats[i] times along axis i; extra leading repeats add axes.
  Tensor repeat(const Shape& repeats) const;
  Tensor flip(const Shape& axes) const;
  Tensor gather(int64_t axis, const Tensor& index) const;
  Tensor index_select(int64_t axis, const Tensor& index) const;

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// An op's inputs, or the gradients its backward returns: inline up to 4 (linear has 3).
using TensorList = SmallVector<Tensor, 4>;

// Backward of one op: gradient of the op's output -> one gradient per input (undefined = none).
// Like std::function, but move-only and with room inside for every built-in op's closure, so
// recording a node allocates nothing; a bigger closure goes to the small-object pool.
class BackwardFn {
 public:
  static constexpr std::size_t kInlineBytes = 128;

  BackwardFn() = default;
  BackwardFn(std::nullptr_t) {}  // NOLINT: implicit, like std::function
  template <typename F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, BackwardFn> &&
           std::is_invocable_r_v<TensorList, std::decay_t<F>&, const Tensor&>)
      BackwardFn(F&& f) {  // NOLINT: implicit, so that record_op takes a lambda
    using Fn = std::decay_t<F>;
    if constexpr (kFitsInline<Fn>) {
      fn_ = ::new (static_cast<void*>(inline_)) Fn(std::forward<F>(f));
    } else {
      void* block = allocate_small(sizeof(Fn));
      try {
        fn_ = ::new (block) Fn(std::forward<F>(f));
      } catch (...) {
        release_small(block, sizeof(Fn));
        throw;
      }
    }
    ops_ = &kOps<Fn>;
  }
  BackwardFn(BackwardFn&& other) noexcept { take(other); }
  BackwardFn& operator=(BackwardFn&& other) noexcept {
    if (this != &other) {
      reset();
      take(other);
    }
    return *this;
  }
  ~BackwardFn() { reset(); }

  explicit operator bool() const { return ops_ != nullptr; }
  TensorList operator()(const Tensor& grad_output) const {
    if (!ops_) throw Error("BackwardFn: called empty (the graph was freed by backward())");
    return ops_->call(fn_, grad_output);
  }
  void reset() noexcept {
    if (ops_) ops_->destroy(fn_, fn_ == inline_);
    ops_ = nullptr;
    fn_ = nullptr;
  }

 private:
  template <typename Fn>
  static constexpr bool kFitsInline =
      sizeof(Fn) <= kInlineBytes &&
      alignof(Fn) <= alignof(std::max_align_t) && std::is_nothrow_move_constructible_v<Fn>;
  struct Ops {
    TensorList (*call)(void* fn, const Tensor& grad_output);
    void (*move_inline)(void* from, void* to);  // only for closures stored inline
    void (*destroy)(void* fn, bool is_inline);
  };
  template <typename Fn>
  static constexpr Ops kOps{[](void* fn, const Tensor& g) -> TensorList { return (*static_cast<Fn*>(fn))(g); },
                            [](void* from, void* to) {
                              ::new (to) Fn(std::move(*static_cast<Fn*>(from)));
                              static_cast<Fn*>(from)->~Fn();
                            },
                            [](void* fn, bool is_inline) {
                              static_cast<Fn*>(fn)->~Fn();
                              if (!is_inline) release_small(fn, sizeof(Fn));
                            }};

  void take(BackwardFn& other) noexcept {
    if (!other.ops_) return;
    if (other.fn_ == other.inline_) {
      other.ops_->move_inline(other.inline_, inline_);
      fn_ = inline_;
    } else {
      fn_ = other.fn_;
    }
    ops_ = std::exchange(other.ops_, nullptr);
    other.fn_ = nullptr;
  }

  alignas(std::max_align_t) std::byte inline_[kInlineBytes];
  void* fn_ = nullptr;  // inline_ or a pool block
  const Ops* ops_ = nullptr;
};

// ---- factories ----
Tensor empty(const Shape& shape, TensorOptions options = {});
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, double value, TensorOptions options = {});
// [start, end) in steps, ceil((end - start) / step) values, in options.dtype (float32 unless
// given: unlike torch.arange, the dtype is not inferred from the numbers).
Tensor arange(Scalar end, TensorOptions options = {});
Tensor arange(Scalar start, Scalar end, Scalar step = 1, TensorOptions options = {});
Tensor tensor(std::initializer_list<double> values, TensorOptions options = {});  // 1-D
Tensor tensor(std::initializer_list<double> values, std::initializer_list<int64_t> shape, TensorOptions options = {});
Tensor tensor(const std::vector<double>& values, const Shape& shape, TensorOptions options = {});
Tensor tensor(const std::vector<float>& values, const Shape& shape, TensorOptions options = {});
Tensor tensor(const std::vector<int64_t>& values, const Shape& shape, TensorOptions options = {.dtype = DType::Int64});
Tensor zeros_like(const Tensor& like, TensorOptions options);
Tensor zeros_like(const Tensor& like);  // same dtype, no grad
Tensor ones_like(const Tensor& like, TensorOptions options);
Tensor ones_like(const Tensor& like);
// Random tensors draw from `gen`, or from the global generator (see manual_seed) when null.
Tensor rand(const Shape& shape, TensorOptions options = {}, Generator* gen = nullptr);   // U[0,1)
Tensor randn(const Shape& shape, TensorOptions options = {}, Generator* gen = nullptr);  // N(0,1)
// Integers uniform in [low, high), int64 unless options say otherwise.
Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions options = {.dtype = DType::Int64},
               Generator* gen = nullptr);

// ---- free-function forms of the ops (same semantics as the methods) ----
// Binary ops promote their operands as PyTorch does (result_type). div is true division: int64
// and bool operands give float32. sub of two bool tensors is an error, as in PyTorch.
DType result_type(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
// Integer division rounding toward minus infinity (Python's //, torch.floor_divide): -7 // 2 is
// -4. For int64 and bool operands only; dividing by zero is an error.
Tensor floor_divide(const Tensor& a, const Tensor& b);
// int64 indices of shape S -> int64 tensor of shape S + (num_classes,); num_classes = -1 takes
// the largest index + 1.
Tensor one_hot(const Tensor& indices, int64_t num_classes = -1);
// cond ? a : b elementwise, all three broadcast; cond is bool; the result has result_type(a, b).
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor matmul(const Tensor& a, const Tensor& b);
// 2-D product of op(a) and op(b), where op transposes when asked. The transposes are folded into
// the GEMM's packing: this is how matmul's backward avoids copying its operands.
Tensor mm(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false);
// mm for each matrix of a batch: a [B, M, K] (or [B, K, M] transposed), b [B, K, N] (or
// [B, N, K]) -> [B, M, N].
Tensor bmm(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false);
// Joins tensors along an existing axis (cat) or a new one (stack). As in PyTorch, cat skips
// 1-D empty tensors whatever the others' shape; unlike it, the dtypes must be equal.
Tensor cat(const std::vector<Tensor>& tensors, int64_t axis = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t axis = 0);
// Constant padding in F.pad's order: (before, after) pairs, the first for the last axis;
// negative counts crop.
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, double value = 0.0);
// What linear() applies to its output.
enum class Activation : uint8_t { None, ReLU };
// activation(x W^T + b) for x [N, in], weight [out, in], bias [out] (or undefined): nn::Linear's
// forward, optionally with the ReLU after it, as one op. The bias is added by the GEMM itself
// and the ReLU in the same pass; the backward masks the gradient and sums the bias gradient in
// one pass before its two GEMMs.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              Activation activation = Activation::None);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
// Reduces a broadcast gradient back to `shape` (sums the broadcast axes).
Tensor sum_to(const Tensor& t, const Shape& shape);
// out = zeros(shape) with src added at index along axis; the adjoint of gather.
Tensor scatter_add(const Shape& shape, int64_t axis, const Tensor& index, const Tensor& src);
// out = zeros(shape) with rows of src added at index along axis; the adjoint of index_select.
Tensor index_add(const Shape& shape, int64_t axis, const Tensor& index, const Tensor& src);
// The standard normal CDF, Phi(x): gelu's derivative is built from it.
Tensor normal_cdf(const Tensor& x);
// Broadcast `t` to `shape` (a copy): the adjoint of sum_to.
Tensor expand(const Tensor& t, const Shape& shape);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, Scalar b);
Tensor operator-(const Tensor& a, Scalar b);
Tensor operator*(const Tensor& a, Scalar b);
Tensor operator/(const Tensor& a, Scalar b);
Tensor operator+(Scalar a, const Tensor& b);
Tensor operator-(Scalar a, const Tensor& b);
Tensor operator*(Scalar a, const Tensor& b);
Tensor operator/(Scalar a, const Tensor& b);
Tensor operator-(const Tensor& a);

// ---- defining ops ----
// Records `output` as the result of a differentiable op named `name` applied to `inputs`, when
// grad mode is on and some input requires grad; returns `output` (now carrying the graph node).
// `backward` receives the gradient of the output and returns one gradient per input, each of
// that input's shape (or undefined for "no gradient"). Write it with Tensor ops and it is itself
// differentiable, which is what backward(create_graph=true) needs. Capture inputs you need by
// value; to use the output, capture output.detach() (capturing output itself is a cycle).
// The node keeps `name` as a view: pass a string that outlives the graph (a literal).
// This is how every built-in op is written, and the public way to add your own.
Tensor record_op(std::string_view name, Tensor output, TensorList inputs, BackwardFn backward);

// Tensors by name, sorted: a module's parameters and buffers ("0.weight", "bn.running_mean"), an
// optimizer's or a scheduler's state, a checkpoint's contents. Saved and loaded by name.
using StateDict = std::map<std::string, Tensor>;

// A 0-d tensor holding `value` in the dtype of `like`: a scalar that broadcasts against it.
Tensor scalar_like(double value, const Tensor& like);
// A 0-d tensor holding `value` in the dtype a binary op of `like` and `value` computes in.
Tensor scalar_for(Scalar value, const Tensor& like);

}  // namespace minigrad

// fmt::format("{}", t): values (abbreviated when large), shape, dtype, requires_grad.
template <>
struct fmt::formatter<minigrad::Tensor> {
  constexpr auto parse(fmt::format_parse_context& ctx) { return ctx.begin(); }
  fmt::format_context::iterator format(const minigrad::Tensor& t, fmt::format_context& ctx) const;
};
template <>
struct fmt::formatter<minigrad::DType> : fmt::formatter<std::string_view> {
  fmt::format_context::iterator format(minigrad::DType d, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(minigrad::dtype_name(d), ctx);
  }
};
