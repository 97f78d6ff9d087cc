#pragma once
// 2-D convolution over raw NCHW buffers, on the packed GEMM's micro-kernels (gemm.h).
//
//   y[n, o, oh, ow] = bias[o] + sum_{c, i, j} w[o, c, i, j] * x[n, g * C/G + c, oh*sh - ph + i*dh,
//                                                                ow*sw - pw + j*dw]
//
// for output channel o of group g = o / (O/G); x is zero outside the image. Weights are
// [O, C/G, kh, kw]. Per image and group, the GEMM multiplies the group's weights, an
// (O/G) x (C/G kh kw) matrix, by the image's column matrix, (C/G kh kw) x (OH OW): K is the whole
// receptive field and N the whole output plane, both large for 3x3 kernels over >= 32 channels,
// and the product lands in NCHW order with no transpose. A 1x1 kernel with stride 1 and no
// padding reads the image itself as the column matrix.
//
// The forward runs the GEMM's micro-kernels on the column matrix without building it: the image
// is zero-padded and split by the stride into stride_h x stride_w phases, and with the columns
// taken over a phase's width each row of the column matrix is that split image from some offset
// on, so the micro-kernels read the rows there. The weight gradient multiplies dy by those rows
// in place (dot products) when the output is large enough; 1x1 kernels that subsample and small
// outputs build the column matrix (im2col) for the GEMM. The input gradient of a stride-1
// convolution is a convolution of dy; other strides multiply into a column matrix and scatter it
// back (col2im). Work is dealt to threads in fixed pieces (images;
// for the weight gradient, chunks of 8 images whose partial sums are added in order), so every
// result is the same bit for bit whatever the thread count.
//
// No allocation: buffers live in a caller's workspace of conv2d_workspace_size() elements.
#include <cstdint>

namespace minigrad::kernels {

struct Conv2dShape {
  int64_t batch = 1, in_channels = 1, in_h = 1, in_w = 1;
  int64_t out_channels = 1, kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;

  int64_t out_h() const { return (in_h + 2 * pad_h - dilation_h * (kernel_h - 1) - 1) / stride_h + 1; }
  int64_t out_w() const { return (in_w + 2 * pad_w - dilation_w * (kernel_w - 1) - 1) / stride_w + 1; }
  // Rows of one group's column matrix: the GEMM's K.
  int64_t col_rows() const { return in_channels / groups * kernel_h * kernel_w; }
  // The image itself is the column matrix.
  bool direct() const {
    return kernel_h == 1 && kernel_w == 1 && stride_h == 1 && stride_w == 1 && pad_h == 0 && pad_w == 0;
  }
};

// Elements of T the calls below need as workspace, for the current thread count.
int64_t conv2d_workspace_size(const Conv2dShape& s);

// y [N, O, OH, OW] = conv(x [N, C, H, W], w [O, C/G, kh, kw]) + bias [O] (bias may be null).
void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y,
                    float* workspace);
void conv2d_forward(const Conv2dShape& s, const double* x, const double* w, const double* bias, double* y,
                    double* workspace);
// dx [N, C, H, W] = the adjoint of conv in x, applied to dy [N, O, OH, OW] (overwrites dx). This
// is also conv_transpose2d's forward, with dy its input and dx its output.
void conv2d_backward_input(const Conv2dShape& s, const float* dy, const float* w, float* dx, float* workspace);
void conv2d_backward_input(const Conv2dShape& s, const double* dy, const double* w, double* dx, double* workspace);
// dw [O, C/G, kh, kw] = the adjoint of conv in w: sum over images of dy times x's columns (overwrites dw).
void conv2d_backward_weight(const Conv2dShape& s, const float* x, const float* dy, float* dw, float* workspace);
void conv2d_backward_weight(const Conv2dShape& s, const double* x, const double* dy, double* dw, double* workspace);

// The defining sums, loop by loop: the oracle for the three above.
template <typename T>
void conv2d_reference(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  const int64_t OH = s.out_h(), OW = s.out_w(), Cg = s.in_channels / s.groups, Og = s.out_channels / s.groups;
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t o = 0; o < s.out_channels; ++o)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          T acc = bias ? bias[o] : T(0);
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t i = 0; i < s.kernel_h; ++i)
              for (int64_t j = 0; j < s.kernel_w; ++j) {
                const int64_t ih = oh * s.stride_h - s.pad_h + i * s.dilation_h;
                const int64_t iw = ow * s.stride_w - s.pad_w + j * s.dilation_w;
                if (ih < 0 || ih >= s.in_h || iw < 0 || iw >= s.in_w) continue;
                const int64_t ci = o / Og * Cg + c;
                acc += w[((o * Cg + c) * s.kernel_h + i) * s.kernel_w + j] *
                       x[((n * s.in_channels + ci) * s.in_h + ih) * s.in_w + iw];
              }
          y[((n * s.out_channels + o) * OH + oh) * OW + ow] = acc;
        }
}

// Both adjoints by the same loop: dx and dw (either may be null) are overwritten.
template <typename T>
void conv2d_backward_reference(const Conv2dShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw) {
  const int64_t OH = s.out_h(), OW = s.out_w(), Cg = s.in_channels / s.groups, Og = s.out_channels / s.groups;
  if (dx)
    for (int64_t k = 0; k < s.batch * s.in_channels * s.in_h * s.in_w; ++k) dx[k] = T(0);
  if (dw)
    for (int64_t k = 0; k < s.out_channels * Cg * s.kernel_h * s.kernel_w; ++k) dw[k] = T(0);
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t o = 0; o < s.out_channels; ++o)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const T g = dy[((n * s.out_channels + o) * OH + oh) * OW + ow];
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t i = 0; i < s.kernel_h; ++i)
              for (int64_t j = 0; j < s.kernel_w; ++j) {
                const int64_t ih = oh * s.stride_h - s.pad_h + i * s.dilation_h;
                const int64_t iw = ow * s.stride_w - s.pad_w + j * s.dilation_w;
                if (ih < 0 || ih >= s.in_h || iw < 0 || iw >= s.in_w) continue;
                const int64_t xi = ((n * s.in_channels + o / Og * Cg + c) * s.in_h + ih) * s.in_w + iw;
                const int64_t wi = ((o * Cg + c) * s.kernel_h + i) * s.kernel_w + j;
                if (dx) dx[xi] += g * w[wi];
                if (dw) dw[wi] += g * x[xi];
              }
        }
}

}  // namespace minigrad::kernels
