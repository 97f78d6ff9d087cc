#pragma once
// Numerical gradient checking: compares the analytic Jacobian (from backward) with central
// differences, element by element, the way torch.autograd.gradcheck does; gradgradcheck does the
// same for the gradients themselves (second order, through backward(create_graph=true)).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <minigrad/tensor.h>

namespace minigrad {

struct GradcheckOptions {
  double eps = 1e-6;   // finite-difference step
  double atol = 1e-5;  // pass when |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-3;
  // Check only this many elements of each input, drawn at random with `seed` (0 = every element).
  int64_t samples = 0;
  uint64_t seed = 0;
  // One random projection u^T J v per input instead of the whole Jacobian (PyTorch's fast mode);
  // when it fails, the full check runs and decides.
  bool fast = false;
  // Where the one-sided differences disagree the function has a kink inside [x - eps, x + eps];
  // there an analytic value between them (and, when kink_values is not empty, equal to one of
  // them) is accepted and counted as a kink instead of failing.
  std::vector<double> kink_values{};
  int worst = 5;                     // how many of the worst entries the report keeps
  std::vector<std::string> names{};  // input names for the report ("input 0", ... when empty)
};

// One compared Jacobian entry (or, in fast mode, one projection).
struct GradcheckEntry {
  int input = -1;
  std::string name{};         // of the input
  Shape index{};              // multi-index into that input
  int64_t output_index = -1;  // flat index into the output
  double analytic = 0, numeric = 0, abs_error = 0, rel_error = 0;
  double excess = 0;           // abs_error minus the tolerance: > 0 fails
  bool kink = false;           // accepted at a kink: numeric is meaningless, left/right bound it
  double left = 0, right = 0;  // one-sided differences, set at a kink (accepted or not)
};

struct GradcheckReport {
  bool passed = true;
  int64_t checked = 0;                          // Jacobian entries compared
  int64_t kinks = 0;                            // entries accepted at a kink
  double max_abs_error = 0, max_rel_error = 0;  // over the entries not at a kink
  std::vector<GradcheckEntry> worst{};          // largest excess first (kinks not included)
  std::vector<GradcheckEntry> kink_entries{};   // the first few entries accepted at a kink
  bool fast = false;                            // fast mode ran
  bool fast_passed = true;                      // its projection agreed (when false, the full check decided)
  // The worst entry (largest excess over the tolerance), whether it passed or not.
  int input = -1;             // which input
  Shape index;                // multi-index into that input
  int64_t output_index = -1;  // flat index into the output
  double analytic = 0, numeric = 0, abs_error = 0, rel_error = 0;
  std::string message;  // one paragraph a person can read

  explicit operator bool() const { return passed; }
};

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks d fn(inputs) / d inputs for every input that requires grad. Inputs must be float64
// (float32 differences are too coarse to trust and are refused). The output may have any shape;
// each of its elements contributes one row of the Jacobian.
GradcheckReport gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

// The same check for a function that reads its leaves itself, such as a module and its
// parameters: the leaves (float64, requiring grad) are perturbed in place and restored, and
// their .grad is restored afterwards.
GradcheckReport gradcheck_leaves(const std::function<Tensor()>& fn, const std::vector<Tensor>& leaves,
                                 const GradcheckOptions& options = {});

// Second order: checks the gradients of sum(fn(inputs) * v), built with create_graph, against
// central differences, with respect to the inputs and to v (random, seeded by options.seed).
// Every op on the path must have a backward written with differentiable ops.
GradcheckReport gradgradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options = {});

}  // namespace minigrad
