#pragma once
// Gradient clipping, in place on the .grad of each parameter that has one (as torch.nn.utils).
#include <limits>
#include <vector>

#include <minigrad/tensor.h>

namespace minigrad::optim {

inline constexpr double kInfNorm = std::numeric_limits<double>::infinity();

// Scales every gradient by max_norm / (total + 1e-6) when the total norm (of all gradients taken
// together as one vector) exceeds max_norm. norm_type is p > 0 or kInfNorm. Returns the total norm
// from before clipping.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);

// Clamps every gradient element into [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace minigrad::optim
