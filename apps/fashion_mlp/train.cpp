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
  if (config.normalize == "standardize") data::standardize(d, s);
  else if (config.normalize == "per_image") data::standardize_per_image(d);
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
  if (config.normalize == "standardize") s.standardization = data::fit_standardization(s.train);
  for (data::Dataset* d : {&s.train, &s.val, &s.test}) normalize(*d, config, s.standardization);
  return s;
}

// ---- model ----

namespace {

std::shared_ptr<nn::Module> activation(const std::string& name) {
  if (name == "relu") return std::make_shared<nn::ReLU>();
  if (name == "leaky_relu") return std::make_shared<nn::LeakyReLU>(0.01);
  if (name == "tanh") return std::make_shared<nn::Tanh>();
  if (name == "sigmoid") return std::make_shared<nn::Sigmoid>();
  return std::make_shared<nn::GELU>();
}

void initialize(nn::Linear& layer, const TrainConfig& c, bool output_layer) {
  using nn::init::Nonlinearity;
  const Nonlinearity nonlinearity = output_layer ? Nonlinearity::Linear
                                    : c.activation == "tanh"    ? Nonlinearity::Tanh
                                    : c.activation == "sigmoid" ? Nonlinearity::Sigmoid
                                                                : Nonlinearity::ReLU;
  // Linear's own (PyTorch's) default; also kept for the output layer under kaiming, whose gain
  // would make the first logits large (a first loss far above ln 10).
  if (c.init == "torch" || (c.init == "kaiming" && output_layer)) return;
  if (c.init == "kaiming") nn::init::kaiming_normal_(layer.weight, {.nonlinearity = nonlinearity});
  else if (c.init == "xavier") nn::init::xavier_uniform_(layer.weight, nn::init::calculate_gain(nonlinearity));
  else if (c.init == "normal") nn::init::normal_(layer.weight, 0.0, c.init_scale);
  else nn::init::uniform_(layer.weight, -c.init_scale, c.init_scale);
  if (c.init == "uniform") nn::init::uniform_(layer.bias, -c.init_scale, c.init_scale);
  else nn::init::zeros_(layer.bias);
}

}  // namespace

std::shared_ptr<nn::Sequential> build_model(const TrainConfig& c) {
  validate(c);
  minigrad::manual_seed(static_cast<uint64_t>(c.seed));
  auto model = std::make_shared<nn::Sequential>();
  if (c.input_dropout > 0) model->push_back(std::make_shared<nn::Dropout>(c.input_dropout));
  int64_t in = 784;
  for (int64_t width : c.hidden) {
    auto linear = std::make_shared<nn::Linear>(in, width);
    initialize(*linear, c, false);
    model->push_back(linear);
    model->push_back(activation(c.activation));
    if (c.dropout > 0) model->push_back(std::make_shared<nn::Dropout>(c.dropout));
    in = width;
  }
  auto output = std::make_shared<nn::Linear>(in, 10);
  initialize(*output, c, true);
  model->push_back(output);
  return model;
}

namespace {

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainConfig& c, std::vector<Tensor> params) {
  const std::string& o = c.optimizer;
  if (o == "sgd") return std::make_unique<optim::SGD>(params, optim::SGDOptions{.lr = c.lr, .weight_decay = c.weight_decay});
  if (o == "nesterov")
    return std::make_unique<optim::SGD>(params, optim::SGDOptions{.lr = c.lr, .momentum = c.momentum, .nesterov = true, .weight_decay = c.weight_decay});
  if (o == "momentum") {
    if (c.weight_decay > 0) return std::make_unique<optim::SGD>(params, optim::SGDOptions{.lr = c.lr, .momentum = c.momentum, .weight_decay = c.weight_decay});
    return std::make_unique<optim::Momentum>(params, optim::MomentumOptions{.lr = c.lr, .momentum = c.momentum});
  }
  if (o == "adamw")
    return std::make_unique<optim::AdamW>(params, optim::AdamWOptions{.lr = c.lr, .betas = {c.beta1, c.beta2}, .weight_decay = c.weight_decay});
  if (o == "rmsprop")
    return std::make_unique<optim::RMSprop>(params, optim::RMSpropOptions{.lr = c.lr, .weight_decay = c.weight_decay, .momentum = c.momentum});
  return std::make_unique<optim::Adam>(params, optim::AdamOptions{.lr = c.lr, .betas = {c.beta1, c.beta2}, .weight_decay = c.weight_decay});
}

// The lr of an epoch: linear warmup, then the schedule (in closed form, counted after warmup).
class EpochSchedule {
 public:
  EpochSchedule(const TrainConfig& c, optim::Optimizer& opt) : config_(c) {
    const int64_t span = std::max<int64_t>(1, c.epochs - c.warmup_epochs);
    if (c.schedule == "step") main_ = std::make_unique<optim::StepLR>(opt, c.step_size, c.gamma);
    else if (c.schedule == "exponential") main_ = std::make_unique<optim::ExponentialLR>(opt, c.gamma);
    else if (c.schedule == "cosine") main_ = std::make_unique<optim::CosineAnnealingLR>(opt, span, c.lr * 0.01);
  }
  double lr_at(int64_t epoch) const {
    if (epoch < config_.warmup_epochs) return config_.lr * (epoch + 1) / static_cast<double>(config_.warmup_epochs + 1);
    return main_ ? main_->lr_at(epoch - config_.warmup_epochs) : config_.lr;
  }

 private:
  const TrainConfig& config_;
  std::unique_ptr<optim::LRScheduler> main_;
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
    if (p.dim() == 2) weights.push_back(p);
  return weights;
}

nn::StateDict snapshot(const nn::Module& model) {
  minigrad::NoGradGuard no_grad;
  nn::StateDict copy;
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
    summary.insert("images_per_second", splits.train.size() * static_cast<double>(result.history.size()) /
                                            std::max(1e-9, result.seconds));
  }
  if (result.test) {
    const ConfusionMatrix& cm = result.test->confusion;
    toml::table test{{"accuracy", cm.accuracy()}, {"accuracy_stderr", cm.accuracy_stderr()},
                     {"loss", result.test->loss}, {"images", cm.total()}};
    toml::table per_class;
    const auto names = class_names();
    for (int c = 0; c < 10; ++c)
      per_class.insert(std::string(names[c]), toml::table{{"precision", cm.precision(c)}, {"recall", cm.recall(c)}, {"f1", cm.f1(c)}});
    test.insert("per_class", per_class);
    toml::array matrix;
    for (int t = 0; t < 10; ++t) {
      toml::array row;
      for (int p = 0; p < 10; ++p) row.push_back(cm.at(t, p));
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

Evaluation evaluate(nn::Module& model, const data::Dataset& d, bool tta_flip) {
  minigrad::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  Evaluation result;
  result.probabilities = minigrad::empty({d.size(), 10});
  double loss_sum = 0;
  constexpr int64_t kBatch = 1000;
  data::DataLoader loader(d, {.batch_size = kBatch, .shuffle = false});
  int64_t offset = 0;
  for (const data::Batch& batch : loader) {
    Tensor log_probs = model(batch.x).log_softmax(1);
    float* lp = log_probs.data<float>();
    if (tta_flip) {
      // log((p + q) / 2) from log p and log q, without leaving log space.
      const Tensor mirrored = model(data::flip_horizontal(batch.x, 28, 28)).log_softmax(1);
      const float* lq = mirrored.data<float>();
      for (int64_t i = 0; i < log_probs.numel(); ++i) {
        const float hi = std::max(lp[i], lq[i]), lo = std::min(lp[i], lq[i]);
        lp[i] = hi + std::log1p(std::exp(lo - hi)) - std::numbers::ln2_v<float>;
      }
    }
    const int64_t* y = batch.y.data<int64_t>();
    float* probs = result.probabilities.data<float>() + offset * 10;
    for (int64_t i = 0; i < batch.y.numel(); ++i) {
      const float* row = lp + i * 10;
      loss_sum -= row[y[i]];
      result.confusion.add(y[i], std::max_element(row, row + 10) - row);
      for (int k = 0; k < 10; ++k) probs[i * 10 + k] = std::exp(row[k]);
    }
    offset += batch.y.numel();
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
  if (stored != parameter_count(loaded.config))
    throw Error(fmt::format("{}: its config describes a model of {} parameters, but the file holds {} values "
                            "(a checkpoint of another architecture, or an edited config)",
                            path, parameter_count(loaded.config), stored));
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
    if (!(t.dtype() == minigrad::kFloat64 ? all_finite<double, uint64_t>(t) : all_finite<float, uint32_t>(t))) return name;
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
    return fmt::format("loss is {}{}; {}", loss, grad.empty() ? "" : fmt::format(", first non-finite gradient: {}", grad), advice);
  return fmt::format("gradient of {} is not finite (loss {:.4f}); {}", grad, loss, advice);
}

}  // namespace

TrainResult train(const TrainConfig& config, const Splits& input_splits, const TrainOptions& options) {
  validate(config);
  if (options.resume && (!options.write_files || options.overfit_batch))
    throw Error("resume: only a run that writes files (and is not --overfit-batch) can be resumed");
  if (config.threads > 0) minigrad::set_num_threads(static_cast<int>(config.threads));
  const auto start = std::chrono::steady_clock::now();
  auto since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };

  Splits overfit;
  const Splits& splits = options.overfit_batch ? overfit : input_splits;
  if (options.overfit_batch) {
    overfit = input_splits;
    overfit.train = input_splits.train.head(std::max<int64_t>(1, config.batch_size));
    overfit.val = overfit.train;
  }

  auto model = build_model(config);
  auto optimizer = make_optimizer(config, model->parameters());
  // Before a resume sets the optimizer's lr: the schedule takes its base lr from the optimizer.
  const EpochSchedule schedule(config, *optimizer);
  TrainResult result;
  std::optional<RunDirectory> own_directory;
  const RunDirectory* directory = options.run_directory;
  if (options.write_files && !directory) {
    own_directory.emplace(config.out.empty() ? new_run_dir_name() : config.out,
                          options.resume ? RunDirMode::Resume : RunDirMode::New, run_bytes_needed(config));
    directory = &*own_directory;
  }
  if (directory) {
    result.run_dir = directory->path();
    if (!options.quiet)
      for (const std::string& file : directory->removed_temporaries())
        fmt::print(stderr, "note: removed {}, left behind by a process that no longer runs\n", file);
    minigrad::write_file_atomic(result.run_dir + "/config.toml", to_toml(config));
  }
  // Resume points only for runs that keep files; an overfit run is a seconds-long check.
  const bool resumable = options.write_files && !options.overfit_batch;
  TrainingState state;
  const bool restart = options.resume && !has_resume_point(result.run_dir);
  if (options.resume && !restart)
    state = load_training_state(resume_path(result.run_dir), config, splits, *model, *optimizer);
  auto save_state = [&] {
    save_training_state(resume_path(result.run_dir), state, config, splits, *model, *optimizer);
  };

  const std::vector<Tensor> params = model->parameters();
  const auto named_params = model->named_parameters();
  const std::vector<Tensor> weights = weights_of(*model);
  const data::Augmentation augment{.max_shift = static_cast<int>(options.overfit_batch ? 0 : config.augment_shift),
                                   .horizontal_flip = !options.overfit_batch && config.augment_flip};
  const int64_t batch_size = config.batch_size > 0 ? config.batch_size : splits.train.size();
  data::DataLoader loader(splits.train, {.batch_size = batch_size, .shuffle = true,
                                         .seed = static_cast<uint64_t>(config.seed), .augment = augment});
  if (!options.quiet) {
    fmt::print("{}", model->summary(minigrad::Shape{-1, 784}));
    fmt::print("train {} images, validate {}, test {}; batch {}, {} threads, {} GEMM kernels\n",
               splits.train.size(), splits.val.size(), splits.test.size(), batch_size,
               minigrad::get_num_threads(), minigrad::kernels::gemm_isa());
    if (restart)
      fmt::print("{} stopped before its first resume point: starting it again from its config.toml\n", result.run_dir);
    else if (options.resume)
      fmt::print("resuming {} at epoch {}, batch {}/{}\n", result.run_dir, state.epoch + 1, state.batch + 1, loader.num_batches());
    std::fflush(stdout);  // before any warning on stderr
  }

  const auto session_start = std::chrono::steady_clock::now();
  auto patience_exhausted = [&] { return config.patience > 0 && state.epochs_without_improvement >= config.patience; };
  while (state.epoch < config.epochs && !patience_exhausted()) {
    const int64_t epoch = state.epoch;
    const auto epoch_start = std::chrono::steady_clock::now();
    optimizer->set_lr(schedule.lr_at(epoch));
    loader.set_epoch(epoch);
    model->train();
    ProgressBar bar(fmt::format("epoch {:>3}/{}", epoch + 1, config.epochs), splits.train.size(), "img");
    for (; state.batch < loader.num_batches(); ++state.batch) {
      if (options.stop_signal && options.stop_signal->load() != 0) {
        bar.finish();
        state.epoch_seconds += since(epoch_start);
        state.seconds += since(session_start);
        if (resumable) save_state();
        result.interrupted_by = options.stop_signal->load();
        result.history = state.history;
        result.best_epoch = state.best_epoch;
        return result;
      }
      const int64_t b = state.batch;
      const data::Batch batch = loader.batch(b);
      const Tensor logits = (*model)(batch.x);
      Tensor loss = nn::cross_entropy(logits, batch.y, {.label_smoothing = config.label_smoothing});
      const double data_loss = loss.item();
      if (epoch == 0 && b == 0 && !options.quiet && std::abs(data_loss - std::log(10.0)) > 1.0)
        fmt::print(stderr, "warning: first loss {:.3f} is far from ln(10) = 2.303, the loss of a fresh 10-class "
                           "model: check the init scale and the input normalization\n", data_loss);
      if (config.l2 > 0) loss = loss + nn::l2_penalty(weights) * (config.l2 / 2);
      if (config.l1 > 0) loss = loss + nn::l1_penalty(weights) * config.l1;
      optimizer->zero_grad();
      loss.backward();
      if (options.after_backward) options.after_backward(epoch, b, *model);
      const double total_loss = config.l1 > 0 || config.l2 > 0 ? loss.item() : data_loss;
      if (const std::string bad = check_step(total_loss, named_params, optimizer->lr()); !bad.empty()) {
        const std::string where = fmt::format("epoch {}, batch {}: {}", epoch + 1, b + 1, bad);
        if (config.on_nan == "stop") {
          result.non_finite = where;
          break;
        }
        ++state.skipped;
        ++state.skipped_steps;
        if (!options.quiet) fmt::print(stderr, "warning: step skipped: {}\n", where);
        continue;
      }
      if (config.clip_value > 0) optim::clip_grad_value_(params, config.clip_value);
      if (config.clip_norm > 0) optim::clip_grad_norm_(params, config.clip_norm);
      optimizer->step();
      const int64_t n = batch.y.numel();
      state.loss_sum += data_loss * n;
      state.correct += count_correct(logits, batch.y);
      state.seen += n;
      if (!options.quiet) {
        bar.update(state.seen, fmt::format("loss {:.4f}", state.loss_sum / state.seen));
        if (config.log_every > 0 && (b + 1) % config.log_every == 0) {
          fmt::print("epoch {}/{} batch {}/{} loss {:.4f}\n", epoch + 1, config.epochs, b + 1, loader.num_batches(),
                     state.loss_sum / state.seen);
          std::fflush(stdout);
        }
      }
    }
    bar.finish();
    if (!result.non_finite.empty()) break;

    const int64_t seen = std::max<int64_t>(state.seen, 1);
    EpochRecord record{epoch + 1, state.loss_sum / seen, static_cast<double>(state.correct) / seen, NAN, NAN, optimizer->lr(), 0, state.skipped};
    if (splits.val.size() > 0) {
      const Evaluation val = evaluate(*model, splits.val, config.tta_flip);
      record.val_loss = val.loss;
      record.val_accuracy = val.confusion.accuracy();
    }
    record.seconds = state.epoch_seconds + since(epoch_start);
    state.history.push_back(record);
    // Lower is better for both: accuracy is negated. Without a validation split the training
    // numbers stand in.
    const bool has_val = splits.val.size() > 0;
    const double monitored = config.monitor == "val_loss" ? (has_val ? record.val_loss : record.train_loss)
                                                          : -(has_val ? record.val_accuracy : record.train_accuracy);
    const bool improved = monitored < state.best_monitored;
    if (improved) {
      state.best_monitored = monitored;
      state.best_epoch = record.epoch;
      state.epochs_without_improvement = 0;
      if (config.restore_best) state.best_state = snapshot(*model);
      if (options.write_files) save_checkpoint(result.run_dir + "/best.ckpt", *model, config, splits.standardization, record);
    } else {
      ++state.epochs_without_improvement;
    }
    if (options.write_files) minigrad::write_file_atomic(result.run_dir + "/metrics.csv", metrics_csv(state.history));
    if (!options.quiet)
      fmt::print("epoch {:>3}/{}  train loss {:.4f} acc {:6.2f}%  {}  lr {:.2e}  {:.1f}s{}{}\n", record.epoch,
                 config.epochs, record.train_loss, 100 * record.train_accuracy,
                 splits.val.size() ? fmt::format("val loss {:.4f} acc {:6.2f}%", record.val_loss, 100 * record.val_accuracy)
                                   : std::string("(no validation split)"),
                 record.lr, record.seconds, improved ? "  *" : "",
                 record.skipped_steps ? fmt::format("  ({} steps skipped)", record.skipped_steps) : "");
    std::fflush(stdout);  // a line per epoch, even when piped to a log
    state.start_next_epoch();
    if (resumable) save_state();  // a resume point at every epoch's end
  }
  if (patience_exhausted() && !options.quiet) fmt::print("early stop: no improvement for {} epochs\n", config.patience);
  result.history = state.history;
  result.best_epoch = state.best_epoch;
  result.skipped_steps = state.skipped_steps;

  if (config.restore_best && !state.best_state.empty()) model->load_state_dict(state.best_state);
  // A model broken by an overflowing step is neither saved (the last good checkpoints stay) nor tested.
  const std::string broken = first_non_finite_parameter(*model);
  if (!broken.empty() && !options.quiet)
    fmt::print(stderr, "warning: parameter {} is not finite: model.ckpt not written, no test\n", broken);
  if (options.write_files && !result.history.empty() && broken.empty())
    save_checkpoint(result.run_dir + "/model.ckpt", *model, config, splits.standardization, result.history.back());
  // Nor is a model no epoch of which finished (a NaN in the first epoch): its numbers would mean nothing.
  if (options.evaluate_test && broken.empty() && !result.history.empty())
    result.test = evaluate(*model, splits.test, config.tta_flip);
  result.seconds = state.seconds + since(session_start) + std::chrono::duration<double>(session_start - start).count();
  if (options.write_files) minigrad::write_file_atomic(result.run_dir + "/summary.json", summary_json(config, result, splits));
  if (options.write_files)  // figures and report never throw: the results above are kept whatever happens
    write_report(result.run_dir, config, result,
                 write_figures(result.run_dir, {&result.history, result.best_epoch, result.test ? &*result.test : nullptr,
                                                &splits.test, model.get()}));
  // Finished: nothing left to resume. A run stopped on a NaN keeps its last epoch's resume point,
  // so it can go on with --resume RUN_DIR --on-nan skip.
  if (resumable && result.non_finite.empty()) std::filesystem::remove(resume_path(result.run_dir));
  if (options.stop_signal) result.signal_after_training = options.stop_signal->load();
  return result;
}

void check_lr_find_range(double start, double end, int64_t steps) {
  if (!(start > 0 && end > start && std::isfinite(end) && steps > 1))
    throw UsageError(fmt::format("lr-find: need 0 < start < end and steps > 1 (got {}, {}, {})", start, end, steps));
}

std::vector<LrFindPoint> lr_find(const TrainConfig& config, const Splits& splits, double start, double end, int64_t steps) {
  check_lr_find_range(start, end, steps);
  auto model = build_model(config);
  auto optimizer = make_optimizer(config, model->parameters());
  const int64_t batch_size = config.batch_size > 0 ? config.batch_size : splits.train.size();
  data::DataLoader loader(splits.train, {.batch_size = batch_size, .shuffle = true, .seed = static_cast<uint64_t>(config.seed)});
  std::vector<LrFindPoint> points;
  constexpr double kSmoothing = 0.98;  // exponential moving average, bias-corrected
  double average = 0, best = INFINITY;
  ProgressBar bar("lr-find", steps, "steps");
  for (int64_t step = 0; step < steps; ++step) {
    const double lr = start * std::pow(end / start, static_cast<double>(step) / (steps - 1));
    optimizer->set_lr(lr);
    if (step % std::max<int64_t>(loader.num_batches(), 1) == 0) loader.set_epoch(step / std::max<int64_t>(loader.num_batches(), 1));
    const data::Batch batch = loader.batch(step % loader.num_batches());
    Tensor loss = nn::cross_entropy((*model)(batch.x), batch.y);
    const double value = loss.item();
    if (!std::isfinite(value)) break;
    optimizer->zero_grad();
    loss.backward();
    optimizer->step();
    average = kSmoothing * average + (1 - kSmoothing) * value;
    const double smoothed = average / (1 - std::pow(kSmoothing, step + 1));
    points.push_back({lr, value, smoothed});
    best = std::min(best, smoothed);
    bar.update(step + 1, fmt::format("lr {:.2e} loss {:.4f}", lr, smoothed));
    if (smoothed > 4 * best) break;
  }
  bar.finish();
  return points;
}

double suggest_lr(const std::vector<LrFindPoint>& points) {
  if (points.empty()) throw Error("lr-find: no finite loss was recorded");
  const auto best = std::min_element(points.begin(), points.end(),
                                     [](const LrFindPoint& a, const LrFindPoint& b) { return a.smoothed < b.smoothed; });
  return best->lr / 10;
}

}  // namespace fashion
