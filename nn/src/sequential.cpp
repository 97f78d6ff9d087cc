#include <minigrad/nn/activation.h>
#include <minigrad/nn/linear.h>
#include <minigrad/nn/sequential.h>

#include <typeinfo>

namespace minigrad::nn {

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  const auto& children = named_children();
  for (std::size_t i = 0; i < children.size(); ++i) {
    Module& module = *children[i].second;
    // Linear then ReLU runs as one fused op: one pass less over the activations each way.
    const Module* next = i + 1 < children.size() ? children[i + 1].second.get() : nullptr;
    if (next && typeid(module) == typeid(Linear) && typeid(*next) == typeid(ReLU)) {
      x = module.call([&] { return static_cast<Linear&>(module).forward(x, Activation::ReLU); });
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
    child->summary_rows(rows, name.empty() ? child_name : name + "." + child_name, depth + 1,
                        shape);
    shape = child->output_shape(shape);
  }
}

}  // namespace minigrad::nn
