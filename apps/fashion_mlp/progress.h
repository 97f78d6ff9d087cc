#pragma once
// A one-line progress bar on stderr: bar, count, rate, ETA and a caller-supplied status (running
// loss). Redrawn at most every 100 ms; drawn only when stderr is a terminal, so logs stay clean.
#include <chrono>
#include <cstdint>
#include <string>

namespace fashion {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, std::string unit);
  void update(int64_t done, const std::string& status);
  void finish();  // clears the line

 private:
  void draw(int64_t done, const std::string& status);

  std::string label_, unit_;
  int64_t total_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace fashion
