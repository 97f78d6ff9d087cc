#include "metrics.h"

#include <cmath>
#include <numeric>

#include <fmt/format.h>

namespace fashion {

int64_t ConfusionMatrix::total() const { return std::accumulate(counts_.begin(), counts_.end(), int64_t{0}); }

double ConfusionMatrix::accuracy() const {
  int64_t correct = 0;
  for (int c = 0; c < classes_; ++c) correct += at(c, c);
  return total() ? static_cast<double>(correct) / total() : 0.0;
}

double ConfusionMatrix::accuracy_stderr() const {
  const double p = accuracy();
  return total() ? std::sqrt(p * (1 - p) / total()) : 0.0;
}

double ConfusionMatrix::precision(int c) const {
  int64_t predicted = 0;
  for (int t = 0; t < classes_; ++t) predicted += at(t, c);
  return predicted ? static_cast<double>(at(c, c)) / predicted : 0.0;
}

double ConfusionMatrix::recall(int c) const {
  int64_t actual = 0;
  for (int p = 0; p < classes_; ++p) actual += at(c, p);
  return actual ? static_cast<double>(at(c, c)) / actual : 0.0;
}

double ConfusionMatrix::f1(int c) const {
  const double p = precision(c), r = recall(c);
  return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

std::string ConfusionMatrix::accuracy_text() const {
  return fmt::format("{:.2f}% +- {:.2f}%", 100 * accuracy(), 100 * accuracy_stderr());
}

std::string ConfusionMatrix::per_class_table(const std::vector<std::string_view>& names) const {
  std::string out = fmt::format("{:<12} {:>9} {:>9} {:>9} {:>8}\n", "class", "precision", "recall", "f1", "support");
  for (int c = 0; c < classes_; ++c) {
    int64_t support = 0;
    for (int p = 0; p < classes_; ++p) support += at(c, p);
    out += fmt::format("{:<12} {:>9.4f} {:>9.4f} {:>9.4f} {:>8}\n", names[c], precision(c), recall(c), f1(c), support);
  }
  return out;
}

std::string ConfusionMatrix::matrix_table(const std::vector<std::string_view>& names) const {
  // Rows are true classes, columns predictions (by index, named in the row labels).
  std::string out = fmt::format("{:<12}", "true \\ pred");
  for (int c = 0; c < classes_; ++c) out += fmt::format(" {:>5}", c);
  out += "\n";
  for (int t = 0; t < classes_; ++t) {
    out += fmt::format("{:<12}", fmt::format("{} {}", t, names[t].substr(0, 10)));
    for (int p = 0; p < classes_; ++p) out += fmt::format(" {:>5}", at(t, p));
    out += "\n";
  }
  return out;
}

}  // namespace fashion
