// The denormal policy: float32 ops flush denormals (FTZ/DAZ) on the caller and on every pool
// thread that runs a chunk; float64 ops never do; the caller's own state is left as it was.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <minigrad/minigrad.h>

#include "thread_count.h"

namespace mg = minigrad;
namespace kernels = minigrad::kernels;

// The FTZ/DAZ bits are x86's (SSE); elsewhere set_flush_denormal says no and nothing flushes.
#if defined(__SSE__)

namespace {

struct FlushPolicy {
  explicit FlushPolicy(bool flush) : saved(mg::flush_denormal()) { mg::set_flush_denormal(flush); }
  ~FlushPolicy() { mg::set_flush_denormal(saved); }
  bool saved;
};

}  // namespace

TEST_CASE("float env: every pool thread runs a job with the caller's denormal bits") {
  for (int threads : {2, 3}) {
    ThreadCount t(threads);
    for (bool flush : {true, false, true}) {
      const kernels::DenormalScope scope(flush);
      std::vector<uint32_t> bits(256, 0xdead);
      mg::parallel_tasks(256, [&](int64_t i) {
        // Long enough that the workers take part even on a busy machine (where a descheduled
        // worker leaves its share to the caller).
        volatile double spin = 0;
        for (int k = 0; k < 2000; ++k) spin = spin + k;
        bits[size_t(i)] = kernels::denormal_bits();
      });
      for (uint32_t b : bits) REQUIRE((b != 0) == flush);
    }
  }
}

TEST_CASE("float env: float32 ops flush denormals on every thread, float64 ops never do") {
  const float tiny32 = std::numeric_limits<float>::denorm_min() * 1000;
  const double tiny64 = std::numeric_limits<double>::denorm_min() * 1000;
  const int64_t n = 1 << 18;  // many parallel chunks
  for (int threads : {1, 2, 3}) {
    ThreadCount t(threads);
    const uint32_t caller_bits = kernels::denormal_bits();
    {
      FlushPolicy policy(true);
      // DAZ: a denormal operand counts as zero, whichever thread runs its chunk.
      const mg::Tensor x32 = mg::full({n}, tiny32);
      const std::vector<float> y32 = (x32 * 1.0).to_vector<float>();
      CHECK(std::count(y32.begin(), y32.end(), 0.0f) == n);
      const mg::Tensor x64 = mg::full({n}, tiny64, {.dtype = mg::kFloat64});
      const std::vector<double> y64 = (x64 * 1.0).to_vector<double>();
      CHECK(std::count(y64.begin(), y64.end(), tiny64) == n);
    }
    {
      FlushPolicy policy(false);
      const std::vector<float> y32 = (mg::full({n}, tiny32) * 1.0).to_vector<float>();
      CHECK(std::count(y32.begin(), y32.end(), tiny32) == n);
    }
    CHECK(kernels::denormal_bits() == caller_bits);  // the caller's own state is restored
  }
}

TEST_CASE("float env: an optimizer step flushes float32 parameters only") {
  FlushPolicy policy(true);
  const float tiny32 = std::numeric_limits<float>::denorm_min() * 1000;
  const double tiny64 = std::numeric_limits<double>::denorm_min() * 1000;
  mg::Tensor p32 = mg::full({4}, tiny32).requires_grad_();
  mg::Tensor p64 = mg::full({4}, tiny64, {.dtype = mg::kFloat64}).requires_grad_();
  p32.set_grad(mg::zeros({4}));
  p64.set_grad(mg::zeros({4}, {.dtype = mg::kFloat64}));
  mg::optim::SGD sgd({p32, p64}, {.lr = 0.1});
  sgd.step();  // p - 0.1 * 0: a denormal operand
  for (float v : p32.to_vector<float>()) CHECK(v == 0.0f);
  for (double v : p64.to_vector<double>()) CHECK(v == tiny64);
}

TEST_CASE("float env: gradient checks give the same report with the policy on and off") {
  auto check = [](bool flush) {
    FlushPolicy policy(flush);
    mg::Generator gen(7);
    const mg::Tensor x = (mg::rand({3, 4}, {.dtype = mg::kFloat64}, &gen) * 1e-300).detach().requires_grad_();
    const mg::Tensor w = mg::rand({4, 2}, {.dtype = mg::kFloat64}, &gen).requires_grad_();
    return mg::gradcheck([](const std::vector<mg::Tensor>& in) { return (in[0].matmul(in[1]) * 1e-10).tanh(); }, {x, w},
                         {.atol = 1e-320, .rtol = 1e-3});
  };
  const mg::GradcheckReport on = check(true), off = check(false);
  CHECK(on.passed == off.passed);
  CHECK(on.checked == off.checked);
  CHECK(on.max_abs_error == off.max_abs_error);
  CHECK(on.max_rel_error == off.max_rel_error);
}

#endif  // __SSE__
