#include <minigrad/nn/activation.h>

namespace minigrad::nn {

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

}  // namespace minigrad::nn
