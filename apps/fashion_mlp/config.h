#pragma once
// The trainer's configuration: one struct, one list of fields. The list drives the command-line
// flags, the TOML config file, the copy stored in checkpoints and the summary.json echo, so a
// setting cannot exist in one place and be missing in another.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <minigrad/data/fashion_mnist.h>
#include <minigrad/nn/activation.h>
#include <minigrad/tensor.h>

#include "choices.h"

namespace fashion {

// A setting that is wrong whatever the data: a bad flag, config file or value (fashion_mlp exits
// with status 2 for these, 1 for errors met while running).
struct UsageError : minigrad::Error {
  using minigrad::Error::Error;
};

// What every model here takes and predicts: 28x28 grayscale images, flat, and ten classes.
inline constexpr int64_t kImageSide = minigrad::data::kFashionMnistSide;
inline constexpr int64_t kImagePixels = minigrad::data::kFashionMnistPixels;
inline constexpr int64_t kClasses = minigrad::data::kFashionMnistClasses;

// The choices (activation, init, optimizer, reduction, schedule, normalize, monitor, on_nan) are kept as
// their names, as files and flags give them; choices.h reads them as enums.
struct TrainConfig {
  // model
  std::vector<std::string> arch = {};  // layer entries (arch.h); empty: the MLP of the next four
  std::vector<int64_t> hidden = {512, 256};
  std::string activation = "relu";  // nn::activation_names()
  double dropout = 0.2;
  double input_dropout = 0.0;    // dropout on the pixels, before the first layer
  std::string init = "kaiming";  // Init
  double init_scale = 0.01;      // std for init=normal, bound for init=uniform
  // optimization
  std::string optimizer = "adam";  // OptimizerKind
  double lr = 1e-3;
  double momentum = 0.9;
  double beta1 = 0.9, beta2 = 0.999;
  double weight_decay = 0.0;  // the optimizer's (decoupled for adamw)
  double l1 = 0.0;            // + l1 * sum|W| added to the loss (weights, not biases)
  double l2 = 0.0;            // + l2/2 * sum W^2 added to the loss
  double label_smoothing = 0.1;
  std::string reduction = "mean";   // Reduction: the data loss of a batch, its mean or its sum
  std::string schedule = "cosine";  // Schedule
  int64_t step_size = 10;
  double gamma = 0.5;
  int64_t warmup_epochs = 0;
  double clip_norm = 0.0;    // 0 = off
  double clip_value = 0.0;   // 0 = off
  int64_t batch_size = 128;  // 0 = full batch
  int64_t epochs = 30;
  // data
  std::string normalize = "standardize";  // Normalize
  double val_fraction = 0.1;
  int64_t train_limit = 0;  // use only the first N training images (0 = all)
  int64_t test_limit = 0;
  int64_t augment_shift = 0;
  bool augment_flip = false;
  double augment_erase = 0.0;  // random erasing probability (PyTorch's RandomErasing, its defaults)
  bool tta_flip = false;       // test-time augmentation: average each image's and its mirror's predictions
  // early stopping and best-epoch selection
  std::string monitor = "val_accuracy";  // Monitor (val_loss misleads under label smoothing)
  int64_t patience = 0;                  // epochs without improvement before stopping (0 = never stop early)
  bool restore_best = true;
  // run
  int64_t seed = 1;
  int64_t threads = 0;          // 0 = MINIGRAD_THREADS or all cores
  std::string data;             // the Fashion-MNIST folder; searched for when empty
  std::string out;              // run directory; runs/<timestamp> when empty
  std::string on_nan = "stop";  // OnNan: what a NaN or Inf in the loss or a gradient does
  int64_t log_every = 0;        // a progress line on stdout every N steps (0 = off)
};

// Calls visit(name, field, help) for every field, in a stable order; help lasts for the call only.
template <typename Config, typename Visit>
void for_each_field(Config& c, Visit&& visit) {
  visit("arch", c.arch, "layers, e.g. 'conv 32 3 pad 1,bn,relu,maxpool 2,flatten' (empty: an MLP of hidden)");
  visit("hidden", c.hidden, "hidden layer sizes, e.g. 512,256");
  visit("activation", c.activation, fmt::format("{}", fmt::join(minigrad::nn::activation_names(), " | ")));
  visit("dropout", c.dropout, "dropout probability after each hidden layer");
  visit("input_dropout", c.input_dropout, "dropout probability on the input pixels");
  visit("init", c.init, choice_list<Init>());
  visit("init_scale", c.init_scale, "std for init=normal, bound for init=uniform");
  visit("optimizer", c.optimizer, choice_list<OptimizerKind>());
  visit("lr", c.lr, "learning rate");
  visit("momentum", c.momentum, "momentum (sgd, momentum, nesterov, rmsprop)");
  visit("beta1", c.beta1, "Adam beta1");
  visit("beta2", c.beta2, "Adam beta2");
  visit("weight_decay", c.weight_decay, "optimizer weight decay");
  visit("l1", c.l1, "L1 penalty on weights added to the loss");
  visit("l2", c.l2, "L2 penalty (l2/2 * sum W^2) added to the loss");
  visit("label_smoothing", c.label_smoothing, "cross-entropy label smoothing");
  visit("reduction", c.reduction,
        choice_list<Reduction>() + ": the batch's data loss (sum: gradients grow with the batch size)");
  visit("schedule", c.schedule, choice_list<Schedule>());
  visit("step_size", c.step_size, "epochs per decay for schedule=step");
  visit("gamma", c.gamma, "decay factor for schedule=step|exponential");
  visit("warmup_epochs", c.warmup_epochs, "linear warmup epochs before the schedule");
  visit("clip_norm", c.clip_norm, "clip the global gradient norm (0 = off)");
  visit("clip_value", c.clip_value, "clip each gradient element (0 = off)");
  visit("batch_size", c.batch_size, "mini-batch size (0 = full batch)");
  visit("epochs", c.epochs, "number of epochs");
  visit("normalize", c.normalize, choice_list<Normalize>());
  visit("val_fraction", c.val_fraction, "fraction of the training set held out for validation");
  visit("train_limit", c.train_limit, "use only the first N training images (0 = all)");
  visit("test_limit", c.test_limit, "use only the first N test images (0 = all)");
  visit("augment_shift", c.augment_shift, "random shifts of up to N pixels (0 = off)");
  visit("augment_flip", c.augment_flip, "random horizontal flips");
  visit("augment_erase", c.augment_erase, "probability of erasing a random rectangle of each image (0 = off)");
  visit("tta_flip", c.tta_flip, "evaluate on each image and its mirror image, averaging the probabilities");
  visit("monitor", c.monitor, choice_list<Monitor>() + ": what picks the best epoch");
  visit("patience", c.patience, "early stopping patience in epochs (0 = off)");
  visit("restore_best", c.restore_best, "end with the weights of the best validation epoch");
  visit("seed", c.seed, "random seed");
  visit("threads", c.threads, "threads (0 = MINIGRAD_THREADS or all cores)");
  visit("data", c.data, "Fashion-MNIST folder (searched for when empty)");
  visit("out", c.out, "run directory (runs/<timestamp> when empty)");
  visit("on_nan", c.on_nan,
        choice_list<OnNan>() + ": a NaN or Inf in the loss or a gradient ends the run or drops the step");
  visit("log_every", c.log_every, "print a progress line every N steps (0 = off)");
}

// Fields that say how a run is carried out, not what it computes: a resumed run may change them.
inline constexpr std::string_view kRunOnlyFields[] = {"threads", "data", "out", "on_nan", "log_every"};

// Reads a TOML file over `config`; unknown keys and wrong types are errors naming the file,
// the key and the line. Anything but a regular file of at most kMaxConfigBytes is refused unread.
void load_config_file(const std::string& path, TrainConfig& config);
inline constexpr uint64_t kMaxConfigBytes = uint64_t{1} << 20;  // every field fits in a few kB
// The config as TOML text (stored in checkpoints, re-read by eval and predict).
std::string to_toml(const TrainConfig& config);
TrainConfig from_toml(const std::string& text, const std::string& origin);
// to.<name> = from.<name>, for the field called `name`.
void copy_field(TrainConfig& to, const TrainConfig& from, std::string_view name);
// Names of the fields whose values differ between a and b, in field order.
std::vector<std::string> changed_fields(const TrainConfig& a, const TrainConfig& b);
// The value of field `name` as text for messages ("0.001", "[512, 256]", "'relu'").
std::string field_text(const TrainConfig& config, std::string_view name);
// Sets one field from its text form ("lr", "3e-4"; "hidden", "512,256"); used by sweep.
void set_field(TrainConfig& config, const std::string& name, const std::string& value);
// Throws UsageError naming the setting, its value and the allowed range for any value that is
// wrong whatever the data (lr not in (0, kMaxLr], an unknown activation, NaN or Inf anywhere, a
// model above kMaxParameters, a train_limit that leaves no training images, ...).
void validate(const TrainConfig& config);
inline constexpr double kMaxLr = 1e100;  // the schedules' arithmetic on lr must stay finite
// Parameters of the model the config describes (kImagePixels inputs, kClasses outputs); saturates at
// INT64_MAX instead of overflowing.
int64_t parameter_count(const TrainConfig& config);
// Parameters and buffer values (BatchNorm's statistics): the values a checkpoint of the model holds.
int64_t state_value_count(const TrainConfig& config);
inline constexpr int64_t kMaxParameters = int64_t{1} << 30;  // 4 GB of float32 weights

// The folder of bundled recipes, and the path of a recipe given by name or path.
std::string recipe_path(const std::string& name_or_path);
std::vector<std::string> recipe_names();

}  // namespace fashion
