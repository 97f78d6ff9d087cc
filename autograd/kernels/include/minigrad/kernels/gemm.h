#pragma once
// General matrix multiply over raw row-major buffers.
//
//   C[M x N] = alpha * op(A) * op(B) + beta * C
//
// op(A) is A (stored M x K, leading dimension lda) or, when trans_a, A^T with A stored K x M.
// op(B) is B (stored K x N, leading dimension ldb) or, when trans_b, B^T with B stored N x K.
// Transposed operands are handled by the packing routines, never by copying the matrix.
// When beta == 0, C is not read (it may hold NaN). Results do not depend on the thread count.
//
// An epilogue is applied as C is stored, instead of in passes over C of its own (nn::Linear's
// bias and ReLU): C = alpha * op(A) * op(B) + beta * C + bias[j], then max(C, 0) when relu
// (NaN becomes 0, as `c > 0 ? c : 0` does).
#include <cstdint>

namespace minigrad::kernels {

template <typename T>
struct GemmEpilogue {
  const T* bias = nullptr;  // N values, one per column of C; nullptr: none
  bool relu = false;

  // The epilogue of element c in column j, one at a time (the vector kernels do the same).
  T apply(T c, int64_t j) const {
    if (bias) c += bias[j];
    return relu && !(c > T(0)) ? T(0) : c;
  }
};

// Below this many flops (about 5 us on one core) a parallel region costs more than it saves: a
// GEMM this small runs on one thread. It is also the least work worth a task of its own, which
// is how batched products size theirs. Low enough that the training calls with N = 10 or
// M = 10 (the last layer's) still use two threads.
inline constexpr double kGemmMinTaskFlops = 1 << 19;

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc, GemmEpilogue<float> epilogue = {});
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc, GemmEpilogue<double> epilogue = {});

// "avx512", "avx2" or "scalar": the kernels gemm runs, the widest this CPU supports, capped by
// the environment variable MINIGRAD_GEMM_ISA=avx2|scalar (tests and benchmarks of the fallbacks).
const char* gemm_isa();

// Plain triple loop, the oracle the fast kernels are tested against.
template <typename T>
void gemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                    const T* B, int64_t ldb, T beta, T* C, int64_t ldc, GemmEpilogue<T> epilogue = {}) {
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      T acc = 0;
      for (int64_t k = 0; k < K; ++k) {
        const T a = trans_a ? A[k * lda + i] : A[i * lda + k];
        const T b = trans_b ? B[j * ldb + k] : B[k * ldb + j];
        acc += a * b;
      }
      T& c = C[i * ldc + j];
      c = epilogue.apply(alpha * acc + (beta == T(0) ? T(0) : beta * c), j);
    }
  }
}

}  // namespace minigrad::kernels
