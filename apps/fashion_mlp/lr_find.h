#pragma once
// The learning-rate range test: one step per batch with lr rising geometrically from `start` to
// `end`, recording the (smoothed) loss; it stops once the loss explodes.
#include <cstdint>
#include <vector>

#include "config.h"
#include "train.h"

namespace fashion {

struct LrFindPoint {
  double lr, loss, smoothed;
};
// Throws unless 0 < start < end and steps > 1 (checked before any data is loaded).
void check_lr_find_range(double start, double end, int64_t steps);
std::vector<LrFindPoint> lr_find(const TrainConfig& config, const Splits& splits, double start, double end,
                                 int64_t steps);
// The lr a tenth of the way back from the smoothed minimum, a common robust pick.
double suggest_lr(const std::vector<LrFindPoint>& points);

// `fashion_mlp lr-find`: the test on the config's data, a table on stdout and OUT/lr_find.csv.
void run_lr_find(const TrainConfig& config, double start, double end, int64_t steps);

}  // namespace fashion
