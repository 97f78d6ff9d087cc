// Convolution as im2col + GEMM; see conv.h for the layout and the thread split.
#include <minigrad/kernels/conv.h>

#include <algorithm>
#include <cstring>

#include <minigrad/kernels/gemm.h>
#include <minigrad/kernels/thread_pool.h>

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
void im2col(const Conv2dShape& s, const T* x, T* col, int64_t r0, int64_t r1) {
  const int64_t OW = s.out_w(), P = s.out_h() * OW, sw = s.stride_w;
  for_col_rows(s, r0, r1, [&](int64_t r, int64_t c, int64_t oh, int64_t ih, int64_t iw0, Span span) {
    T* dst = col + r * P + oh * OW;
    if (ih < 0 || ih >= s.in_h || span.lo == span.hi) {
      std::fill_n(dst, OW, T(0));
      return;
    }
    const T* src = x + (c * s.in_h + ih) * s.in_w;
    std::fill_n(dst, span.lo, T(0));
    if (sw == 1) {
      std::memcpy(dst + span.lo, src + span.lo + iw0, size_t(span.hi - span.lo) * sizeof(T));
    } else {
      for (int64_t ow = span.lo; ow < span.hi; ++ow) dst[ow] = src[ow * sw + iw0];
    }
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

// Runs per_image(n, workspace slot) for every image: slot t takes images t, t + slots, ...
template <typename T, typename F>
void for_images(const Conv2dShape& s, T* workspace, F&& per_image) {
  const int64_t slots = image_slots(s), slot_size = s.direct() ? 0 : Dims(s).K * Dims(s).P;
  const auto run = [&](int64_t t) {
    for (int64_t n = t; n < s.batch; n += slots) per_image(n, workspace + t * slot_size);
  };
  if (slots == 1) return run(0);
  parallel_tasks(slots, run);
}

template <typename T>
void forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y, T* workspace) {
  const Dims d(s);
  for_images(s, workspace, [&](int64_t n, T* col) {
    for (int64_t g = 0; g < s.groups; ++g) {
      const T* xg = x + n * d.in_image + g * d.Cg * s.in_h * s.in_w;
      T* yg = y + n * d.out_image + g * d.Og * d.P;
      if (!s.direct()) im2col(s, xg, col, 0, d.K);
      // The bias is C's starting value (the GEMM's epilogue adds per column, not per row).
      if (bias)
        for (int64_t o = 0; o < d.Og; ++o) std::fill_n(yg + o * d.P, d.P, bias[g * d.Og + o]);
      gemm(false, false, d.Og, d.P, d.K, T(1), w + g * d.Og * d.K, d.K, s.direct() ? xg : col, d.P,
           bias ? T(1) : T(0), yg, d.P);
    }
  });
}

template <typename T>
void backward_input(const Conv2dShape& s, const T* dy, const T* w, T* dx, T* workspace) {
  const Dims d(s);
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

template <typename T>
void backward_weight(const Conv2dShape& s, const T* x, const T* dy, T* dw, T* col) {
  const Dims d(s);
  const int64_t kk = s.kernel_h * s.kernel_w;
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t g = 0; g < s.groups; ++g) {
      const T* xg = x + n * d.in_image + g * d.Cg * s.in_h * s.in_w;
      if (!s.direct())  // whole channels per chunk: about 32K elements each
        parallel_for(d.Cg, std::max<int64_t>(1, (int64_t(1) << 15) / (kk * d.P)), [&](int64_t c0, int64_t c1) {
          im2col(s, xg, col, c0 * kk, c1 * kk);
        });
      gemm(false, true, d.Og, d.K, d.P, T(1), dy + n * d.out_image + g * d.Og * d.P, d.P,
           s.direct() ? xg : col, d.P, n == 0 ? T(0) : T(1), dw + g * d.Og * d.K, d.K);
    }
  if (s.batch == 0) std::fill_n(dw, s.out_channels * d.K, T(0));
}

}  // namespace

int64_t conv2d_workspace_size(const Conv2dShape& s) {
  if (s.direct()) return 0;
  return image_slots(s) * s.col_rows() * s.out_h() * s.out_w();
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
void conv2d_backward_input(const Conv2dShape& s, const double* dy, const double* w, double* dx,
                           double* workspace) {
  backward_input(s, dy, w, dx, workspace);
}
void conv2d_backward_weight(const Conv2dShape& s, const float* x, const float* dy, float* dw, float* workspace) {
  backward_weight(s, x, dy, dw, workspace);
}
void conv2d_backward_weight(const Conv2dShape& s, const double* x, const double* dy, double* dw,
                            double* workspace) {
  backward_weight(s, x, dy, dw, workspace);
}

}  // namespace minigrad::kernels
