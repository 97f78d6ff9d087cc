#pragma once
// Option checks shared by the optimizers; errors name the optimizer, the option and its value.
#include <cmath>
#include <string_view>

#include <minigrad/tensor.h>

namespace minigrad::optim::detail {

// `!(v >= lo)` rather than `v < lo` so NaN is refused too.
inline void check_at_least(std::string_view optimizer, std::string_view option, double value, double lo = 0.0) {
  if (!(value >= lo) || std::isinf(value))
    throw Error(fmt::format("{}: {} must be finite and >= {}, got {}", optimizer, option, lo, value));
}

inline void check_unit_interval(std::string_view optimizer, std::string_view option, double value) {
  if (!(value >= 0.0 && value < 1.0))
    throw Error(fmt::format("{}: {} must be in [0, 1), got {}", optimizer, option, value));
}

}  // namespace minigrad::optim::detail
