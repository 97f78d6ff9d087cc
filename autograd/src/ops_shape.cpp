// Shape and indexing ops: reshape, flatten, gather / scatter_add, index_select / index_add.
// (The layout ops that copy, permute to pad, are in ops_view.cpp.)
#include "impl.h"

namespace minigrad {

using detail::AxisView;
using Grads = TensorList;

Tensor Tensor::reshape(Shape new_shape) const {
  detail::check_defined(*this, "reshape");
  int64_t inferred = -1, known = 1;
  for (std::size_t i = 0; i < new_shape.size(); ++i) {
    if (new_shape[i] == -1) {
      if (inferred >= 0) throw Error(fmt::format("reshape: more than one -1 in {}", shape_str(new_shape)));
      inferred = static_cast<int64_t>(i);
    } else if (new_shape[i] < 0) {
      throw Error(fmt::format("reshape: invalid dimension {} in {}", new_shape[i], shape_str(new_shape)));
    } else {
      known *= new_shape[i];
    }
  }
  if (inferred >= 0) {
    if (known == 0 || numel() % known != 0)
      throw Error(fmt::format("reshape: cannot view {} ({} elements) as {}", shape_str(shape()), numel(),
                              shape_str(new_shape)));
    new_shape[inferred] = numel() / known;
  }
  if (shape_numel(new_shape) != numel())
    throw Error(fmt::format("reshape: cannot view {} ({} elements) as {} ({} elements)", shape_str(shape()), numel(),
                            shape_str(new_shape), shape_numel(new_shape)));
  Tensor out = detach();  // a new handle on the same buffer
  out.impl()->shape = new_shape;
  return record_op("reshape", out, {*this}, [from = shape()](const Tensor& g) { return Grads{g.reshape(from)}; });
}

Tensor Tensor::flatten(int64_t start_axis, int64_t end_axis) const {
  if (dim() == 0) return reshape({1});
  const int64_t start = detail::normalize_axis(start_axis, dim(), "flatten");
  const int64_t end = detail::normalize_axis(end_axis, dim(), "flatten");
  if (start > end) throw Error(fmt::format("flatten: start axis {} is after end axis {}", start_axis, end_axis));
  Shape s(shape().begin(), shape().begin() + start);
  int64_t merged = 1;
  for (int64_t i = start; i <= end; ++i) merged *= shape()[i];
  s.push_back(merged);
  s.insert(s.end(), shape().begin() + end + 1, shape().end());
  return reshape(s);
}

// ---- indexing ----

namespace {

void check_index(const Tensor& index, std::string_view op) {
  detail::check_defined(index, op);
  if (index.dtype() != DType::Int64)
    throw Error(
        fmt::format("{}: index must be int64, got {} {}", op, dtype_name(index.dtype()), shape_str(index.shape())));
}

// Checks every index value against the axis size, naming the first bad one.
void check_index_range(const int64_t* idx, int64_t count, int64_t size, int64_t axis, std::string_view op) {
  for (int64_t i = 0; i < count; ++i)
    if (idx[i] < 0 || idx[i] >= size)
      throw Error(
          fmt::format("{}: index {} at position {} is out of range for axis {} of size {}", op, idx[i], i, axis, size));
}

// gather/scatter_add need index and data to agree on every axis but `axis`.
void check_gather_shapes(const Shape& data, const Shape& index, int64_t axis, std::string_view op) {
  bool ok = data.size() == index.size();
  for (std::size_t d = 0; ok && d < data.size(); ++d) ok = static_cast<int64_t>(d) == axis || data[d] == index[d];
  if (!ok)
    throw Error(
        fmt::format("{}: index of shape {} does not match data of shape {} on the axes "
                    "other than {}",
                    op, shape_str(index), shape_str(data), axis));
}

}  // namespace

// out[o, j, i] = x[o, index[o, j, i], i]
Tensor Tensor::gather(int64_t axis, const Tensor& index) const {
  detail::check_defined(*this, "gather");
  check_index(index, "gather");
  axis = detail::normalize_axis(axis, dim(), "gather");
  check_gather_shapes(shape(), index.shape(), axis, "gather");
  const AxisView vx = detail::axis_view(shape(), axis);
  const AxisView vi = detail::axis_view(index.shape(), axis);
  const int64_t* idx = index.data<int64_t>();
  check_index_range(idx, index.numel(), vx.n, axis, "gather");
  Tensor out = empty(index.shape(), {.dtype = dtype()});
  detail::dispatch_any(dtype(), [&](auto z) {
    using T = decltype(z);
    const T* x = data<T>();
    T* o = out.data<T>();
    for (int64_t a = 0; a < vi.outer; ++a)
      for (int64_t j = 0; j < vi.n; ++j)
        for (int64_t i = 0; i < vi.inner; ++i) {
          const int64_t pos = (a * vi.n + j) * vi.inner + i;
          o[pos] = x[(a * vx.n + idx[pos]) * vx.inner + i];
        }
  });
  return record_op("gather", out, {*this}, [shape = shape(), axis, index](const Tensor& g) {
    return Grads{scatter_add(shape, axis, index, g)};
  });
}

// out = zeros(shape); out[o, index[o, j, i], i] += src[o, j, i]
Tensor scatter_add(const Shape& shape, int64_t axis, const Tensor& index, const Tensor& src) {
  detail::check_defined(src, "scatter_add");
  check_index(index, "scatter_add");
  axis = detail::normalize_axis(axis, static_cast<int64_t>(shape.size()), "scatter_add");
  check_gather_shapes(shape, index.shape(), axis, "scatter_add");
  if (src.shape() != index.shape())
    throw Error(fmt::format("scatter_add: src of shape {} does not match index of shape {}", shape_str(src.shape()),
                            shape_str(index.shape())));
  const AxisView vx = detail::axis_view(shape, axis);
  const AxisView vi = detail::axis_view(index.shape(), axis);
  const int64_t* idx = index.data<int64_t>();
  check_index_range(idx, index.numel(), vx.n, axis, "scatter_add");
  Tensor out = zeros(shape, {.dtype = src.dtype()});
  detail::dispatch_any(src.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* s = src.data<T>();
    T* o = out.data<T>();
    for (int64_t a = 0; a < vi.outer; ++a)
      for (int64_t j = 0; j < vi.n; ++j)
        for (int64_t i = 0; i < vi.inner; ++i) {
          const int64_t pos = (a * vi.n + j) * vi.inner + i;
          o[(a * vx.n + idx[pos]) * vx.inner + i] += s[pos];
        }
  });
  return record_op("scatter_add", out, {src}, [axis, index](const Tensor& g) { return Grads{g.gather(axis, index)}; });
}

// out[o, j, i] = x[o, index[j], i] for a 1-D index
Tensor Tensor::index_select(int64_t axis, const Tensor& index) const {
  detail::check_defined(*this, "index_select");
  check_index(index, "index_select");
  if (index.dim() != 1)
    throw Error(fmt::format("index_select: index must be 1-D, got shape {}", shape_str(index.shape())));
  axis = detail::normalize_axis(axis, dim(), "index_select");
  const AxisView v = detail::axis_view(shape(), axis);
  const int64_t* idx = index.data<int64_t>();
  const int64_t count = index.numel();
  check_index_range(idx, count, v.n, axis, "index_select");
  Shape out_shape = shape();
  out_shape[axis] = count;
  Tensor out = empty(out_shape, {.dtype = dtype()});
  detail::dispatch_any(dtype(), [&](auto z) {
    using T = decltype(z);
    const T* x = data<T>();
    T* o = out.data<T>();
    for (int64_t a = 0; a < v.outer; ++a)
      for (int64_t j = 0; j < count; ++j)
        std::copy_n(x + (a * v.n + idx[j]) * v.inner, v.inner, o + (a * count + j) * v.inner);
  });
  return record_op("index_select", out, {*this},
                   [shape = shape(), axis, index](const Tensor& g) { return Grads{index_add(shape, axis, index, g)}; });
}

// out = zeros(shape); out[o, index[j], i] += src[o, j, i]
Tensor index_add(const Shape& shape, int64_t axis, const Tensor& index, const Tensor& src) {
  detail::check_defined(src, "index_add");
  check_index(index, "index_add");
  axis = detail::normalize_axis(axis, static_cast<int64_t>(shape.size()), "index_add");
  Shape expected = shape;
  if (index.dim() != 1 || src.dim() != static_cast<int64_t>(shape.size()) ||
      (expected[axis] = index.numel(), src.shape() != expected))
    throw Error(
        fmt::format("index_add: src of shape {} and index of shape {} do not fit shape {} "
                    "along axis {}",
                    shape_str(src.shape()), shape_str(index.shape()), shape_str(shape), axis));
  const AxisView v = detail::axis_view(shape, axis);
  const int64_t* idx = index.data<int64_t>();
  const int64_t count = index.numel();
  check_index_range(idx, count, v.n, axis, "index_add");
  Tensor out = zeros(shape, {.dtype = src.dtype()});
  detail::dispatch_any(src.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* s = src.data<T>();
    T* o = out.data<T>();
    for (int64_t a = 0; a < v.outer; ++a)
      for (int64_t j = 0; j < count; ++j) {
        T* dst = o + (a * v.n + idx[j]) * v.inner;
        const T* row = s + (a * count + j) * v.inner;
        for (int64_t i = 0; i < v.inner; ++i) dst[i] += row[i];
      }
  });
  return record_op("index_add", out, {src},
                   [axis, index](const Tensor& g) { return Grads{g.index_select(axis, index)}; });
}

}  // namespace minigrad
