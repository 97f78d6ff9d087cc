#pragma once
// Denormal (subnormal) floats in the SSE/AVX unit: flush-to-zero (FTZ) for results and
// denormals-are-zero (DAZ) for operands. Intel cores take a microcode assist on every denormal
// operand, so a float32 training run whose small values (Adam moments, tiny gradients) drift into
// the denormal range slows down epoch after epoch. minigrad therefore runs its float32 work with
// both bits set, and its float64 work (gradient checks) with both clear: the policy belongs to the
// work, never to the caller's own code outside minigrad's ops.
//
// The bits are a per-thread state. A DenormalScope sets them on the calling thread for the length
// of one op; the thread pool hands the caller's bits to the workers with every job, so a chunk
// computes the same bits whichever thread runs it (results stay thread-count independent).
#include <cstdint>

namespace minigrad::kernels {

// The policy for float32 work: on unless $MINIGRAD_FLUSH_DENORMAL is 0. Returns false (and leaves
// the policy off) where the CPU has no such bits.
bool set_flush_denormal(bool flush);
bool flush_denormal();

// The FTZ|DAZ bits of the calling thread's control register (0 where there is none).
uint32_t denormal_bits();
void set_denormal_bits(uint32_t bits);

// Sets the calling thread's bits for one op's work and restores the previous ones on exit.
class DenormalScope {
 public:
  explicit DenormalScope(bool flush);
  ~DenormalScope() { set_denormal_bits(saved_); }
  DenormalScope(const DenormalScope&) = delete;
  DenormalScope& operator=(const DenormalScope&) = delete;

 private:
  uint32_t saved_;
};

// The scope float32 work (flush per policy) or float64 work (never flush) runs in.
template <typename T>
DenormalScope denormal_scope_for() {
  return DenormalScope(sizeof(T) == sizeof(float) && flush_denormal());
}

}  // namespace minigrad::kernels
