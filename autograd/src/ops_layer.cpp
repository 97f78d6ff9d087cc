// layer_norm and embedding: the ops of nn's LayerNorm and Embedding.
#include <cmath>

#include <minigrad/layer_ops.h>

#include "impl.h"

namespace minigrad {

using Grads = TensorList;

namespace {

// y = (x - mean) * rstd * w + b for each row of D elements (w, b may be null); the row's mean and
// rstd are kept for the backward. Statistics accumulate in double, two passes over the row.
template <typename T>
void layer_norm_rows(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, int64_t rows, int64_t D, double eps) {
  detail::parallel_for(
      rows,
      [&](int64_t lo, int64_t hi) {
        for (int64_t r = lo; r < hi; ++r) {
          const T* xr = x + r * D;
          T* yr = y + r * D;
          double sum = 0, sq = 0;
          for (int64_t j = 0; j < D; ++j) sum += xr[j];
          const double m = sum / static_cast<double>(D);
          for (int64_t j = 0; j < D; ++j) sq += (xr[j] - m) * (xr[j] - m);
          const double s = 1.0 / std::sqrt(sq / static_cast<double>(D) + eps);
          for (int64_t j = 0; j < D; ++j) {
            T v = static_cast<T>((xr[j] - m) * s);
            if (w) v *= w[j];
            if (b) v += b[j];
            yr[j] = v;
          }
          mean[r] = static_cast<T>(m);
          rstd[r] = static_cast<T>(s);
        }
      },
      detail::rows_grain(D));
}

void check_layer_norm(const Tensor& x, const Shape& normalized, const Tensor& w, const Tensor& b, double eps) {
  detail::check_defined(x, "layer_norm");
  const auto k = static_cast<int64_t>(normalized.size());
  bool fits = k > 0 && x.dim() >= k;
  for (int64_t i = 0; fits && i < k; ++i) fits = x.size(x.dim() - k + i) == normalized[i];
  if (!fits)
    throw Error(fmt::format("layer_norm: input of shape {} does not end in normalized_shape {}", shape_str(x.shape()),
                            shape_str(normalized)));
  for (const auto& [t, what] : {std::pair{w, "weight"}, std::pair{b, "bias"}}) {
    if (!t.defined()) continue;
    detail::check_same_dtype(x, t, "layer_norm");
    if (t.shape() != normalized)
      throw Error(fmt::format("layer_norm: {} of shape {} does not match normalized_shape {}", what,
                              shape_str(t.shape()), shape_str(normalized)));
  }
  if (!(eps >= 0)) throw Error(fmt::format("layer_norm: eps must be >= 0, got {}", eps));
}

// The normalized rows of x2 [R, D] and their rstd [R, 1], written with Tensor ops: what the
// backward uses when it is differentiated itself.
std::pair<Tensor, Tensor> normalize_rows(const Tensor& x2, double eps) {
  const Tensor centered = x2 - x2.mean(1, true);
  const Tensor rstd = ((centered * centered).mean(1, true) + eps).pow(-0.5);
  return {centered * rstd, rstd};
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  check_layer_norm(x, normalized_shape, weight, bias, eps);
  const int64_t D = shape_numel(normalized_shape);
  const int64_t rows = D == 0 ? 0 : x.numel() / D;
  Tensor out = empty(x.shape(), {.dtype = x.dtype()});
  Tensor mean = empty({rows, 1}, {.dtype = x.dtype()});
  Tensor rstd = empty({rows, 1}, {.dtype = x.dtype()});
  detail::dispatch_float(x, "layer_norm", [&](auto z) {
    using T = decltype(z);
    layer_norm_rows<T>(x.data<T>(), weight.defined() ? weight.data<T>() : nullptr,
                       bias.defined() ? bias.data<T>() : nullptr, out.data<T>(), mean.data<T>(), rstd.data<T>(), rows,
                       D, eps);
  });
  // With xh = (x - mean) * rstd and gh = g * w, per row:
  //   dx = rstd * (gh - mean(gh) - xh * mean(gh * xh)),  dw = sum_rows(g * xh),  db = sum_rows(g).
  return record_op("layer_norm", out, {x, weight, bias}, [x, weight, bias, mean, rstd, D, eps](const Tensor& g) {
    if (D == 0) return Grads{zeros_like(x), Tensor(), Tensor()};
    const Tensor x2 = x.reshape({-1, D});
    const Tensor g2 = g.reshape({-1, D});
    const auto [xh, r] = grad_enabled() ? normalize_rows(x2, eps) : std::pair{(x2 - mean) * rstd, rstd};
    Tensor gx, gw, gb;
    if (x.requires_grad()) {
      const Tensor gh = weight.defined() ? g2 * weight.reshape({D}) : g2;
      gx = (r * (gh - gh.mean(1, true) - xh * (gh * xh).mean(1, true))).reshape(x.shape());
    }
    if (weight.defined() && weight.requires_grad()) gw = (g2 * xh).sum(0).reshape(weight.shape());
    if (bias.defined() && bias.requires_grad()) gb = g2.sum(0).reshape(bias.shape());
    return Grads{gx, gw, gb};
  });
}

Tensor embedding(const Tensor& indices, const Tensor& weight, std::optional<int64_t> padding_idx) {
  detail::check_defined(indices, "embedding");
  detail::check_defined(weight, "embedding");
  if (indices.dtype() != DType::Int64)
    throw Error(fmt::format("embedding: indices must be int64, got {} {}", dtype_name(indices.dtype()),
                            shape_str(indices.shape())));
  if (weight.dim() != 2 || !is_floating(weight.dtype()))
    throw Error(
        fmt::format("embedding: weight must be a 2-D float tensor [num_embeddings, dim], "
                    "got {} {}",
                    dtype_name(weight.dtype()), shape_str(weight.shape())));
  const int64_t V = weight.size(0), D = weight.size(1), N = indices.numel();
  if (padding_idx) {
    if (*padding_idx < -V || *padding_idx >= V)
      throw Error(fmt::format("embedding: padding_idx {} is out of range for {} embeddings", *padding_idx, V));
    if (*padding_idx < 0) *padding_idx += V;
  }
  const int64_t* idx = indices.data<int64_t>();
  for (int64_t i = 0; i < N; ++i)
    if (idx[i] < 0 || idx[i] >= V)
      throw Error(fmt::format("embedding: index {} at position {} is out of range for {} embeddings", idx[i], i, V));
  const Tensor flat = indices.reshape({N});
  Shape out_shape = indices.shape();
  out_shape.push_back(D);
  Tensor out;
  {
    NoGradGuard no_grad;  // one node for the op, below
    out = weight.detach().index_select(0, flat).reshape(out_shape);
  }
  // 1 for the lookups whose gradient reaches the weight, 0 for those of padding_idx.
  Tensor keep;
  if (padding_idx) {
    keep = empty({N, 1}, {.dtype = weight.dtype()});
    detail::dispatch_float(weight, "embedding", [&](auto z) {
      using T = decltype(z);
      T* k = keep.data<T>();
      for (int64_t i = 0; i < N; ++i) k[i] = idx[i] == *padding_idx ? T(0) : T(1);
    });
  }
  return record_op("embedding", out, {weight}, [flat, keep, V, D](const Tensor& g) {
    const Tensor g2 = g.reshape({-1, D});
    return Grads{index_add({V, D}, 0, flat, keep.defined() ? g2 * keep : g2)};
  });
}

}  // namespace minigrad
