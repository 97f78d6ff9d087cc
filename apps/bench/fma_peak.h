#pragma once
// This machine's FP32 FMA peak, measured by the benchmark programs themselves so that every
// GFLOP/s they print can be shown as a fraction of it.
#include <cstdint>
#include <string>

namespace bench {

// Runs `iters` rounds of independent FMAs on the vectors of the GEMM kernels in use
// (kernels::gemm_isa(), which MINIGRAD_GEMM_ISA caps), so a peak fraction compares those kernels
// with their own ISA's peak; returns the flops.
double fma_loop(int64_t iters);
// Single-thread FP32 FMA peak in flop/s: best of a few short runs, measured once per process.
double fma_peak();

// One line naming the machine a table was measured on: CPU model (brand, family, model), the GEMM
// kernels' ISA, the measured 1-thread peak, the L2 size per core, and whether float32 work flushes
// denormals. Every benchmark prints it beside its numbers.
std::string machine_description();

}  // namespace bench
