#include <minigrad/nn/sequential.h>

namespace minigrad::nn {

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  const auto& children = named_children();
  for (std::size_t i = 0; i < children.size(); ++i) {
    Module& module = *children[i].second;
    Module* next = i + 1 < children.size() ? children[i + 1].second.get() : nullptr;
    if (next && module.fuses(*next)) {
      x = module.call([&] { return module.forward_fused(x, *next); });
      ++i;
      continue;
    }
    x = module(x);
  }
  return x;
}

std::string Sequential::kind() const { return "Sequential"; }

std::optional<Shape> Sequential::output_shape(const std::optional<Shape>& input) const {
  std::optional<Shape> shape = input;
  for (const auto& [_, module] : named_children()) shape = module->output_shape(shape);
  return shape;
}

void Sequential::summary_rows(std::vector<SummaryRow>& rows, const std::string& name, int depth,
                              const std::optional<Shape>& input) const {
  rows.push_back({name, depth, kind(), output_shape(input), num_parameters()});
  std::optional<Shape> shape = input;
  for (const auto& [child_name, child] : named_children()) {
    child->summary_rows(rows, name.empty() ? child_name : name + "." + child_name, depth + 1, shape);
    shape = child->output_shape(shape);
  }
}

}  // namespace minigrad::nn
