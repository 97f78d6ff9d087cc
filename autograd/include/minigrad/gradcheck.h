#pragma once
// Numerical gradient checking: compares the analytic Jacobian (from backward) with central
// differences, element by element, the way torch.autograd.gradcheck does.
#include <functional>
#include <string>
#include <vector>

#include <minigrad/tensor.h>

namespace minigrad {

struct GradcheckOptions {
  double eps = 1e-6;   // finite-difference step
  double atol = 1e-5;  // pass when |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-3;
};

struct GradcheckReport {
  bool passed = true;
  int64_t checked = 0;  // Jacobian entries compared
  // The worst entry (largest excess over the tolerance), whether it passed or not.
  int input = -1;              // which input
  Shape index;                 // multi-index into that input
  int64_t output_index = -1;   // flat index into the output
  double analytic = 0, numeric = 0, abs_error = 0, rel_error = 0;
  std::string message;         // one paragraph a person can read

  explicit operator bool() const { return passed; }
};

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks d fn(inputs) / d inputs for every input that requires grad. Inputs must be float64
// (float32 differences are too coarse to trust and are refused). The output may have any shape;
// each of its elements contributes one row of the Jacobian.
GradcheckReport gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace minigrad
