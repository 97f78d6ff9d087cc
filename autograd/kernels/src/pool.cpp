// Pooling and batch-norm statistics; see pool.h.
#include <minigrad/kernels/pool.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <minigrad/kernels/thread_pool.h>

namespace minigrad::kernels {
namespace {

constexpr int64_t kGrain = int64_t(1) << 15;  // elements per parallel chunk, about

// Chunks of whole planes (or channels) of `size` elements each.
int64_t grain_for(int64_t size) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(size, 1)); }

// One axis of an average pooling: output o averages inputs [begin, end), and its divisor counts
// `count` of them (more than end - begin where padding counts as zeros).
struct Window {
  int64_t begin, end, count;
};
struct Axis {
  int64_t size, out, kernel = 0, stride = 1, pad = 0;
  bool adaptive = false;
  Window at(int64_t o) const {
    if (adaptive) {
      const int64_t b = o * size / out, e = ((o + 1) * size + out - 1) / out;
      return {b, e, e - b};
    }
    const int64_t b = o * stride - pad;
    return {std::max<int64_t>(b, 0), std::min(b + kernel, size), kernel};
  }
};

// y[p, oh, ow] = mean of x over the window's rows and columns, or (backward) its adjoint.
template <typename T>
void window_average(int64_t planes, const Axis& rows, const Axis& cols, const T* in, T* out, bool backward) {
  const int64_t H = rows.size, W = cols.size, OH = rows.out, OW = cols.out;
  parallel_for(planes, grain_for(H * W), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const T* x = backward ? nullptr : in + p * H * W;
      T* dx = backward ? out + p * H * W : nullptr;
      if (backward) std::fill_n(dx, H * W, T(0));
      for (int64_t oh = 0; oh < OH; ++oh) {
        const Window r = rows.at(oh);
        for (int64_t ow = 0; ow < OW; ++ow) {
          const Window c = cols.at(ow);
          const T scale = T(1) / T(r.count * c.count);
          if (backward) {
            const T g = in[(p * OH + oh) * OW + ow] * scale;
            for (int64_t ih = r.begin; ih < r.end; ++ih)
              for (int64_t iw = c.begin; iw < c.end; ++iw) dx[ih * W + iw] += g;
          } else {
            T sum = 0;
            for (int64_t ih = r.begin; ih < r.end; ++ih)
              for (int64_t iw = c.begin; iw < c.end; ++iw) sum += x[ih * W + iw];
            out[(p * OH + oh) * OW + ow] = sum * scale;
          }
        }
      }
    }
  });
}

Axis pool_rows(const Pool2dShape& s) { return {s.in_h, s.out_h(), s.kernel_h, s.stride_h, s.pad_h}; }
Axis pool_cols(const Pool2dShape& s) { return {s.in_w, s.out_w(), s.kernel_w, s.stride_w, s.pad_w}; }
Axis adaptive(int64_t size, int64_t out) { return {.size = size, .out = out, .adaptive = true}; }

// Keeps v (at index i) when it beats the best so far; a NaN always wins, ties keep the first.
template <typename T>
inline void keep_max(T v, int64_t i, T& best, int64_t& at) {
  if (v > best || v != v) {
    best = v;
    at = i;
  }
}

// The 2x2, stride 2, unpadded window of CNNs, a vector of L outputs at a time (GCC/Clang vector
// extensions: the compiler picks the instructions). Branches on the data would mispredict on
// every other window, and rows of 14 or 7 outputs are too short for the auto-vectorizer. Each
// output's candidates are compared in the window's order, as keep_max does.
// Without AVX-512 a 64-byte vector returned by value has a different ABI; these helpers are
// internal and inlined, so no call crosses it.
#pragma GCC diagnostic ignored "-Wpsabi"
template <typename T>
struct PoolVectors {
  static constexpr int L = 64 / int(sizeof(T));
  using Int = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
  typedef T V __attribute__((vector_size(64)));
  typedef Int I __attribute__((vector_size(64)));
  static V load(const T* p) {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  // Columns 2l (even) or 2l + 1 (odd) of the 2L values from p.
  static V columns(const T* p, bool odd) {
    const V lo = load(p), hi = load(p + L);
    if constexpr (L == 16) {
      return odd ? __builtin_shufflevector(lo, hi, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31)
                 : __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    } else {
      return odd ? __builtin_shufflevector(lo, hi, 1, 3, 5, 7, 9, 11, 13, 15)
                 : __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14);
    }
  }
};

template <typename T>
void max_pool_2x2(const Pool2dShape& s, const T* x, T* y, int64_t* indices) {
  using PV = PoolVectors<T>;
  constexpr int L = PV::L;
  // Sizes by value: the int64 index stores could alias them through a reference.
  parallel_for(s.planes, grain_for(s.in_h * s.in_w), [=](int64_t p0, int64_t p1) {
    const int64_t H = s.in_h, W = s.in_w, OH = s.out_h(), OW = s.out_w();
    const T* const x_end = x + s.planes * H * W;
    T tail[4 * L] = {};  // rows copied out where 2L values would read past the input's end
    for (int64_t p = p0; p < p1; ++p)
      for (int64_t oh = 0; oh < OH; ++oh) {
        const int64_t top = 2 * oh * W;
        const T* r0 = x + p * H * W + top;
        const T* r1 = r0 + W;
        T* yr = y + (p * OH + oh) * OW;
        int64_t* ir = indices + (p * OH + oh) * OW;
        for (int64_t ow0 = 0; ow0 < OW; ow0 += L) {
          const int n = int(std::min<int64_t>(L, OW - ow0));
          const T* a = r0 + 2 * ow0;
          const T* c = r1 + 2 * ow0;
          if (c + 2 * L > x_end) {
            std::copy_n(a, 2 * n, tail);
            std::copy_n(c, 2 * n, tail + 2 * L);
            a = tail, c = tail + 2 * L;
          }
          typename PV::V best = PV::columns(a, false);
          typename PV::I which = {};  // 0..3: the window's position of the winner
          const auto step = [&](typename PV::V v, typename PV::Int position) {
            const typename PV::I take = (v > best) | (v != v);
            best = take ? v : best;
            which = take ? position : which;
          };
          step(PV::columns(a, true), 1);
          step(PV::columns(c, false), 2);
          step(PV::columns(c, true), 3);
          std::memcpy(yr + ow0, &best, size_t(n) * sizeof(T));
          for (int l = 0; l < n; ++l) ir[ow0 + l] = top + 2 * (ow0 + l) + (which[l] & 1) + (which[l] >> 1) * W;
        }
      }
  });
}

template <typename T>
void max_pool(const Pool2dShape& s, const T* x, T* y, int64_t* indices) {
  if (s.kernel_h == 2 && s.kernel_w == 2 && s.stride_h == 2 && s.stride_w == 2 && s.pad_h == 0 && s.pad_w == 0)
    return max_pool_2x2(s, x, y, indices);
  const int64_t H = s.in_h, W = s.in_w, OH = s.out_h(), OW = s.out_w();
  const Axis rows = pool_rows(s), cols = pool_cols(s);
  parallel_for(s.planes, grain_for(H * W), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * H * W;
      for (int64_t oh = 0; oh < OH; ++oh) {
        const Window r = rows.at(oh);
        for (int64_t ow = 0; ow < OW; ++ow) {
          const Window c = cols.at(ow);
          T best = -std::numeric_limits<T>::infinity();
          int64_t at = r.begin * W + c.begin;
          for (int64_t ih = r.begin; ih < r.end; ++ih)
            for (int64_t iw = c.begin; iw < c.end; ++iw) {
              keep_max(xp[ih * W + iw], ih * W + iw, best, at);
            }
          y[(p * OH + oh) * OW + ow] = best;
          indices[(p * OH + oh) * OW + ow] = at;
        }
      }
    }
  });
}

// Per-channel sums for batch norm, in double: a row of S values is read eight at a time, widened
// to a vector of doubles (GCC/Clang vector extensions; a plain loop of scalar double lanes was
// compiled to half-width vectors spilled to the stack), then the tail one by one. Rows are added
// in order and each channel is one task: the same sums for any thread count.
typedef double Double8 __attribute__((vector_size(64)));

template <typename T>
Double8 widen8(const T* p) {
  typedef T V8 __attribute__((vector_size(8 * sizeof(T))));
  V8 v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_convertvector(v, Double8);
}

double lane_total(Double8 v) {
  double sum = 0;
  for (int l = 0; l < 8; ++l) sum += v[l];
  return sum;
}

// The sum over i < S of term(rows[i]...), each row's value in double.
template <typename Term, typename... T>
double widened_sum(int64_t S, Term term, const T*... rows) {
  Double8 even = {}, odd = {};  // two chains of adds, not one waiting on each add's latency
  int64_t i = 0;
  for (; i + 16 <= S; i += 16) {
    even += term(widen8(rows + i)...);
    odd += term(widen8(rows + i + 8)...);
  }
  for (; i + 8 <= S; i += 8) even += term(widen8(rows + i)...);
  double tail = 0;
  for (; i < S; ++i) tail += term(double(rows[i])...);
  return lane_total(even + odd) + tail;
}

// The ReLU's gate on a gradient g at output y: blocked where y <= 0 (a NaN output passes it).
// For scalars and for vectors of doubles alike.
template <typename V>
V relu_gate(V g, V y) {
  return y <= 0 ? V{} : g;
}

const auto identity = [](auto v) { return v; };

// The sum over channel c of x [N, C, S] of term(value), in double, rows in order.
template <typename T, typename Term>
double channel_total(int64_t N, int64_t C, int64_t S, const T* x, int64_t c, Term term) {
  double total = 0;
  for (int64_t n = 0; n < N; ++n) total += widened_sum(S, term, x + (n * C + c) * S);
  return total;
}

template <typename T>
void sums(int64_t N, int64_t C, int64_t S, const T* x, double* out) {
  parallel_for(C, grain_for(N * S), [=](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) out[c] = channel_total(N, C, S, x, c, identity);
  });
}

// Two passes (the mean, then squares about it): a one-pass variance loses the digits of a
// channel whose mean is large against its spread.
template <typename T>
void stats(int64_t N, int64_t C, int64_t S, const T* x, double* mean, double* var) {
  parallel_for(C, grain_for(N * S), [=](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const double count = double(N * S);
      const double m = N * S > 0 ? channel_total(N, C, S, x, c, identity) / count : 0.0;
      const double sq = channel_total(N, C, S, x, c, [m](auto v) { return (v - m) * (v - m); });
      mean[c] = m;
      var[c] = N * S > 0 ? sq / count : 0.0;
    }
  });
}

template <bool kRelu, typename T>
void apply_rows(int64_t r0, int64_t r1, int64_t C, int64_t S, const T* x, const T* scale, const T* shift, T* y) {
  for (int64_t r = r0; r < r1; ++r) {
    const T a = scale[r % C], b = shift[r % C];
    const T* __restrict xr = x + r * S;
    T* __restrict yr = y + r * S;
    for (int64_t i = 0; i < S; ++i) {
      const T v = xr[i] * a + b;
      yr[i] = kRelu && v <= T(0) ? T(0) : v;  // NaN passes, as relu
    }
  }
}

template <typename T>
void apply(int64_t N, int64_t C, int64_t S, const T* x, const T* scale, const T* shift, T* y, bool relu) {
  parallel_for(N * C, grain_for(S), [&](int64_t r0, int64_t r1) {
    if (relu)
      apply_rows<true>(r0, r1, C, S, x, scale, shift, y);
    else
      apply_rows<false>(r0, r1, C, S, x, scale, shift, y);
  });
}

// dx of one channel's rows; with kGated the gradient first passes the ReLU's gate at y.
template <bool kGated, typename T>
void input_grad_rows(int64_t N, int64_t C, int64_t S, int64_t c, const T* x, const T* dy, const T* y, T a, T m,
                     T g_mean, T gx_mean, T* dx) {
  for (int64_t n = 0; n < N; ++n) {
    const int64_t at = (n * C + c) * S;
    const T* __restrict xr = x + at;
    const T* __restrict gr = dy + at;
    const T* __restrict yr = kGated ? y + at : nullptr;
    T* __restrict dxr = dx + at;
    for (int64_t i = 0; i < S; ++i) {
      T g = gr[i];
      if constexpr (kGated) g = relu_gate(g, yr[i]);
      dxr[i] = a * (g - g_mean - (xr[i] - m) * gx_mean);
    }
  }
}

// Channel by channel: its N rows of x and dy (at most a few hundred KB for the layers of a small
// CNN) are still in L2 when the second pass writes dx, which then reads no memory twice.
template <typename T>
void backward(int64_t N, int64_t C, int64_t S, const T* x, const T* dy, const T* y, const T* mean, const T* invstd,
              const T* scale, double* dy_sum, double* dy_xhat_sum, T* dx) {
  const double M = double(N * S);
  parallel_for(C, grain_for(N * S), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double sum = 0, sum_xhat = 0;
      const double mean_c = double(mean[c]);
      for (int64_t n = 0; n < N; ++n) {
        const int64_t at = (n * C + c) * S;
        if (y) {
          sum += widened_sum(
              S, [](auto g, auto out) { return relu_gate(g, out); }, dy + at, y + at);
          sum_xhat += widened_sum(
              S, [mean_c](auto g, auto v, auto out) { return relu_gate(g, out) * (v - mean_c); }, dy + at, x + at,
              y + at);
        } else {
          sum += widened_sum(S, identity, dy + at);
          sum_xhat += widened_sum(
              S, [mean_c](auto g, auto v) { return g * (v - mean_c); }, dy + at, x + at);
        }
      }
      dy_sum[c] = sum;
      dy_xhat_sum[c] = sum_xhat * double(invstd[c]);
      if (!dx) continue;
      const T a = scale[c], m = mean[c], is = invstd[c];
      const T g_mean = T(dy_sum[c] / M), gx_mean = T(dy_xhat_sum[c] / M) * is;
      if (y)
        input_grad_rows<true>(N, C, S, c, x, dy, y, a, m, g_mean, gx_mean, dx);
      else
        input_grad_rows<false>(N, C, S, c, x, dy, y, a, m, g_mean, gx_mean, dx);
    }
  });
}

}  // namespace

void batch_norm_backward(int64_t N, int64_t C, int64_t S, const float* x, const float* dy, const float* y,
                         const float* mean, const float* invstd, const float* scale, double* dy_sum,
                         double* dy_xhat_sum, float* dx) {
  backward(N, C, S, x, dy, y, mean, invstd, scale, dy_sum, dy_xhat_sum, dx);
}
void batch_norm_backward(int64_t N, int64_t C, int64_t S, const double* x, const double* dy, const double* y,
                         const double* mean, const double* invstd, const double* scale, double* dy_sum,
                         double* dy_xhat_sum, double* dx) {
  backward(N, C, S, x, dy, y, mean, invstd, scale, dy_sum, dy_xhat_sum, dx);
}

void max_pool2d_forward(const Pool2dShape& s, const float* x, float* y, int64_t* indices) {
  max_pool(s, x, y, indices);
}
void max_pool2d_forward(const Pool2dShape& s, const double* x, double* y, int64_t* indices) {
  max_pool(s, x, y, indices);
}

void avg_pool2d_forward(const Pool2dShape& s, const float* x, float* y) {
  window_average(s.planes, pool_rows(s), pool_cols(s), x, y, false);
}
void avg_pool2d_forward(const Pool2dShape& s, const double* x, double* y) {
  window_average(s.planes, pool_rows(s), pool_cols(s), x, y, false);
}
void avg_pool2d_backward(const Pool2dShape& s, const float* dy, float* dx) {
  window_average(s.planes, pool_rows(s), pool_cols(s), dy, dx, true);
}
void avg_pool2d_backward(const Pool2dShape& s, const double* dy, double* dx) {
  window_average(s.planes, pool_rows(s), pool_cols(s), dy, dx, true);
}

void adaptive_avg_pool2d_forward(const Pool2dShape& s, int64_t oh, int64_t ow, const float* x, float* y) {
  window_average(s.planes, adaptive(s.in_h, oh), adaptive(s.in_w, ow), x, y, false);
}
void adaptive_avg_pool2d_forward(const Pool2dShape& s, int64_t oh, int64_t ow, const double* x, double* y) {
  window_average(s.planes, adaptive(s.in_h, oh), adaptive(s.in_w, ow), x, y, false);
}
void adaptive_avg_pool2d_backward(const Pool2dShape& s, int64_t oh, int64_t ow, const float* dy, float* dx) {
  window_average(s.planes, adaptive(s.in_h, oh), adaptive(s.in_w, ow), dy, dx, true);
}
void adaptive_avg_pool2d_backward(const Pool2dShape& s, int64_t oh, int64_t ow, const double* dy, double* dx) {
  window_average(s.planes, adaptive(s.in_h, oh), adaptive(s.in_w, ow), dy, dx, true);
}

void channel_sums(int64_t N, int64_t C, int64_t S, const float* x, double* out) { sums(N, C, S, x, out); }
void channel_sums(int64_t N, int64_t C, int64_t S, const double* x, double* out) { sums(N, C, S, x, out); }

void batch_norm_stats(int64_t N, int64_t C, int64_t S, const float* x, double* mean, double* var) {
  stats(N, C, S, x, mean, var);
}
void batch_norm_stats(int64_t N, int64_t C, int64_t S, const double* x, double* mean, double* var) {
  stats(N, C, S, x, mean, var);
}
void batch_norm_apply(int64_t N, int64_t C, int64_t S, const float* x, const float* scale, const float* shift, float* y,
                      bool relu) {
  apply(N, C, S, x, scale, shift, y, relu);
}
void batch_norm_apply(int64_t N, int64_t C, int64_t S, const double* x, const double* scale, const double* shift,
                      double* y, bool relu) {
  apply(N, C, S, x, scale, shift, y, relu);
}

}  // namespace minigrad::kernels
