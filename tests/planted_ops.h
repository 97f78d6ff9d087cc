#pragma once
// An op with a deliberately wrong backward, planted by the tests that check that gradient checking
// fails on it and names it: as an op, inside a module, through the command line.
#include <string>

#include <minigrad/minigrad.h>

namespace planted {

// x^2 whose backward forgets the factor 2: it returns g * x where the derivative is 2 g x.
inline minigrad::Tensor wrong_square(const minigrad::Tensor& x) {
  minigrad::Tensor out;
  {
    minigrad::NoGradGuard no_grad;
    out = x * x;
  }
  return minigrad::record_op("wrong_square", out, {x},
                             [x](const minigrad::Tensor& g) { return minigrad::TensorList{g * x}; });
}

struct WrongSquare : minigrad::nn::ShapePreserving {
  minigrad::Tensor forward(const minigrad::Tensor& x) override { return wrong_square(x); }
  std::string kind() const override { return "WrongSquare"; }
};

}  // namespace planted
