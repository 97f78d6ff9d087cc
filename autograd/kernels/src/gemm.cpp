// Blocked GEMM in the style of BLIS/GotoBLAS, over the per-ISA kernels of gemm_avx512.cpp,
// gemm_avx2.cpp and the portable one below.
//
// Row-major C = A * B is computed as BLIS computes the column-major C^T = B^T * A^T, so the
// loops, outermost first, are:
//   ic (mc rows)  -> pc (kc deep) -> pack A block (L3)
//   -> jc (nc columns) -> pack B block (L2)
//   -> ir (mr rows: the A panel stays in L1) -> jr (nr columns) -> micro-kernel.
// Tasks own disjoint columns (or, when N is narrow, rows) of C and the K blocking depends only
// on K, so every element of C is summed in the same order whatever the thread count. plan_gemm
// (gemm_plan.h) makes these choices for a call; gemm_blocked runs its plan.
// Each task packs what it reads into its thread's own buffers, so tasks never wait for each other:
// on a shared, loaded machine a barrier waiting for a descheduled thread costs a scheduler time
// slice, far more than packing A twice; and a task a descheduled worker did not claim is run by
// the caller. (The exception, an operand all tasks share packed once, whole, is packed in a
// parallel loop of its own before they start.)
#include <minigrad/kernels/gemm.h>
#include <minigrad/kernels/gemm_plan.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include <unistd.h>

#include <minigrad/kernels/thread_pool.h>

#include "gemm_internal.h"

namespace minigrad::kernels {
namespace detail {

int64_t l2_block_columns(int64_t kc, int64_t elem_bytes, int nr, int64_t fallback) {
  const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
  if (l2 <= 0) return fallback;
  const int64_t columns = int64_t(l2) * 5 / 8 / (kc * elem_bytes) / nr * nr;
  return std::clamp<int64_t>(columns, 4 * nr, 64 * nr);
}

namespace {

#define MG_TARGET

template <typename T_>
struct Scalar {
  using T = T_;
  using V = T;
  using M = bool;
  static constexpr int L = 1;
  static V zero() { return 0; }
  static V load(const T* p) { return *p; }
  static V loadm(const T* p, M m) { return m ? *p : T(0); }
  static void store(T* p, V v) { *p = v; }
  static void storem(T* p, M m, V v) {
    if (m) *p = v;
  }
  static V set1(T x) { return x; }
  static V fma(V a, V b, V c) { return a * b + c; }
  static V mul(V a, V b) { return a * b; }
  static V add(V a, V b) { return a + b; }
  static V relu(V a) { return a <= T(0) ? T(0) : a; }  // NaN stays
  static T reduce(V a) { return a; }
  static void in_register(V&) {}
  static M mask(int n) { return n > 0; }
};

#include "gemm_kernel_impl.h"

template <typename T>
const GemmKernels<T>& scalar_kernels() {
  static const auto k = make_kernels<Scalar<T>, 4, 8, 2, 2>(256, 1024, 256, true, &pack_xk_scalar<Scalar<T>>);
  return k;
}

enum class Isa { scalar, avx2, avx512 };

// MINIGRAD_GEMM_ISA=avx2|scalar caps the dispatch, so tests can cover the fallbacks. Decided once,
// so gemm_isa() and the kernels of both element types always agree.
Isa detect_isa() {
  const char* env = std::getenv("MINIGRAD_GEMM_ISA");
  const Isa cap = !env                              ? Isa::avx512
                  : std::strcmp(env, "avx2") == 0   ? Isa::avx2
                  : std::strcmp(env, "scalar") == 0 ? Isa::scalar
                                                    : Isa::avx512;
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool fma = __builtin_cpu_supports("fma");
  if (cap >= Isa::avx512 && fma && __builtin_cpu_supports("avx512f")) return Isa::avx512;
  if (cap >= Isa::avx2 && fma && __builtin_cpu_supports("avx2")) return Isa::avx2;
#else
  (void)cap;
#endif
  return Isa::scalar;
}

Isa active_isa() {
  static const Isa isa = detect_isa();
  return isa;
}

template <typename T>
const GemmKernels<T>& select_kernels() {
  switch (active_isa()) {
#if defined(__x86_64__)
    case Isa::avx512:
      return avx512_kernels(T{});
    case Isa::avx2:
      return avx2_kernels(T{});
#endif
    default:
      return scalar_kernels<T>();
  }
}

}  // namespace

template <typename T>
const GemmKernels<T>& gemm_kernels() {
  return select_kernels<T>();
}
template const GemmKernels<float>& gemm_kernels();
template const GemmKernels<double>& gemm_kernels();

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Packing buffers live per thread for the life of the thread (the pool keeps its workers), so
// steady-state calls do not allocate.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { std::free(ptr_); }
  template <typename T>
  T* get(int64_t count) {
    const size_t bytes = size_t(count) * sizeof(T);
    if (bytes > cap_) {
      std::free(ptr_);
      cap_ = size_t(round_up(int64_t(bytes), 4096));
      ptr_ = std::aligned_alloc(64, cap_);
      if (!ptr_) {
        cap_ = 0;
        throw std::bad_alloc();
      }
    }
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  size_t cap_ = 0;
};

thread_local AlignedBuffer tls_a_block;
thread_local AlignedBuffer tls_b_block;
thread_local AlignedBuffer tls_a_whole;
thread_local AlignedBuffer tls_b_whole;

// C = beta * C + bias, relu: the whole GEMM when there is nothing to multiply (K = 0).
template <typename T>
void scale_c(int64_t M, int64_t N, T beta, T* C, int64_t ldc, GemmEpilogue<T> epilogue) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = epilogue.apply(beta == T(0) ? T(0) : beta * C[i * ldc + j], j);
}

template <typename T>
GemmBlocking blocking_of(const GemmKernels<T>& g) {
  return {.mr = g.mr, .nr = g.nr, .kc = g.kc, .mc = g.mc, .nc = g.nc, .pack_a = g.pack_a};
}

// With MINIGRAD_GEMM_PLAN=1, the plan of each shape the first time it is met.
void print_plan_once(const GemmPlan& plan) {
  static const bool enabled = [] {
    const char* env = std::getenv("MINIGRAD_GEMM_PLAN");
    return env && std::strcmp(env, "1") == 0;
  }();
  if (!enabled) return;
  static std::mutex mutex;
  static std::set<std::tuple<bool, bool, int64_t, int64_t, int64_t, int64_t, int>> seen;
  const GemmShape& s = plan.shape;
  const std::lock_guard lock(mutex);
  if (seen.emplace(s.ta, s.tb, s.m, s.n, s.k, s.elem_bytes, plan.threads).second)
    std::fprintf(stderr, "%s\n", to_string(plan).c_str());
}

template <typename T>
void gemm_blocked(const GemmKernels<T>& g, bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                  int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc, GemmEpilogue<T> epilogue) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) return scale_c(M, N, beta, C, ldc, epilogue);

  const GemmPlan plan = plan_gemm({.ta = ta, .tb = tb, .m = M, .n = N, .k = K, .elem_bytes = int64_t(sizeof(T))},
                                  blocking_of(g), threads_here());
  print_plan_once(plan);
  const int mr = g.mr, nr = g.nr;
  const int64_t kc = plan.kc;
  const bool pack_a = plan.pack_a, pack_b = plan.pack_b, a_whole = plan.a_whole, b_whole = plan.b_whole;
  const int64_t a_panels = ceil_div(M, mr), b_panels = ceil_div(N, nr);
  // Packs B's columns [j0, j1) over k in [pc, pc + k_len) into nr-wide panels, k_len * nr apart.
  const auto pack_b_columns = [&](int64_t j0, int64_t j1, int64_t pc, int64_t k_len, T* dst) {
    if (!tb) return g.pack_kx(B + pc * ldb + j0, ldb, j1 - j0, k_len, dst, nr);
    for (int64_t j = j0; j < j1; j += nr)
      g.pack_xk(B + j * ldb + pc, ldb, int(std::min<int64_t>(nr, j1 - j)), k_len, dst + (j - j0) * k_len, nr);
  };
  // Packs an operand whole, its panels shared out among the threads. Panel p spans all of K, at
  // p * width * K: a kc-deep block of it is a packed panel like the per-task ones below.
  const auto pack_whole = [&](int64_t panels, auto&& pack_panels) {
    const int64_t pack_tasks = std::min<int64_t>(plan.threads, panels);
    parallel_tasks(pack_tasks, [&](int64_t t) { pack_panels(panels * t / pack_tasks, panels * (t + 1) / pack_tasks); });
  };
  T* const packed_a = a_whole ? tls_a_whole.get<T>(a_panels * mr * K) : nullptr;
  if (a_whole)  // A^T: element (i, k) at A[k * lda + i]
    pack_whole(a_panels, [&](int64_t p0, int64_t p1) {
      g.pack_kx(A + p0 * mr, lda, std::min(M, p1 * mr) - p0 * mr, K, packed_a + p0 * mr * K, mr);
    });
  T* const packed_b = b_whole ? tls_b_whole.get<T>(b_panels * nr * K) : nullptr;
  if (b_whole)
    pack_whole(b_panels, [&](int64_t p0, int64_t p1) {
      pack_b_columns(p0 * nr, std::min(N, p1 * nr), 0, K, packed_b + p0 * nr * K);
    });
  parallel_tasks(plan.tasks, [&](int64_t tid) {
    const GemmTask task = plan.task(tid);
    if (task.empty()) return;
    const int64_t m0 = task.m0, m1 = task.m1, n0 = task.n0, n1 = task.n1, mc = task.mc, nc = task.nc;
    T* const b_block = b_whole ? nullptr : tls_b_block.get<T>(nc * kc);
    T* const a_block = pack_a ? tls_a_block.get<T>(mc * kc) : nullptr;
    for (int64_t ic = m0; ic < m1; ic += mc) {
      const int64_t panels = ceil_div(std::min(mc, m1 - ic), mr);
      for (int64_t pc = 0; pc < K; pc += kc) {
        const int64_t k_len = std::min(kc, K - pc);
        // The epilogue's bias joins the first k block, its ReLU the last.
        const T beta_k = pc == 0 ? beta : T(1);
        const T* bias = pc == 0 ? epilogue.bias : nullptr;
        const bool relu = epilogue.relu && pc + k_len == K;
        if (pack_a && ta) {
          g.pack_kx(A + pc * lda + ic, lda, std::min(mc, m1 - ic), k_len, a_block, mr);
        } else if (pack_a) {
          for (int64_t p = 0; p < panels; ++p) {
            const int64_t i = ic + p * mr;
            const int w = int(std::min<int64_t>(mr, m1 - i));
            g.pack_xk(A + i * lda + pc, lda, w, k_len, a_block + p * mr * k_len, mr);
          }
        }
        for (int64_t jc = n0; jc < n1; jc += nc) {
          const int64_t nc_len = std::min(nc, n1 - jc);
          const int64_t tiles = ceil_div(nc_len, nr);
          // Unpacked B still packs a narrow last tile, padding it to whole vectors. (When packed
          // whole, it was packed before the tasks began.)
          const int64_t t0 = pack_b ? 0 : nc_len / nr;
          if (!b_whole && t0 < tiles) pack_b_columns(jc + t0 * nr, jc + nc_len, pc, k_len, b_block + t0 * nr * k_len);
          for (int64_t p = 0; p < panels; ++p) {
            const int64_t i = ic + p * mr;
            const int m = int(std::min<int64_t>(mr, m1 - i));
            const T* a = a_whole  ? packed_a + (i * K + pc * mr)
                         : pack_a ? a_block + p * mr * k_len
                         : ta     ? A + pc * lda + i
                                  : A + i * lda + pc;
            const int64_t rs_a = a_whole || pack_a || ta ? 1 : lda;
            const int64_t cs_a = a_whole || pack_a ? mr : ta ? lda : 1;
            for (int64_t t = 0; t < tiles; ++t) {
              const int64_t j = jc + t * nr;
              const int n = int(std::min<int64_t>(nr, n1 - j));
              const bool direct = !pack_b && n == nr;
              const T* b = direct    ? B + pc * ldb + j
                           : b_whole ? packed_b + (j * K + pc * nr)
                                     : b_block + t * nr * k_len;
              g.micro(k_len, a, rs_a, cs_a, b, direct ? ldb : nr, C + i * ldc + j, ldc, m, n, alpha, beta_k,
                      bias ? bias + j : nullptr, relu);
            }
          }
        }
      }
    }
  });
}

}  // namespace
}  // namespace detail

// ---- the plan ----

namespace {

// Tasks per thread when tasks share no packing work: claimed as threads go, so a thread the
// host slows down does not leave the others waiting at the end.
constexpr int64_t kTasksPerThread = 8;
// Largest operand packed whole for the tasks to share (the 10,000-row evaluation's biggest B is
// 1.6 MB, a 1024^3 A^T 4.2 MB); the buffer stays allocated with the calling thread.
constexpr int64_t kWholeMaxBytes = int64_t(8) << 20;

}  // namespace

GemmPlan plan_gemm(const GemmShape& s, const GemmBlocking& b, int threads) {
  using detail::ceil_div;
  const int64_t M = s.m, N = s.n, K = s.k;
  const int mr = b.mr, nr = b.nr;
  GemmPlan p{.shape = s, .blocking = b};
  // Equal blocks rather than full blocks plus a sliver.
  p.kc = ceil_div(K, ceil_div(K, b.kc));
  const double flops = 2.0 * double(M) * double(N) * double(K);
  // Inside a pool task (one matrix of a batch run in parallel) `threads` is 1.
  p.threads = flops < kGemmMinTaskFlops ? 1 : threads;
  const int nth = p.threads;
  // Tasks split columns (sharing A) when A is the smaller operand and each task gets two tiles,
  // else rows (sharing B), as for the 10,000-row evaluation batch.
  p.split_n = ceil_div(N, nr) >= 2 * nth && (M <= N || ceil_div(M, mr) < 2 * nth);
  // An A panel is reused by every nr-wide tile of a row; for one or two tiles packing it
  // costs more than the strided reads it saves. A^T (the weight gradients G^T X) read in place
  // takes a line per k step, lda apart: at lda = 512 or 1024 floats those lines evict each other
  // from L1 and L2 (1024x784x128 TN ran at half speed). Row tasks pack their own rows of it;
  // column tasks share it, packed whole (a_whole below).
  p.pack_a = N > 2 * nr && (s.ta ? !p.split_n : b.pack_a);
  // Likewise a B tile is read once per A panel: with one or two panels (M <= 2 mr) it is read
  // from B itself, except a narrow last tile, which the packing pads to whole vectors.
  p.pack_b = s.tb || M > 2 * mr;
  const int64_t a_panels = ceil_div(M, mr), b_panels = ceil_div(N, nr);
  // When no task packs a shared operand, a share is split into up to kTasksPerThread tasks that
  // threads claim as they go: a thread that runs slower (a busy sibling hyperthread on a shared
  // host) no longer leaves the other waiting at the end.
  const int64_t most =
      std::min({int64_t(flops / kGemmMinTaskFlops), p.split_n ? b_panels : a_panels, nth * kTasksPerThread});
  // The operand all tasks share is packed once, whole, before they start, when the call is big
  // enough for more tasks than threads: A^T for column tasks (the AVX2 kernel reads a row-major
  // A in place), B for row tasks. Else (the 128-row training calls with N = 10) each of the
  // one-per-thread tasks packs its own copy, at the same time.
  p.a_whole = p.split_n && s.ta && N > 2 * nr && most > nth && a_panels * mr * K * s.elem_bytes <= kWholeMaxBytes;
  p.b_whole = !p.split_n && p.pack_b && most > nth && b_panels * nr * K * s.elem_bytes <= kWholeMaxBytes;
  const bool dynamic = nth > 1 && (p.split_n ? !p.pack_a : p.b_whole);
  p.tasks = dynamic ? std::max<int64_t>(nth, most) : nth;
  return p;
}

GemmTask GemmPlan::task(int64_t t) const {
  using detail::ceil_div;
  const int64_t M = shape.m, N = shape.n;
  const int mr = blocking.mr, nr = blocking.nr;
  // Task t's share of `len`, on `unit` boundaries so only the last share has a partial tile.
  const auto bound = [&](int64_t len, int unit, int64_t i) {
    return i == tasks ? len : std::min(len, (len * i / tasks + unit / 2) / unit * unit);
  };
  GemmTask task{.m0 = split_n ? 0 : bound(M, mr, t),
                .m1 = split_n ? M : bound(M, mr, t + 1),
                .n0 = split_n ? bound(N, nr, t) : 0,
                .n1 = split_n ? bound(N, nr, t + 1) : N};
  if (task.empty()) return task;
  // Equal blocks rather than full blocks plus a sliver.
  const int64_t n_len = task.n1 - task.n0, m_len = task.m1 - task.m0;
  task.nc = detail::round_up(ceil_div(n_len, ceil_div(n_len, blocking.nc)), nr);
  task.mc = detail::round_up(ceil_div(m_len, ceil_div(m_len, blocking.mc)), mr);
  return task;
}

std::string to_string(const GemmPlan& p) {
  const GemmShape& s = p.shape;
  const auto yes = [](bool b) { return b ? "yes" : "no"; };
  char line[320];
  std::snprintf(line, sizeof line,
                "gemm plan: %lldx%lldx%lld %c%c %s, %dx%d tiles, kc %lld, %d threads, %lld %s tasks, "
                "pack A %s%s, pack B %s%s",
                static_cast<long long>(s.m), static_cast<long long>(s.n), static_cast<long long>(s.k), s.ta ? 'T' : 'N',
                s.tb ? 'T' : 'N', s.elem_bytes == 8 ? "f64" : "f32", p.blocking.mr, p.blocking.nr,
                static_cast<long long>(p.kc), p.threads, static_cast<long long>(p.tasks), p.split_n ? "column" : "row",
                yes(p.pack_a), p.a_whole ? " (whole, shared)" : "", yes(p.pack_b), p.b_whole ? " (whole, shared)" : "");
  return line;
}

const char* gemm_isa() {
  switch (detail::active_isa()) {
    case detail::Isa::avx512:
      return "avx512";
    case detail::Isa::avx2:
      return "avx2";
    default:
      return "scalar";
  }
}

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc, GemmEpilogue<float> epilogue) {
  static const auto& g = detail::select_kernels<float>();
  detail::gemm_blocked(g, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, epilogue);
}

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc, GemmEpilogue<double> epilogue) {
  static const auto& g = detail::select_kernels<double>();
  detail::gemm_blocked(g, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, epilogue);
}

}  // namespace minigrad::kernels
