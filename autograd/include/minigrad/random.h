#pragma once
// One seeded generator type (xoshiro256**, seeded through splitmix64) for every random thing:
// init, dropout, shuffling, splits. Same seed, same numbers, on every platform.
#include <array>
#include <cstdint>

namespace minigrad {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0x5eed) { seed_(seed); }
  void manual_seed(uint64_t seed) { seed_(seed); }

  uint64_t next_u64();
  double uniform();                 // [0, 1), 53 random bits
  double normal();                  // N(0, 1), Box-Muller
  uint64_t below(uint64_t bound);   // uniform in [0, bound), unbiased
  bool bernoulli(double p) { return uniform() < p; }

  // Everything the generator remembers (xoshiro words, the spare normal's bits, whether it is
  // pending), so a checkpoint can continue the exact stream: set_state(state()) changes nothing.
  using State = std::array<uint64_t, 6>;
  State state() const;
  void set_state(const State& state);

 private:
  void seed_(uint64_t seed);
  uint64_t s_[4];
  double spare_normal_ = 0;
  bool has_spare_ = false;
};

// The generator used when a random function is given none.
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace minigrad
