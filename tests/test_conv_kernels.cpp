// The convolution, pooling and batch-norm kernels against their reference loops at odd sizes,
// strides, paddings, dilations and groups, and bit-identical results for 1, 2 and 3 threads.
#include <minigrad/kernels/conv.h>
#include <minigrad/kernels/pool.h>
#include <minigrad/kernels/thread_pool.h>
#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "thread_count.h"

namespace k = minigrad::kernels;

namespace {

template <typename T>
std::vector<T> random_values(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = T(dist(rng));
  return v;
}

// Restores the thread count when a test ends, passed or not.
std::string describe(const k::Conv2dShape& s) {
  return "N" + std::to_string(s.batch) + " C" + std::to_string(s.in_channels) + " " + std::to_string(s.in_h) + "x" +
         std::to_string(s.in_w) + " O" + std::to_string(s.out_channels) + " k" + std::to_string(s.kernel_h) + "x" +
         std::to_string(s.kernel_w) + " s" + std::to_string(s.stride_h) + "," + std::to_string(s.stride_w) + " p" +
         std::to_string(s.pad_h) + "," + std::to_string(s.pad_w) + " d" + std::to_string(s.dilation_h) + "," +
         std::to_string(s.dilation_w) + " g" + std::to_string(s.groups);
}

const std::vector<k::Conv2dShape> kConvShapes = {
    {.batch = 2, .in_channels = 3, .in_h = 7, .in_w = 9, .out_channels = 5, .kernel_h = 3, .kernel_w = 3},
    {.batch = 3,
     .in_channels = 4,
     .in_h = 8,
     .in_w = 7,
     .out_channels = 6,
     .kernel_h = 3,
     .kernel_w = 3,
     .pad_h = 1,
     .pad_w = 1},
    {.batch = 1,
     .in_channels = 2,
     .in_h = 11,
     .in_w = 10,
     .out_channels = 3,
     .kernel_h = 3,
     .kernel_w = 2,
     .stride_h = 2,
     .stride_w = 3,
     .pad_h = 1,
     .pad_w = 2},
    {.batch = 2,
     .in_channels = 3,
     .in_h = 9,
     .in_w = 9,
     .out_channels = 4,
     .kernel_h = 3,
     .kernel_w = 3,
     .pad_h = 2,
     .pad_w = 1,
     .dilation_h = 2,
     .dilation_w = 3},
    {.batch = 5,
     .in_channels = 6,
     .in_h = 6,
     .in_w = 5,
     .out_channels = 4,
     .kernel_h = 3,
     .kernel_w = 3,
     .stride_h = 2,
     .stride_w = 1,
     .pad_h = 1,
     .pad_w = 1,
     .groups = 2},
    {.batch = 3,
     .in_channels = 4,
     .in_h = 5,
     .in_w = 6,
     .out_channels = 4,
     .kernel_h = 3,
     .kernel_w = 3,
     .pad_h = 1,
     .pad_w = 1,
     .groups = 4},                                                                                          // depthwise
    {.batch = 4, .in_channels = 5, .in_h = 4, .in_w = 3, .out_channels = 7, .kernel_h = 1, .kernel_w = 1},  // direct
    {.batch = 2,
     .in_channels = 4,
     .in_h = 5,
     .in_w = 5,
     .out_channels = 2,
     .kernel_h = 1,
     .kernel_w = 1,
     .stride_h = 2,
     .stride_w = 2,
     .groups = 2},
    {.batch = 2,
     .in_channels = 1,
     .in_h = 4,
     .in_w = 4,
     .out_channels = 2,
     .kernel_h = 5,
     .kernel_w = 5,
     .pad_h = 2,
     .pad_w = 2},  // kernel wider than the image
    {.batch = 3,
     .in_channels = 33,
     .in_h = 10,
     .in_w = 10,
     .out_channels = 35,
     .kernel_h = 3,
     .kernel_w = 3,
     .pad_h = 1,
     .pad_w = 1},  // big enough for the GEMM's packed path
    // K = 432 deeper than a packed block, output columns in two blocks, a ragged last tile, and
    // three chunks of the weight gradient's images.
    {.batch = 17,
     .in_channels = 48,
     .in_h = 15,
     .in_w = 13,
     .out_channels = 30,
     .kernel_h = 3,
     .kernel_w = 3,
     .pad_h = 1,
     .pad_w = 1},
    // Padding on one axis only, with channels enough for the input gradient as a convolution.
    {.batch = 2, .in_channels = 17, .in_h = 6, .in_w = 7, .out_channels = 18, .kernel_h = 3, .kernel_w = 2, .pad_w = 1},
    // A residual net's downsampling 3x3 at stride 2 (odd size: the phases differ in size), deep
    // enough for several k blocks, and a stride of 3 with dilation (taps in every phase).
    {.batch = 9,
     .in_channels = 40,
     .in_h = 13,
     .in_w = 13,
     .out_channels = 26,
     .kernel_h = 3,
     .kernel_w = 3,
     .stride_h = 2,
     .stride_w = 2,
     .pad_h = 1,
     .pad_w = 1},
    {.batch = 2,
     .in_channels = 3,
     .in_h = 14,
     .in_w = 11,
     .out_channels = 5,
     .kernel_h = 3,
     .kernel_w = 4,
     .stride_h = 3,
     .stride_w = 3,
     .pad_h = 2,
     .pad_w = 1,
     .dilation_h = 2,
     .dilation_w = 1},
};

struct ConvResult {
  std::vector<double> y, dx, dw;
};

template <typename T>
ConvResult run_conv(const k::Conv2dShape& s, bool reference) {
  const int64_t Cg = s.in_channels / s.groups;
  const auto x = random_values<T>(s.batch * s.in_channels * s.in_h * s.in_w, 1);
  const auto w = random_values<T>(s.out_channels * Cg * s.kernel_h * s.kernel_w, 2);
  const auto b = random_values<T>(s.out_channels, 3);
  const auto dy = random_values<T>(s.batch * s.out_channels * s.out_h() * s.out_w(), 4);
  std::vector<T> y(dy.size()), dx(x.size(), T(7)), dw(w.size(), T(7));
  if (reference) {
    k::conv2d_reference(s, x.data(), w.data(), b.data(), y.data());
    k::conv2d_backward_reference(s, x.data(), w.data(), dy.data(), dx.data(), dw.data());
  } else {
    std::vector<T> ws(static_cast<size_t>(k::conv2d_workspace_size(s)));
    k::conv2d_forward(s, x.data(), w.data(), b.data(), y.data(), ws.data());
    k::conv2d_backward_input(s, dy.data(), w.data(), dx.data(), ws.data());
    k::conv2d_backward_weight(s, x.data(), dy.data(), dw.data(), ws.data());
  }
  return {{y.begin(), y.end()}, {dx.begin(), dx.end()}, {dw.begin(), dw.end()}};
}

void require_close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    REQUIRE(std::abs(got[i] - want[i]) <= tol * (1.0 + std::abs(want[i])));
  }
}

template <typename T>
void check_conv_against_reference(double tol) {
  for (const auto& s : kConvShapes) {
    INFO(describe(s));
    const ConvResult want = run_conv<T>(s, true), got = run_conv<T>(s, false);
    require_close(got.y, want.y, tol);
    require_close(got.dx, want.dx, tol);
    require_close(got.dw, want.dw, tol);
  }
}

}  // namespace

TEST_CASE("conv2d kernels match the reference loops (float64)", "[conv_kernels]") {
  check_conv_against_reference<double>(1e-12);
}

TEST_CASE("conv2d kernels match the reference loops (float32)", "[conv_kernels]") {
  check_conv_against_reference<float>(1e-4);
}

TEST_CASE("conv2d kernels give bit-identical results for 1, 2 and 3 threads", "[conv_kernels]") {
  for (const auto& s : kConvShapes) {
    INFO(describe(s));
    ConvResult one;
    {
      ThreadCount t(1);
      one = run_conv<float>(s, false);
    }
    for (int threads : {2, 3}) {
      ThreadCount t(threads);
      const ConvResult many = run_conv<float>(s, false);
      REQUIRE(many.y == one.y);
      REQUIRE(many.dx == one.dx);
      REQUIRE(many.dw == one.dw);
    }
  }
}

TEST_CASE("conv2d kernels: an empty batch gives a zero weight gradient", "[conv_kernels]") {
  k::Conv2dShape s{.batch = 0, .in_channels = 2, .in_h = 4, .in_w = 4, .out_channels = 3, .kernel_h = 3, .kernel_w = 3};
  std::vector<float> w(3 * 2 * 9, 1.0f), dw(w.size(), 7.0f), ws(size_t(k::conv2d_workspace_size(s)) + 1);
  k::conv2d_backward_weight(s, nullptr, nullptr, dw.data(), ws.data());
  REQUIRE(dw == std::vector<float>(w.size(), 0.0f));
}

namespace {

const std::vector<k::Pool2dShape> kPoolShapes = {
    {.planes = 3, .in_h = 7, .in_w = 9, .kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2},
    {.planes = 2,
     .in_h = 8,
     .in_w = 7,
     .kernel_h = 3,
     .kernel_w = 3,
     .stride_h = 2,
     .stride_w = 2,
     .pad_h = 1,
     .pad_w = 1},
    {.planes = 4, .in_h = 5, .in_w = 6, .kernel_h = 3, .kernel_w = 2, .stride_h = 1, .stride_w = 3, .pad_h = 1},
    {.planes = 1, .in_h = 1, .in_w = 1, .kernel_h = 1, .kernel_w = 1},
    {.planes = 70, .in_h = 28, .in_w = 28, .kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2},
};

template <typename T>
void check_pools() {
  for (const auto& s : kPoolShapes) {
    INFO("planes " << s.planes << " " << s.in_h << "x" << s.in_w << " kernel " << s.kernel_h << "x" << s.kernel_w);
    auto x = random_values<T>(s.planes * s.in_h * s.in_w, 5);
    // Ties: a few values repeated, so the first index must win.
    for (size_t i = 0; i + 1 < x.size(); i += 3) x[i + 1] = x[i];
    const int64_t out = s.planes * s.out_h() * s.out_w();
    std::vector<T> y(static_cast<size_t>(out)), y_ref(static_cast<size_t>(out));
    std::vector<int64_t> idx(static_cast<size_t>(out)), idx_ref(static_cast<size_t>(out));
    k::max_pool2d_forward(s, x.data(), y.data(), idx.data());
    k::max_pool2d_reference(s, x.data(), y_ref.data(), idx_ref.data());
    REQUIRE(y == y_ref);
    REQUIRE(idx == idx_ref);

    k::avg_pool2d_forward(s, x.data(), y.data());
    k::avg_pool2d_reference(s, x.data(), y_ref.data());
    require_close({y.begin(), y.end()}, {y_ref.begin(), y_ref.end()}, 1e-6);

    // The backward is the adjoint: <avg(x), dy> == <x, avg^T(dy)>.
    const auto dy = random_values<T>(out, 6);
    std::vector<T> dx(x.size(), T(7));
    k::avg_pool2d_backward(s, dy.data(), dx.data());
    double lhs = 0, rhs = 0;
    for (size_t i = 0; i < dy.size(); ++i) lhs += double(y[i]) * double(dy[i]);
    for (size_t i = 0; i < x.size(); ++i) rhs += double(x[i]) * double(dx[i]);
    REQUIRE(lhs == Approx(rhs).epsilon(1e-5));
  }
}

}  // namespace

TEST_CASE("pooling kernels match the reference loops", "[conv_kernels]") {
  check_pools<double>();
  check_pools<float>();
}

TEST_CASE("max_pool2d kernel: NaN wins, padding never does", "[conv_kernels]") {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  k::Pool2dShape s{.planes = 1,
                   .in_h = 2,
                   .in_w = 2,
                   .kernel_h = 2,
                   .kernel_w = 2,
                   .stride_h = 1,
                   .stride_w = 1,
                   .pad_h = 1,
                   .pad_w = 1};
  const std::vector<double> x = {-inf, nan, 5.0, -inf};
  std::vector<double> y(9);
  std::vector<int64_t> idx(9);
  k::max_pool2d_forward(s, x.data(), y.data(), idx.data());
  REQUIRE(y[0] == -inf);  // the window holds only x[0]: its index, not the padding's
  REQUIRE(idx[0] == 0);
  REQUIRE(std::isnan(y[1]));
  REQUIRE(idx[1] == 1);
  REQUIRE(std::isnan(y[4]));  // the centre window holds all four
  REQUIRE(y[6] == 5.0);

  // The 2x2 stride-2 windows (their own loop): NaN, -inf and ties at every position of a window.
  const double values[] = {nan, -inf, 1.0, 2.0};
  const k::Pool2dShape pairs{
      .planes = 1, .in_h = 16, .in_w = 32, .kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2};
  std::vector<double> xs(16 * 32), ys(8 * 16), ys_ref(ys.size());
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = values[(i * 7 + i / 32 * 3) % 4];
  std::vector<int64_t> is(ys.size()), is_ref(ys.size());
  k::max_pool2d_forward(pairs, xs.data(), ys.data(), is.data());
  k::max_pool2d_reference(pairs, xs.data(), ys_ref.data(), is_ref.data());
  REQUIRE(is == is_ref);
  for (size_t i = 0; i < ys.size(); ++i) REQUIRE(std::memcmp(&ys[i], &ys_ref[i], sizeof(double)) == 0);
}

TEST_CASE("adaptive_avg_pool2d kernel matches the reference loop and its adjoint", "[conv_kernels]") {
  for (auto [h, w, oh, ow] :
       std::vector<std::array<int64_t, 4>>{{7, 9, 3, 4}, {5, 5, 1, 1}, {4, 6, 4, 6}, {3, 2, 5, 7}}) {
    const k::Pool2dShape s{.planes = 3, .in_h = h, .in_w = w};
    const auto x = random_values<double>(3 * h * w, 8);
    std::vector<double> y(static_cast<size_t>(3 * oh * ow)), y_ref(y.size());
    k::adaptive_avg_pool2d_forward(s, oh, ow, x.data(), y.data());
    k::adaptive_avg_pool2d_reference(s, oh, ow, x.data(), y_ref.data());
    require_close(y, y_ref, 1e-14);
    const auto dy = random_values<double>(int64_t(y.size()), 9);
    std::vector<double> dx(x.size());
    k::adaptive_avg_pool2d_backward(s, oh, ow, dy.data(), dx.data());
    double lhs = 0, rhs = 0;
    for (size_t i = 0; i < dy.size(); ++i) lhs += y[i] * dy[i];
    for (size_t i = 0; i < x.size(); ++i) rhs += x[i] * dx[i];
    REQUIRE(lhs == Approx(rhs).epsilon(1e-12));
  }
}

// Row lengths around the kernels' eight-wide steps: tails only, one step and a tail, two steps
// (one even, one odd accumulator), many steps and a tail (49: 7x7, 196: 14x14).
const std::vector<int64_t> kBatchNormRows = {5, 13, 16, 49, 196};

TEST_CASE("batch-norm kernels: statistics, channel sums and the folded normalization", "[conv_kernels]") {
  const int64_t N = 3, C = 4;
  for (const int64_t S : kBatchNormRows) {
    INFO("S = " << S);
    auto x = random_values<float>(N * C * S, 10);
    for (int64_t i = 0; i < S; ++i) x[size_t(C * S + i)] += 1000.0f;  // channel 0 of image 1: a large mean
    std::vector<double> mean(C), var(C);
    k::batch_norm_stats(N, C, S, x.data(), mean.data(), var.data());
    for (int64_t c = 0; c < C; ++c) {
      double m = 0, v = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < S; ++i) m += x[size_t((n * C + c) * S + i)];
      m /= double(N * S);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < S; ++i) v += std::pow(x[size_t((n * C + c) * S + i)] - m, 2);
      REQUIRE(mean[size_t(c)] == Approx(m).epsilon(1e-12));
      REQUIRE(var[size_t(c)] == Approx(v / double(N * S)).epsilon(1e-12));
    }
    std::vector<double> sums(C);
    k::channel_sums(N, C, S, x.data(), sums.data());
    for (int64_t c = 0; c < C; ++c) REQUIRE(sums[size_t(c)] == Approx(mean[size_t(c)] * double(N * S)).epsilon(1e-12));
    const std::vector<float> scale = {1, 2, -1, 0.5f}, shift = {0, 1, 2, -3};
    std::vector<float> y(x.size()), y_relu(x.size());
    x[1] = std::numeric_limits<float>::quiet_NaN();
    k::batch_norm_apply(N, C, S, x.data(), scale.data(), shift.data(), y.data());
    k::batch_norm_apply(N, C, S, x.data(), scale.data(), shift.data(), y_relu.data(), true);
    for (size_t i = 0; i < y.size(); ++i) {
      if (i == 1) continue;
      const float want = x[i] * scale[i / size_t(S) % C] + shift[i / size_t(S) % C];
      REQUIRE(y[i] == want);
      REQUIRE(y_relu[i] == std::max(want, 0.0f));
    }
    REQUIRE(std::isnan(y_relu[1]));  // as relu: NaN passes
  }
}

// The backward loop by loop, with and without the gate of a fused ReLU at output y.
template <typename T>
void check_batch_norm_backward(int64_t S, bool gated, double tol) {
  const int64_t N = 3, C = 4;
  const auto x = random_values<T>(N * C * S, 11), dy = random_values<T>(N * C * S, 12);
  const auto y = random_values<T>(N * C * S, 13);  // its signs gate; values need not match x
  const std::vector<T> mean = {T(0.1), T(-0.2), T(0.3), T(0)}, invstd = {T(1.5), T(0.5), T(2), T(1)},
                       weight = {1, -2, T(0.5), 3};
  std::vector<T> scale(C), dx(x.size());
  std::vector<double> dy_sum(C), dy_xhat_sum(C);
  for (size_t c = 0; c < size_t(C); ++c) scale[c] = weight[c] * invstd[c];
  const T* gate = gated ? y.data() : nullptr;
  k::batch_norm_backward(N, C, S, x.data(), dy.data(), gate, mean.data(), invstd.data(), scale.data(), dy_sum.data(),
                         dy_xhat_sum.data(), dx.data());
  const double M = double(N * S);
  for (int64_t c = 0; c < C; ++c) {
    const auto at = [&](int64_t n, int64_t i) { return size_t((n * C + c) * S + i); };
    const auto g_at = [&](int64_t n, int64_t i) { return gated && y[at(n, i)] <= 0 ? 0.0 : double(dy[at(n, i)]); };
    const auto xhat = [&](int64_t n, int64_t i) {
      return (double(x[at(n, i)]) - double(mean[size_t(c)])) * double(invstd[size_t(c)]);
    };
    double g = 0, gx = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i) g += g_at(n, i), gx += g_at(n, i) * xhat(n, i);
    REQUIRE(dy_sum[size_t(c)] == Approx(g).epsilon(1e-13));
    REQUIRE(dy_xhat_sum[size_t(c)] == Approx(gx).epsilon(1e-12));
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i)
        REQUIRE(double(dx[at(n, i)]) ==
                Approx(double(scale[size_t(c)]) * (g_at(n, i) - g / M - xhat(n, i) * gx / M)).margin(tol));
  }
  // Without dx (the input needs no gradient) only the sums are written.
  std::vector<double> only_sums(C);
  k::batch_norm_backward(N, C, S, x.data(), dy.data(), gate, mean.data(), invstd.data(), scale.data(), only_sums.data(),
                         dy_xhat_sum.data(), static_cast<T*>(nullptr));
  REQUIRE(only_sums == dy_sum);
}

TEST_CASE("batch-norm kernels: the fused backward against its formula, loop by loop", "[conv_kernels]") {
  for (const int64_t S : kBatchNormRows)
    for (const bool gated : {false, true}) {
      INFO("S = " << S << (gated ? ", gated by a ReLU" : ""));
      check_batch_norm_backward<double>(S, gated, 1e-13);
      check_batch_norm_backward<float>(S, gated, 1e-5);
    }
}
