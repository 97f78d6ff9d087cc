#pragma once
// One seeded generator type (xoshiro256**, seeded through splitmix64) for every random thing:
// init, dropout, shuffling, splits. Same seed, same numbers, on every platform.
#include <array>
#include <cstdint>

namespace minigrad {

namespace detail {
// One xoshiro256** step on the state words s[0..3], its output in `out`, for W = uint64_t or a
// vector of them (Generator::fill_uniform's lanes, one generator per element). Multiplications
// are shifts and adds and rotations are shifts, which 64-bit vector lanes have on AVX2 too; the
// output comes back by reference, as a vector returned by value changes the ABI without AVX.
template <typename W>
void xoshiro256_step(W* s, W& out) {
  const W times5 = (s[1] << 2) + s[1], rotated = (times5 << 7) | (times5 >> 57);
  out = (rotated << 3) + rotated;
  const W t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = (s[3] << 45) | (s[3] >> 19);
}
}  // namespace detail

class Generator {
 public:
  explicit Generator(uint64_t seed = 0x5eed) { seed_(seed); }
  void manual_seed(uint64_t seed) { seed_(seed); }

  // Inline: rand() draws one per element, and a call each cost more than the draw.
  uint64_t next_u64() {
    uint64_t result;
    detail::xoshiro256_step(s_, result);
    return result;
  }
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }  // [0, 1), 53 bits
  double normal();                                                                // N(0, 1), Box-Muller
  uint64_t below(uint64_t bound);                                                 // uniform in [0, bound), unbiased
  bool bernoulli(double p) { return uniform() < p; }
  // Moves the stream on as n calls of next_u64() would (a pending normal stays pending), in
  // O(log n) work: xoshiro's state advances by a fixed linear map over GF(2), so n steps are a
  // polynomial in that map, of degree < 256. Lets rand() fill pieces of a tensor in parallel,
  // each from where the sequential loop would be.
  void discard(uint64_t n);
  // out[i] = uniform() (rounded to float) for i < n, bit for bit what n calls would return, and
  // the stream moves on by n. Four stretches of the stream are drawn side by side (starts found
  // by discard), so the work is not one serial chain of xoshiro steps.
  void fill_uniform(float* out, int64_t n);
  void fill_uniform(double* out, int64_t n);

  // Everything the generator remembers (xoshiro words, the spare normal's bits, whether it is
  // pending), so a checkpoint can continue the exact stream: set_state(state()) changes nothing.
  using State = std::array<uint64_t, 6>;
  State state() const;
  void set_state(const State& state);

 private:
  void seed_(uint64_t seed);
  template <typename T>
  void fill_uniform_lanes(T* out, int64_t n);
  uint64_t s_[4];
  double spare_normal_ = 0;
  bool has_spare_ = false;
};

// The generator used when a random function is given none.
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace minigrad
