#pragma once
// Private to the GEMM: the per-ISA building blocks the blocked driver in gemm.cpp is made of.
#include <cstdint>

namespace minigrad::kernels::detail {

template <typename T>
struct GemmKernels {
  int lanes = 0;   // elements in a vector
  int mr = 0;      // micro-tile rows (A values broadcast)
  int nr = 0;      // micro-tile columns (B vectors); a packed B panel is nr wide
  int64_t kc = 0;  // depth of a packed block: an mr x kc A panel stays in L1
  int64_t mc = 0;  // rows of the shared packed A block (L3)
  int64_t nc = 0;  // columns of a thread's packed B block (L2)
  // Pack A panels (else each micro-kernel reads its mr rows of A in place, which suits panels
  // of at most 8 rows: they fit an 8-way L1 set whatever the row stride).
  bool pack_a = true;
  // C[m x n] = alpha * a * b + beta * C (+ bias[j], then max(C, 0) when relu) for m <= mr,
  // n <= nr; beta == 0 never reads C. A element (i, k) is a[i * rs_a + k * cs_a]; row k of B
  // at b + k * rs_b holds ceil(n / lanes) full vectors (a packed panel, rs_b = nr, is
  // zero-padded to them).
  void (*micro)(int64_t kc, const T* a, int64_t rs_a, int64_t cs_a, const T* b, int64_t rs_b, T* c, int64_t ldc, int m,
                int n, T alpha, T beta, const T* bias, bool relu);
  // The same for alpha = 1, no bias or ReLU, and A a packed panel (mr wide), with row k of B at
  // b + b_offsets[k]: rows gathered in place, as the convolution's columns from its image.
  void (*micro_gathered)(int64_t kc, const T* a, const T* b, const int64_t* b_offsets, T* c, int64_t ldc, int m, int n,
                         T beta);
  // dot_tile (gemm_kernel_impl.h): dot products of dot_rows_a rows of A by dot_rows_b rows of B.
  int dot_rows_a = 0, dot_rows_b = 0;
  void (*dot)(int64_t kc, int segments, const T* a, int64_t lda, int64_t a_step, const T* b, const int64_t* offsets,
              int64_t b_step, T* c, int64_t ldc, int m, int n, bool accumulate);
  // pack_xk writes one panel, dst[k * width + x] for x < w, k < kc, zero for w <= x < width,
  // reading element (x, k) at src[x * ld + k] (a transpose). pack_kx reads element (x, k) at
  // src[k * ld + x] for x < n and writes ceil(n / width) such panels, kc * width apart.
  void (*pack_xk)(const T* src, int64_t ld, int w, int64_t kc, T* dst, int width);
  void (*pack_kx)(const T* src, int64_t ld, int64_t n, int64_t kc, T* dst, int width);
};

// Columns nc (a multiple of nr) of a kc-deep packed B block that fill 5/8 of this CPU's L2,
// leaving the rest to the A rows and C streaming through; `fallback` when the size is unknown.
int64_t l2_block_columns(int64_t kc, int64_t elem_bytes, int nr, int64_t fallback);

// The kernels the dispatch picked for this CPU (as gemm() uses them): for drivers of their own,
// such as the convolution's, that pack an operand straight from its source.
template <typename T>
const GemmKernels<T>& gemm_kernels();

const GemmKernels<float>& avx512_kernels(float);
const GemmKernels<double>& avx512_kernels(double);
const GemmKernels<float>& avx2_kernels(float);
const GemmKernels<double>& avx2_kernels(double);

}  // namespace minigrad::kernels::detail
