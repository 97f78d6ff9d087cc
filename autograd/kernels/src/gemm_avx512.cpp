// AVX-512 GEMM building blocks. Built with target attributes rather than -mavx512f, so a
// portable build still contains them; gemm.cpp only calls them when the CPU has avx512f.
#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include "gemm_internal.h"

#if defined(__x86_64__)
// GCC 12 warns about the _mm512_undefined_* inside the shuffle intrinsics (GCC PR 105593);
// clang (the fuzz build) has no such warning and would warn about the unknown option instead.
#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#define MG_TARGET __attribute__((target("avx512f,fma")))

namespace minigrad::kernels::detail {
namespace {

// The last stage of both transposes below: a 4 x 4 transpose of 128-bit lanes. Register k of
// a, b, c, d holds lane row k; out[k] receives lane column k.
MG_TARGET inline void transpose_lanes(__m512 a, __m512 b, __m512 c, __m512 d, __m512 out[4]) {
  const __m512 v0 = _mm512_shuffle_f32x4(a, b, 0x88), v1 = _mm512_shuffle_f32x4(a, b, 0xdd);
  const __m512 w0 = _mm512_shuffle_f32x4(c, d, 0x88), w1 = _mm512_shuffle_f32x4(c, d, 0xdd);
  out[0] = _mm512_shuffle_f32x4(v0, w0, 0x88);
  out[1] = _mm512_shuffle_f32x4(v1, w1, 0x88);
  out[2] = _mm512_shuffle_f32x4(v0, w0, 0xdd);
  out[3] = _mm512_shuffle_f32x4(v1, w1, 0xdd);
}

template <typename T>
struct Avx512;

template <>
struct Avx512<float> {
  using T = float;
  using V = __m512;
  using M = __mmask16;
  static constexpr int L = 16;
  MG_TARGET static V zero() { return _mm512_setzero_ps(); }
  MG_TARGET static V load(const T* p) { return _mm512_loadu_ps(p); }
  MG_TARGET static V loadm(const T* p, M m) { return _mm512_maskz_loadu_ps(m, p); }
  MG_TARGET static void store(T* p, V v) { _mm512_storeu_ps(p, v); }
  MG_TARGET static void storem(T* p, M m, V v) { _mm512_mask_storeu_ps(p, m, v); }
  MG_TARGET static V set1(T x) { return _mm512_set1_ps(x); }
  MG_TARGET static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  MG_TARGET static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  MG_TARGET static V add(V a, V b) { return _mm512_add_ps(a, b); }
  MG_TARGET static V relu(V a) { return _mm512_max_ps(zero(), a); }  // NaN stays: max returns its 2nd operand then
  MG_TARGET static T reduce(V a) { return _mm512_reduce_add_ps(a); }
  static void in_register(V& a) { __asm__("" : "+v"(a)); }
  static M mask(int n) { return M((1u << n) - 1); }
  // In-register transpose: r[i] holds row i on entry, column i on exit.
  MG_TARGET static void transpose(V r[L]) {
    __m512 t[16];
    for (int p = 0; p < 16; p += 2) {
      t[p] = _mm512_unpacklo_ps(r[p], r[p + 1]);
      t[p + 1] = _mm512_unpackhi_ps(r[p], r[p + 1]);
    }
    // u[4g + c], 128-bit lane l: column 4l + c of rows 4g..4g+3.
    __m512 u[16];
    for (int g = 0; g < 4; ++g) {
      const __m512d e = _mm512_castps_pd(t[4 * g]), f = _mm512_castps_pd(t[4 * g + 2]);
      const __m512d h = _mm512_castps_pd(t[4 * g + 1]), i = _mm512_castps_pd(t[4 * g + 3]);
      u[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(e, f));
      u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(e, f));
      u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(h, i));
      u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(h, i));
    }
    for (int c = 0; c < 4; ++c) {
      __m512 out[4];
      transpose_lanes(u[c], u[4 + c], u[8 + c], u[12 + c], out);
      for (int k = 0; k < 4; ++k) r[c + 4 * k] = out[k];
    }
  }
};

template <>
struct Avx512<double> {
  using T = double;
  using V = __m512d;
  using M = __mmask8;
  static constexpr int L = 8;
  MG_TARGET static V zero() { return _mm512_setzero_pd(); }
  MG_TARGET static V load(const T* p) { return _mm512_loadu_pd(p); }
  MG_TARGET static V loadm(const T* p, M m) { return _mm512_maskz_loadu_pd(m, p); }
  MG_TARGET static void store(T* p, V v) { _mm512_storeu_pd(p, v); }
  MG_TARGET static void storem(T* p, M m, V v) { _mm512_mask_storeu_pd(p, m, v); }
  MG_TARGET static V set1(T x) { return _mm512_set1_pd(x); }
  MG_TARGET static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  MG_TARGET static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  MG_TARGET static V add(V a, V b) { return _mm512_add_pd(a, b); }
  MG_TARGET static V relu(V a) { return _mm512_max_pd(zero(), a); }
  MG_TARGET static T reduce(V a) { return _mm512_reduce_add_pd(a); }
  static void in_register(V& a) { __asm__("" : "+v"(a)); }
  static M mask(int n) { return M((1u << n) - 1); }
  MG_TARGET static void transpose(V r[L]) {
    // t[2p + c], 128-bit lane l: column 2l + c of rows 2p, 2p+1.
    __m512d t[8];
    for (int p = 0; p < 8; p += 2) {
      t[p] = _mm512_unpacklo_pd(r[p], r[p + 1]);
      t[p + 1] = _mm512_unpackhi_pd(r[p], r[p + 1]);
    }
    for (int c = 0; c < 2; ++c) {  // lanes are lanes: the float shuffle moves doubles too
      __m512 out[4];
      transpose_lanes(_mm512_castpd_ps(t[c]), _mm512_castpd_ps(t[2 + c]), _mm512_castpd_ps(t[4 + c]),
                      _mm512_castpd_ps(t[6 + c]), out);
      for (int k = 0; k < 4; ++k) r[c + 2 * k] = _mm512_castps_pd(out[k]);
    }
  }
};

#include "gemm_kernel_impl.h"

}  // namespace

// Float: 12 x 32 tile = 24 zmm accumulators + 2 B vectors + 1 broadcast of the 32 registers,
// 24 independent FMAs per k step hide the 4-cycle latency on both FMA pipes. The dot tile:
// 4 x 6 accumulators + 4 A vectors + 1 B.
const GemmKernels<float>& avx512_kernels(float) {
  static const auto k =
      make_kernels<Avx512<float>, 12, 2, 4, 6>(384, 3072, 320, true, &pack_xk_transpose<Avx512<float>>);
  return k;
}
const GemmKernels<double>& avx512_kernels(double) {
  static const auto k =
      make_kernels<Avx512<double>, 12, 2, 4, 6>(256, 2048, 240, true, &pack_xk_transpose<Avx512<double>>);
  return k;
}

}  // namespace minigrad::kernels::detail
#endif
