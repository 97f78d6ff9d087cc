#pragma once
// Classification metrics: confusion matrix, accuracy with its standard error, per-class
// precision / recall / F1, and their text tables.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fashion {

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int classes) : classes_(classes), counts_(classes * classes, 0) {}

  void add(int64_t truth, int64_t predicted) { counts_[truth * classes_ + predicted]++; }
  int64_t at(int truth, int predicted) const { return counts_[truth * classes_ + predicted]; }
  int classes() const { return classes_; }
  int64_t total() const;

  double accuracy() const;
  // Binomial standard error of the accuracy: sqrt(p (1 - p) / n).
  double accuracy_stderr() const;
  double precision(int c) const;
  double recall(int c) const;
  double f1(int c) const;

  // "90.12% +- 0.30%"
  std::string accuracy_text() const;
  std::string per_class_table(const std::vector<std::string_view>& names) const;
  std::string matrix_table(const std::vector<std::string_view>& names) const;

 private:
  int classes_;
  std::vector<int64_t> counts_;
};

}  // namespace fashion
