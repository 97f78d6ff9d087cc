#pragma once
// `gradcheck --checkpoint FILE`: a trained fashion_mlp model checked at real inputs.
#include <string>

#include "checks.h"

namespace gradcheck_tool {

struct CheckpointCheck {
  CheckResult result;
  std::string warning;  // the float32 -> float64 promotion, when it happened
};

// Loads the checkpoint with fashion_mlp's own loader (config, model, normalization), promotes
// float32 parameters to float64, and checks the training loss (cross-entropy with the run's label
// smoothing, eval mode: no dropout) on the first `batch` test images, normalized as in training.
// `data_dir` overrides the data folder stored in the checkpoint's config.
CheckpointCheck check_checkpoint(const std::string& path, const std::string& data_dir, int64_t batch,
                                 const RunOptions& run);

}  // namespace gradcheck_tool
