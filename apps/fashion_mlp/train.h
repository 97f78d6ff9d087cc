#pragma once
// Training, evaluation and checkpoints of the Fashion-MNIST MLP.
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <minigrad/data/data.h>
#include <minigrad/nn/nn.h>
#include <minigrad/optim/optim.h>

#include "cluster.h"
#include "config.h"
#include "metrics.h"
#include "run_dir.h"

namespace fashion {

namespace mg = minigrad;

// The three splits, normalized as the config says (statistics from the training split).
struct Splits {
  mg::data::Dataset train, val, test;
  mg::data::Standardization standardization{0.0, 1.0};
};
Splits load_splits(const TrainConfig& config);
// Whether load_splits gives a and b the same splits (the settings it reads are equal).
bool same_splits(const TrainConfig& a, const TrainConfig& b);
// Applies the config's normalization to images given in [0, 1] (used for predict's files).
void normalize(mg::data::Dataset& data, const TrainConfig& config, const mg::data::Standardization& s);

std::shared_ptr<mg::nn::Sequential> build_model(const TrainConfig& config);
// The optimizer the config names, with its hyperparameters.
std::unique_ptr<mg::optim::Optimizer> make_optimizer(const TrainConfig& config, std::vector<mg::Tensor> params);
// The training split's loader: shuffled by the config's seed; augmented as the config says when
// `augment`; this process's share of every batch (`shard`) when several train together.
mg::data::DataLoader make_train_loader(const TrainConfig& config, const mg::data::Dataset& train, bool augment,
                                       mg::data::LoaderOptions::Shard shard = {});

struct Evaluation {
  double loss = 0;
  ConfusionMatrix confusion{kClasses};
  mg::Tensor probabilities;  // [N, kClasses], float32
};
// Loss and predictions of `model` on `data`; with tta_flip, of the mean of the probabilities
// for each image and for its mirror image. With a cluster of several processes, each predicts a
// share of the batches and every process gets the whole result, as one process computes it.
Evaluation evaluate(mg::nn::Module& model, const mg::data::Dataset& data, bool tta_flip, Cluster* cluster = nullptr);

struct EpochRecord {
  int64_t epoch;
  double train_loss, train_accuracy, val_loss, val_accuracy, lr, seconds;
  int64_t skipped_steps = 0;  // steps dropped for a NaN or Inf (on_nan = skip)
};

struct TrainResult {
  std::vector<EpochRecord> history;
  int64_t best_epoch = 0;
  std::optional<Evaluation> test;  // absent when the run skips the test set (sweep)
  double seconds = 0;
  std::string run_dir;
  int64_t skipped_steps = 0;
  std::string non_finite;  // with on_nan = stop: what went bad, where ("" when nothing did)
  int interrupted_by = 0;  // the signal that stopped the run; its state is in resume.ckpt
  // A stop request that came after the last step, during the final evaluation and writes: the
  // run finished them, and its files are complete.
  int signal_after_training = 0;
};

struct TrainOptions {
  bool quiet = false;          // no per-epoch lines or progress bar (sweep)
  bool evaluate_test = true;   // report on the test set at the end
  bool write_files = true;     // checkpoint, metrics.csv, summary.json
  bool overfit_batch = false;  // train and validate on one batch: the loss must go to ~0
  bool resume = false;         // continue the run in config.out from its resume.ckpt
  // The run directory, opened (locked and checked) by the caller before loading the data; when
  // null, train opens config.out (a new runs/<timestamp> when empty) itself.
  const RunDirectory* run_directory = nullptr;
  // Set (to the signal number) by a signal handler: the run finishes its step, saves resume.ckpt
  // and returns with interrupted_by set.
  const std::atomic<int>* stop_signal = nullptr;
  // The processes training together (mpirun); null: this one alone. Rank 0 alone prints and
  // writes files; every rank reads a resume point.
  Cluster* cluster = nullptr;
  // Called after each backward pass, before the gradients are checked and applied; tests use it
  // to inject faults.
  std::function<void(int64_t epoch, int64_t batch, mg::nn::Module& model)> after_backward = {};
};

TrainResult train(const TrainConfig& config, const Splits& splits, const TrainOptions& options = {});

// A trained model with what is needed to feed it: the config and the normalization.
struct LoadedModel {
  TrainConfig config;
  mg::data::Standardization standardization;
  std::shared_ptr<mg::nn::Sequential> model;
};
void save_checkpoint(const std::string& path, const mg::nn::Sequential& model, const TrainConfig& config,
                     const mg::data::Standardization& standardization, const EpochRecord& epoch);
LoadedModel load_checkpoint(const std::string& path);

std::vector<std::string_view> class_names();

}  // namespace fashion
