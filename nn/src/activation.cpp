#include <minigrad/nn/activation.h>

#include <functional>
#include <numeric>

namespace minigrad::nn {

namespace {

struct NamedActivation {
  std::string_view name;
  std::shared_ptr<Module> (*make)();
};

constexpr NamedActivation kActivations[] = {
    {"relu", []() -> std::shared_ptr<Module> { return std::make_shared<ReLU>(); }},
    {"leaky_relu", []() -> std::shared_ptr<Module> { return std::make_shared<LeakyReLU>(0.01); }},
    {"tanh", []() -> std::shared_ptr<Module> { return std::make_shared<Tanh>(); }},
    {"sigmoid", []() -> std::shared_ptr<Module> { return std::make_shared<Sigmoid>(); }},
    {"gelu", []() -> std::shared_ptr<Module> { return std::make_shared<GELU>(); }},
};

}  // namespace

std::vector<std::string_view> activation_names() {
  std::vector<std::string_view> names;
  for (const NamedActivation& a : kActivations) names.push_back(a.name);
  return names;
}

std::shared_ptr<Module> make_activation(std::string_view name) {
  for (const NamedActivation& a : kActivations)
    if (a.name == name) return a.make();
  return nullptr;
}

std::string LeakyReLU::kind() const { return fmt::format("LeakyReLU {}", negative_slope); }
std::string Softmax::kind() const { return fmt::format("Softmax axis={}", axis); }
std::string LogSoftmax::kind() const { return fmt::format("LogSoftmax axis={}", axis); }
std::string Flatten::kind() const { return fmt::format("Flatten {}..{}", start_axis, end_axis); }

std::optional<Shape> Flatten::output_shape(const std::optional<Shape>& input) const {
  if (!input) return std::nullopt;
  const auto rank = static_cast<int64_t>(input->size());
  const int64_t start = start_axis < 0 ? start_axis + rank : start_axis;
  const int64_t end = end_axis < 0 ? end_axis + rank : end_axis;
  if (start < 0 || end >= rank || start > end) return std::nullopt;
  Shape out(input->begin(), input->begin() + start);
  int64_t merged = 1;
  bool batch = false;  // an unknown (-1) axis makes the merged axis unknown too
  for (int64_t d = start; d <= end; ++d) {
    batch |= (*input)[d] < 0;
    merged *= (*input)[d];
  }
  out.push_back(batch ? -1 : merged);
  out.insert(out.end(), input->begin() + end + 1, input->end());
  return out;
}

namespace {

// input with axis `axis` replaced by `sizes`; nullopt when the axis is out of range.
std::optional<Shape> unflattened(const Shape& input, int64_t axis, const Shape& sizes) {
  const auto rank = static_cast<int64_t>(input.size());
  const int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) return std::nullopt;
  Shape out(input.begin(), input.begin() + a);
  out.insert(out.end(), sizes.begin(), sizes.end());
  out.insert(out.end(), input.begin() + a + 1, input.end());
  return out;
}

}  // namespace

Tensor Unflatten::forward(const Tensor& x) {
  const std::optional<Shape> shape = unflattened(x.shape(), axis, sizes);
  const int64_t count = std::accumulate(sizes.begin(), sizes.end(), int64_t{1}, std::multiplies<>());
  if (!shape || x.size(axis) != count)
    throw Error(
        fmt::format("Unflatten: cannot split axis {} of {} into {}", axis, shape_str(x.shape()), shape_str(sizes)));
  return x.reshape(*shape);
}

std::string Unflatten::kind() const { return fmt::format("Unflatten {} -> {}", axis, shape_str(sizes)); }

std::optional<Shape> Unflatten::output_shape(const std::optional<Shape>& input) const {
  return input ? unflattened(*input, axis, sizes) : std::nullopt;
}

}  // namespace minigrad::nn
