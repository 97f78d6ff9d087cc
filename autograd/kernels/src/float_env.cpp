#include <minigrad/kernels/float_env.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace minigrad::kernels {
namespace {

#if defined(__SSE__)
constexpr uint32_t kFtz = 0x8000;  // MXCSR bit 15
constexpr uint32_t kDaz = 0x0040;  // MXCSR bit 6
constexpr bool kSupported = true;
#else
constexpr uint32_t kFtz = 0;
constexpr uint32_t kDaz = 0;
constexpr bool kSupported = false;
#endif
constexpr uint32_t kBits = kFtz | kDaz;

bool policy_from_environment() {
  const char* env = std::getenv("MINIGRAD_FLUSH_DENORMAL");
  return kSupported && !(env && std::strcmp(env, "0") == 0);
}

std::atomic<bool>& policy() {
  static std::atomic<bool> flush{policy_from_environment()};
  return flush;
}

}  // namespace

bool set_flush_denormal(bool flush) {
  policy().store(kSupported && flush);
  return kSupported;
}

bool flush_denormal() { return policy().load(std::memory_order_relaxed); }

uint32_t denormal_bits() {
#if defined(__SSE__)
  return _mm_getcsr() & kBits;
#else
  return 0;
#endif
}

void set_denormal_bits(uint32_t bits) {
#if defined(__SSE__)
  const uint32_t csr = _mm_getcsr();
  const uint32_t wanted = (csr & ~kBits) | (bits & kBits);
  if (wanted != csr) _mm_setcsr(wanted);  // a write costs more than the read
#else
  (void)bits;
#endif
}

DenormalScope::DenormalScope(bool flush) : saved_(denormal_bits()) { set_denormal_bits(flush ? kBits : 0); }

}  // namespace minigrad::kernels
