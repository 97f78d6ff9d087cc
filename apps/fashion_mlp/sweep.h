#pragma once
// `fashion_mlp sweep`: a grid or random search over config settings.
#include <cstdint>
#include <string>
#include <vector>

#include "config.h"

namespace fashion {

// Trains `base` with each combination of the --grid values (name=value1,value2,...), or with
// `samples` of them drawn at random when samples > 0, and writes the runs ranked by validation
// accuracy to OUT/sweep.csv and OUT/sweep.png.
void run_sweep(TrainConfig base, const std::vector<std::string>& grid, int64_t samples);

}  // namespace fashion
