// Matrix products. Every case reduces to mm, whose backward is two more mm calls with the
// transposes folded into the GEMM's packing: no operand is ever copied to be transposed.
#include <minigrad/kernels/gemm.h>

#include "impl.h"

namespace minigrad {

using Grads = TensorList;

// C = op(A) op(B);  dop(A) = G op(B)^T,  dop(B) = op(A)^T G, each rewritten as an mm of the
// stored operands so that the gradient comes out in the stored layout.
Tensor mm(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  detail::check_same_dtype(a, b, "matmul");
  if (a.dim() != 2 || b.dim() != 2)
    throw Error(fmt::format("matmul: expected 2-D operands, got {} and {}", shape_str(a.shape()),
                            shape_str(b.shape())));
  const int64_t M = ta ? a.size(1) : a.size(0), K = ta ? a.size(0) : a.size(1);
  const int64_t Kb = tb ? b.size(1) : b.size(0), N = tb ? b.size(0) : b.size(1);
  if (K != Kb)
    throw Error(fmt::format("matmul: {}{} @ {}{}: inner dimensions {} and {} differ",
                            shape_str(a.shape()), ta ? "^T" : "", shape_str(b.shape()),
                            tb ? "^T" : "", K, Kb));
  Tensor out = empty({M, N}, {.dtype = a.dtype()});
  detail::dispatch_float(a, "matmul", [&](auto z) {
    using T = decltype(z);
    if (K == 0) {
      std::fill_n(out.data<T>(), out.numel(), T(0));
      return;
    }
    kernels::gemm(ta, tb, M, N, K, T(1), a.data<T>(), a.size(1), b.data<T>(), b.size(1), T(0),
                  out.data<T>(), N);
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
    throw Error(fmt::format("linear: input {} and weight {}: expected [N, in] and [out, in]",
                            shape_str(x.shape()), shape_str(w.shape())));
  if (!b.defined()) return;
  detail::check_same_dtype(x, b, "linear");
  if (b.dim() != 1 || b.size(0) != w.size(0))
    throw Error(fmt::format("linear: bias {} does not match weight {}: expected ({},)",
                            shape_str(b.shape()), shape_str(w.shape()), w.size(0)));
}

// Column blocks of a [rows, cols] loop: about kParallelGrain elements each, whole rows inside, so
// every column is summed over its rows in one fixed order.
int64_t column_grain(int64_t rows) { return std::max<int64_t>(16, detail::kParallelGrain / std::max<int64_t>(rows, 1)); }

// Backward of the epilogue, one pass over g [rows, cols]: g_pre = relu ? g * !(y <= 0) : g (written
// only when relu) and bias_grad = column sums of g_pre (when not null).
template <typename T>
void linear_epilogue_backward(const T* g, const T* y, T* g_pre, T* bias_grad, int64_t rows,
                              int64_t cols) {
  detail::parallel_for(cols, [&](int64_t c0, int64_t c1) {
    if (bias_grad) std::fill(bias_grad + c0, bias_grad + c1, T(0));
    for (int64_t r = 0; r < rows; ++r) {
      const T* gr = g + r * cols;
      if (g_pre) {
        const T* yr = y + r * cols;
        T* pr = g_pre + r * cols;
        for (int64_t j = c0; j < c1; ++j) pr[j] = yr[j] <= T(0) ? T(0) : gr[j];  // NaN passes, as relu
        gr = pr;
      }
      if (bias_grad)
        for (int64_t j = c0; j < c1; ++j) bias_grad[j] += gr[j];
    }
  }, column_grain(rows));
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
    kernels::gemm(false, true, N, out_features, in, T(1), x.data<T>(), in, w.data<T>(), in, T(0),
                  out.data<T>(), out_features,
                  {.bias = b.defined() ? b.data<T>() : nullptr, .relu = relu});
  });
  return record_op("linear", out, {x, w, b}, [x, w, b, y = out.detach(), relu](const Tensor& g) {
    Tensor g_pre = g, gb;
    const bool want_gb = b.defined() && b.requires_grad();
    if (grad_enabled()) {  // differentiable form, for create_graph
      if (relu) g_pre = g * y.le(0.0).logical_not();
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

Tensor matmul(const Tensor& a, const Tensor& b) {
  detail::check_same_dtype(a, b, "matmul");
  const int64_t da = a.dim(), db = b.dim();
  if (da == 0 || db == 0 || da > 2 || db > 2)
    throw Error(fmt::format("matmul: supports 1-D and 2-D operands, got {} and {}",
                            shape_str(a.shape()), shape_str(b.shape())));
  if (da == 2 && db == 2) return mm(a, b);
  // Vectors become 1 x K rows or K x 1 columns; the extra axis is dropped from the result.
  const Tensor a2 = da == 1 ? a.reshape({1, a.size(0)}) : a;
  const Tensor b2 = db == 1 ? b.reshape({b.size(0), 1}) : b;
  const Tensor c = mm(a2, b2);
  if (da == 1 && db == 1) return c.reshape({});
  return c.reshape({da == 1 ? c.size(1) : c.size(0)});
}

Tensor Tensor::matmul(const Tensor& other) const { return minigrad::matmul(*this, other); }

}  // namespace minigrad
