// Matrix products. Every case reduces to mm or its batched form, whose backward is two more
// products with the transposes folded into the GEMM's packing: no operand is ever copied to be
// transposed.
#include <minigrad/kernels/gemm.h>

#include "impl.h"

namespace minigrad {

using Grads = TensorList;

// C = op(A) op(B);  dop(A) = G op(B)^T,  dop(B) = op(A)^T G, each rewritten as an mm of the
// stored operands so that the gradient comes out in the stored layout.
Tensor mm(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  detail::check_same_dtype(a, b, "matmul");
  if (a.dim() != 2 || b.dim() != 2)
    throw Error(
        fmt::format("matmul: expected 2-D operands, got {} and {}", shape_str(a.shape()), shape_str(b.shape())));
  const int64_t M = ta ? a.size(1) : a.size(0), K = ta ? a.size(0) : a.size(1);
  const int64_t Kb = tb ? b.size(1) : b.size(0), N = tb ? b.size(0) : b.size(1);
  if (K != Kb)
    throw Error(fmt::format("matmul: {}{} @ {}{}: inner dimensions {} and {} differ", shape_str(a.shape()),
                            ta ? "^T" : "", shape_str(b.shape()), tb ? "^T" : "", K, Kb));
  Tensor out = empty({M, N}, {.dtype = a.dtype()});
  detail::dispatch_float(a, "matmul", [&](auto z) {
    using T = decltype(z);
    if (K == 0) {
      std::fill_n(out.data<T>(), out.numel(), T(0));
      return;
    }
    kernels::gemm(ta, tb, M, N, K, T(1), a.data<T>(), a.size(1), b.data<T>(), b.size(1), T(0), out.data<T>(), N);
  });
  return record_op("matmul", out, {a, b}, [a, b, ta, tb](const Tensor& g) {
    Tensor ga, gb;
    if (a.requires_grad()) ga = ta ? mm(b, g, tb, true) : mm(g, b, false, !tb);
    if (b.requires_grad()) gb = tb ? mm(g, a, true, ta) : mm(a, g, !ta, false);
    return Grads{ga, gb};
  });
}

namespace {

void check_linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  detail::check_defined(x, "linear");
  detail::check_defined(w, "linear");
  detail::check_same_dtype(x, w, "linear");
  if (x.dim() != 2 || w.dim() != 2 || x.size(1) != w.size(1))
    throw Error(fmt::format("linear: input {} and weight {}: expected [N, in] and [out, in]", shape_str(x.shape()),
                            shape_str(w.shape())));
  if (!b.defined()) return;
  detail::check_same_dtype(x, b, "linear");
  if (b.dim() != 1 || b.size(0) != w.size(0))
    throw Error(fmt::format("linear: bias {} does not match weight {}: expected ({},)", shape_str(b.shape()),
                            shape_str(w.shape()), w.size(0)));
}

// Column blocks of a [rows, cols] loop: about kParallelGrain elements each, whole rows inside, so
// every column is summed over its rows in one fixed order.
int64_t column_grain(int64_t rows) {
  return std::max<int64_t>(16, detail::kParallelGrain / std::max<int64_t>(rows, 1));
}

// Backward of the epilogue, one pass over g [rows, cols]: g_pre = relu ? g * !(y <= 0) : g (written
// only when relu) and bias_grad = column sums of g_pre (when not null).
template <typename T>
void linear_epilogue_backward(const T* g, const T* y, T* g_pre, T* bias_grad, int64_t rows, int64_t cols) {
  detail::parallel_for(
      cols,
      [&](int64_t c0, int64_t c1) {
        if (bias_grad) std::fill(bias_grad + c0, bias_grad + c1, T(0));
        for (int64_t r = 0; r < rows; ++r) {
          const T* gr = g + r * cols;
          if (g_pre) {
            const T* yr = y + r * cols;
            T* pr = g_pre + r * cols;
            for (int64_t j = c0; j < c1; ++j) pr[j] = yr[j] <= T(0) ? T(0) : gr[j];  // as detail::relu_backward
            gr = pr;
          }
          if (bias_grad)
            for (int64_t j = c0; j < c1; ++j) bias_grad[j] += gr[j];
        }
      },
      column_grain(rows));
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b, Activation activation) {
  check_linear(x, w, b);
  const int64_t N = x.size(0), in = x.size(1), out_features = w.size(0);
  const bool relu = activation == Activation::ReLU;
  Tensor out = empty({N, out_features}, {.dtype = x.dtype()});
  detail::dispatch_float(x, "linear", [&](auto z) {
    using T = decltype(z);
    // Bias and ReLU are applied as the GEMM stores each tile, not in passes of their own.
    kernels::gemm(false, true, N, out_features, in, T(1), x.data<T>(), in, w.data<T>(), in, T(0), out.data<T>(),
                  out_features, {.bias = b.defined() ? b.data<T>() : nullptr, .relu = relu});
  });
  return record_op("linear", out, {x, w, b}, [x, w, b, y = out.detach(), relu](const Tensor& g) {
    Tensor g_pre = g, gb;
    const bool want_gb = b.defined() && b.requires_grad();
    if (grad_enabled()) {  // differentiable form, for create_graph
      if (relu) g_pre = detail::relu_backward(g, y);
      if (want_gb) gb = g_pre.sum(0);
    } else if (relu || want_gb) {
      if (relu) g_pre = empty(g.shape(), {.dtype = g.dtype()});
      if (want_gb) gb = empty(b.shape(), {.dtype = b.dtype()});
      detail::dispatch_float(g, "linear", [&](auto z) {
        using T = decltype(z);
        linear_epilogue_backward<T>(g.data<T>(), y.data<T>(), relu ? g_pre.data<T>() : nullptr,
                                    want_gb ? gb.data<T>() : nullptr, g.size(0), g.size(1));
      });
    }
    Tensor gx = x.requires_grad() ? mm(g_pre, w) : Tensor();
    Tensor gw = w.requires_grad() ? mm(g_pre, x, true, false) : Tensor();
    return Grads{gx, gw, gb};
  });
}

namespace {

// Where matrix i of a broadcast batch starts in each operand: i unravelled over the batch
// shape, each operand stepping 0 along the batch axes it broadcasts (size 1 or missing).
class BatchOffsets {
 public:
  BatchOffsets(const Shape& batch, const Tensor& a, const Tensor& b)
      : batch_(batch), a_(strides_of(a, batch)), b_(strides_of(b, batch)) {}
  std::pair<int64_t, int64_t> operator()(int64_t i) const {
    int64_t oa = 0, ob = 0;
    for (std::size_t d = batch_.size(); d-- > 0;) {
      const int64_t k = i % batch_[d];
      i /= batch_[d];
      oa += k * a_[d];
      ob += k * b_[d];
    }
    return {oa, ob};
  }

 private:
  // Element strides of t's batch axes, aligned to the right of `batch`.
  static Shape strides_of(const Tensor& t, const Shape& batch) {
    Shape s(batch.size(), 0);
    int64_t stride = t.size(-1) * t.size(-2);
    for (int64_t d = t.dim() - 3, o = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d, --o) {
      if (t.shape()[d] != 1) s[o] = stride;
      stride *= t.shape()[d];
    }
    return s;
  }
  Shape batch_, a_, b_;
};

// op(a) op(b) for each matrix of the broadcast of a's and b's batch axes (those before the last
// two). Each matrix is one GEMM call, whose result does not depend on the thread count: many
// small ones run side by side, one serial GEMM each, instead of each splitting itself into
// tasks too small to pay for a parallel region; a few big ones run one after the other, each on
// every thread.
Tensor batched_mm(const Tensor& a, const Tensor& b, bool ta, bool tb, std::string_view op) {
  detail::check_same_dtype(a, b, op);
  if (a.dim() < 2 || b.dim() < 2)
    throw Error(fmt::format("{}: expected operands of at least 2 dimensions, got {} and {}", op, shape_str(a.shape()),
                            shape_str(b.shape())));
  const int64_t M = a.size(ta ? -1 : -2), K = a.size(ta ? -2 : -1);
  const int64_t Kb = b.size(tb ? -1 : -2), N = b.size(tb ? -2 : -1);
  if (K != Kb)
    throw Error(fmt::format("{}: {}{} @ {}{}: inner dimensions {} and {} differ", op, shape_str(a.shape()),
                            ta ? "^T" : "", shape_str(b.shape()), tb ? "^T" : "", K, Kb));
  const Shape batch_a(a.shape().begin(), a.shape().end() - 2), batch_b(b.shape().begin(), b.shape().end() - 2);
  for (std::size_t i = 1; i <= std::min(batch_a.size(), batch_b.size()); ++i) {
    const int64_t na = batch_a[batch_a.size() - i], nb = batch_b[batch_b.size() - i];
    if (na != nb && na != 1 && nb != 1)
      throw Error(fmt::format("{}: the batch axes of {} and {} cannot be broadcast ({} vs {})", op,
                              shape_str(a.shape()), shape_str(b.shape()), na, nb));
  }
  const Shape batch = detail::broadcast_shapes(batch_a, batch_b, op);
  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor out = empty(out_shape, {.dtype = a.dtype()});
  const int64_t count = shape_numel(batch);
  if (out.numel() > 0) {
    const BatchOffsets offsets(batch, a, b);
    const double flops = 2.0 * double(M) * double(N) * double(K), least = kernels::kGemmMinTaskFlops;
    const int64_t per_task = std::max<int64_t>(1, int64_t(least / std::max(flops, 1.0)));
    const int64_t tasks = (count + per_task - 1) / per_task;
    const bool side_by_side = tasks > 1 && (flops < least || tasks >= 2 * kernels::threads_here());
    detail::dispatch_float(a, op, [&](auto z) {
      using T = decltype(z);
      const T* pa = a.data<T>();
      const T* pb = b.data<T>();
      T* pc = out.data<T>();
      const auto matrices = [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          const auto [oa, ob] = offsets(i);
          kernels::gemm(ta, tb, M, N, K, T(1), pa + oa, a.size(-1), pb + ob, b.size(-1), T(0), pc + i * M * N, N);
        }
      };
      if (side_by_side)
        detail::parallel_for(count, matrices, per_task);
      else
        matrices(0, count);
    });
  }
  // As mm's backward, per matrix; a gradient summed over the batch axes its operand broadcast.
  return record_op("bmm", out, {a, b}, [a, b, ta, tb](const Tensor& g) {
    Tensor ga, gb;
    if (a.requires_grad())
      ga = sum_to(ta ? batched_mm(b, g, tb, true, "bmm") : batched_mm(g, b, false, !tb, "bmm"), a.shape());
    if (b.requires_grad())
      gb = sum_to(tb ? batched_mm(g, a, true, ta, "bmm") : batched_mm(a, g, !ta, false, "bmm"), b.shape());
    return Grads{ga, gb};
  });
}

}  // namespace

Tensor bmm(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  detail::check_same_dtype(a, b, "bmm");
  if (a.dim() != 3 || b.dim() != 3 || a.size(0) != b.size(0))
    throw Error(fmt::format("bmm: expected 3-D operands with the same batch size, got {} and {}", shape_str(a.shape()),
                            shape_str(b.shape())));
  return batched_mm(a, b, ta, tb, "bmm");
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  detail::check_same_dtype(a, b, "matmul");
  const int64_t da = a.dim(), db = b.dim();
  if (da == 0 || db == 0)
    throw Error(fmt::format("matmul: operands need at least 1 dimension, got {} and {}", shape_str(a.shape()),
                            shape_str(b.shape())));
  const int64_t K = a.size(-1), Kb = b.size(db == 1 ? 0 : -2);
  if (K != Kb)
    throw Error(fmt::format("matmul: {} @ {}: inner dimensions {} and {} differ", shape_str(a.shape()),
                            shape_str(b.shape()), K, Kb));
  // A vector is a 1 x K row on the left, a K x 1 column on the right; that axis is dropped from
  // the result.
  Shape out_shape;
  if (db <= 2) {
    // Two matrices, or a's batch axes folded into its rows (as PyTorch does): one GEMM.
    out_shape = Shape(a.shape().begin(), a.shape().end() - 1);
    const int64_t rows = shape_numel(out_shape);
    if (db == 2) out_shape.push_back(b.size(1));
    const Tensor c = mm(da == 2 ? a : a.reshape({rows, K}), db == 2 ? b : b.reshape({K, 1}));
    return c.shape() == out_shape ? c : c.reshape(out_shape);
  }
  const Tensor c = batched_mm(da == 1 ? a.reshape({1, K}) : a, b, false, false, "matmul");
  return da == 1 ? c.squeeze(-2) : c;
}

Tensor Tensor::matmul(const Tensor& other) const { return minigrad::matmul(*this, other); }

}  // namespace minigrad
