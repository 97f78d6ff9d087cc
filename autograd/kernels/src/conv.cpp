// Convolution on the GEMM's micro-kernels; see conv.h for the layout and the thread split.
#include <minigrad/kernels/conv.h>

#include <algorithm>
#include <array>
#include <cstring>

#include <minigrad/kernels/gemm.h>
#include <minigrad/kernels/thread_pool.h>

#include "gemm_internal.h"

namespace minigrad::kernels {
namespace {

// Output positions ow whose input column ow * stride - pad + offset lies in [0, size): [lo, hi).
struct Span {
  int64_t lo, hi;
};
Span valid_span(int64_t out, int64_t size, int64_t stride, int64_t pad, int64_t offset) {
  const int64_t first = pad - offset;  // ow * stride >= first
  const int64_t lo = first <= 0 ? 0 : (first + stride - 1) / stride;
  const int64_t last = size - 1 + pad - offset;  // ow * stride <= last
  const int64_t hi = last < 0 ? 0 : std::min(out, last / stride + 1);
  return {std::min(lo, hi), hi};
}

template <int kStride, typename T>
void copy_every(const T* __restrict src, T* __restrict dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i * kStride];
}

// dst[i] = src[i * stride] for i < n: strides 1 and 2 as vector copies (GCC turns the stride-2
// loop into permutes), others element by element.
template <typename T>
void copy_strided(const T* src, int64_t stride, T* dst, int64_t n) {
  if (stride == 1)
    std::copy_n(src, n, dst);
  else if (stride == 2)
    copy_every<2>(src, dst, n);
  else
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i * stride];
}

// Calls f(r, c, oh, ih, iw0, span) for each row r = (c, i, j) in [r0, r1) of one group's column
// matrix and each output row oh: output (oh, ow) reads input (ih, ow * stride_w + iw0), inside
// the image for ow in span (ih may be outside: a row of padding). im2col and col2im are this walk
// with a copy one way or the other.
template <typename F>
void for_col_rows(const Conv2dShape& s, int64_t r0, int64_t r1, F&& f) {
  const int64_t OH = s.out_h(), OW = s.out_w(), kk = s.kernel_h * s.kernel_w;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t c = r / kk, i = r % kk / s.kernel_w, j = r % s.kernel_w;
    const Span span = valid_span(OW, s.in_w, s.stride_w, s.pad_w, j * s.dilation_w);
    for (int64_t oh = 0; oh < OH; ++oh)
      f(r, c, oh, oh * s.stride_h - s.pad_h + i * s.dilation_h, j * s.dilation_w - s.pad_w, span);
  }
}

// col[r, oh * OW + ow] = x[c, ih, ow * sw + iw0] (0 outside), for the group's image x [C/G, H, W].
template <typename T>
void im2col(const Conv2dShape& s, const T* x, T* col) {
  const int64_t OW = s.out_w(), P = s.out_h() * OW, sw = s.stride_w;
  for_col_rows(s, 0, s.col_rows(), [&](int64_t r, int64_t c, int64_t oh, int64_t ih, int64_t iw0, Span span) {
    T* dst = col + r * P + oh * OW;
    if (ih < 0 || ih >= s.in_h || span.lo == span.hi) {
      std::fill_n(dst, OW, T(0));
      return;
    }
    std::fill_n(dst, span.lo, T(0));
    // Output column ow reads input column ow * sw + iw0, in the image for ow in the span.
    copy_strided(x + (c * s.in_h + ih) * s.in_w + span.lo * sw + iw0, sw, dst + span.lo, span.hi - span.lo);
    std::fill(dst + span.hi, dst + OW, T(0));
  });
}

// The adjoint of im2col: x[c, ih, iw] += col[r, p] over every (r, p) that reads it. Rows of one
// channel c write the same pixels, so callers split work on channel boundaries.
template <typename T>
void col2im(const Conv2dShape& s, const T* col, T* x, int64_t r0, int64_t r1) {
  const int64_t OW = s.out_w(), P = s.out_h() * OW, sw = s.stride_w;
  for_col_rows(s, r0, r1, [&](int64_t r, int64_t c, int64_t oh, int64_t ih, int64_t iw0, Span span) {
    if (ih < 0 || ih >= s.in_h) return;
    const T* src = col + r * P + oh * OW;
    T* dst = x + (c * s.in_h + ih) * s.in_w;
    for (int64_t ow = span.lo; ow < span.hi; ++ow) dst[ow * sw + iw0] += src[ow];
  });
}

struct Dims {
  int64_t Cg, Og, K, P, in_image, out_image;
  explicit Dims(const Conv2dShape& s)
      : Cg(s.in_channels / s.groups),
        Og(s.out_channels / s.groups),
        K(s.col_rows()),
        P(s.out_h() * s.out_w()),
        in_image(s.in_channels * s.in_h * s.in_w),
        out_image(s.out_channels * s.out_h() * s.out_w()) {}
};

// Images at a time: one per thread when there are enough images, else one with a parallel GEMM.
int64_t image_slots(const Conv2dShape& s) {
  const int64_t threads = max_threads();
  return s.batch >= threads ? threads : 1;
}

// Runs per_unit(slot, u) for units 0..units-1 dealt in a fixed pattern (slot t takes t, t + slots,
// ...), the slots in parallel when there are several: which slot runs a unit never changes a
// result, and a slot's buffers are its own.
template <typename F>
void deal_units(int64_t units, int64_t slots, F&& per_unit) {
  const auto run = [&](int64_t slot) {
    for (int64_t u = slot; u < units; u += slots) per_unit(slot, u);
  };
  if (slots <= 1) return run(0);
  parallel_tasks(slots, run);
}

// Elements of one image's column matrix (one group's): none when direct, the image is its own.
int64_t column_matrix(const Conv2dShape& s) { return s.direct() ? 0 : s.col_rows() * s.out_h() * s.out_w(); }

// Runs per_image(n, its column matrix in the workspace) for every image, image_slots(s) at a
// time; the workspace holds image_slots(s) column matrices.
template <typename T, typename F>
void for_images(const Conv2dShape& s, T* workspace, F&& per_image) {
  deal_units(s.batch, image_slots(s),
             [&](int64_t slot, int64_t n) { per_image(n, workspace + slot * column_matrix(s)); });
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Elements rounded up to whole 64-byte lines of float (and of double): a workspace split there
// keeps the next part aligned for the int64 row offsets the drivers store at its start.
int64_t whole_lines(int64_t elements) { return ceil_div(elements, 16) * 16; }

// Elements of T that hold a table of `count` int64 row offsets, in whole cache lines.
template <typename T>
int64_t offset_table(int64_t count) {
  return ceil_div(count * int64_t(sizeof(int64_t)), 64) * 64 / int64_t(sizeof(T));
}

// The group's image [Cg, H, W] zero-padded and split by the stride into sh x sw phases, each
// [Cg, Hq, Wq]: phase (a, b) holds the padded rows a, a + sh, ... and columns b, b + sw, ....
// Tap (i, j) of output (oh, ow) reads padded (oh sh + i dh, ow sw + j dw), which is phase
// ((i dh) % sh, (j dw) % sw) at (oh + (i dh) / sh, ow + (j dw) / sw). So over the wide columns
// p = oh Wq + ow, row r = (c, i, j) of the column matrix is the split image itself from one
// offset on, whatever the stride: the micro-kernels read it in place. Each wide row's columns
// ow >= OW are computed and dropped (2 of 30 at 28x28 with a 3x3 kernel, 1 of 15 at stride 2).
// Stride 1 has one phase: the padded image.
struct PaddedImage {
  int64_t Cg, H, W, pad_h, pad_w, sh, sw, kw, dh, dw, Hq, Wq, kk;
  explicit PaddedImage(const Conv2dShape& s)
      : Cg(s.in_channels / s.groups),
        H(s.in_h),
        W(s.in_w),
        pad_h(s.pad_h),
        pad_w(s.pad_w),
        sh(s.stride_h),
        sw(s.stride_w),
        kw(s.kernel_w),
        dh(s.dilation_h),
        dw(s.dilation_w),
        Hq(ceil_div(s.in_h + 2 * s.pad_h, s.stride_h)),
        Wq(ceil_div(s.in_w + 2 * s.pad_w, s.stride_w)),
        kk(s.kernel_h * s.kernel_w) {}
  int64_t phase() const { return Cg * Hq * Wq; }
  // Elements, with room after the phases for the dropped columns' reads and a last tile `tail`
  // columns wide.
  int64_t size(int64_t tail) const { return sh * sw * phase() + Wq + tail; }
  // Where row r = (c, i, j) of the wide column matrix starts.
  int64_t row_offset(int64_t r) const {
    const int64_t c = r / kk, i = r % kk / kw * dh, j = r % kw * dw;
    return (i % sh * sw + j % sw) * phase() + (c * Hq + i / sh) * Wq + j / sw;
  }
  // x's group image into out, zeros around it and after it up to `size` elements.
  template <typename T>
  void fill(const T* x, T* out, int64_t size) const {
    for (int64_t a = 0; a < sh; ++a)
      for (int64_t b = 0; b < sw; ++b) {
        const Span cols = valid_span(Wq, W, sw, pad_w, b);  // phase columns that hold pixels
        T* const ph = out + (a * sw + b) * phase();
        for (int64_t c = 0; c < Cg; ++c)
          for (int64_t hq = 0; hq < Hq; ++hq) {
            T* const row = ph + (c * Hq + hq) * Wq;
            const int64_t ih = hq * sh + a - pad_h;
            if (ih < 0 || ih >= H) {
              std::fill_n(row, Wq, T(0));
              continue;
            }
            std::fill_n(row, cols.lo, T(0));
            // Phase column wq holds input column wq * sw + b - pad_w.
            if (cols.hi > cols.lo)
              copy_strided(x + (c * H + ih) * W + cols.lo * sw + b - pad_w, sw, row + cols.lo, cols.hi - cols.lo);
            std::fill(row + cols.hi, row + Wq, T(0));
          }
      }
    std::fill(out + sh * sw * phase(), out + size, T(0));
  }
};

// ---- forward: the GEMM's micro-kernels on the split image, read in place ----
//
// A 1x1 kernel that subsamples (stride or padding) would read a quarter or less of the split
// image: its column matrix is the subsampled image itself, so it takes im2col and the GEMM, as a
// plain 1x1 (direct) takes the GEMM on the image.
bool reads_split_image(const Conv2dShape& s) { return s.kernel_h * s.kernel_w > 1; }

// Each output block is the GEMM's C over the wide columns: its B rows are rows of the split image
// (PaddedImage), each from its own offset (the gathered micro-kernel), so there is no column
// matrix and no packing of B. The kept columns are then copied out with the bias.

// Wide output columns computed at a time: small enough for the block to stay in L2 while every
// A panel passes over it.
constexpr int64_t kColumnBlockElements = int64_t(64) << 10;

// How the forward splits its work: the weights packed once into mr-row panels per group, each
// B row's offset in the split image, and units of (image, group), each computing its output block
// by block in its slot of the workspace. The k blocking is the GEMM's (kc from K alone), so each
// sum runs in the GEMM's order.
struct ForwardPlan {
  int mr, nr;
  PaddedImage image;
  int64_t kc, a_panels, columns, block_columns;
  int64_t packed_weights(int64_t K) const { return a_panels * mr * K; }  // per group
  // The split image, then a block of wide output.
  int64_t slot() const { return image.size(nr) + a_panels * mr * block_columns; }
};

template <typename T>
ForwardPlan forward_plan(const Conv2dShape& s) {
  const detail::GemmKernels<T>& g = detail::gemm_kernels<T>();
  const int64_t K = s.col_rows(), Og = s.out_channels / s.groups;
  const PaddedImage image(s);
  const int64_t columns = s.out_h() * image.Wq;
  const int64_t most = g.nr * std::max<int64_t>(1, kColumnBlockElements / (K * g.nr));
  const int64_t blocks = std::max<int64_t>(1, ceil_div(columns, most));
  // Blocks of equal width rather than full blocks plus a sliver.
  const int64_t block_columns = ceil_div(ceil_div(columns, blocks), g.nr) * g.nr;
  return {g.mr, g.nr, image, ceil_div(K, ceil_div(K, g.kc)), ceil_div(Og, g.mr), columns, block_columns};
}

// Elements the forward needs: the packed weights of every group and the K row offsets, then one
// slot per thread.
template <typename T>
int64_t forward_workspace(const Conv2dShape& s) {
  if (!reads_split_image(s)) return image_slots(s) * column_matrix(s);
  const ForwardPlan plan = forward_plan<T>(s);
  const int64_t K = s.col_rows();
  return s.groups * plan.packed_weights(K) + offset_table<T>(K) + max_threads() * plan.slot();
}

// dst[i] = src[i] + b for a row of the output: restrict, so the loop is vectorized without a
// runtime overlap check in front of rows this short.
template <typename T>
void add_to_row(const T* __restrict src, T b, T* __restrict dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i] + b;
}

template <typename T>
void forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y, T* workspace) {
  const Dims d(s);
  if (!reads_split_image(s)) {  // the GEMM on the image or its column matrix; the bias is C's start
    return for_images(s, workspace, [&](int64_t n, T* col) {
      for (int64_t g = 0; g < s.groups; ++g) {
        const T* xg = x + n * d.in_image + g * d.Cg * s.in_h * s.in_w;
        T* yg = y + n * d.out_image + g * d.Og * d.P;
        if (!s.direct()) im2col(s, xg, col);
        if (bias)
          for (int64_t o = 0; o < d.Og; ++o) std::fill_n(yg + o * d.P, d.P, bias[g * d.Og + o]);
        gemm(false, false, d.Og, d.P, d.K, T(1), w + g * d.Og * d.K, d.K, s.direct() ? xg : col, d.P,
             bias ? T(1) : T(0), yg, d.P);
      }
    });
  }
  const detail::GemmKernels<T>& g = detail::gemm_kernels<T>();
  const ForwardPlan plan = forward_plan<T>(s);
  const int64_t K = d.K, mr = plan.mr, nr = plan.nr;
  // Weights: per group, mr-row panels over all of K, each kc-deep block as the GEMM packs it.
  T* const packed_w = workspace;
  const int64_t group_w = plan.packed_weights(K);
  for (int64_t gi = 0; gi < s.groups; ++gi)
    for (int64_t p = 0; p < plan.a_panels; ++p)
      for (int64_t pc = 0; pc < K; pc += plan.kc)
        g.pack_xk(w + (gi * d.Og + p * mr) * K + pc, K, int(std::min(mr, d.Og - p * mr)), std::min(plan.kc, K - pc),
                  packed_w + gi * group_w + p * mr * K + pc * mr, int(mr));
  // Row r = (c, i, j) of the wide column matrix starts at image + offsets[r].
  int64_t* const offsets = reinterpret_cast<int64_t*>(packed_w + s.groups * group_w);
  for (int64_t r = 0; r < K; ++r) offsets[r] = plan.image.row_offset(r);
  T* const slots_begin = packed_w + s.groups * group_w + offset_table<T>(K);

  // A unit is one image of one group; units are dealt to the slots in a fixed pattern, and each
  // output element is summed in the GEMM's order, whatever the thread count.
  const int64_t units = s.batch * s.groups, slots = std::min<int64_t>(max_threads(), units);
  const int64_t bc = plan.block_columns, Wq = plan.image.Wq, OW = s.out_w();
  deal_units(units, slots, [&](int64_t slot, int64_t u) {
    T* const image = slots_begin + slot * plan.slot();
    T* const block = image + plan.image.size(nr);  // wide output columns, before the dropped ones go
    const int64_t n = u / s.groups, gi = u % s.groups;
    T* yg = y + n * d.out_image + gi * d.Og * d.P;
    plan.image.fill(x + n * d.in_image + gi * d.Cg * s.in_h * s.in_w, image, plan.image.size(nr));
    for (int64_t j0 = 0; j0 < plan.columns; j0 += bc) {
      const int64_t j1 = std::min(plan.columns, j0 + bc);
      for (int64_t pc = 0; pc < K; pc += plan.kc) {
        const int64_t k_len = std::min(plan.kc, K - pc);
        for (int64_t p = 0; p < plan.a_panels; ++p) {
          const T* a = packed_w + gi * group_w + p * mr * K + pc * mr;
          const int m = int(std::min(mr, d.Og - p * mr));
          for (int64_t j = j0; j < j1; j += nr)
            g.micro_gathered(k_len, a, image + j, offsets + pc, block + p * mr * bc + (j - j0), bc, m,
                             int(std::min(nr, j1 - j)), pc > 0 ? T(1) : T(0));
        }
      }
      for (int64_t o = 0; o < d.Og; ++o) {  // keep columns ow < OW, adding the bias
        for (int64_t oh = j0 / Wq; oh * Wq < j1; ++oh) {
          const int64_t lo = std::max(j0, oh * Wq), hi = std::min(j1, oh * Wq + OW);
          const T* from = block + o * bc + (lo - j0);
          T* to = yg + o * d.P + oh * OW + (lo - oh * Wq);
          if (bias)
            add_to_row(from, bias[gi * d.Og + o], to, hi - lo);
          else
            std::copy_n(from, hi - lo, to);
        }
      }
    }
  });
}

// With stride 1 the input gradient is itself a stride-1 convolution: dy, padded by
// dilation * (kernel - 1) - pad, with the kernels flipped and their two channel axes swapped.
// Run on the forward's driver, it needs no column matrix and no scatter (col2im); its output
// channels (the input's) fill the micro-kernel's rows only when there are enough of them.
bool gradient_as_convolution(const Conv2dShape& s) {
  return !s.direct() && s.in_channels / s.groups >= 16 && s.stride_h == 1 && s.stride_w == 1 &&
         s.pad_h <= s.dilation_h * (s.kernel_h - 1) && s.pad_w <= s.dilation_w * (s.kernel_w - 1);
}

Conv2dShape gradient_convolution(const Conv2dShape& s) {
  Conv2dShape t = s;
  t.in_channels = s.out_channels, t.out_channels = s.in_channels;
  t.in_h = s.out_h(), t.in_w = s.out_w();
  t.pad_h = s.dilation_h * (s.kernel_h - 1) - s.pad_h, t.pad_w = s.dilation_w * (s.kernel_w - 1) - s.pad_w;
  return t;
}

template <typename T>
void backward_input(const Conv2dShape& s, const T* dy, const T* w, T* dx, T* workspace) {
  const Dims d(s);
  if (gradient_as_convolution(s)) {
    // flipped[c, o, i, j] = w[o, c, kh - 1 - i, kw - 1 - j] within each group.
    T* const flipped = workspace;
    const int64_t kh = s.kernel_h, kw = s.kernel_w;
    for (int64_t g = 0; g < s.groups; ++g)
      for (int64_t o = 0; o < d.Og; ++o)
        for (int64_t c = 0; c < d.Cg; ++c)
          for (int64_t i = 0; i < kh; ++i)
            for (int64_t j = 0; j < kw; ++j)
              flipped[(((g * d.Cg + c) * d.Og + o) * kh + i) * kw + j] =
                  w[(((g * d.Og + o) * d.Cg + c) * kh + kh - 1 - i) * kw + kw - 1 - j];
    return forward(gradient_convolution(s), dy, flipped, static_cast<const T*>(nullptr), dx,
                   flipped + whole_lines(s.out_channels * d.K));
  }
  for_images(s, workspace, [&](int64_t n, T* col) {
    for (int64_t g = 0; g < s.groups; ++g) {
      T* dxg = dx + n * d.in_image + g * d.Cg * s.in_h * s.in_w;
      const T* dyg = dy + n * d.out_image + g * d.Og * d.P;
      const T* wg = w + g * d.Og * d.K;
      if (s.direct()) {
        gemm(true, false, d.K, d.P, d.Og, T(1), wg, d.K, dyg, d.P, T(0), dxg, d.P);
        continue;
      }
      gemm(true, false, d.K, d.P, d.Og, T(1), wg, d.K, dyg, d.P, T(0), col, d.P);
      std::fill_n(dxg, d.Cg * s.in_h * s.in_w, T(0));
      col2im(s, col, dxg, 0, d.K);
    }
  });
}

// Images per chunk of the weight gradient: each chunk sums its images into a partial gradient of
// its own and the partials are added in chunk order, a fixed order whatever the thread count.
constexpr int64_t kImagesPerChunk = 8;

int64_t weight_chunks(const Conv2dShape& s) { return std::max<int64_t>(1, ceil_div(s.batch, kImagesPerChunk)); }

// ---- weight gradient: dot products along the wide columns ----
//
// dw[o, r] sums dy_wide[o, p] * wide_columns[r, p] over images and wide columns p, where dy_wide
// is dy over the split image's width Wq (zeros at the dropped columns) and row r of the wide
// column matrix is the split image from its offset on (as in the forward). Both operands run
// along p, so the kernels' dot tile multiplies them where they lie: no column matrix and no
// transposed packing. A slot holds a set of images (dy_wide and the split image of each), as
// many as fit in half a 1 MB L2, and every tile runs over the whole set before it adds its sums.

// Elements of one set of images: half of a 1 MB L2 in float.
constexpr int64_t kWeightSetElements = int64_t(128) << 10;

// The dot tile reduces its sums once per set of images; over shorter wide rows than this it loses
// to im2col and the GEMM (7x7 outputs, bench_conv).
constexpr int64_t kMinDotColumns = 128;

bool weight_by_dots(const Conv2dShape& s) {
  return reads_split_image(s) && s.out_h() * PaddedImage(s).Wq >= kMinDotColumns;
}

template <typename T>
struct WeightPlan {
  const detail::GemmKernels<T>* kernels;
  PaddedImage split;
  int64_t o_rows;   // Og rounded up to the tile's rows of dy
  int64_t offsets;  // K rounded up to the tile's rows of columns
  int64_t columns;  // OH * Wq rounded up to whole vectors
  int64_t images;   // per set
  int64_t padded() const { return split.size(kernels->lanes); }
  int64_t image() const { return o_rows * columns + padded(); }
  int64_t slot() const { return images * image(); }
  // The offsets (int64) in elements of T, whole cache lines.
  int64_t offset_elements() const { return offset_table<T>(offsets); }
};

template <typename T>
WeightPlan<T> weight_plan(const Conv2dShape& s) {
  const detail::GemmKernels<T>& g = detail::gemm_kernels<T>();
  const PaddedImage split(s);
  WeightPlan<T> plan{&g,
                     split,
                     ceil_div(s.out_channels / s.groups, g.dot_rows_a) * g.dot_rows_a,
                     ceil_div(s.col_rows(), g.dot_rows_b) * g.dot_rows_b,
                     ceil_div(s.out_h() * split.Wq, g.lanes) * g.lanes,
                     1};
  // Sets of equal size: 4 + 4 rather than 5 + 3 (a set's tiles pay their sums once).
  const int64_t most = std::clamp<int64_t>(kWeightSetElements / plan.image(), 1, kImagesPerChunk);
  plan.images = ceil_div(kImagesPerChunk, ceil_div(kImagesPerChunk, most));
  return plan;
}

// dy of one image's group [Og, OH, OW] over the split image's width, [o_rows, columns], zeros
// elsewhere.
template <typename T>
void widen_gradient(const Conv2dShape& s, const WeightPlan<T>& plan, const T* dy, T* out) {
  const int64_t Og = s.out_channels / s.groups, OH = s.out_h(), OW = s.out_w(), Wq = plan.split.Wq;
  std::fill_n(out, plan.o_rows * plan.columns, T(0));
  for (int64_t o = 0; o < Og; ++o)
    for (int64_t oh = 0; oh < OH; ++oh) std::copy_n(dy + (o * OH + oh) * OW, OW, out + o * plan.columns + oh * Wq);
}

// dw += the partial sums of chunks 1.., in chunk order.
template <typename T>
void add_partials(int64_t chunks, int64_t weights, const T* partials, T* dw) {
  if (chunks > 1)
    parallel_for(weights, int64_t(1) << 14, [&](int64_t i0, int64_t i1) {
      for (int64_t ch = 1; ch < chunks; ++ch) {
        const T* part = partials + (ch - 1) * weights;
        for (int64_t i = i0; i < i1; ++i) dw[i] += part[i];
      }
    });
}

template <typename T>
void backward_weight_by_dots(const Conv2dShape& s, const T* x, const T* dy, T* dw, T* workspace) {
  const Dims d(s);
  const WeightPlan<T> plan = weight_plan<T>(s);
  const detail::GemmKernels<T>& g = *plan.kernels;
  const int64_t weights = s.out_channels * d.K, chunks = weight_chunks(s);
  const int64_t slots = std::min<int64_t>(max_threads(), chunks);
  // Row r = (c, i, j) of the wide column matrix starts at offsets[r] in the split image; the
  // tile's rows past K read from 0 and are not stored.
  int64_t* const offsets = reinterpret_cast<int64_t*>(workspace);
  T* const partials = workspace + plan.offset_elements();
  for (int64_t r = 0; r < plan.offsets; ++r) offsets[r] = r < d.K ? plan.split.row_offset(r) : 0;
  T* const slots_begin = partials + (chunks - 1) * weights;
  const int64_t ra = g.dot_rows_a, rb = g.dot_rows_b;
  deal_units(chunks, slots, [&](int64_t slot, int64_t ch) {
    T* const set = slots_begin + slot * plan.slot();
    T* const out = ch == 0 ? dw : partials + (ch - 1) * weights;
    const int64_t first = ch * kImagesPerChunk, last = std::min(s.batch, first + kImagesPerChunk);
    for (int64_t gi = 0; gi < s.groups; ++gi) {
      T* const out_g = out + gi * d.Og * d.K;
      for (int64_t n0 = first; n0 < last; n0 += plan.images) {
        const int images = int(std::min(plan.images, last - n0));
        for (int64_t q = 0; q < images; ++q) {
          T* const image = set + q * plan.image();
          widen_gradient(s, plan, dy + (n0 + q) * d.out_image + gi * d.Og * d.P, image);
          plan.split.fill(x + (n0 + q) * d.in_image + gi * d.Cg * s.in_h * s.in_w, image + plan.o_rows * plan.columns,
                          plan.padded());
        }
        for (int64_t o = 0; o < d.Og; o += ra)
          for (int64_t r = 0; r < d.K; r += rb)
            g.dot(plan.columns, images, set + o * plan.columns, plan.columns, plan.image(),
                  set + plan.o_rows * plan.columns, offsets + r, plan.image(), out_g + o * d.K + r, d.K,
                  int(std::min(ra, d.Og - o)), int(std::min(rb, d.K - r)), n0 > first);
      }
    }
  });
  add_partials(chunks, weights, partials, dw);
}

// Elements the weight gradient needs: the partial sums of chunks 1.. (chunk 0 sums into dw), and
// (by dots) the row offsets and a set of images per slot.
template <typename T>
int64_t backward_weight_workspace(const Conv2dShape& s) {
  const int64_t chunks = weight_chunks(s), slots = std::min<int64_t>(max_threads(), chunks);
  const int64_t partials = (chunks - 1) * s.out_channels * s.col_rows();
  if (weight_by_dots(s)) {
    const WeightPlan<T> plan = weight_plan<T>(s);
    return partials + plan.offset_elements() + slots * plan.slot();
  }
  return partials + slots * column_matrix(s);
}

template <typename T>
void backward_weight(const Conv2dShape& s, const T* x, const T* dy, T* dw, T* workspace) {
  const Dims d(s);
  const int64_t weights = s.out_channels * d.K;
  if (s.batch == 0) {
    std::fill_n(dw, weights, T(0));
    return;
  }
  if (weight_by_dots(s)) return backward_weight_by_dots(s, x, dy, dw, workspace);
  // 1x1 kernels and small outputs: per image, dw += dy col^T on the GEMM (col: the image itself
  // when direct).
  const int64_t chunks = weight_chunks(s), slots = std::min<int64_t>(max_threads(), chunks);
  T* const partials = workspace;
  T* const cols = partials + (chunks - 1) * weights;
  deal_units(chunks, slots, [&](int64_t slot, int64_t ch) {
    T* const col = cols + slot * column_matrix(s);
    T* const out = ch == 0 ? dw : partials + (ch - 1) * weights;
    const int64_t first = ch * kImagesPerChunk, last = std::min(s.batch, first + kImagesPerChunk);
    for (int64_t n = first; n < last; ++n)
      for (int64_t g = 0; g < s.groups; ++g) {
        const T* xg = x + n * d.in_image + g * d.Cg * s.in_h * s.in_w;
        if (!s.direct()) im2col(s, xg, col);
        gemm(false, true, d.Og, d.K, d.P, T(1), dy + n * d.out_image + g * d.Og * d.P, d.P, s.direct() ? xg : col, d.P,
             n == first ? T(0) : T(1), out + g * d.Og * d.K, d.K);
      }
  });
  add_partials(chunks, weights, partials, dw);
}

}  // namespace

int64_t conv2d_workspace_size(const Conv2dShape& s) {
  const int64_t backward_input =
      gradient_as_convolution(s)
          ? whole_lines(s.out_channels * s.col_rows()) + std::max(forward_workspace<float>(gradient_convolution(s)),
                                                                  forward_workspace<double>(gradient_convolution(s)))
          : image_slots(s) * column_matrix(s);
  return std::max({forward_workspace<float>(s), forward_workspace<double>(s), backward_input,
                   backward_weight_workspace<float>(s), backward_weight_workspace<double>(s)});
}

void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y,
                    float* workspace) {
  forward(s, x, w, bias, y, workspace);
}
void conv2d_forward(const Conv2dShape& s, const double* x, const double* w, const double* bias, double* y,
                    double* workspace) {
  forward(s, x, w, bias, y, workspace);
}
void conv2d_backward_input(const Conv2dShape& s, const float* dy, const float* w, float* dx, float* workspace) {
  backward_input(s, dy, w, dx, workspace);
}
void conv2d_backward_input(const Conv2dShape& s, const double* dy, const double* w, double* dx, double* workspace) {
  backward_input(s, dy, w, dx, workspace);
}
void conv2d_backward_weight(const Conv2dShape& s, const float* x, const float* dy, float* dw, float* workspace) {
  backward_weight(s, x, dy, dw, workspace);
}
void conv2d_backward_weight(const Conv2dShape& s, const double* x, const double* dy, double* dw, double* workspace) {
  backward_weight(s, x, dy, dw, workspace);
}

}  // namespace minigrad::kernels
