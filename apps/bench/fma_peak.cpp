#include "fma_peak.h"

#include <minigrad/kernels/float_env.h>
#include <minigrad/kernels/gemm.h>

#include <fmt/format.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string_view>

namespace bench {

// Independent FMA chains, enough to cover latency x pipes on current x86 cores. Written in asm:
// from an array of accumulators GCC keeps them on the stack or interchanges the loops into one
// latency-bound chain. Operands are zero, so no denormal slow paths. Returns the flops done.
#if defined(__x86_64__)
__attribute__((target("avx512f"))) void fma_loop_avx512(int64_t iters) {
  asm volatile(
      ".irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,30,31\n\t"
      "vpxord %%zmm\\r, %%zmm\\r, %%zmm\\r\n\t"
      ".endr\n\t"
      "1:\n\t"
      ".irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23\n\t"
      "vfmadd231ps %%zmm30, %%zmm31, %%zmm\\r\n\t"
      ".endr\n\t"
      "dec %0\n\t"
      "jnz 1b\n\t"
      : "+r"(iters)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
        "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm30",
        "xmm31", "cc");
}
__attribute__((target("avx2,fma"))) void fma_loop_avx2(int64_t iters) {
  asm volatile(
      ".irp r,0,1,2,3,4,5,6,7,8,9,10,11,14,15\n\t"
      "vxorps %%ymm\\r, %%ymm\\r, %%ymm\\r\n\t"
      ".endr\n\t"
      "1:\n\t"
      ".irp r,0,1,2,3,4,5,6,7,8,9,10,11\n\t"
      "vfmadd231ps %%ymm14, %%ymm15, %%ymm\\r\n\t"
      ".endr\n\t"
      "dec %0\n\t"
      "jnz 1b\n\t"
      : "+r"(iters)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm14",
        "xmm15", "cc");
}
#endif

double fma_loop(int64_t iters) {
#if defined(__x86_64__)
  const std::string_view isa = minigrad::kernels::gemm_isa();
  if (isa == "avx512") {
    fma_loop_avx512(iters);
    return double(iters) * 24 * 16 * 2;
  }
  if (isa == "avx2") {
    fma_loop_avx2(iters);
    return double(iters) * 12 * 8 * 2;
  }
#endif
  float acc[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  for (int64_t it = 0; it < iters; ++it)
    for (float& a : acc) a = a * 0.999999f + 1e-7f;
  volatile float sink = acc[0] + acc[7];  // keeps the loop
  (void)sink;
  return double(iters) * 8 * 2;
}

// Single-thread FP32 FMA peak in flop/s, best of a few short runs, measured once.
double fma_peak() {
  static const double peak = [] {
    double best = 0;
    for (int rep = 0; rep < 5; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      const double flops = fma_loop(2'000'000);
      const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
      best = std::max(best, flops / dt.count());
    }
    return best;
  }();
  return peak;
}

namespace {

struct CpuInfo {
  std::string brand = "unknown CPU";
  unsigned family = 0, model = 0, l2_kb = 0;
};

CpuInfo cpu_info() {
  CpuInfo info;
#if defined(__x86_64__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(1, &a, &b, &c, &d)) {
    const unsigned base_family = (a >> 8) & 0xf;
    info.family = base_family + (base_family == 0xf ? (a >> 20) & 0xff : 0);
    info.model = ((a >> 4) & 0xf) | (base_family >= 0x6 ? ((a >> 16) & 0xf) << 4 : 0);
  }
  if (__get_cpuid(0x80000000, &a, &b, &c, &d) && a >= 0x80000004) {
    unsigned words[12];
    for (unsigned i = 0; i < 3; ++i)
      __get_cpuid(0x80000002 + i, &words[4 * i], &words[4 * i + 1], &words[4 * i + 2], &words[4 * i + 3]);
    char brand[sizeof words + 1] = {};
    std::memcpy(brand, words, sizeof words);
    std::string_view text(brand);
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    if (!text.empty()) info.brand = std::string(text);
    if (a >= 0x80000006 && __get_cpuid(0x80000006, &a, &b, &c, &d)) info.l2_kb = c >> 16;
  }
#endif
  return info;
}

}  // namespace

std::string machine_description() {
  const CpuInfo cpu = cpu_info();
  return fmt::format(
      "{} (family {:#x} model {:#x}), {} kernels, FMA peak {:.1f} GFLOP/s per core, L2 {} KB, "
      "denormals {}",
      cpu.brand, cpu.family, cpu.model, minigrad::kernels::gemm_isa(), fma_peak() / 1e9, cpu.l2_kb,
      minigrad::kernels::flush_denormal() ? "flushed (float32)" : "kept");
}

}  // namespace bench
