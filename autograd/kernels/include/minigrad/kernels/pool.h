#pragma once
// 2-D pooling over raw buffers of `planes` images of H x W (N * C planes of an NCHW tensor), and
// batch normalization's per-channel statistics. Planes (channels) are split among threads in
// fixed chunks and each is computed in one fixed order: results do not depend on the thread count.
#include <cmath>
#include <cstdint>
#include <limits>

namespace minigrad::kernels {

struct Pool2dShape {
  int64_t planes = 1, in_h = 1, in_w = 1;
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;

  // PyTorch's sizes with ceil_mode false.
  int64_t out_h() const { return (in_h + 2 * pad_h - kernel_h) / stride_h + 1; }
  int64_t out_w() const { return (in_w + 2 * pad_w - kernel_w) / stride_w + 1; }
};

// y = the maximum of each window, indices = its flat position ih * W + iw in the plane (as
// PyTorch's). Padding never wins (it is -inf); among equal values the first in row-major order
// wins; a NaN wins over any number (the last NaN, as PyTorch's `v > max || isnan(v)`).
void max_pool2d_forward(const Pool2dShape& s, const float* x, float* y, int64_t* indices);
void max_pool2d_forward(const Pool2dShape& s, const double* x, double* y, int64_t* indices);

// y = the sum of each window / (kernel_h * kernel_w): padding counts as zeros (PyTorch's default
// count_include_pad). backward: dx = the adjoint, applied to dy (overwrites dx).
void avg_pool2d_forward(const Pool2dShape& s, const float* x, float* y);
void avg_pool2d_forward(const Pool2dShape& s, const double* x, double* y);
void avg_pool2d_backward(const Pool2dShape& s, const float* dy, float* dx);
void avg_pool2d_backward(const Pool2dShape& s, const double* dy, double* dx);

// Output (oh, ow) of an out_h x out_w adaptive pooling averages input rows
// [floor(oh H / out_h), ceil((oh + 1) H / out_h)) and the columns alike (PyTorch's windows).
// in_h, in_w and planes of `s` are used; its kernel, stride and padding are not.
void adaptive_avg_pool2d_forward(const Pool2dShape& s, int64_t out_h, int64_t out_w, const float* x, float* y);
void adaptive_avg_pool2d_forward(const Pool2dShape& s, int64_t out_h, int64_t out_w, const double* x, double* y);
void adaptive_avg_pool2d_backward(const Pool2dShape& s, int64_t out_h, int64_t out_w, const float* dy, float* dx);
void adaptive_avg_pool2d_backward(const Pool2dShape& s, int64_t out_h, int64_t out_w, const double* dy, double* dx);

// Mean and biased variance of each channel c of x [N, C, S] over its N * S values (summed in
// double, two passes).
void batch_norm_stats(int64_t N, int64_t C, int64_t S, const float* x, double* mean, double* var);
void batch_norm_stats(int64_t N, int64_t C, int64_t S, const double* x, double* mean, double* var);
// sums[c] = the sum of channel c of x [N, C, S] over its N * S values, in double (a bias gradient).
void channel_sums(int64_t N, int64_t C, int64_t S, const float* x, double* sums);
void channel_sums(int64_t N, int64_t C, int64_t S, const double* x, double* sums);
// y[n, c, s] = x[n, c, s] * scale[c] + shift[c]: normalization folded into one multiply-add;
// with relu, the ReLU after it in the same pass (y <= 0 becomes 0, NaN stays).
void batch_norm_apply(int64_t N, int64_t C, int64_t S, const float* x, const float* scale, const float* shift, float* y,
                      bool relu = false);
void batch_norm_apply(int64_t N, int64_t C, int64_t S, const double* x, const double* scale, const double* shift,
                      double* y, bool relu = false);
// The first-order backward of training-mode batch norm, two passes over each channel of x and
// dy [N, C, S]: dy_sum = sum dy and dy_xhat_sum = sum dy * xhat with xhat = (x - mean) * invstd
// (summed in double); then, when dx is not null,
//   dx = scale[c] * (dy - dy_sum / M - xhat * dy_xhat_sum / M),  M = N * S,
// with scale = weight * invstd (invstd alone without a weight). When y (the output of a ReLU
// fused after the normalization) is not null, dy is first zeroed where y <= 0.
void batch_norm_backward(int64_t N, int64_t C, int64_t S, const float* x, const float* dy, const float* y,
                         const float* mean, const float* invstd, const float* scale, double* dy_sum,
                         double* dy_xhat_sum, float* dx);
void batch_norm_backward(int64_t N, int64_t C, int64_t S, const double* x, const double* dy, const double* y,
                         const double* mean, const double* invstd, const double* scale, double* dy_sum,
                         double* dy_xhat_sum, double* dx);

// ---- the oracles, loop by loop ----

template <typename T>
void max_pool2d_reference(const Pool2dShape& s, const T* x, T* y, int64_t* indices) {
  const int64_t OH = s.out_h(), OW = s.out_w();
  for (int64_t p = 0; p < s.planes; ++p)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        T best = -std::numeric_limits<T>::infinity();
        int64_t at = -1;
        for (int64_t i = 0; i < s.kernel_h; ++i)
          for (int64_t j = 0; j < s.kernel_w; ++j) {
            const int64_t ih = oh * s.stride_h - s.pad_h + i, iw = ow * s.stride_w - s.pad_w + j;
            if (ih < 0 || ih >= s.in_h || iw < 0 || iw >= s.in_w) continue;
            const T v = x[(p * s.in_h + ih) * s.in_w + iw];
            if (at < 0 || v > best || std::isnan(v)) {
              best = v;
              at = ih * s.in_w + iw;
            }
          }
        y[(p * OH + oh) * OW + ow] = best;
        indices[(p * OH + oh) * OW + ow] = at;
      }
}

template <typename T>
void avg_pool2d_reference(const Pool2dShape& s, const T* x, T* y) {
  const int64_t OH = s.out_h(), OW = s.out_w();
  for (int64_t p = 0; p < s.planes; ++p)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        T sum = 0;
        for (int64_t i = 0; i < s.kernel_h; ++i)
          for (int64_t j = 0; j < s.kernel_w; ++j) {
            const int64_t ih = oh * s.stride_h - s.pad_h + i, iw = ow * s.stride_w - s.pad_w + j;
            if (ih >= 0 && ih < s.in_h && iw >= 0 && iw < s.in_w) sum += x[(p * s.in_h + ih) * s.in_w + iw];
          }
        y[(p * OH + oh) * OW + ow] = sum / T(s.kernel_h * s.kernel_w);
      }
}

template <typename T>
void adaptive_avg_pool2d_reference(const Pool2dShape& s, int64_t out_h, int64_t out_w, const T* x, T* y) {
  for (int64_t p = 0; p < s.planes; ++p)
    for (int64_t oh = 0; oh < out_h; ++oh)
      for (int64_t ow = 0; ow < out_w; ++ow) {
        const int64_t h0 = oh * s.in_h / out_h, h1 = ((oh + 1) * s.in_h + out_h - 1) / out_h;
        const int64_t w0 = ow * s.in_w / out_w, w1 = ((ow + 1) * s.in_w + out_w - 1) / out_w;
        T sum = 0;
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) sum += x[(p * s.in_h + ih) * s.in_w + iw];
        y[(p * out_h + oh) * out_w + ow] = sum / T((h1 - h0) * (w1 - w0));
      }
}

}  // namespace minigrad::kernels
