// AVX2 + FMA GEMM building blocks for CPUs without AVX-512 (see gemm_avx512.cpp).
#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include "gemm_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define MG_TARGET __attribute__((target("avx2,fma")))

namespace minigrad::kernels::detail {
namespace {

template <typename T>
struct Avx2;

template <>
struct Avx2<float> {
  using T = float;
  using V = __m256;
  using M = __m256i;
  static constexpr int L = 8;
  MG_TARGET static V zero() { return _mm256_setzero_ps(); }
  MG_TARGET static V load(const T* p) { return _mm256_loadu_ps(p); }
  MG_TARGET static V loadm(const T* p, M m) { return _mm256_maskload_ps(p, m); }
  MG_TARGET static void store(T* p, V v) { _mm256_storeu_ps(p, v); }
  MG_TARGET static void storem(T* p, M m, V v) { _mm256_maskstore_ps(p, m, v); }
  MG_TARGET static V set1(T x) { return _mm256_set1_ps(x); }
  MG_TARGET static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  MG_TARGET static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  MG_TARGET static V add(V a, V b) { return _mm256_add_ps(a, b); }
  MG_TARGET static V relu(V a) { return _mm256_max_ps(zero(), a); }  // NaN stays: max returns its 2nd operand then
  MG_TARGET static T reduce(V a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
  }
  static void in_register(V& a) { __asm__("" : "+x"(a)); }
  MG_TARGET static M mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  // In-register transpose: r[i] holds row i on entry, column i on exit.
  MG_TARGET static void transpose(V r[L]) {
    // s[4h + c], 128-bit lane l: column 4l + c of rows 4h..4h+3.
    V s[8];
    for (int h = 0; h < 2; ++h) {
      const V* q = r + 4 * h;
      const V t0 = _mm256_unpacklo_ps(q[0], q[1]), t1 = _mm256_unpackhi_ps(q[0], q[1]);
      const V t2 = _mm256_unpacklo_ps(q[2], q[3]), t3 = _mm256_unpackhi_ps(q[2], q[3]);
      s[4 * h + 0] = _mm256_shuffle_ps(t0, t2, 0x44);
      s[4 * h + 1] = _mm256_shuffle_ps(t0, t2, 0xee);
      s[4 * h + 2] = _mm256_shuffle_ps(t1, t3, 0x44);
      s[4 * h + 3] = _mm256_shuffle_ps(t1, t3, 0xee);
    }
    for (int c = 0; c < 4; ++c) {
      r[c] = _mm256_permute2f128_ps(s[c], s[4 + c], 0x20);
      r[4 + c] = _mm256_permute2f128_ps(s[c], s[4 + c], 0x31);
    }
  }
};

template <>
struct Avx2<double> {
  using T = double;
  using V = __m256d;
  using M = __m256i;
  static constexpr int L = 4;
  MG_TARGET static V zero() { return _mm256_setzero_pd(); }
  MG_TARGET static V load(const T* p) { return _mm256_loadu_pd(p); }
  MG_TARGET static V loadm(const T* p, M m) { return _mm256_maskload_pd(p, m); }
  MG_TARGET static void store(T* p, V v) { _mm256_storeu_pd(p, v); }
  MG_TARGET static void storem(T* p, M m, V v) { _mm256_maskstore_pd(p, m, v); }
  MG_TARGET static V set1(T x) { return _mm256_set1_pd(x); }
  MG_TARGET static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  MG_TARGET static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  MG_TARGET static V add(V a, V b) { return _mm256_add_pd(a, b); }
  MG_TARGET static V relu(V a) { return _mm256_max_pd(zero(), a); }
  MG_TARGET static T reduce(V a) {
    const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
  }
  static void in_register(V& a) { __asm__("" : "+x"(a)); }
  MG_TARGET static M mask(int n) { return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3)); }
  MG_TARGET static void transpose(V r[L]) {
    // t[c], 128-bit lane l: column 2l + c of rows 0, 1 (t[2 + c]: of rows 2, 3).
    const V t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    const V t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
  }
};

#include "gemm_kernel_impl.h"

}  // namespace

// 6 x 2-vector tile: 12 ymm accumulators + 2 B vectors + 1 broadcast of the 16 registers (the dot
// tile: 3 x 4 accumulators + 3 A vectors + 1 B).
// A is read in place, so the threads of a training GEMM do not each pack their own copy of the
// shared 128-row A (its 6-row panels cannot overflow an 8-way L1 set). The B block is sized from
// the L2: 320 x 256 (320 KB) on a 512 KB L2, 128 columns on a 256 KB one, which a fixed 256
// would overflow.
const GemmKernels<float>& avx2_kernels(float) {
  static const auto k = make_kernels<Avx2<float>, 6, 2, 3, 4>(320, 3072, l2_block_columns(320, sizeof(float), 16, 256),
                                                              false, &pack_xk_transpose<Avx2<float>>);
  return k;
}
const GemmKernels<double>& avx2_kernels(double) {
  static const auto k = make_kernels<Avx2<double>, 6, 2, 3, 4>(256, 2048, l2_block_columns(256, sizeof(double), 8, 160),
                                                               false, &pack_xk_transpose<Avx2<double>>);
  return k;
}

}  // namespace minigrad::kernels::detail
#endif
