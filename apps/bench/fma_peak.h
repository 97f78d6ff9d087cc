#pragma once
// This machine's FP32 FMA peak, measured by the benchmark programs themselves so that every
// GFLOP/s they print can be shown as a fraction of it.
#include <cstdint>

namespace bench {

// "avx512", "avx2" or "scalar": the widest FMA vectors the CPU has, capped by
// MINIGRAD_GEMM_ISA=avx2|scalar as the GEMM's dispatch is, so that a peak fraction compares the
// kernels that ran with their own ISA's peak.
const char* fma_isa();
// Runs `iters` rounds of independent FMAs on fma_isa()'s vectors; returns the flops.
double fma_loop(int64_t iters);
// Single-thread FP32 FMA peak in flop/s: best of a few short runs, measured once per process.
double fma_peak();

}  // namespace bench
