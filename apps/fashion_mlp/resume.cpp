#include "resume.h"

#include <bit>
#include <cstring>
#include <filesystem>
#include <functional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <minigrad/minigrad.h>

namespace fashion {

namespace nn = minigrad::nn;
using minigrad::Error;
using minigrad::StateDict;
using minigrad::Tensor;

namespace {

constexpr const char* kFormat = "fashion_mlp.resume";

// Every Dropout in the model by path ("model.2"): their generators draw the masks.
void for_each_dropout(const nn::Module& module, const std::string& path,
                      const std::function<void(const std::string&, const nn::Dropout&)>& visit) {
  if (const auto* dropout = dynamic_cast<const nn::Dropout*>(&module)) visit(path, *dropout);
  for (const auto& [name, child] : module.named_children()) for_each_dropout(*child, path + "." + name, visit);
}

Tensor generator_tensor(const minigrad::Generator& gen) {
  const minigrad::Generator::State s = gen.state();
  std::vector<int64_t> words(s.size());
  std::transform(s.begin(), s.end(), words.begin(), [](uint64_t w) { return std::bit_cast<int64_t>(w); });
  return minigrad::tensor(words, {static_cast<int64_t>(words.size())}, {.dtype = minigrad::kInt64});
}

// EpochRecord as a row of doubles (the integers in it are small, so exact).
template <typename Record, typename Visit>
void for_each_column(Record& r, Visit&& visit) {
  visit(r.epoch);
  visit(r.train_loss);
  visit(r.train_accuracy);
  visit(r.val_loss);
  visit(r.val_accuracy);
  visit(r.lr);
  visit(r.seconds);
  visit(r.skipped_steps);
}
constexpr int64_t kColumns = 8;

// Lookups in a loaded resume checkpoint; every error names the file and the entry.
class Entries {
 public:
  Entries(nn::Checkpoint ckpt, std::string path) : ckpt_(std::move(ckpt)), path_(std::move(path)) {}

  // Keys added since the first format are absent from older files.
  std::string meta_or(const std::string& key, const std::string& absent) const {
    auto it = ckpt_.metadata.find(key);
    return it == ckpt_.metadata.end() ? absent : it->second;
  }
  const std::string& meta(const std::string& key) const {
    auto it = ckpt_.metadata.find(key);
    if (it == ckpt_.metadata.end()) fail(fmt::format("no '{}' in its metadata", key));
    return it->second;
  }
  const Tensor& tensor(const std::string& name, minigrad::DType dtype, int64_t numel = -1) const {
    auto it = ckpt_.tensors.find(name);
    if (it == ckpt_.tensors.end()) fail(fmt::format("no tensor '{}'", name));
    if (it->second.dtype() != dtype || (numel >= 0 && it->second.numel() != numel))
      fail(fmt::format("tensor '{}' is {} of shape {}, expected {} with {} elements", name, it->second.dtype(),
                       it->second.shape(), dtype, numel));
    return it->second;
  }
  // The tensors named "<prefix><rest>", keyed by rest.
  StateDict with_prefix(const std::string& prefix) const {
    StateDict out;
    for (const auto& [name, t] : ckpt_.tensors)
      if (name.starts_with(prefix)) out.emplace(name.substr(prefix.size()), t);
    return out;
  }
  void restore(minigrad::Generator& gen, const std::string& name) const {
    const std::vector<int64_t> words = tensor(name, minigrad::kInt64, 6).to_vector<int64_t>();
    minigrad::Generator::State s;
    std::transform(words.begin(), words.end(), s.begin(), [](int64_t w) { return std::bit_cast<uint64_t>(w); });
    gen.set_state(s);
  }
  [[noreturn]] void fail(const std::string& problem) const {
    throw Error(fmt::format("{}: not a usable resume checkpoint: {}", path_, problem));
  }

 private:
  nn::Checkpoint ckpt_;
  std::string path_;
};

Entries read_entries(const std::string& path) {
  Entries entries(nn::load_tensors(path), path);
  if (entries.meta("format") != kFormat)
    entries.fail(fmt::format("format is '{}', expected '{}'", entries.meta("format"), kFormat));
  return entries;
}

// What identifies the data the run trained on, beyond the config that produced it.
template <typename Visit>
void for_each_fingerprint(const Splits& splits, Visit&& visit) {
  visit("train_images", static_cast<double>(splits.train.size()));
  visit("val_images", static_cast<double>(splits.val.size()));
  visit("standardization_mean", splits.standardization.mean);
  visit("standardization_std", splits.standardization.std);
}

}  // namespace

void TrainingState::start_next_epoch() {
  ++epoch;
  batch = 0;
  loss_sum = 0;
  correct = seen = skipped = 0;
  epoch_seconds = 0;
}

std::string resume_path(const std::string& run_dir) { return run_dir + "/resume.ckpt"; }

void save_training_state(const std::string& path, const TrainingState& state, const TrainConfig& config,
                         const Splits& splits, const nn::Module& model, const minigrad::optim::Optimizer& optimizer,
                         int processes) {
  StateDict tensors;
  for (const auto& [name, t] : model.state_dict()) tensors["model." + name] = t;
  for (const auto& [name, t] : optimizer.state_dict()) tensors["optimizer." + name] = t;
  for (const auto& [name, t] : state.best_state) tensors["best." + name] = t;
  for_each_dropout(model, "model", [&](const std::string& path, const nn::Dropout& d) {
    tensors["rng." + path] = generator_tensor(d.generator());
  });
  tensors["rng.default"] = generator_tensor(minigrad::default_generator());
  for_each_scalar(state, [&](const char* name, const auto& value) {
    using T = std::remove_cvref_t<decltype(value)>;
    tensors[fmt::format("state.{}", name)] = minigrad::full(
        {}, static_cast<double>(value), {.dtype = std::is_same_v<T, double> ? minigrad::kFloat64 : minigrad::kInt64});
  });
  std::vector<double> rows;
  for (const EpochRecord& r : state.history)
    for_each_column(r, [&](const auto& v) { rows.push_back(static_cast<double>(v)); });
  tensors["state.history"] =
      minigrad::tensor(rows, {static_cast<int64_t>(state.history.size()), kColumns}, {.dtype = minigrad::kFloat64});
  for_each_fingerprint(splits, [&](const char* name, double value) {
    tensors[fmt::format("data.{}", name)] = minigrad::full({}, value, {.dtype = minigrad::kFloat64});
  });
  nn::save_tensors(path, tensors,
                   {{"format", kFormat},
                    {"config", to_toml(config)},
                    {"position", fmt::format("epoch {} batch {}", state.epoch, state.batch)},
                    {"processes", std::to_string(processes)}});
}

bool has_resume_point(const std::string& run_dir) {
  namespace fs = std::filesystem;
  if (fs::exists(resume_path(run_dir))) return true;
  // Killed before the end of its first epoch, the run left its config.toml (and perhaps a
  // best.ckpt and metrics.csv) but no resume point and no model.
  if (fs::exists(run_dir + "/config.toml") && !fs::exists(run_dir + "/model.ckpt")) return false;
  throw Error(fmt::format("{}: nothing to resume: no resume.ckpt here ({})", run_dir,
                          !fs::is_directory(run_dir)            ? "no such directory"
                          : fs::exists(run_dir + "/model.ckpt") ? "the run finished; its model is model.ckpt"
                                                                : "not a fashion_mlp run directory"));
}

TrainConfig resumable_config(const std::string& run_dir) {
  if (!has_resume_point(run_dir)) {
    TrainConfig config;
    load_config_file(run_dir + "/config.toml", config);
    return config;
  }
  const std::string path = resume_path(run_dir);
  return from_toml(read_entries(path).meta("config"), path + " (config)");
}

void check_resumable(const TrainConfig& run, const TrainConfig& requested, const std::string& run_dir) {
  std::vector<std::string> problems;
  for (const std::string& name : changed_fields(run, requested))
    if (std::find(std::begin(kRunOnlyFields), std::end(kRunOnlyFields), name) == std::end(kRunOnlyFields))
      problems.push_back(
          fmt::format("{} is {} in the run, {} now", name, field_text(run, name), field_text(requested, name)));
  if (!problems.empty())
    throw UsageError(fmt::format("{}: cannot resume with a different config ({}); only {} may change", run_dir,
                                 fmt::join(problems, "; "), fmt::join(kRunOnlyFields, ", ")));
}

TrainingState load_training_state(const std::string& path, const TrainConfig& config, const Splits& splits,
                                  nn::Module& model, minigrad::optim::Optimizer& optimizer, int processes) {
  const Entries entries = read_entries(path);
  check_resumable(from_toml(entries.meta("config"), path + " (config)"), config,
                  std::filesystem::path(path).parent_path().string());
  const std::string saved_processes = entries.meta_or("processes", "1");
  if (saved_processes != std::to_string(processes) && !model.buffers().empty())
    throw UsageError(
        fmt::format("{}: the run was saved by {} process(es), this one has {}: its batch norm normalizes "
                    "each process's share of a batch, so continue it with {} (mpirun -np {})",
                    path, saved_processes, processes, saved_processes, saved_processes));
  for_each_fingerprint(splits, [&](const char* name, double value) {
    const double saved = entries.tensor(fmt::format("data.{}", name), minigrad::kFloat64, 1).item();
    if (saved != value)
      entries.fail(fmt::format("the data differ from the run's: {} is {} now, {} in the run", name, value, saved));
  });

  TrainingState state;
  for_each_scalar(state, [&](const char* name, auto& value) {
    using T = std::remove_cvref_t<decltype(value)>;
    const Tensor& t = entries.tensor(fmt::format("state.{}", name),
                                     std::is_same_v<T, double> ? minigrad::kFloat64 : minigrad::kInt64, 1);
    if constexpr (std::is_same_v<T, double>)
      value = t.item();
    else
      value = t.to_vector<int64_t>()[0];
  });
  if (state.epoch < 0 || state.epoch > config.epochs || state.batch < 0)
    entries.fail(fmt::format("position epoch {} batch {} is outside a run of {} epochs", state.epoch, state.batch,
                             config.epochs));
  const Tensor& history = entries.tensor("state.history", minigrad::kFloat64);
  if (history.dim() != 2 || history.shape()[1] != kColumns || history.shape()[0] != state.epoch)
    entries.fail(fmt::format("state.history has shape {}, expected ({}, {})", history.shape(), state.epoch, kColumns));
  const std::vector<double> rows = history.to_vector<double>();
  state.history.resize(static_cast<std::size_t>(state.epoch));
  std::size_t at = 0;
  for (EpochRecord& r : state.history)
    for_each_column(r, [&](auto& v) { v = static_cast<std::remove_cvref_t<decltype(v)>>(rows[at++]); });
  state.best_state = entries.with_prefix("best.");

  try {
    model.load_state_dict(entries.with_prefix("model."));
    optimizer.load_state_dict(entries.with_prefix("optimizer."));
  } catch (const Error& e) {
    entries.fail(e.what());
  }
  for_each_dropout(model, "model", [&](const std::string& name, const nn::Dropout& d) {
    entries.restore(d.generator(), "rng." + name);
  });
  entries.restore(minigrad::default_generator(), "rng.default");
  return state;
}

}  // namespace fashion
