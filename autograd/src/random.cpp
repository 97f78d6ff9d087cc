#include <minigrad/random.h>

#include <algorithm>
#include <array>
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

// A polynomial over GF(2) of degree < 256, bit i = coefficient of x^i.
using Poly = std::array<uint64_t, 4>;

bool coefficient(const Poly& a, int i) { return (a[i / 64] >> (i % 64)) & 1; }

// The characteristic polynomial of xoshiro256's state map, found by Berlekamp-Massey from 512
// bits of one state bit's sequence: the map has full period 2^256 - 1, so its characteristic
// polynomial is primitive and is the minimal one of every such nonzero sequence. Returns the
// low 256 coefficients; the x^256 one is 1.
Poly characteristic_polynomial() {
  constexpr int kDegree = 256, kBits = 2 * kDegree;
  Generator g(1);
  std::array<uint8_t, kBits> bits{};
  for (int n = 0; n < kBits; ++n) {
    bits[n] = g.state()[0] & 1;
    g.next_u64();
  }
  // Connection polynomial c (c[0] = 1): bits[n] = sum c[i] bits[n - i], i = 1..length.
  std::array<uint8_t, kBits + 1> c{1}, b{1};
  int length = 0, shift = 1;
  for (int n = 0; n < kBits; ++n) {
    uint8_t discrepancy = bits[n];
    for (int i = 1; i <= length; ++i) discrepancy ^= c[i] & bits[n - i];
    if (!discrepancy) {
      ++shift;
      continue;
    }
    const auto previous = c;
    for (int i = 0; i + shift <= kBits; ++i) c[i + shift] ^= b[i];
    if (2 * length <= n) {
      length = n + 1 - length;
      b = previous;
      shift = 1;
    } else {
      ++shift;
    }
  }
  if (length != kDegree) throw Error(fmt::format("Generator: linear complexity {} instead of 256", length));
  Poly p{};  // x^256 c(1/x): coefficient of x^j is c[256 - j]
  for (int j = 0; j < kDegree; ++j)
    if (c[kDegree - j]) p[j / 64] |= uint64_t{1} << (j % 64);
  return p;
}

// a * b mod p, Horner's rule over a's coefficients.
Poly multiply_mod(const Poly& a, const Poly& b, const Poly& p) {
  Poly r{};
  for (int i = 255; i >= 0; --i) {
    const bool overflow = r[3] >> 63;
    for (int w = 3; w > 0; --w) r[w] = (r[w] << 1) | (r[w - 1] >> 63);
    r[0] <<= 1;
    if (overflow)
      for (int w = 0; w < 4; ++w) r[w] ^= p[w];
    if (coefficient(a, i))
      for (int w = 0; w < 4; ++w) r[w] ^= b[w];
  }
  return r;
}

// jumps[k] = x^(2^k) mod p: 2^k steps of the state map, as a polynomial in it.
const std::array<Poly, 64>& jump_polynomials() {
  static const std::array<Poly, 64> jumps = [] {
    const Poly p = characteristic_polynomial();
    std::array<Poly, 64> j{};
    j[0][0] = 2;  // x
    for (int k = 1; k < 64; ++k) j[k] = multiply_mod(j[k - 1], j[k - 1], p);
    return j;
  }();
  return jumps;
}
}  // namespace

void Generator::discard(uint64_t n) {
  // Below 2^8 steps, stepping is cheaper than a jump (256 steps whatever its length).
  for (uint64_t i = 0; i < (n & 255); ++i) next_u64();
  const auto& jumps = jump_polynomials();
  for (int k = 8; k < 64; ++k) {
    if (!((n >> k) & 1)) continue;
    // T^(2^k) = r(T) for r = x^(2^k) mod p (Cayley-Hamilton): sum r_i T^i s over i < 256.
    uint64_t sum[4] = {};
    for (int i = 0; i < 256; ++i) {
      if (coefficient(jumps[k], i))
        for (int w = 0; w < 4; ++w) sum[w] ^= s_[w];
      next_u64();
    }
    std::copy_n(sum, 4, s_);
  }
}

// Four xoshiro256** states side by side, one per lane (GCC vector extensions: AVX2 registers
// when built for them, pairs of SSE2 ones otherwise).
using Lanes = uint64_t __attribute__((vector_size(32)));
using LaneDoubles = double __attribute__((vector_size(32)));

template <typename T>
void Generator::fill_uniform_lanes(T* out, int64_t n) {
  constexpr int kLanes = 4;
  // Lane l draws positions [l * len, (l + 1) * len); len a multiple of 256, so reaching each
  // start is jumps only (one per set bit of len / 256).
  const int64_t len = n / kLanes / 256 * 256;
  if (len < 1024) {
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(uniform());
    return;
  }
  Lanes s[4];  // s[w][l]: word w of lane l's state
  Generator lane = *this;
  for (int l = 0; l < kLanes; ++l) {
    if (l > 0) lane.discard(uint64_t(len));
    for (int w = 0; w < 4; ++w) s[w][l] = lane.s_[w];
  }
  const Lanes exponent52 = Lanes{} + 0x4330000000000000;  // 2^52's bits: | m gives 2^52 + m
  for (int64_t j = 0; j < len; ++j) {
    Lanes x;
    detail::xoshiro256_step(s, x);  // next_u64() in every lane
    // uniform(): the top 53 bits as a double, exactly, in two halves that convert without a
    // 64-bit integer conversion (AVX2 has none), then times 2^-53.
    const Lanes v = x >> 11;
    const LaneDoubles high = reinterpret_cast<LaneDoubles>(exponent52 | (v >> 32)) - 0x1p52;
    const LaneDoubles low = reinterpret_cast<LaneDoubles>(exponent52 | (v & 0xffffffff)) - 0x1p52;
    const LaneDoubles u = (high * 0x1p32 + low) * 0x1p-53;
    for (int l = 0; l < kLanes; ++l) out[l * len + j] = static_cast<T>(u[l]);
  }
  for (int w = 0; w < 4; ++w) lane.s_[w] = s[w][kLanes - 1];  // position kLanes * len
  for (int64_t i = kLanes * len; i < n; ++i) out[i] = static_cast<T>(lane.uniform());
  std::copy_n(lane.s_, 4, s_);
}

void Generator::fill_uniform(float* out, int64_t n) { fill_uniform_lanes(out, n); }
void Generator::fill_uniform(double* out, int64_t n) { fill_uniform_lanes(out, n); }

void Generator::seed_(uint64_t seed) {
  for (auto& s : s_) s = splitmix64(seed);
  has_spare_ = false;
}

Generator::State Generator::state() const {
  return {s_[0], s_[1], s_[2], s_[3], std::bit_cast<uint64_t>(spare_normal_), has_spare_ ? 1u : 0u};
}

void Generator::set_state(const State& state) {
  if (state[5] > 1)
    throw Error(fmt::format("Generator::set_state: the pending-normal flag is {}, expected 0 or 1", state[5]));
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
