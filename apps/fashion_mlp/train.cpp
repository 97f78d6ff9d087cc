#include "train.h"

#include <bit>
#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numbers>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include <minigrad/kernels/gemm.h>
#include <minigrad/minigrad.h>

#include "arch.h"
#include "figures.h"
#include "progress.h"
#include "report.h"
#include "resume.h"

namespace fashion {

namespace nn = minigrad::nn;
namespace optim = minigrad::optim;
namespace data = minigrad::data;
using minigrad::Error;
using minigrad::Tensor;

std::vector<std::string_view> class_names() {
  const auto& names = data::fashion_mnist_classes();
  return {names.begin(), names.end()};
}

// ---- data ----

void normalize(data::Dataset& d, const TrainConfig& config, const data::Standardization& s) {
  switch (choice<Normalize>(config.normalize)) {
    case Normalize::Scale:
      break;  // the loader's [0, 1] already
    case Normalize::Standardize:
      data::standardize(d, s);
      break;
    case Normalize::PerImage:
      data::standardize_per_image(d);
      break;
  }
}

Splits load_splits(const TrainConfig& config) {
  const std::string dir = data::find_fashion_mnist(config.data);
  data::Dataset train = data::load_fashion_mnist_dataset(dir, data::Split::Train);
  data::Dataset test = data::load_fashion_mnist_dataset(dir, data::Split::Test);
  if (config.train_limit > 0 && config.train_limit < train.size()) train = train.head(config.train_limit);
  if (config.test_limit > 0 && config.test_limit < test.size()) test = test.head(config.test_limit);
  Splits s;
  std::tie(s.train, s.val) = data::train_val_split(train, config.val_fraction, static_cast<uint64_t>(config.seed));
  s.test = std::move(test);
  if (choice<Normalize>(config.normalize) == Normalize::Standardize)
    s.standardization = data::fit_standardization(s.train);
  for (data::Dataset* d : {&s.train, &s.val, &s.test}) normalize(*d, config, s.standardization);
  return s;
}

bool same_splits(const TrainConfig& a, const TrainConfig& b) {
  return a.data == b.data && a.train_limit == b.train_limit && a.test_limit == b.test_limit &&
         a.val_fraction == b.val_fraction && a.seed == b.seed && a.normalize == b.normalize;
}

// ---- model ----

std::shared_ptr<nn::Sequential> build_model(const TrainConfig& c) {
  validate(c);
  minigrad::manual_seed(static_cast<uint64_t>(c.seed));
  return build_arch(c);
}

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainConfig& c, std::vector<Tensor> params) {
  switch (choice<OptimizerKind>(c.optimizer)) {
    case OptimizerKind::SGD:
      return std::make_unique<optim::SGD>(params, optim::SGDOptions{.lr = c.lr, .weight_decay = c.weight_decay});
    case OptimizerKind::Nesterov:
      return std::make_unique<optim::SGD>(
          params,
          optim::SGDOptions{.lr = c.lr, .momentum = c.momentum, .nesterov = true, .weight_decay = c.weight_decay});
    case OptimizerKind::Momentum:
      return std::make_unique<optim::Momentum>(
          params, optim::MomentumOptions{.lr = c.lr, .momentum = c.momentum, .weight_decay = c.weight_decay});
    case OptimizerKind::AdamW:
      return std::make_unique<optim::AdamW>(
          params, optim::AdamWOptions{.lr = c.lr, .betas = {c.beta1, c.beta2}, .weight_decay = c.weight_decay});
    case OptimizerKind::RMSprop:
      return std::make_unique<optim::RMSprop>(
          params, optim::RMSpropOptions{.lr = c.lr, .weight_decay = c.weight_decay, .momentum = c.momentum});
    case OptimizerKind::Adam:
      break;
  }
  return std::make_unique<optim::Adam>(
      params, optim::AdamOptions{.lr = c.lr, .betas = {c.beta1, c.beta2}, .weight_decay = c.weight_decay});
}

namespace {

int64_t batch_size(const TrainConfig& config, const data::Dataset& train) {
  return config.batch_size > 0 ? config.batch_size : train.size();
}

}  // namespace

data::DataLoader make_train_loader(const TrainConfig& config, const data::Dataset& train, bool augment,
                                   data::LoaderOptions::Shard shard) {
  std::optional<data::RandomErasing> erasing;
  if (augment && config.augment_erase > 0) erasing = data::RandomErasing{.p = config.augment_erase};
  const data::Augmentation augmentation{.max_shift = static_cast<int>(augment ? config.augment_shift : 0),
                                        .horizontal_flip = augment && config.augment_flip,
                                        .erasing = erasing};
  return data::DataLoader(train, {.batch_size = batch_size(config, train),
                                  .shuffle = true,
                                  .seed = static_cast<uint64_t>(config.seed),
                                  .augment = augmentation,
                                  .shard = shard});
}

namespace {

// The lr of an epoch: linear warmup from lr / (warmup_epochs + 1) up to lr, then the schedule
// (in closed form, counted after warmup).
class EpochSchedule {
 public:
  EpochSchedule(const TrainConfig& c, optim::Optimizer& opt) : config_(c) {
    // Each scheduler takes the optimizer's lr as its base and sets the optimizer to its epoch-0
    // lr: the warmup comes second, and both start from the config's lr.
    const int64_t span = std::max<int64_t>(1, c.epochs - c.warmup_epochs);
    switch (choice<Schedule>(c.schedule)) {
      case Schedule::None:
        break;
      case Schedule::Step:
        main_ = std::make_unique<optim::StepLR>(opt, c.step_size, c.gamma);
        break;
      case Schedule::Exponential:
        main_ = std::make_unique<optim::ExponentialLR>(opt, c.gamma);
        break;
      case Schedule::Cosine:
        main_ = std::make_unique<optim::CosineAnnealingLR>(opt, span, c.lr * 0.01);
        break;
    }
    if (c.warmup_epochs > 0) {
      opt.set_lr(c.lr);
      warmup_ =
          std::make_unique<optim::LinearWarmup>(opt, c.warmup_epochs, 1.0 / static_cast<double>(c.warmup_epochs + 1));
    }
  }
  double lr_at(int64_t epoch) const {
    if (epoch < config_.warmup_epochs) return warmup_->lr_at(epoch);
    return main_ ? main_->lr_at(epoch - config_.warmup_epochs) : config_.lr;
  }

 private:
  const TrainConfig& config_;
  std::unique_ptr<optim::LRScheduler> warmup_, main_;
};

int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  const Tensor predicted = logits.argmax(1);
  const int64_t* p = predicted.data<int64_t>();
  const int64_t* y = labels.data<int64_t>();
  const int64_t n = labels.numel();
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) correct += p[i] == y[i];
  return correct;
}

std::vector<Tensor> weights_of(const nn::Module& model) {
  std::vector<Tensor> weights;
  for (const Tensor& p : model.parameters())
    if (p.dim() >= 2) weights.push_back(p);  // Linear and Conv2d weights; not biases or BatchNorm's
  return weights;
}

minigrad::StateDict snapshot(const nn::Module& model) {
  minigrad::NoGradGuard no_grad;
  minigrad::StateDict copy;
  for (const auto& [name, t] : model.state_dict()) copy[name] = t.clone();
  return copy;
}

std::string metrics_csv(const std::vector<EpochRecord>& history) {
  std::string out = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,skipped_steps\n";
  for (const EpochRecord& r : history)
    out += fmt::format("{},{:.6f},{:.6f},{:.6f},{:.6f},{:.6g},{:.3f},{}\n", r.epoch, r.train_loss, r.train_accuracy,
                       r.val_loss, r.val_accuracy, r.lr, r.seconds, r.skipped_steps);
  return out;
}

std::string summary_json(const TrainConfig& config, const TrainResult& result, const Splits& splits) {
  toml::table summary;
  summary.insert("config", toml::parse(to_toml(config)));
  summary.insert("best_epoch", result.best_epoch);
  summary.insert("epochs_run", static_cast<int64_t>(result.history.size()));
  summary.insert("seconds", result.seconds);
  summary.insert("skipped_steps", result.skipped_steps);
  if (!result.non_finite.empty()) summary.insert("stopped_on_non_finite", result.non_finite);
  summary.insert("threads", static_cast<int64_t>(minigrad::get_num_threads()));
  summary.insert("train_images", splits.train.size());
  summary.insert("val_images", splits.val.size());
  if (result.best_epoch > 0) {
    const EpochRecord& best = result.history[result.best_epoch - 1];
    summary.insert("best_val_loss", best.val_loss);
    summary.insert("best_val_accuracy", best.val_accuracy);
    summary.insert("final_train_loss", result.history.back().train_loss);
    summary.insert("images_per_second",
                   splits.train.size() * static_cast<double>(result.history.size()) / std::max(1e-9, result.seconds));
  }
  if (result.test) {
    const ConfusionMatrix& cm = result.test->confusion;
    toml::table test{{"accuracy", cm.accuracy()},
                     {"accuracy_stderr", cm.accuracy_stderr()},
                     {"loss", result.test->loss},
                     {"images", cm.total()}};
    toml::table per_class;
    const auto names = class_names();
    for (int c = 0; c < kClasses; ++c)
      per_class.insert(std::string(names[c]),
                       toml::table{{"precision", cm.precision(c)}, {"recall", cm.recall(c)}, {"f1", cm.f1(c)}});
    test.insert("per_class", per_class);
    toml::array matrix;
    for (int t = 0; t < kClasses; ++t) {
      toml::array row;
      for (int p = 0; p < kClasses; ++p) row.push_back(cm.at(t, p));
      matrix.push_back(row);
    }
    test.insert("confusion", matrix);
    summary.insert("test", test);
  }
  std::ostringstream out;
  out << toml::json_formatter{summary} << "\n";
  return out.str();
}

}  // namespace

// ---- evaluation ----

Evaluation evaluate(nn::Module& model, const data::Dataset& d, bool tta_flip, Cluster* cluster) {
  minigrad::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  constexpr int64_t kBatch = 1000;
  data::DataLoader loader(d, {.batch_size = kBatch, .shuffle = false});
  // Batch i is predicted by rank i mod ranks, into row (i / ranks) * kBatch of its block.
  const int ranks = cluster ? cluster->size() : 1, rank = cluster ? cluster->rank() : 0;
  if (cluster) cluster->sync_buffers();
  Tensor mine = minigrad::zeros({(loader.num_batches() + ranks - 1) / ranks * kBatch, kClasses});
  for (int64_t i = rank; i < loader.num_batches(); i += ranks) {
    const data::Batch batch = loader.batch(i);
    Tensor log_probs = model(batch.x).log_softmax(1);
    float* lp = log_probs.data<float>();
    if (tta_flip) {
      // log((p + q) / 2) from log p and log q, without leaving log space.
      const Tensor mirrored = model(data::flip_horizontal(batch.x, d.geometry)).log_softmax(1);
      const float* lq = mirrored.data<float>();
      for (int64_t j = 0; j < log_probs.numel(); ++j) {
        const float hi = std::max(lp[j], lq[j]), lo = std::min(lp[j], lq[j]);
        lp[j] = hi + std::log1p(std::exp(lo - hi)) - std::numbers::ln2_v<float>;
      }
    }
    std::copy_n(lp, log_probs.numel(), mine.data<float>() + (i / ranks) * kBatch * kClasses);
  }
  // Every rank's block, then every image in order: the same sums on every rank as in one process.
  const Tensor all = ranks > 1 ? cluster->gather(mine) : mine;
  Evaluation result;
  result.probabilities = minigrad::empty({d.size(), kClasses});
  double loss_sum = 0;
  const int64_t* y = d.labels.data<int64_t>();
  float* probs = result.probabilities.data<float>();
  for (int64_t i = 0; i < loader.num_batches(); ++i) {
    const float* block = all.data<float>() + ((i % ranks) * mine.size(0) + (i / ranks) * kBatch) * kClasses;
    for (int64_t k = 0, n = std::min(kBatch, d.size() - i * kBatch); k < n; ++k) {
      const int64_t image = i * kBatch + k;
      const float* row = block + k * kClasses;
      loss_sum -= row[y[image]];
      result.confusion.add(y[image], std::max_element(row, row + kClasses) - row);
      for (int c = 0; c < kClasses; ++c) probs[image * kClasses + c] = std::exp(row[c]);
    }
  }
  result.loss = d.size() ? loss_sum / d.size() : 0.0;
  model.train(was_training);
  return result;
}

// ---- checkpoints ----

void save_checkpoint(const std::string& path, const nn::Sequential& model, const TrainConfig& config,
                     const data::Standardization& s, const EpochRecord& epoch) {
  nn::save_tensors(path, model.state_dict(),
                   {{"format", "fashion_mlp"},
                    {"config", to_toml(config)},
                    {"standardization_mean", fmt::format("{:.17g}", s.mean)},
                    {"standardization_std", fmt::format("{:.17g}", s.std)},
                    {"epoch", std::to_string(epoch.epoch)},
                    {"val_accuracy", fmt::format("{:.6f}", epoch.val_accuracy)}});
}

LoadedModel load_checkpoint(const std::string& path) {
  nn::Checkpoint ckpt = nn::load_tensors(path);
  auto field = [&](const std::string& key) {
    auto it = ckpt.metadata.find(key);
    if (it == ckpt.metadata.end())
      throw Error(fmt::format("{}: not a fashion_mlp checkpoint (no '{}' in its metadata)", path, key));
    return it->second;
  };
  auto number = [&](const std::string& key) {
    const std::string text = field(key);
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value))
      throw Error(fmt::format("{}: metadata '{}' is '{}', not a finite number", path, key, text));
    return value;
  };
  if (field("format") != "fashion_mlp")
    throw Error(fmt::format("{}: format '{}' is not a fashion_mlp checkpoint", path, field("format")));
  LoadedModel loaded;
  loaded.config = from_toml(field("config"), path + " (config)");
  try {
    validate(loaded.config);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: its config is invalid: {}", path, e.what()));
  }
  loaded.standardization = {number("standardization_mean"), number("standardization_std")};
  // Compare sizes before building the model, so a config naming a huge model costs nothing.
  int64_t stored = 0;
  for (const auto& [name, t] : ckpt.tensors) stored += t.numel();
  const int64_t parameters = parameter_count(loaded.config), values = state_value_count(loaded.config);
  if (stored != values)
    throw Error(
        fmt::format("{}: its config describes a model of {} parameters{}, but the file holds {} values "
                    "(a checkpoint of another architecture, or an edited config)",
                    path, parameters,
                    values > parameters ? fmt::format(" and {} buffer values", values - parameters) : "", stored));
  loaded.model = build_model(loaded.config);
  try {
    loaded.model->load_state_dict(ckpt.tensors);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", path, e.what()));
  }
  loaded.model->eval();
  return loaded;
}

// ---- training ----

namespace {

// A value is NaN or Inf exactly when its exponent bits are all ones. Checked with integer ops,
// which vectorize, since this runs over every gradient at every step.
template <typename T, typename Bits>
bool all_finite(const Tensor& t) {
  constexpr Bits exponent = std::bit_cast<Bits>(std::numeric_limits<T>::infinity());  // all ones, mantissa 0
  const T* p = t.data<T>();
  const int64_t n = t.numel();  // not in the loop condition: an opaque call there stops vectorization
  Bits worst = 0;
  for (int64_t i = 0; i < n; ++i) worst = std::max<Bits>(worst, std::bit_cast<Bits>(p[i]) & exponent);
  return worst != exponent;
}

// The name of the first (name, x) in `named` whose get(x) holds a NaN or Inf; "" when none does.
template <typename Named, typename Get>
std::string first_non_finite(const Named& named, Get&& get) {
  for (const auto& [name, p] : named) {
    const Tensor t = get(p);
    if (!t.defined()) continue;
    if (!(t.dtype() == minigrad::kFloat64 ? all_finite<double, uint64_t>(t) : all_finite<float, uint32_t>(t)))
      return name;
  }
  return "";
}

std::string first_non_finite_parameter(const nn::Module& model) {
  return first_non_finite(model.named_parameters(), [](const Tensor& p) { return p; });
}

// What is wrong with a step whose loss or gradients are not all finite ("" when nothing is).
// Takes the model's named parameters from the caller: building them allocates their names, and
// this runs at every step.
std::string check_step(double loss, const nn::NamedTensors& named_parameters, double lr) {
  const std::string grad = first_non_finite(named_parameters, [](const Tensor& p) { return p.grad(); });
  if (std::isfinite(loss) && grad.empty()) return "";
  const std::string advice = fmt::format("lower the learning rate (lr {}) or set --clip-norm", lr);
  if (!std::isfinite(loss))
    return fmt::format("loss is {}{}; {}", loss,
                       grad.empty() ? "" : fmt::format(", first non-finite gradient: {}", grad), advice);
  return fmt::format("gradient of {} is not finite (loss {:.4f}); {}", grad, loss, advice);
}

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The splits of an overfit_batch run: one training batch, which is also the validation set.
Splits one_batch_splits(const Splits& splits, int64_t batch_size) {
  Splits one = splits;
  one.train = splits.train.head(std::max<int64_t>(1, batch_size));
  one.val = one.train;
  return one;
}

// One call of train(): what it builds once (model, optimizer, schedule, loader, run directory)
// and the counters that a resume point saves (state_).
class TrainingRun {
 public:
  TrainingRun(const TrainConfig& config, const Splits& splits, const TrainOptions& options);
  TrainResult run();

 private:
  enum class EpochEnd { Completed, Interrupted, NonFinite };
  struct EpochOutcome {
    EpochRecord record;
    bool improved;
  };

  void open_run_directory();
  void print_header() const;
  // Alone, the signal handler's flag; with several processes, what the last step agreed on (each
  // rank may see a signal before a different step, and all must stop before the same one).
  int stop_signal() const {
    if (cluster_.size() > 1) return agreed_stop_;
    return options_.stop_signal ? options_.stop_signal->load() : 0;
  }
  bool patience_exhausted() const {
    return config_.patience > 0 && state_.epochs_without_improvement >= config_.patience;
  }
  EpochEnd run_epoch();
  bool train_step(ProgressBar& bar);
  EpochOutcome evaluate_and_checkpoint();
  void print_epoch(const EpochOutcome& outcome) const;
  void save_resume_point() const;
  TrainResult interrupted();
  TrainResult finish();

  const TrainConfig& config_;
  const TrainOptions& options_;
  Cluster alone_;
  Cluster& cluster_;
  const bool quiet_;   // rank 0 alone prints
  const bool writes_;  // and writes files
  const Clock::time_point start_ = Clock::now();
  const Splits overfit_;
  const Splits& splits_;
  const std::shared_ptr<nn::Sequential> model_;
  const std::unique_ptr<optim::Optimizer> optimizer_;
  // Before a resume sets the optimizer's lr: the schedule takes its base lr from the optimizer.
  const EpochSchedule schedule_;
  // Resume points only for runs that keep files; an overfit run is a seconds-long check.
  const bool resumable_;
  data::DataLoader loader_;
  std::optional<RunDirectory> own_directory_;
  TrainResult result_;
  TrainingState state_;
  bool restart_ = false;  // resuming a run that stopped before its first resume point
  int agreed_stop_ = 0;   // with several processes: a stop signal any rank saw, agreed at the last step
  std::vector<Tensor> params_;
  nn::NamedTensors named_params_;  // built once: check_step runs at every step
  std::vector<Tensor> weights_;
  Clock::time_point session_start_, epoch_start_;
};

TrainingRun::TrainingRun(const TrainConfig& config, const Splits& splits, const TrainOptions& options)
    : config_(config),
      options_(options),
      cluster_(options.cluster ? *options.cluster : alone_),
      quiet_(options.quiet || !cluster_.leader()),
      writes_(options.write_files && cluster_.leader()),
      overfit_(options.overfit_batch ? one_batch_splits(splits, config.batch_size) : Splits{}),
      splits_(options.overfit_batch ? overfit_ : splits),
      model_(build_model(config)),
      optimizer_(make_optimizer(config, model_->parameters())),
      schedule_(config, *optimizer_),
      resumable_(options.write_files && !options.overfit_batch),
      loader_(make_train_loader(config, splits_.train, !options.overfit_batch, {cluster_.rank(), cluster_.size()})) {
  open_run_directory();
  restart_ = options.resume && !has_resume_point(result_.run_dir);
  if (options.resume && !restart_)
    state_ = load_training_state(resume_path(result_.run_dir), config, splits_, *model_, *optimizer_, cluster_.size());
  cluster_.attach(model_, config);
  params_ = model_->parameters();
  named_params_ = model_->named_parameters();
  weights_ = weights_of(*model_);
}

void TrainingRun::open_run_directory() {
  if (!cluster_.leader()) {  // reads a resume point only, from the run directory rank 0 holds
    result_.run_dir = config_.out;
    return;
  }
  const RunDirectory* directory = options_.run_directory;
  if (options_.write_files && !directory) {
    own_directory_.emplace(config_.out.empty() ? new_run_dir_name() : config_.out,
                           options_.resume ? RunDirMode::Resume : RunDirMode::New, run_bytes_needed(config_));
    directory = &*own_directory_;
  }
  if (!directory) return;
  result_.run_dir = directory->path();
  if (!quiet_)
    for (const std::string& file : directory->removed_temporaries())
      fmt::print(stderr, "note: removed {}, left behind by a process that no longer runs\n", file);
  minigrad::write_file_atomic(result_.run_dir + "/config.toml", to_toml(config_));
}

void TrainingRun::print_header() const {
  fmt::print("{}", model_->summary(minigrad::Shape{-1, kImagePixels}));
  fmt::print("train {} images, validate {}, test {}; batch {}, {} threads{}, {} GEMM kernels\n", splits_.train.size(),
             splits_.val.size(), splits_.test.size(), batch_size(config_, splits_.train), minigrad::get_num_threads(),
             cluster_.size() > 1 ? fmt::format(" in each of {} processes", cluster_.size()) : "",
             minigrad::kernels::gemm_isa());
  if (restart_)
    fmt::print("{} stopped before its first resume point: starting it again from its config.toml\n", result_.run_dir);
  else if (options_.resume)
    fmt::print("resuming {} at epoch {}, batch {}/{}\n", result_.run_dir, state_.epoch + 1, state_.batch + 1,
               loader_.num_batches());
  std::fflush(stdout);  // before any warning on stderr
}

TrainResult TrainingRun::run() {
  if (!quiet_) print_header();
  session_start_ = Clock::now();
  while (state_.epoch < config_.epochs && !patience_exhausted()) {
    const EpochEnd end = run_epoch();
    if (end == EpochEnd::Interrupted) return interrupted();
    if (end == EpochEnd::NonFinite) break;
    const EpochOutcome outcome = evaluate_and_checkpoint();
    if (!quiet_) print_epoch(outcome);
    std::fflush(stdout);  // a line per epoch, even when piped to a log
    state_.start_next_epoch();
    if (resumable_ && writes_) save_resume_point();  // a resume point at every epoch's end
  }
  return finish();
}

// Trains epoch state_.epoch from batch state_.batch on (not 0 after a resume).
TrainingRun::EpochEnd TrainingRun::run_epoch() {
  const int64_t epoch = state_.epoch;
  epoch_start_ = Clock::now();
  optimizer_->set_lr(schedule_.lr_at(epoch));
  loader_.set_epoch(epoch);
  model_->train();
  ProgressBar bar(fmt::format("epoch {:>3}/{}", epoch + 1, config_.epochs), splits_.train.size(), "img");
  for (; state_.batch < loader_.num_batches(); ++state_.batch) {
    if (stop_signal() != 0) {
      bar.finish();
      state_.epoch_seconds += seconds_since(epoch_start_);
      return EpochEnd::Interrupted;
    }
    if (!train_step(bar)) break;
  }
  bar.finish();
  return result_.non_finite.empty() ? EpochEnd::Completed : EpochEnd::NonFinite;
}

// One optimizer step on batch state_.batch. A step with a NaN or Inf is skipped or, with
// on_nan = stop, ends the run: then result_.non_finite says where, and this returns false.
bool TrainingRun::train_step(ProgressBar& bar) {
  const int64_t epoch = state_.epoch, b = state_.batch;
  const data::Batch batch = loader_.batch(b);
  const data::DataLoader::ShardRows rows = loader_.shard_rows(b);
  const Tensor logits = cluster_.forward(*model_, batch.x, rows);
  Tensor loss = nn::cross_entropy(logits, batch.y, {.label_smoothing = config_.label_smoothing});
  const double data_loss = loss.item();  // the mean, which the epoch lines report either way
  // The whole batch's sum (a rank's mean times the global rows: the ranks' gradients are weighted
  // by their share of the rows).
  if (choice<Reduction>(config_.reduction) == Reduction::Sum) loss = loss * static_cast<double>(rows.global);
  if (epoch == 0 && b == 0 && !quiet_ && std::abs(data_loss - std::log(double{kClasses})) > 1.0)
    fmt::print(stderr,
               "warning: first loss {:.3f} is far from ln(10) = 2.303, the loss of a fresh 10-class "
               "model: check the init scale and the input normalization\n",
               data_loss);
  if (config_.l2 > 0) loss = loss + nn::l2_penalty(weights_) * (config_.l2 / 2);
  if (config_.l1 > 0) loss = loss + nn::l1_penalty(weights_) * config_.l1;
  optimizer_->zero_grad();
  loss.backward();
  if (options_.after_backward) options_.after_backward(epoch, b, *model_);
  const double total_loss = config_.l1 > 0 || config_.l2 > 0 ? loss.item() : data_loss;
  const std::string bad = check_step(total_loss, named_params_, optimizer_->lr());
  // Every rank's numbers (the gradients are the same everywhere, the losses are not), so that all
  // skip, stop and count alike.
  const int64_t n = batch.y.numel();
  const Cluster::Step step = cluster_.agree({.loss_sum = data_loss * static_cast<double>(n),
                                             .correct = count_correct(logits, batch.y),
                                             .seen = n,
                                             .non_finite = !bad.empty(),
                                             .stop_signal = options_.stop_signal ? options_.stop_signal->load() : 0});
  agreed_stop_ = step.stop_signal;
  if (step.non_finite) {
    const std::string where = fmt::format("epoch {}, batch {}: {}", epoch + 1, b + 1,
                                          bad.empty() ? "another process's loss is not finite" : bad);
    if (choice<OnNan>(config_.on_nan) == OnNan::Stop) {
      result_.non_finite = where;
      return false;
    }
    ++state_.skipped;
    ++state_.skipped_steps;
    if (!quiet_) fmt::print(stderr, "warning: step skipped: {}\n", where);
    return true;
  }
  if (config_.clip_value > 0) optim::clip_grad_value_(params_, config_.clip_value);
  if (config_.clip_norm > 0) optim::clip_grad_norm_(params_, config_.clip_norm);
  optimizer_->step();
  state_.loss_sum += step.loss_sum;
  state_.correct += step.correct;
  state_.seen += step.seen;
  if (!quiet_) {
    bar.update(state_.seen, fmt::format("loss {:.4f}", state_.loss_sum / state_.seen));
    if (config_.log_every > 0 && (b + 1) % config_.log_every == 0) {
      fmt::print("epoch {}/{} batch {}/{} loss {:.4f}\n", epoch + 1, config_.epochs, b + 1, loader_.num_batches(),
                 state_.loss_sum / state_.seen);
      std::fflush(stdout);
    }
  }
  return true;
}

// The epoch's record, validated; best.ckpt when it improved on the best so far, and metrics.csv.
TrainingRun::EpochOutcome TrainingRun::evaluate_and_checkpoint() {
  const int64_t seen = std::max<int64_t>(state_.seen, 1);
  EpochRecord record{state_.epoch + 1,
                     state_.loss_sum / seen,
                     static_cast<double>(state_.correct) / seen,
                     NAN,
                     NAN,
                     optimizer_->lr(),
                     0,
                     state_.skipped};
  const bool has_val = splits_.val.size() > 0;
  if (has_val) {
    const Evaluation val = evaluate(*model_, splits_.val, config_.tta_flip, &cluster_);
    record.val_loss = val.loss;
    record.val_accuracy = val.confusion.accuracy();
  }
  record.seconds = state_.epoch_seconds + seconds_since(epoch_start_);
  state_.history.push_back(record);
  // Lower is better for both: accuracy is negated. Without a validation split the training
  // numbers stand in.
  const double monitored = choice<Monitor>(config_.monitor) == Monitor::ValLoss
                               ? (has_val ? record.val_loss : record.train_loss)
                               : -(has_val ? record.val_accuracy : record.train_accuracy);
  const bool improved = monitored < state_.best_monitored;
  if (improved) {
    state_.best_monitored = monitored;
    state_.best_epoch = record.epoch;
    state_.epochs_without_improvement = 0;
    if (config_.restore_best) state_.best_state = snapshot(*model_);
    if (writes_) save_checkpoint(result_.run_dir + "/best.ckpt", *model_, config_, splits_.standardization, record);
  } else {
    ++state_.epochs_without_improvement;
  }
  if (writes_) minigrad::write_file_atomic(result_.run_dir + "/metrics.csv", metrics_csv(state_.history));
  return {record, improved};
}

void TrainingRun::print_epoch(const EpochOutcome& outcome) const {
  const EpochRecord& r = outcome.record;
  fmt::print("epoch {:>3}/{}  train loss {:.4f} acc {:6.2f}%  {}  lr {:.2e}  {:.1f}s{}{}\n", r.epoch, config_.epochs,
             r.train_loss, 100 * r.train_accuracy,
             splits_.val.size() ? fmt::format("val loss {:.4f} acc {:6.2f}%", r.val_loss, 100 * r.val_accuracy)
                                : std::string("(no validation split)"),
             r.lr, r.seconds, outcome.improved ? "  *" : "",
             r.skipped_steps ? fmt::format("  ({} steps skipped)", r.skipped_steps) : "");
}

void TrainingRun::save_resume_point() const {
  save_training_state(resume_path(result_.run_dir), state_, config_, splits_, *model_, *optimizer_, cluster_.size());
}

// A stop signal came between two steps: save where the run is, to go on with --resume.
TrainResult TrainingRun::interrupted() {
  state_.seconds += seconds_since(session_start_);
  if (resumable_ && writes_) save_resume_point();
  result_.interrupted_by = stop_signal();
  result_.history = state_.history;
  result_.best_epoch = state_.best_epoch;
  return std::move(result_);
}

// After the last epoch (or a non-finite step): the final model, its test and the run's files.
TrainResult TrainingRun::finish() {
  if (patience_exhausted() && !quiet_) fmt::print("early stop: no improvement for {} epochs\n", config_.patience);
  result_.history = state_.history;
  result_.best_epoch = state_.best_epoch;
  result_.skipped_steps = state_.skipped_steps;

  if (config_.restore_best && !state_.best_state.empty()) model_->load_state_dict(state_.best_state);
  // A model broken by an overflowing step is neither saved (the last good checkpoints stay) nor tested.
  const std::string broken = first_non_finite_parameter(*model_);
  if (!broken.empty() && !quiet_)
    fmt::print(stderr, "warning: parameter {} is not finite: model.ckpt not written, no test\n", broken);
  if (writes_ && !result_.history.empty() && broken.empty())
    save_checkpoint(result_.run_dir + "/model.ckpt", *model_, config_, splits_.standardization, result_.history.back());
  // Nor is a model no epoch of which finished (a NaN in the first epoch): its numbers would mean nothing.
  if (options_.evaluate_test && broken.empty() && !result_.history.empty())
    result_.test = evaluate(*model_, splits_.test, config_.tta_flip, &cluster_);
  result_.seconds =
      state_.seconds + seconds_since(session_start_) + std::chrono::duration<double>(session_start_ - start_).count();
  if (writes_) minigrad::write_file_atomic(result_.run_dir + "/summary.json", summary_json(config_, result_, splits_));
  if (writes_)  // figures and report never throw: the results above are kept whatever happens
    write_report(
        result_.run_dir, config_, result_,
        write_figures(result_.run_dir, {&result_.history, result_.best_epoch, result_.test ? &*result_.test : nullptr,
                                        &splits_.test, model_.get()}));
  // Finished: nothing left to resume. A run stopped on a NaN keeps its last epoch's resume point,
  // so it can go on with --resume RUN_DIR --on-nan skip.
  if (resumable_ && writes_ && result_.non_finite.empty()) std::filesystem::remove(resume_path(result_.run_dir));
  if (options_.stop_signal) result_.signal_after_training = options_.stop_signal->load();
  return std::move(result_);
}

}  // namespace

TrainResult train(const TrainConfig& config, const Splits& splits, const TrainOptions& options) {
  validate(config);
  if (options.resume && (!options.write_files || options.overfit_batch))
    throw Error("resume: only a run that writes files (and is not --overfit-batch) can be resumed");
  if (config.threads > 0) minigrad::set_num_threads(static_cast<int>(config.threads));
  return TrainingRun(config, splits, options).run();
}

}  // namespace fashion
