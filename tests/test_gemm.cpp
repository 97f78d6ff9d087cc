// gemm against gemm_reference: every transpose case, alpha/beta, the bias + ReLU epilogue, edge
// and odd sizes, padded leading dimensions, and bit-identical results for 1 and 2 threads.
#include <minigrad/kernels/gemm.h>
#include <minigrad/kernels/gemm_plan.h>
#include <minigrad/kernels/thread_pool.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

using minigrad::kernels::gemm;
using minigrad::kernels::gemm_reference;
using minigrad::kernels::GemmEpilogue;

namespace {

struct Shape {
  int64_t m, n, k;
};

// Operands in the storage layout the transpose flags imply, with ld = row length + pad.
template <typename T>
struct Problem {
  bool ta, tb;
  int64_t m, n, k, lda, ldb, ldc;
  std::vector<T> a, b, c, bias;

  Problem(bool ta_, bool tb_, Shape s, int64_t pad, uint32_t seed) : ta(ta_), tb(tb_), m(s.m), n(s.n), k(s.k) {
    const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k;
    const int64_t b_rows = tb ? n : k, b_cols = tb ? k : n;
    lda = a_cols + pad;
    ldb = b_cols + pad;
    ldc = n + pad;
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> dist(-1.0, 1.0);
    a.resize(size_t(a_rows * lda));
    b.resize(size_t(b_rows * ldb));
    c.resize(size_t(m * ldc));
    bias.resize(size_t(n));
    for (auto& x : a) x = T(dist(rng));
    for (auto& x : b) x = T(dist(rng));
    for (auto& x : c) x = T(dist(rng));
    for (auto& x : bias) x = T(dist(rng));
  }
  T at_a(int64_t i, int64_t p) const { return ta ? a[size_t(p * lda + i)] : a[size_t(i * lda + p)]; }
  T at_b(int64_t p, int64_t j) const { return tb ? b[size_t(j * ldb + p)] : b[size_t(p * ldb + j)]; }
};

// |got - want| <= K * eps * (|alpha| * sum_k |a||b| + |beta c| + |bias|), element by element
// (ReLU cannot widen a difference); padding columns of C must be untouched.
template <typename T>
void check(bool ta, bool tb, Shape s, T alpha, T beta, int64_t pad, bool nan_c = false, bool with_epilogue = false) {
  Problem<T> p(ta, tb, s, pad, uint32_t(s.m * 131 + s.n * 17 + s.k + ta * 7 + tb * 3));
  if (nan_c)
    for (auto& x : p.c) x = std::numeric_limits<T>::quiet_NaN();
  const GemmEpilogue<T> epilogue =
      with_epilogue ? GemmEpilogue<T>{.bias = p.bias.data(), .relu = true} : GemmEpilogue<T>{};
  std::vector<T> want = p.c, got = p.c;
  gemm_reference<T>(ta, tb, p.m, p.n, p.k, alpha, p.a.data(), p.lda, p.b.data(), p.ldb, beta, want.data(), p.ldc,
                    epilogue);
  gemm(ta, tb, p.m, p.n, p.k, alpha, p.a.data(), p.lda, p.b.data(), p.ldb, beta, got.data(), p.ldc, epilogue);
  const T eps = std::numeric_limits<T>::epsilon();
  int64_t bad = 0;
  for (int64_t i = 0; i < p.m; ++i) {
    for (int64_t j = 0; j < p.ldc; ++j) {
      const size_t idx = size_t(i * p.ldc + j);
      if (j >= p.n) {  // padding
        const bool same = std::isnan(p.c[idx]) ? std::isnan(got[idx]) : got[idx] == p.c[idx];
        bad += !same;
        continue;
      }
      T mag = 0;
      for (int64_t q = 0; q < p.k; ++q) mag += std::abs(p.at_a(i, q) * p.at_b(q, j));
      const T c0 = beta == T(0) ? T(0) : std::abs(beta * p.c[idx]);
      const T b0 = with_epilogue ? std::abs(p.bias[size_t(j)]) : T(0);
      const T tol = T(p.k + 3) * eps * (std::abs(alpha) * mag + c0 + b0) + std::numeric_limits<T>::min();
      const bool ok = !std::isnan(got[idx]) && std::abs(got[idx] - want[idx]) <= tol;
      if (!ok && bad < 5) UNSCOPED_INFO("C(" << i << "," << j << ") got " << got[idx] << " want " << want[idx]);
      bad += !ok;
    }
  }
  INFO("ta=" << ta << " tb=" << tb << " M=" << s.m << " N=" << s.n << " K=" << s.k << " alpha=" << alpha
             << " beta=" << beta << " pad=" << pad << " bias+relu=" << with_epilogue);
  CHECK(bad == 0);
}

const Shape kShapes[] = {
    {1, 1, 1},
    {1, 37, 19},
    {1, 300, 64},
    {29, 1, 45},
    {300, 1, 7},
    {17, 33, 65},
    {13, 31, 7},
    {12, 32, 16},
    {24, 64, 384},
    {25, 65, 385},
    {128, 10, 256},
    {37, 100, 3},
    {5, 130, 33},
    {100, 47, 800},
    // M <= 2 x 12 rows: B tiles read in place, the narrow last tile packed; K = 10 and M = 10
    // are the last layer's backward.
    {10, 256, 128},
    {23, 97, 50},
    {20, 70, 800},
    {10, 10, 256},
};

template <typename T>
void all_cases() {
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (const Shape& s : kShapes) {
        check<T>(ta, tb, s, T(1), T(0), 0);
        check<T>(ta, tb, s, T(1), T(0), 0, /*nan_c=*/true);
        check<T>(ta, tb, s, T(1), T(1), 3);
        check<T>(ta, tb, s, T(-0.5), T(0.25), 5);
        check<T>(ta, tb, s, T(1), T(0), 2, /*nan_c=*/true, /*with_epilogue=*/true);
        check<T>(ta, tb, s, T(-0.5), T(0.25), 0, /*nan_c=*/false, /*with_epilogue=*/true);
      }
}

}  // namespace

// The ctests gemm_isa_avx2 and gemm_isa_scalar run this file under MINIGRAD_GEMM_ISA: they
// test the fallbacks only if the cap really picks them.
TEST_CASE("gemm runs the kernels MINIGRAD_GEMM_ISA asks for", "[gemm]") {
  const std::string isa = minigrad::kernels::gemm_isa();
  CHECK((isa == "avx512" || isa == "avx2" || isa == "scalar"));
  const char* env = std::getenv("MINIGRAD_GEMM_ISA");
  const std::string cap = env ? env : "";
  if (cap == "scalar") CHECK(isa == "scalar");
  if (cap == "avx2") CHECK(isa != "avx512");
#if defined(__x86_64__)
  if (cap == "avx2" && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) CHECK(isa == "avx2");
#endif
}

TEST_CASE("gemm float matches the reference", "[gemm]") { all_cases<float>(); }
TEST_CASE("gemm double matches the reference", "[gemm]") { all_cases<double>(); }

TEST_CASE("gemm large problem, all transposes", "[gemm]") {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      check<float>(ta, tb, {300, 257, 519}, 1.0f, 0.0f, 0, true);
      check<float>(ta, tb, {300, 257, 519}, 0.75f, 1.0f, 11);
      check<double>(ta, tb, {300, 257, 519}, 1.0, 0.5, 4);
    }
  // Several K blocks and M blocks.
  check<float>(false, false, {3100, 40, 1000}, 1.0f, 1.0f, 1);
  check<double>(true, true, {70, 700, 1300}, 1.0, 0.0, 2, true);
  // Tall: threads split the rows, each into several M blocks.
  check<float>(false, true, {7000, 200, 30}, 1.0f, 1.0f, 3);
  check<float>(true, false, {7000, 10, 40}, 1.0f, 0.0f, 0, true);
}

TEST_CASE("gemm beta=0 ignores NaN in C, beta=1 accumulates", "[gemm]") {
  const int64_t m = 33, n = 70, k = 50;
  std::vector<float> a(size_t(m * k), 1.0f), b(size_t(k * n), 2.0f);
  std::vector<float> c(size_t(m * n), std::numeric_limits<float>::quiet_NaN());
  gemm(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n);
  for (float x : c) REQUIRE(x == 100.0f);
  gemm(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 1.0f, c.data(), n);
  for (float x : c) REQUIRE(x == 200.0f);
  // K == 0 scales C by beta.
  gemm(false, false, m, n, 0, 1.0f, a.data(), k, b.data(), n, 0.5f, c.data(), n);
  for (float x : c) REQUIRE(x == 100.0f);
  // ... and still applies the epilogue: 100 + bias, then ReLU.
  std::vector<float> bias(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) bias[size_t(j)] = j % 2 ? -200.0f : 1.0f;
  gemm(false, false, m, n, 0, 1.0f, a.data(), k, b.data(), n, 1.0f, c.data(), n, {.bias = bias.data(), .relu = true});
  for (int64_t i = 0; i < m * n; ++i) REQUIRE(c[size_t(i)] == (i % n % 2 ? 0.0f : 101.0f));
}

TEST_CASE("gemm epilogue: ReLU keeps NaN (as PyTorch) and runs after the last k block only", "[gemm]") {
  // K = 1000 spans several k blocks: a ReLU applied to a partial sum would clip the negative
  // first block (-1 per k) that the positive rest (+3 per k) outweighs.
  const int64_t m = 30, n = 40, k = 1000;
  std::vector<float> a(size_t(m * k)), b(size_t(k * n), 1.0f), c(size_t(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t p = 0; p < k; ++p) a[size_t(i * k + p)] = p < 300 ? -1.0f : 3.0f;
  std::vector<float> bias(size_t(n), -1000.0f);
  gemm(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n, {.bias = bias.data(), .relu = true});
  for (float x : c) REQUIRE(x == 800.0f);  // -300 + 2100 - 1000
  a[0] = std::numeric_limits<float>::quiet_NaN();
  gemm(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n, {.bias = bias.data(), .relu = true});
  for (int64_t j = 0; j < n; ++j) REQUIRE(std::isnan(c[size_t(j)]));  // a diverging run must show
  REQUIRE(c[size_t(n)] == 800.0f);
}

namespace {
template <typename T>
std::vector<T> run_with_threads(int threads, bool ta, bool tb, Shape s) {
  Problem<T> p(ta, tb, s, 1, 7);
  const int saved = minigrad::kernels::max_threads();
  minigrad::kernels::set_max_threads(threads);
  // With the epilogue on odd shapes, without it on even ones.
  const GemmEpilogue<T> epilogue = s.n % 2 ? GemmEpilogue<T>{.bias = p.bias.data(), .relu = true} : GemmEpilogue<T>{};
  gemm(ta, tb, s.m, s.n, s.k, T(1), p.a.data(), p.lda, p.b.data(), p.ldb, T(0.5), p.c.data(), p.ldc, epilogue);
  minigrad::kernels::set_max_threads(saved);
  return p.c;
}
}  // namespace

TEST_CASE("gemm results do not depend on the thread count", "[gemm]") {
  const Shape shapes[] = {{128, 512, 784},
                          {784, 512, 128},
                          {128, 784, 512},
                          {128, 10, 256},
                          {301, 259, 517},
                          {1000, 40, 900},
                          {2000, 130, 300},
                          {2000, 10, 256},
                          {10, 256, 2000},
                          // Shared operand packed whole for float, over 8 MB (not packed
                          // whole) for double: A^T for column tasks, B for row tasks.
                          {96, 96, 11000},
                          {97, 96, 11000}};
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (const Shape& s : shapes) {
        INFO("ta=" << ta << " tb=" << tb << " M=" << s.m << " N=" << s.n << " K=" << s.k);
        const auto one_float = run_with_threads<float>(1, ta, tb, s);
        const auto one_double = run_with_threads<double>(1, ta, tb, s);
        for (int threads : {2, 3}) {  // 3: shares of unequal task counts
          CHECK(one_float == run_with_threads<float>(threads, ta, tb, s));
          CHECK(one_double == run_with_threads<double>(threads, ta, tb, s));
        }
      }
}

namespace {

// The AVX-512 float kernels' sizes, with a fixed nc (the real one depends on the L2 size).
constexpr minigrad::kernels::GemmBlocking kAvx512Float{.mr = 12, .nr = 32, .kc = 384, .mc = 3072, .nc = 320};

// The tasks of a plan cover C exactly once, on tile boundaries, in blocks of at most mc x nc.
void check_tasks_tile_c(const minigrad::kernels::GemmPlan& plan) {
  const auto& s = plan.shape;
  std::vector<int> covered(static_cast<std::size_t>(s.m * s.n), 0);
  for (int64_t t = 0; t < plan.tasks; ++t) {
    const auto task = plan.task(t);
    if (task.empty()) continue;
    CHECK((task.m0 % plan.blocking.mr == 0 && task.n0 % plan.blocking.nr == 0));
    CHECK((task.mc % plan.blocking.mr == 0 && task.nc % plan.blocking.nr == 0));
    CHECK((task.mc <= plan.blocking.mc + plan.blocking.mr && task.nc <= plan.blocking.nc + plan.blocking.nr));
    for (int64_t i = task.m0; i < task.m1; ++i)
      for (int64_t j = task.n0; j < task.n1; ++j) ++covered[static_cast<std::size_t>(i * s.n + j)];
  }
  CHECK(std::count(covered.begin(), covered.end(), 1) == s.m * s.n);
}

}  // namespace

TEST_CASE("gemm: the plan blocks K alone and its tasks cover C once", "[gemm]") {
  using minigrad::kernels::plan_gemm;
  // The training step's calls (batch 128, 784-512-10), the 10,000-row evaluation, and odd sizes.
  const minigrad::kernels::GemmShape shapes[] = {{.m = 128, .n = 512, .k = 784},
                                                 {.tb = true, .m = 128, .n = 10, .k = 512},
                                                 {.ta = true, .m = 784, .n = 512, .k = 128},
                                                 {.m = 10000, .n = 512, .k = 784},
                                                 {.m = 37, .n = 53, .k = 1001},
                                                 {.ta = true, .tb = true, .m = 5, .n = 3, .k = 2, .elem_bytes = 8}};
  for (const auto& shape : shapes)
    for (int threads : {1, 2, 3, 8}) {
      const auto plan = plan_gemm(shape, kAvx512Float, threads);
      INFO(to_string(plan));
      // Equal k blocks of at most kc, the same for any thread count: the order of the sums.
      CHECK(plan.kc == plan_gemm(shape, kAvx512Float, 1).kc);
      CHECK(plan.kc <= kAvx512Float.kc);
      CHECK((shape.k + plan.kc - 1) / plan.kc == (shape.k + kAvx512Float.kc - 1) / kAvx512Float.kc);
      CHECK(plan.tasks >= plan.threads);
      check_tasks_tile_c(plan);
    }

  // A tiny call runs on one thread; the evaluation batch splits rows and shares a packed B.
  CHECK(plan_gemm({.m = 5, .n = 3, .k = 2}, kAvx512Float, 8).threads == 1);
  const auto eval = plan_gemm({.m = 10000, .n = 512, .k = 784}, kAvx512Float, 2);
  CHECK_FALSE(eval.split_n);
  CHECK(eval.b_whole);
  CHECK(eval.tasks > 2);
  CHECK(plan_gemm({.m = 1000, .n = 1000, .k = 1000}, kAvx512Float, 2).kc == 334);
  CHECK(to_string(eval) == "gemm plan: 10000x512x784 NN f32, 12x32 tiles, kc 262, 2 threads, " +
                               std::to_string(eval.tasks) + " row tasks, pack A yes, pack B yes (whole, shared)");
}
