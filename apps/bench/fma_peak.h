#pragma once
// This machine's FP32 FMA peak, measured by the benchmark programs themselves so that every
// GFLOP/s they print can be shown as a fraction of it.
#include <cstdint>

namespace bench {

// Runs `iters` rounds of independent FMAs on the vectors of the GEMM kernels in use
// (kernels::gemm_isa(), which MINIGRAD_GEMM_ISA caps), so a peak fraction compares those kernels
// with their own ISA's peak; returns the flops.
double fma_loop(int64_t iters);
// Single-thread FP32 FMA peak in flop/s: best of a few short runs, measured once per process.
double fma_peak();

}  // namespace bench
