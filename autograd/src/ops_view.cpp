// Layout ops: permute / transpose, squeeze / unsqueeze, slice / narrow / select, cat / stack /
// split / chunk, repeat, flip and constant pad. squeeze and unsqueeze are reshapes and share the
// buffer; every other op writes a contiguous copy through strided_copy, one loop for every dtype.
// Each backward is another of these ops, so every order of derivative exists.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "impl.h"

namespace minigrad {

using Grads = TensorList;

namespace {

using Strides = SmallVector<int64_t, 5>;

// Strides, in elements, of a contiguous row-major tensor of `shape`.
Strides contiguous_strides(const Shape& shape) {
  Strides s(shape.size(), 1);
  for (std::size_t d = shape.size(); d-- > 1;) s[d - 1] = s[d] * shape[d];
  return s;
}

// Where a walk over an index space finds its elements in a buffer: index (i0, i1, ...) at
// offset + i0 * strides[0] + i1 * strides[1] + ..., in elements. A zero stride revisits the same
// elements (repeat), a negative one runs backwards (flip).
struct Layout {
  int64_t offset = 0;
  Strides strides;
};

Layout contiguous(const Shape& shape) { return {0, contiguous_strides(shape)}; }

// Drops size-1 axes and merges neighbours that both layouts step through as one, so that the
// innermost run is as long as it can be (a contiguous run becomes one memcpy).
void coalesce(Shape& sizes, Layout& from, Layout& to) {
  Shape s;
  Layout f{from.offset, {}}, t{to.offset, {}};
  for (std::size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] == 1) continue;
    if (!s.empty() && f.strides.back() == from.strides[d] * sizes[d] && t.strides.back() == to.strides[d] * sizes[d]) {
      s.back() *= sizes[d];
      f.strides.back() = from.strides[d];
      t.strides.back() = to.strides[d];
      continue;
    }
    s.push_back(sizes[d]);
    f.strides.push_back(from.strides[d]);
    t.strides.push_back(to.strides[d]);
  }
  if (s.empty()) {  // a single element
    s.push_back(1);
    f.strides.push_back(1);
    t.strides.push_back(1);
  }
  sizes = std::move(s);
  from = std::move(f);
  to = std::move(t);
}

// Copies n elements of E bytes, src_step and dst_step elements apart.
template <std::size_t E>
void copy_run(const std::byte* src, int64_t src_step, std::byte* dst, int64_t dst_step, int64_t n) {
  if (src_step == 1 && dst_step == 1) {
    std::memcpy(dst, src, static_cast<std::size_t>(n) * E);
    return;
  }
  for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * dst_step * E, src + i * src_step * E, E);
}

using CopyRun = void (*)(const std::byte*, int64_t, std::byte*, int64_t, int64_t);

CopyRun copy_run_for(std::size_t element_bytes) {
  switch (element_bytes) {
    case 1:
      return copy_run<1>;
    case 2:
      return copy_run<2>;
    case 4:
      return copy_run<4>;
    case 8:
      return copy_run<8>;
    default:
      throw Error(fmt::format("strided copy: no copy for {}-byte elements", element_bytes));
  }
}

// dst[to(i)] = src[from(i)] for every index i of `sizes`: the one loop behind every copy in this
// file. Rows (all axes but the innermost) are split in fixed chunks, each row being a run.
void strided_copy(const Tensor& src, Layout from, Tensor& dst, Layout to, Shape sizes) {
  if (shape_numel(sizes) == 0) return;
  coalesce(sizes, from, to);
  const std::size_t elem = dtype_size(src.dtype());
  const CopyRun run = copy_run_for(elem);
  const auto outer = static_cast<int64_t>(sizes.size()) - 1;
  const int64_t n = sizes.back(), src_step = from.strides.back(), dst_step = to.strides.back();
  const int64_t rows = shape_numel(sizes) / n;
  const auto* src_base = static_cast<const std::byte*>(src.raw_data());
  auto* dst_base = static_cast<std::byte*>(dst.raw_data());
  detail::parallel_for(
      rows,
      [&](int64_t r0, int64_t r1) {
        // The index of row r0 over the outer axes, then an odometer from there.
        Shape index(static_cast<std::size_t>(outer), 0);
        int64_t s = from.offset, d = to.offset;
        for (int64_t a = outer - 1, r = r0; a >= 0; --a) {
          index[a] = r % sizes[a];
          r /= sizes[a];
          s += index[a] * from.strides[a];
          d += index[a] * to.strides[a];
        }
        for (int64_t r = r0; r < r1; ++r) {
          run(src_base + s * static_cast<int64_t>(elem), src_step, dst_base + d * static_cast<int64_t>(elem), dst_step,
              n);
          for (int64_t a = outer - 1; a >= 0; --a) {
            s += from.strides[a];
            d += to.strides[a];
            if (++index[a] < sizes[a]) break;
            s -= sizes[a] * from.strides[a];
            d -= sizes[a] * to.strides[a];
            index[a] = 0;
          }
        }
      },
      detail::rows_grain(n));
}

// A new contiguous tensor of `shape` holding x's elements as `from` walks them.
Tensor gather_copy(const Tensor& x, const Layout& from, const Shape& shape) {
  Tensor out = empty(shape, {.dtype = x.dtype()});
  strided_copy(x, from, out, contiguous(shape), shape);
  return out;
}

void check_not_scalar(const Tensor& x, std::string_view op) {
  detail::check_defined(x, op);
  if (x.dim() == 0) throw Error(fmt::format("{}: cannot be applied to a 0-d tensor", op));
}

// Normalizes each axis and rejects repeats: permute's and flip's axis lists.
Shape normalized_axes(const Shape& axes, int64_t ndim, std::string_view op) {
  Shape out;
  for (int64_t a : axes) {
    const int64_t n = detail::normalize_axis(a, ndim, op);
    if (std::find(out.begin(), out.end(), n) != out.end())
      throw Error(fmt::format("{}: axis {} appears twice in {}", op, n, shape_str(axes)));
    out.push_back(n);
  }
  return out;
}

// The axis at which a new size-1 axis goes into a tensor of `ndim` axes: [-ndim - 1, ndim].
int64_t insertion_axis(int64_t axis, int64_t ndim, std::string_view op) {
  if (axis < -ndim - 1 || axis > ndim)
    throw Error(
        fmt::format("{}: axis {} is out of range for inserting into a tensor with {} "
                    "dimensions (expected {} to {})",
                    op, axis, ndim, -ndim - 1, ndim));
  return axis < 0 ? axis + ndim + 1 : axis;
}

// x padded with `value`: before[a] elements before axis a and after[a] after it; negative counts
// crop. The adjoint pads the other way with zeros, which crops back exactly what was added.
Tensor pad_axes(const Tensor& x, const Shape& before, const Shape& after, double value) {
  Shape shape = x.shape();
  for (std::size_t a = 0; a < shape.size(); ++a) {
    shape[a] += before[a] + after[a];
    if (shape[a] < 0)
      throw Error(
          fmt::format("pad: axis {} of size {} padded by ({}, {}) would have size {} "
                      "(input shape {})",
                      a, x.shape()[a], before[a], after[a], shape[a], shape_str(x.shape())));
  }
  Tensor out = full(shape, value, {.dtype = x.dtype()});
  // The part of x that survives the crops, and where it lands.
  Layout from = contiguous(x.shape()), to = contiguous(shape);
  Shape kept = x.shape();
  for (std::size_t a = 0; a < shape.size(); ++a) {
    const int64_t lo = std::max<int64_t>(0, -before[a]), hi = std::max<int64_t>(0, -after[a]);
    kept[a] = std::max<int64_t>(0, kept[a] - lo - hi);
    from.offset += lo * from.strides[a];
    to.offset += std::max<int64_t>(0, before[a]) * to.strides[a];
  }
  strided_copy(x, from, out, to, kept);
  Shape undo_before = before, undo_after = after;
  for (int64_t& v : undo_before) v = -v;
  for (int64_t& v : undo_after) v = -v;
  return record_op("pad", out, {x}, [undo_before, undo_after](const Tensor& g) {
    return Grads{pad_axes(g, undo_before, undo_after, 0.0)};
  });
}

// pad_axes on one axis.
Tensor pad_axis(const Tensor& x, int64_t axis, int64_t before, int64_t after) {
  Shape b(static_cast<std::size_t>(x.dim()), 0), e(static_cast<std::size_t>(x.dim()), 0);
  b[axis] = before;
  e[axis] = after;
  return pad_axes(x, b, e, 0.0);
}

// The adjoint of slice: zeros of `size` along `axis` with g's elements at start, start + step,
// and so on. Built from pad, so that it is differentiable in turn (pad's adjoint is a crop).
Tensor unslice(const Tensor& g, int64_t axis, int64_t size, int64_t start, int64_t step) {
  Tensor spread = g;
  if (step > 1 && g.size(axis) > 0)  // step - 1 zeros after each element: [n] -> [n, step] -> [n * step]
    spread = pad_axis(g.unsqueeze(axis + 1), axis + 1, 0, step - 1).flatten(axis, axis + 1);
  // A negative `after` crops the zeros that spread past the end.
  return pad_axis(spread, axis, start, size - start - spread.size(axis));
}

}  // namespace

// ---- axes ----

Tensor Tensor::permute(const Shape& axes) const {
  detail::check_defined(*this, "permute");
  if (static_cast<int64_t>(axes.size()) != dim())
    throw Error(fmt::format("permute: {} axes {} given for a tensor of shape {}", axes.size(), shape_str(axes),
                            shape_str(shape())));
  const Shape order = normalized_axes(axes, dim(), "permute");
  const Strides strides = contiguous_strides(shape());
  Shape out_shape, inverse(order.size());
  Layout from;
  for (std::size_t i = 0; i < order.size(); ++i) {
    out_shape.push_back(shape()[order[i]]);
    from.strides.push_back(strides[order[i]]);
    inverse[order[i]] = static_cast<int64_t>(i);
  }
  return record_op("permute", gather_copy(*this, from, out_shape), {*this},
                   [inverse](const Tensor& g) { return Grads{g.permute(inverse)}; });
}

Tensor Tensor::transpose(int64_t axis0, int64_t axis1) const {
  detail::check_defined(*this, "transpose");
  const int64_t a = detail::normalize_axis(axis0, dim(), "transpose");
  const int64_t b = detail::normalize_axis(axis1, dim(), "transpose");
  Shape order(static_cast<std::size_t>(dim()));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (dim() > 0) std::swap(order[a], order[b]);
  return permute(order);
}

Tensor Tensor::t() const {
  if (dim() != 2) throw Error(fmt::format("t: expected a 2-D tensor, got shape {}", shape_str(shape())));
  return transpose(0, 1);
}

Tensor Tensor::squeeze() const {
  detail::check_defined(*this, "squeeze");
  Shape s;
  for (int64_t n : shape())
    if (n != 1) s.push_back(n);
  return reshape(s);
}

Tensor Tensor::squeeze(int64_t axis) const {
  detail::check_defined(*this, "squeeze");
  axis = detail::normalize_axis(axis, dim(), "squeeze");
  Shape s = shape();
  if (dim() > 0 && s[axis] == 1) s.erase(s.begin() + axis);
  return reshape(s);
}

Tensor Tensor::unsqueeze(int64_t axis) const {
  detail::check_defined(*this, "unsqueeze");
  axis = insertion_axis(axis, dim(), "unsqueeze");
  Shape s = shape();
  s.insert(s.begin() + axis, 1);
  return reshape(s);
}

Tensor Tensor::flip(const Shape& axes) const {
  detail::check_defined(*this, "flip");
  const Shape flipped = normalized_axes(axes, dim(), "flip");
  Layout from = contiguous(shape());
  if (dim() > 0)
    for (int64_t a : flipped) {
      from.offset += std::max<int64_t>(0, shape()[a] - 1) * from.strides[a];
      from.strides[a] = -from.strides[a];
    }
  return record_op("flip", gather_copy(*this, from, shape()), {*this},
                   [flipped](const Tensor& g) { return Grads{g.flip(flipped)}; });
}

// ---- slicing ----

Tensor Tensor::slice(int64_t axis, int64_t start, int64_t end, int64_t step) const {
  check_not_scalar(*this, "slice");
  axis = detail::normalize_axis(axis, dim(), "slice");
  if (step <= 0)
    throw Error(
        fmt::format("slice: step must be positive, got {} (axis {} of shape {})", step, axis, shape_str(shape())));
  const int64_t n = shape()[axis];
  const auto clamp = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + n : i, 0, n); };
  start = clamp(start);
  end = clamp(end);
  const int64_t length = end > start ? 1 + (end - start - 1) / step : 0;
  if (length <= 1) step = 1;  // it picks nothing then; a huge one would overflow the stride
  Layout from = contiguous(shape());
  from.offset = start * from.strides[axis];
  from.strides[axis] *= step;
  Shape out_shape = shape();
  out_shape[axis] = length;
  return record_op("slice", gather_copy(*this, from, out_shape), {*this},
                   [axis, n, start, step](const Tensor& g) { return Grads{unslice(g, axis, n, start, step)}; });
}

Tensor Tensor::narrow(int64_t axis, int64_t start, int64_t length) const {
  check_not_scalar(*this, "narrow");
  axis = detail::normalize_axis(axis, dim(), "narrow");
  const int64_t n = shape()[axis];
  if (start < -n || start > n)
    throw Error(
        fmt::format("narrow: start {} is out of range for axis {} of shape {}", start, axis, shape_str(shape())));
  if (start < 0) start += n;
  if (length < 0 || length > n - start)
    throw Error(fmt::format("narrow: start {} + length {} exceeds axis {} of shape {}", start, length, axis,
                            shape_str(shape())));
  return slice(axis, start, start + length);
}

Tensor Tensor::select(int64_t axis, int64_t index) const {
  check_not_scalar(*this, "select");
  axis = detail::normalize_axis(axis, dim(), "select");
  const int64_t n = shape()[axis];
  if (index < -n || index >= n)
    throw Error(
        fmt::format("select: index {} is out of range for axis {} of shape {}", index, axis, shape_str(shape())));
  if (index < 0) index += n;
  return slice(axis, index, index + 1).squeeze(axis);
}

std::vector<Tensor> Tensor::split(int64_t split_size, int64_t axis) const {
  check_not_scalar(*this, "split");
  axis = detail::normalize_axis(axis, dim(), "split");
  const int64_t n = shape()[axis];
  if (split_size < 0 || (split_size == 0 && n != 0))
    throw Error(
        fmt::format("split: split size {} is invalid for axis {} of shape {} (positive, or 0 "
                    "for an empty axis)",
                    split_size, axis, shape_str(shape())));
  std::vector<Tensor> pieces;
  int64_t start = 0;
  do {  // an empty axis gives one empty piece
    const int64_t length = std::min(split_size, n - start);
    pieces.push_back(slice(axis, start, start + length));
    start += length;
  } while (start < n);
  return pieces;
}

std::vector<Tensor> Tensor::split(const std::vector<int64_t>& sizes, int64_t axis) const {
  check_not_scalar(*this, "split");
  axis = detail::normalize_axis(axis, dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0)
      throw Error(fmt::format("split: negative size in [{}] for axis {} of shape {}", fmt::join(sizes, ", "), axis,
                              shape_str(shape())));
    total += s;
  }
  if (total != shape()[axis])
    throw Error(fmt::format("split: sizes [{}] sum to {}, not to the size {} of axis {} of shape {}",
                            fmt::join(sizes, ", "), total, shape()[axis], axis, shape_str(shape())));
  std::vector<Tensor> pieces;
  int64_t start = 0;
  for (int64_t s : sizes) {
    pieces.push_back(slice(axis, start, start + s));
    start += s;
  }
  return pieces;
}

std::vector<Tensor> Tensor::chunk(int64_t chunks, int64_t axis) const {
  check_not_scalar(*this, "chunk");
  axis = detail::normalize_axis(axis, dim(), "chunk");
  if (chunks <= 0)
    throw Error(fmt::format("chunk: chunks must be positive, got {} (shape {})", chunks, shape_str(shape())));
  const int64_t n = shape()[axis];
  // As PyTorch: pieces of ceil(n / chunks), so there may be fewer than `chunks`; an empty axis
  // gives `chunks` empty pieces.
  if (n == 0) return split(std::vector<int64_t>(static_cast<std::size_t>(chunks), 0), axis);
  return split(1 + (n - 1) / chunks, axis);
}

// ---- joining and tiling ----

Tensor cat(const std::vector<Tensor>& tensors, int64_t axis) {
  if (tensors.empty()) throw Error("cat: expected a non-empty list of tensors");
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    detail::check_defined(tensors[i], "cat");
    if (tensors[i].dim() == 0) throw Error(fmt::format("cat: tensor {} is 0-d and cannot be concatenated", i));
  }
  // As in PyTorch, a 1-D empty tensor joins anything: it is skipped.
  const auto is_empty_1d = [](const Tensor& t) { return t.dim() == 1 && t.numel() == 0; };
  const auto first = std::find_if(tensors.begin(), tensors.end(), [&](const Tensor& t) { return !is_empty_1d(t); });
  const Tensor& ref = first == tensors.end() ? tensors.front() : *first;
  const auto skipped = [&](const Tensor& t) { return is_empty_1d(t) && ref.dim() != 1; };
  axis = detail::normalize_axis(axis, ref.dim(), "cat");
  const std::size_t ref_index = static_cast<std::size_t>(&ref - tensors.data());
  Shape out_shape = ref.shape();
  out_shape[axis] = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (skipped(t)) continue;
    if (t.dtype() != ref.dtype())
      throw Error(fmt::format("cat: tensor {} is {} {}, tensor {} is {} {}", i, dtype_name(t.dtype()),
                              shape_str(t.shape()), ref_index, dtype_name(ref.dtype()), shape_str(ref.shape())));
    bool match = t.dim() == ref.dim();
    for (int64_t a = 0; match && a < t.dim(); ++a) match = a == axis || t.shape()[a] == ref.shape()[a];
    if (!match)
      throw Error(
          fmt::format("cat: tensor {} of shape {} does not match tensor {} of shape {} "
                      "outside axis {}",
                      i, shape_str(t.shape()), ref_index, shape_str(ref.shape()), axis));
    out_shape[axis] += t.shape()[axis];
  }
  Tensor out = empty(out_shape, {.dtype = ref.dtype()});
  // Each input lands at its offset along the axis; -1 marks a skipped one (no gradient).
  SmallVector<int64_t, 4> sizes;
  Layout to = contiguous(out_shape);
  for (const Tensor& t : tensors) {
    if (skipped(t)) {
      sizes.push_back(-1);
      continue;
    }
    strided_copy(t, contiguous(t.shape()), out, to, t.shape());
    to.offset += t.shape()[axis] * to.strides[axis];
    sizes.push_back(t.shape()[axis]);
  }
  return record_op("cat", out, TensorList(tensors.begin(), tensors.end()), [axis, sizes](const Tensor& g) {
    Grads grads;
    int64_t start = 0;
    for (int64_t n : sizes) {
      grads.push_back(n < 0 ? Tensor() : g.slice(axis, start, start + n));
      start += std::max<int64_t>(n, 0);
    }
    return grads;
  });
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t axis) {
  if (tensors.empty()) throw Error("stack: expected a non-empty list of tensors");
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    detail::check_defined(tensors[i], "stack");
    if (tensors[i].shape() != tensors[0].shape())
      throw Error(fmt::format("stack: tensor {} of shape {} differs from tensor 0 of shape {}", i,
                              shape_str(tensors[i].shape()), shape_str(tensors[0].shape())));
  }
  axis = insertion_axis(axis, tensors[0].dim(), "stack");
  std::vector<Tensor> expanded;
  expanded.reserve(tensors.size());
  for (const Tensor& t : tensors) expanded.push_back(t.unsqueeze(axis));
  return cat(expanded, axis);
}

Tensor Tensor::repeat(const Shape& repeats) const {
  detail::check_defined(*this, "repeat");
  const auto k = static_cast<int64_t>(repeats.size());
  if (k < dim())
    throw Error(fmt::format("repeat: {} repeats {} for a tensor of shape {} (at least one per axis)", k,
                            shape_str(repeats), shape_str(shape())));
  for (int64_t r : repeats)
    if (r < 0) throw Error(fmt::format("repeat: negative count in {}", shape_str(repeats)));
  // x as k axes (leading ones added), walked as [r0, n0, r1, n1, ...] with stride 0 along each
  // r: the output's own row-major order.
  Shape padded(static_cast<std::size_t>(k - dim()), 1);
  padded.insert(padded.end(), shape().begin(), shape().end());
  const Strides strides = contiguous_strides(padded);
  Shape walk, out_shape;
  Layout from;
  for (int64_t a = 0; a < k; ++a) {
    walk.push_back(repeats[a]);
    walk.push_back(padded[a]);
    from.strides.push_back(0);
    from.strides.push_back(strides[a]);
  }
  shape_numel(walk);  // throws when the count overflows, before the products below could
  for (int64_t a = 0; a < k; ++a) out_shape.push_back(repeats[a] * padded[a]);
  Tensor out = empty(out_shape, {.dtype = dtype()});
  strided_copy(*this, from, out, contiguous(walk), walk);
  // The adjoint sums the copies: g seen as the walk, reduced over every r axis.
  return record_op("repeat", out, {*this}, [walk, k, shape = shape()](const Tensor& g) {
    Tensor sum = g.reshape(walk);
    for (int64_t a = k - 1; a >= 0; --a) sum = sum.sum(2 * a);
    return Grads{sum.reshape(shape)};
  });
}

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, double value) {
  detail::check_defined(x, "pad");
  if (pads.size() % 2 != 0 || static_cast<int64_t>(pads.size()) > 2 * x.dim())
    throw Error(
        fmt::format("pad: {} pad values [{}] for a tensor of shape {}: expected (before, after) "
                    "pairs, at most one per axis",
                    pads.size(), fmt::join(pads, ", "), shape_str(x.shape())));
  // F.pad's order: the first pair pads the last axis.
  Shape before(static_cast<std::size_t>(x.dim()), 0), after(static_cast<std::size_t>(x.dim()), 0);
  for (std::size_t p = 0; p < pads.size() / 2; ++p) {
    before[x.dim() - 1 - p] = pads[2 * p];
    after[x.dim() - 1 - p] = pads[2 * p + 1];
  }
  return pad_axes(x, before, after, value);
}

}  // namespace minigrad
