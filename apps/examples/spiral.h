#pragma once
// The three-arm spiral of CS231n: a small 2-D data set no linear model separates.
#include <minigrad/minigrad.h>

#include <cmath>
#include <utility>
#include <vector>

namespace spiral {

// {points [classes * per_class, 2] float32, labels [classes * per_class] int64}. Arm k sweeps
// angles [4k, 4k + 4) while its radius grows from 0 to 1; `noise` jitters the angle.
inline std::pair<minigrad::Tensor, minigrad::Tensor> make(int64_t per_class, int64_t classes, double noise,
                                                          minigrad::Generator& gen) {
  std::vector<float> xy;
  std::vector<int64_t> labels;
  for (int64_t k = 0; k < classes; ++k)
    for (int64_t i = 0; i < per_class; ++i) {
      const double r = static_cast<double>(i) / static_cast<double>(per_class - 1);
      const double angle = 4.0 * (static_cast<double>(k) + r) + noise * gen.normal();
      xy.push_back(static_cast<float>(r * std::sin(angle)));
      xy.push_back(static_cast<float>(r * std::cos(angle)));
      labels.push_back(k);
    }
  const int64_t n = per_class * classes;
  return {minigrad::tensor(xy, {n, 2}), minigrad::tensor(labels, {n})};
}

// Fraction of rows whose largest logit is the label.
inline double accuracy(const minigrad::Tensor& logits, const minigrad::Tensor& labels) {
  const auto predicted = logits.argmax(1).to_vector<int64_t>();
  const auto truth = labels.to_vector<int64_t>();
  int64_t right = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) right += predicted[i] == truth[i];
  return static_cast<double>(right) / static_cast<double>(truth.size());
}

}  // namespace spiral
