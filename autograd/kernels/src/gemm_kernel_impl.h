// Generic micro-kernel and packers, written once over a vector-traits class `Tr`:
//   T, V, M (mask), L (lanes), zero, load, loadm, store, storem, set1, fma, mul, add,
//   relu (max with 0, NaN stays NaN as in PyTorch), mask(n), reduce (the sum of the lanes),
//   in_register (keeps a loaded value in a register: the compiler would fold it into each use).
// Each ISA's translation unit defines MG_TARGET (its target attribute) and Tr, then includes
// this file inside its own namespace, so the intrinsics inline into code built for that ISA.
// Deliberately without include guard: it is a text template, included once per ISA file.
// Needs <array>, <cstdint>, <cstring>, <utility> and gemm_internal.h included at file scope first.
#ifndef MG_TARGET
#error "define MG_TARGET before including gemm_kernel_impl.h"
#endif

// Where row k of B starts: rs apart (a packed panel, or B itself when it is not worth packing),
// or at its own offset (rows gathered in place, as a convolution's columns from its image).
template <typename T>
struct StridedRows {
  const T* b;
  int64_t rs;
  const T* operator()(int64_t k) const { return b + k * rs; }
};
template <typename T>
struct GatheredRows {
  const T* b;
  const int64_t* offsets;
  const T* operator()(int64_t k) const { return b + offsets[k]; }
};

// C tile (m = MR rows, n <= NV * L columns) from an A panel and B rows found by b_row; every row
// holds NV full vectors.
// PA > 0: A is packed in panels PA wide (rs = 1, cs = PA), strides the compiler can fold.
// PA < 0: A^T read in place (rs = 1, cs = lda): a panel's rows are adjacent, as when packed.
template <class Tr, int MR, int NV, int PA, class Rows>
MG_TARGET inline __attribute__((always_inline)) void micro_tile_rows(int64_t kc, const typename Tr::T* a, int64_t rs_a,
                                                                     int64_t cs_a, Rows b_row, typename Tr::T* c,
                                                                     int64_t ldc, int n, typename Tr::T alpha,
                                                                     typename Tr::T beta, const typename Tr::T* bias,
                                                                     bool relu) {
  using V = typename Tr::V;
  constexpr int L = Tr::L;
  const int64_t rs = PA ? 1 : rs_a;
  const int64_t cs = PA > 0 ? PA : cs_a;
  // Fetch C during a long k loop. Not for short ones (K = 10): there it cannot arrive much
  // earlier, and GCC keeps the MR row pointers for the epilogue, spilling them to the stack.
  if (kc > 64)
    for (int r = 0; r < MR; ++r) __builtin_prefetch(c + r * ldc, 1);
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = Tr::zero();
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    const typename Tr::T* b = b_row(k);
    V bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = Tr::load(b + v * L);
    for (int r = 0; r < MR; ++r) {
      const V av = Tr::set1(a[r * rs]);
      for (int v = 0; v < NV; ++v) acc[r][v] = Tr::fma(av, bv[v], acc[r][v]);
    }
    a += cs;
  }
  if (alpha != typename Tr::T(1)) {  // one test per tile; alpha is 1 in every training call
    const V va = Tr::set1(alpha);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = Tr::mul(acc[r][v], va);
  }
  const int tail = n - (NV - 1) * L;  // columns in the last vector, 1..L
  if (bias) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const V bv = v < NV - 1 || tail == L ? Tr::load(bias + v * L) : Tr::loadm(bias + v * L, Tr::mask(tail));
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) acc[r][v] = Tr::add(acc[r][v], bv);
    }
  }
  const V vb = Tr::set1(beta);
  // Every loop over r and v is unrolled completely: a loop left rolled keeps acc in memory,
  // 2 x MR x NV stack moves per tile that cost more than the FMAs when kc is small.
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      typename Tr::T* cp = c + r * ldc + v * L;
      V res = acc[r][v];
      if (v < NV - 1 || tail == L) {  // full vectors avoid masked stores (slow on AVX2)
        if (beta != 0) res = Tr::fma(Tr::load(cp), vb, res);
        if (relu) res = Tr::relu(res);
        Tr::store(cp, res);
      } else {
        const typename Tr::M m = Tr::mask(tail);
        if (beta != 0) res = Tr::fma(Tr::loadm(cp, m), vb, res);
        if (relu) res = Tr::relu(res);
        Tr::storem(cp, m, res);
      }
    }
  }
}

template <class Tr, int MR, int NV, int PA>
MG_TARGET void micro_tile(int64_t kc, const typename Tr::T* a, int64_t rs_a, int64_t cs_a, const typename Tr::T* b,
                          int64_t rs_b, typename Tr::T* c, int64_t ldc, int n, typename Tr::T alpha,
                          typename Tr::T beta, const typename Tr::T* bias, bool relu) {
  micro_tile_rows<Tr, MR, NV, PA>(kc, a, rs_a, cs_a, StridedRows<typename Tr::T>{b, rs_b}, c, ldc, n, alpha, beta, bias,
                                  relu);
}

// From a packed A panel (MR wide), B's rows gathered from b + offsets[k].
template <class Tr, int MR, int NV, int PA>
MG_TARGET void micro_tile_gathered(int64_t kc, const typename Tr::T* a, const typename Tr::T* b, const int64_t* offsets,
                                   typename Tr::T* c, int64_t ldc, int n, typename Tr::T beta) {
  micro_tile_rows<Tr, MR, NV, PA>(kc, a, 1, PA, GatheredRows<typename Tr::T>{b, offsets}, c, ldc, n, typename Tr::T(1),
                                  beta, nullptr, false);
}

template <class Tr>
using MicroFn = void (*)(int64_t, const typename Tr::T*, int64_t, int64_t, const typename Tr::T*, int64_t,
                         typename Tr::T*, int64_t, int, typename Tr::T, typename Tr::T, const typename Tr::T*, bool);
template <class Tr>
using GatheredFn = void (*)(int64_t, const typename Tr::T*, const typename Tr::T*, const int64_t*, typename Tr::T*,
                            int64_t, int, typename Tr::T);

// table[m - 1] for m = 1..MR: edge tiles get their own fully unrolled kernel.
template <class Tr, int MR, int NV, int PA, std::size_t... I>
constexpr std::array<MicroFn<Tr>, MR> micro_row_table(std::index_sequence<I...>) {
  return {&micro_tile<Tr, int(I) + 1, NV, PA>...};
}
template <class Tr, int MR, int NV, std::size_t... I>
constexpr std::array<GatheredFn<Tr>, MR> gathered_row_table(std::index_sequence<I...>) {
  return {&micro_tile_gathered<Tr, int(I) + 1, NV, MR>...};
}

template <class Tr, int MR, int NVMAX>
struct Micro {
  template <int NV, int PA>
  static constexpr auto rows = micro_row_table<Tr, MR, NV, PA>(std::make_index_sequence<MR>{});

  template <int PA, std::size_t... NVI>
  static constexpr std::array<std::array<MicroFn<Tr>, MR>, NVMAX> by_width(std::index_sequence<NVI...>) {
    return {rows<int(NVI) + 1, PA>...};
  }
  static constexpr auto packed = by_width<MR>(std::make_index_sequence<NVMAX>{});
  static constexpr auto adjacent_rows = by_width<-1>(std::make_index_sequence<NVMAX>{});
  static constexpr auto strided = by_width<0>(std::make_index_sequence<NVMAX>{});
  template <std::size_t... NVI>
  static constexpr std::array<std::array<GatheredFn<Tr>, MR>, NVMAX> gathered_by_width(std::index_sequence<NVI...>) {
    return {gathered_row_table<Tr, MR, int(NVI) + 1>(std::make_index_sequence<MR>{})...};
  }
  static constexpr auto gathered = gathered_by_width(std::make_index_sequence<NVMAX>{});

  // Narrow tiles use fewer vectors: N = 10 costs one vector per row, not NVMAX.
  static void run(int64_t kc, const typename Tr::T* a, int64_t rs_a, int64_t cs_a, const typename Tr::T* b,
                  int64_t rs_b, typename Tr::T* c, int64_t ldc, int m, int n, typename Tr::T alpha, typename Tr::T beta,
                  const typename Tr::T* bias, bool relu) {
    const int nv = (n + Tr::L - 1) / Tr::L;
    const auto& t = rs_a != 1 ? strided : cs_a == MR ? packed : adjacent_rows;
    t[nv - 1][m - 1](kc, a, rs_a, cs_a, b, rs_b, c, ldc, n, alpha, beta, bias, relu);
  }
  static void run_gathered(int64_t kc, const typename Tr::T* a, const typename Tr::T* b, const int64_t* offsets,
                           typename Tr::T* c, int64_t ldc, int m, int n, typename Tr::T beta) {
    gathered[(n + Tr::L - 1) / Tr::L - 1][m - 1](kc, a, b, offsets, c, ldc, n, beta);
  }
};

// Dot products of rows that both run along k (C = A B^T, B's rows anywhere), for products whose
// k is long and whose M and N are short, like a convolution's weight gradient:
//   C[i * ldc + j] (= or +=) sum over s < segments, k < kc of
//     a[s * a_step + i * lda + k] * b[s * b_step + offsets[j] + k],  i < m <= RA, j < n <= RB.
// Lanes sum separately and are added once per tile. Every row is read in whole vectors up to kc
// rounded up to L, and all RA rows of A and RB offsets: callers pad with zeros.
template <class Tr, int RA, int RB>
MG_TARGET void dot_tile(int64_t kc, int segments, const typename Tr::T* a, int64_t lda, int64_t a_step,
                        const typename Tr::T* b, const int64_t* offsets, int64_t b_step, typename Tr::T* c, int64_t ldc,
                        int m, int n, bool accumulate) {
  using V = typename Tr::V;
  V acc[RA][RB];
#pragma GCC unroll 8
  for (int i = 0; i < RA; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < RB; ++j) acc[i][j] = Tr::zero();
  for (int s = 0; s < segments; ++s) {
    const typename Tr::T* as = a + s * a_step;
    const typename Tr::T* bs = b + s * b_step;
    for (int64_t k = 0; k < kc; k += Tr::L) {
      V av[RA];
#pragma GCC unroll 8
      for (int i = 0; i < RA; ++i) av[i] = Tr::load(as + i * lda + k);
#pragma GCC unroll 8
      for (int j = 0; j < RB; ++j) {
        // One load for RA uses: folded into each FMA, an unaligned row costs RA loads.
        V bv = Tr::load(bs + offsets[j] + k);
        Tr::in_register(bv);
#pragma GCC unroll 8
        for (int i = 0; i < RA; ++i) acc[i][j] = Tr::fma(av[i], bv, acc[i][j]);
      }
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < RA; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < RB; ++j)
      if (i < m && j < n) {
        const typename Tr::T sum = Tr::reduce(acc[i][j]);
        c[i * ldc + j] = accumulate ? c[i * ldc + j] + sum : sum;
      }
}

inline constexpr int64_t kPackRowsAhead = 8;
inline constexpr int64_t kLine = 64;  // bytes in a cache line

// Element (x, k) at src[k * ld + x], x < n: ceil(n / width) panels, panel p at
// dst + p * width * kc. Row by row across all panels, so B is read in contiguous rows (panel by
// panel, each row of a 16-column panel would be one line, pages apart when ld = 1024 floats).
// Only a ragged edge is masked: masked moves are microcoded on AMD (a masked store costs about as
// much as a dozen plain ones). A panels of A^T (width MR, not a whole number of vectors) are
// copied a row at a time with fixed-size moves.
template <class Tr, int MR>
MG_TARGET void pack_kx(const typename Tr::T* src, int64_t ld, int64_t n, int64_t kc, typename Tr::T* dst, int width) {
  constexpr int L = Tr::L;
  const int64_t panels = (n + width - 1) / width;
  for (int64_t k = 0; k < kc; ++k) {
    // Rows 2-4 KB apart each start a new page, where the hardware prefetchers stop: fetch
    // 8 rows ahead.
    if (k + kPackRowsAhead < kc)
      for (int64_t x = 0; x < n; x += kLine / int64_t(sizeof(typename Tr::T)))
        __builtin_prefetch(src + (k + kPackRowsAhead) * ld + x);
    for (int64_t p = 0; p < panels; ++p) {
      const typename Tr::T* from = src + k * ld + p * width;
      typename Tr::T* to = dst + (p * kc + k) * width;
      const int64_t w = n - p * width;
      if constexpr (MR % L != 0) {
        if (width == MR) {
          if (w >= MR)
            std::memcpy(to, from, sizeof(typename Tr::T) * MR);
          else
            for (int x = 0; x < MR; ++x) to[x] = x < w ? from[x] : typename Tr::T(0);
          continue;
        }
      }
      for (int x0 = 0; x0 < width; x0 += L) {
        const int lanes = width - x0 < L ? width - x0 : L;
        const int64_t valid = w - x0 < 0 ? 0 : (w - x0 > lanes ? lanes : w - x0);
        const auto v = valid == L ? Tr::load(from + x0) : Tr::loadm(from + x0, Tr::mask(int(valid)));
        if (lanes == L)
          Tr::store(to + x0, v);
        else
          Tr::storem(to + x0, Tr::mask(lanes), v);
      }
    }
  }
}

// Element (x, k) at src[x * ld + k]: plain transpose; ISAs with a shuffle transpose override it.
template <class Tr>
MG_TARGET void pack_xk_scalar(const typename Tr::T* src, int64_t ld, int w, int64_t kc, typename Tr::T* dst,
                              int width) {
  for (int64_t k = 0; k < kc; ++k)
    for (int x = 0; x < width; ++x) dst[k * width + x] = x < w ? src[x * ld + k] : 0;
}

// The same in L x L blocks transposed in registers by Tr::transpose (r[i]: row i in, column i
// out), for ISAs that have one. Full vectors are moved unmasked: AVX2's masked moves are slow.
template <class Tr>
MG_TARGET void pack_xk_transpose(const typename Tr::T* src, int64_t ld, int w, int64_t kc, typename Tr::T* dst,
                                 int width) {
  constexpr int L = Tr::L;
  typename Tr::V r[L];
  for (int x0 = 0; x0 < width; x0 += L) {
    const int lanes = width - x0 < L ? width - x0 : L;
    const int rows = w - x0 < 0 ? 0 : (w - x0 < lanes ? w - x0 : lanes);
    const typename Tr::M lane_mask = Tr::mask(lanes);
    for (int64_t k0 = 0; k0 < kc; k0 += L) {
      const int kk = kc - k0 < L ? int(kc - k0) : L;
      const typename Tr::M k_mask = Tr::mask(kk);
      for (int i = 0; i < L; ++i) {
        const typename Tr::T* row = src + (x0 + i) * ld + k0;
        r[i] = i >= rows ? Tr::zero() : kk == L ? Tr::load(row) : Tr::loadm(row, k_mask);
      }
      Tr::transpose(r);
      for (int i = 0; i < kk; ++i) {
        typename Tr::T* out = dst + (k0 + i) * width + x0;
        if (lanes == L)
          Tr::store(out, r[i]);
        else
          Tr::storem(out, lane_mask, r[i]);
      }
    }
  }
}

template <class Tr, int MR, int NVMAX, int RA, int RB>
GemmKernels<typename Tr::T> make_kernels(int64_t kc, int64_t mc, int64_t nc, bool pack_a,
                                         decltype(GemmKernels<typename Tr::T>::pack_xk) xk) {
  GemmKernels<typename Tr::T> g;
  g.lanes = Tr::L;
  g.mr = MR;
  g.nr = NVMAX * Tr::L;
  g.kc = kc;
  g.mc = mc;
  g.nc = nc;
  g.pack_a = pack_a;
  g.micro = &Micro<Tr, MR, NVMAX>::run;
  g.micro_gathered = &Micro<Tr, MR, NVMAX>::run_gathered;
  g.dot_rows_a = RA;
  g.dot_rows_b = RB;
  g.dot = &dot_tile<Tr, RA, RB>;
  g.pack_xk = xk;
  g.pack_kx = &pack_kx<Tr, MR>;
  return g;
}
