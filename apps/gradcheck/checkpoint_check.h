#pragma once
// `gradcheck --checkpoint FILE` for fashion_mlp's checkpoints: the trained model at real inputs.
#include "checks.h"

namespace minigrad::gradcheck_tool {

// Loads the checkpoint with fashion_mlp's own loader (config, model, normalization) and checks the
// training loss (cross-entropy with the run's label smoothing) on the first --batch test images,
// normalized as in training; --data overrides the data folder stored in the checkpoint's config.
CheckpointEntry fashion_checkpoint();

}  // namespace minigrad::gradcheck_tool
