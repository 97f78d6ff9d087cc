#pragma once
// Resumable runs: everything that decides the rest of a run, saved between two steps to
// RUN_DIR/resume.ckpt, so that a run interrupted and resumed ends bit for bit where an
// uninterrupted run with the same seed ends.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <minigrad/nn/nn.h>
#include <minigrad/optim/optim.h>

#include "config.h"
#include "train.h"

namespace fashion {

// The run's own counters. The model, the optimizer and the random generators are saved beside
// it; the data loader needs only (seed, epoch, batch): its order is a pure function of them, and
// so is the learning rate of an epoch.
struct TrainingState {
  // The next step is batch `batch` (0-based) of epoch `epoch` (0-based).
  int64_t epoch = 0, batch = 0;
  // The epoch in progress.
  double loss_sum = 0;
  int64_t correct = 0, seen = 0, skipped = 0;
  double epoch_seconds = 0;
  // The run so far.
  std::vector<EpochRecord> history;
  int64_t skipped_steps = 0;
  double best_monitored = INFINITY;  // lower is better (accuracy is negated)
  int64_t best_epoch = 0, epochs_without_improvement = 0;
  minigrad::StateDict best_state;  // with restore_best: the weights of best_epoch
  double seconds = 0;              // training time before this session

  // Clears the per-epoch counters and moves to batch 0 of the next epoch.
  void start_next_epoch();
};

// Calls visit(name, field) for each scalar of TrainingState, so saving and loading share one list.
template <typename State, typename Visit>
void for_each_scalar(State& s, Visit&& visit) {
  visit("epoch", s.epoch);
  visit("batch", s.batch);
  visit("loss_sum", s.loss_sum);
  visit("correct", s.correct);
  visit("seen", s.seen);
  visit("skipped", s.skipped);
  visit("epoch_seconds", s.epoch_seconds);
  visit("skipped_steps", s.skipped_steps);
  visit("best_monitored", s.best_monitored);
  visit("best_epoch", s.best_epoch);
  visit("epochs_without_improvement", s.epochs_without_improvement);
  visit("seconds", s.seconds);
}

std::string resume_path(const std::string& run_dir);  // RUN_DIR/resume.ckpt

// Writes (atomically) the state, the model, the optimizer, the dropout layers' generators, the
// default generator, the config, the splits' fingerprint and the number of processes training.
void save_training_state(const std::string& path, const TrainingState& state, const TrainConfig& config,
                         const Splits& splits, const minigrad::nn::Module& model,
                         const minigrad::optim::Optimizer& optimizer, int processes = 1);

// True when run_dir holds a resume point; false when it holds a run stopped before its first one
// (its config.toml, no resume.ckpt, no model.ckpt), which resuming starts again from the
// beginning. Throws, naming the directory, when there is nothing to resume.
bool has_resume_point(const std::string& run_dir);

// The config a resumable run was started with (from its resume point, else its config.toml).
// Throws, naming the directory, when it holds nothing to resume.
TrainConfig resumable_config(const std::string& run_dir);

// Throws when `requested` differs from the run's config in a field other than kRunOnlyFields,
// naming each such field with both values.
void check_resumable(const TrainConfig& run, const TrainConfig& requested, const std::string& run_dir);

// Restores model, optimizer and generators from `path` and returns the counters. The config and
// the splits must be those of the saved run (checked, with an error naming what differs). Another
// number of processes may continue the run (the global batches and masks are the same, results
// differ by float rounding), unless the model has buffers (batch-norm statistics), which come from
// each process's share of a batch.
TrainingState load_training_state(const std::string& path, const TrainConfig& config, const Splits& splits,
                                  minigrad::nn::Module& model, minigrad::optim::Optimizer& optimizer,
                                  int processes = 1);

}  // namespace fashion
