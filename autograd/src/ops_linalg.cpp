// Matrix products. Every case reduces to mm, whose backward is two more mm calls with the
// transposes folded into the GEMM's packing: no operand is ever copied to be transposed.
#include <minigrad/kernels/gemm.h>

#include "impl.h"

namespace minigrad {

using Grads = std::vector<Tensor>;

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
