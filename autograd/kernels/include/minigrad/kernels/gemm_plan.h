#pragma once
// How gemm blocks one call and splits it into tasks: a pure function of the call's shape, the
// kernels' tile and block sizes and the thread count, so it can be tested alone and printed
// (MINIGRAD_GEMM_PLAN=1 prints the plan of each new shape to stderr).
#include <cstdint>
#include <string>

namespace minigrad::kernels {

// The sizes of one ISA's kernels for one element type.
struct GemmBlocking {
  int mr = 0, nr = 0;  // micro-tile rows and columns
  int64_t kc = 0;      // depth of a packed block
  int64_t mc = 0;      // rows of a packed A block (L3)
  int64_t nc = 0;      // columns of a packed B block (L2)
  bool pack_a = true;  // the kernels want A panels packed (else read in place)
};

struct GemmShape {
  bool ta = false, tb = false;  // A, B stored transposed
  int64_t m = 0, n = 0, k = 0;
  int64_t elem_bytes = 4;
};

// One task's part of C, rows [m0, m1) and columns [n0, n1), and the blocks it walks them in;
// empty when the split leaves it nothing.
struct GemmTask {
  int64_t m0 = 0, m1 = 0, n0 = 0, n1 = 0;
  int64_t mc = 0, nc = 0;
  bool empty() const { return m1 <= m0 || n1 <= n0; }
};

struct GemmPlan {
  GemmShape shape;
  GemmBlocking blocking;
  // K in equal blocks of kc: it depends on K alone, which fixes the order every element of C is
  // summed in whatever the thread count.
  int64_t kc = 0;
  int threads = 1;                        // 1 for a call too small to split
  bool split_n = true;                    // tasks own columns of C (sharing A), else rows (sharing B)
  bool pack_a = false, pack_b = false;    // pack A panels, B panels (else read them in place)
  bool a_whole = false, b_whole = false;  // the shared operand packed once, whole, before the tasks
  int64_t tasks = 1;                      // claimed as threads go when more than threads

  GemmTask task(int64_t t) const;
};

// For M, N, K > 0.
GemmPlan plan_gemm(const GemmShape& shape, const GemmBlocking& blocking, int threads);
// One line: "gemm plan: 128x512x784 NN f32, 12x32 tiles, kc 392, 2 threads, 2 column tasks, ...".
std::string to_string(const GemmPlan& plan);

}  // namespace minigrad::kernels
