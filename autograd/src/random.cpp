#include <minigrad/random.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <numbers>

#include <minigrad/tensor.h>  // Error

namespace minigrad {
namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

void Generator::seed_(uint64_t seed) {
  for (auto& s : s_) s = splitmix64(seed);
  has_spare_ = false;
}

Generator::State Generator::state() const {
  return {s_[0], s_[1], s_[2], s_[3], std::bit_cast<uint64_t>(spare_normal_), has_spare_ ? 1u : 0u};
}

void Generator::set_state(const State& state) {
  if (state[5] > 1) throw Error(fmt::format("Generator::set_state: the pending-normal flag is {}, expected 0 or 1", state[5]));
  if ((state[0] | state[1] | state[2] | state[3]) == 0)
    throw Error("Generator::set_state: xoshiro256** state is all zeros (it would only ever return 0)");
  std::copy_n(state.begin(), 4, s_);
  spare_normal_ = std::bit_cast<double>(state[4]);
  has_spare_ = state[5] == 1;
}

double Generator::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_normal_;
  }
  double u1 = uniform();
  while (u1 <= 0.0) u1 = uniform();  // log(0) is -inf
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  spare_normal_ = r * std::sin(2.0 * std::numbers::pi * u2);
  has_spare_ = true;
  return r * std::cos(2.0 * std::numbers::pi * u2);
}

uint64_t Generator::below(uint64_t bound) {
  // Rejection keeps the result unbiased when bound does not divide 2^64.
  const uint64_t limit = bound == 0 ? 0 : (~uint64_t{0} - bound + 1) % bound;
  for (;;) {
    const uint64_t x = next_u64();
    if (x >= limit) return bound == 0 ? 0 : x % bound;
  }
}

Generator& default_generator() {
  static Generator gen;
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace minigrad
