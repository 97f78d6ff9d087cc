// fashion_mlp: train, evaluate and query MLPs on Fashion-MNIST.
//   fashion_mlp train [--recipe NAME | --config FILE] [--lr 3e-4 --hidden 512,256 ...]
//   fashion_mlp train --resume RUN_DIR [--threads N ...]
//   fashion_mlp eval RUN_DIR|CHECKPOINT
//   fashion_mlp predict RUN_DIR|CHECKPOINT [IMAGE...] [--index I...]
//   fashion_mlp sweep --grid lr=1e-3,3e-4 --grid hidden=256,512x256 [--samples N] [train flags]
//   fashion_mlp compare RUN_DIR... [--out compare.png]
//   fashion_mlp lr-find [train flags]
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>

#include <minigrad/minigrad.h>

#include "cluster.h"
#include "config.h"
#include "figures.h"
#include "images.h"
#include "lr_find.h"
#include "resume.h"
#include "run_dir.h"
#include "sweep.h"
#include "train.h"

namespace {

using namespace fashion;
using minigrad::Error;

// CLI11 2.1 reads numbers with strtoll and strtold: out-of-range integers saturate silently
// (--epochs 99999999999999999999 would train forever), a leading 0 means octal and 0x10 is 16.
// Accept plain decimals that fit in T, nothing else (inf and nan reach validate, which names the
// setting).
template <typename T>
CLI::Validator decimal(std::string_view kind, std::string_view out_of_range, std::string name) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        T value{};
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec == std::errc::result_out_of_range) return fmt::format("{} {}", minigrad::printable(text), out_of_range);
        if (ec != std::errc{} || end != text.data() + text.size())
          return fmt::format("{} is not a decimal {}", minigrad::printable(text), kind);
        if constexpr (std::is_integral_v<T>) text = std::to_string(value);  // drops leading zeros (octal to strtoll)
        return {};
      },
      std::move(name));
}
const CLI::Validator kDecimalInt64 = decimal<int64_t>("integer", "does not fit in a 64-bit integer", "INT");
const CLI::Validator kDecimalNumber = decimal<double>("number", "is outside the range of a double", "NUMBER");

// Every config field as a --flag on `command`; the map tells later which ones were given.
std::map<std::string, CLI::Option*> add_config_flags(CLI::App& command, TrainConfig& cli) {
  std::map<std::string, CLI::Option*> flags;
  for_each_field(cli, [&](std::string_view name, auto& field, std::string_view help) {
    std::string flag = "--" + std::string(name);
    std::replace(flag.begin(), flag.end(), '_', '-');
    CLI::Option* option = command.add_option(flag, field, std::string(help));
    using T = std::remove_cvref_t<decltype(field)>;
    if constexpr (std::is_same_v<T, std::vector<int64_t>> || std::is_same_v<T, std::vector<std::string>>)
      option->delimiter(',');
    if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, std::vector<int64_t>>)
      option->transform(kDecimalInt64);
    if constexpr (std::is_same_v<T, double>) option->transform(kDecimalNumber);
    flags[std::string(name)] = option;
  });
  return flags;
}

// Defaults, then the recipe or config file, then the flags given on the command line.
TrainConfig resolve_config(const TrainConfig& cli, const std::map<std::string, CLI::Option*>& flags,
                           const std::string& recipe, const std::string& config_file) {
  TrainConfig config;
  if (!recipe.empty()) load_config_file(recipe_path(recipe), config);
  if (!config_file.empty()) load_config_file(config_file, config);
  for (const auto& [name, flag] : flags)
    if (flag->count() > 0) copy_field(config, cli, name);
  validate(config);
  return config;
}

void print_report(const Evaluation& test) {
  const auto names = class_names();
  fmt::print(
      "\ntest accuracy {} ({} images), loss {:.4f}\n\n{}\nconfusion matrix (rows: true class, columns: predicted)\n{}",
      test.confusion.accuracy_text(), test.confusion.total(), test.loss, test.confusion.per_class_table(names),
      test.confusion.matrix_table(names));
}

std::string checkpoint_in(const std::string& run_or_file) {
  return std::filesystem::is_directory(run_or_file) ? run_or_file + "/model.ckpt" : run_or_file;
}

// ---- subcommands ----

// Exit statuses: 0 done, 1 an error while running (missing data, an unreadable file, a run
// directory in use), 2 a usage error (a bad flag, config or value; nothing was read), 3 a run
// stopped on a NaN or Inf, and 128 + the signal for a run interrupted and saved (130 for
// SIGINT), as shells report it.
constexpr int kExitRuntime = 1, kExitUsage = 2, kExitNonFinite = 3;

std::string signal_name(int sig) {
  return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : fmt::format("signal {}", sig);
}

// An error message as printed: control bytes escaped and each line cut to a readable length, so
// that a 10 MB or binary argument echoed in it can neither flood nor garble the terminal.
std::string printable_message(std::string_view message) {
  std::string out;
  for (std::size_t at = 0; at <= message.size();) {
    const std::size_t eol = std::min(message.find('\n', at), message.size());
    out += (at ? "\n" : "") + minigrad::printable(message.substr(at, eol - at), 1000);
    at = eol + 1;
  }
  return out;
}

// The signal that asked `train` to stop; the trainer polls it between steps.
std::atomic<int> stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "a signal handler may only touch lock-free atomics");

void request_stop(int signal) {
  stop_signal.store(signal);
  constexpr char kNote[] =
      "\nfashion_mlp: stopping once the step or the file being written is done, with everything "
      "saved; signal again to quit at once\n";
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, kNote, sizeof kNote - 1);
}

// The first SIGINT or SIGTERM asks for a clean stop; SA_RESETHAND lets a second one kill, and
// SA_RESTART keeps a write in progress (a checkpoint) from failing with EINTR.
void catch_stop_signals() {
  struct sigaction action {};
  action.sa_handler = request_stop;
  action.sa_flags = SA_RESETHAND | SA_RESTART;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGINT, SIGTERM}) ::sigaction(sig, &action, nullptr);
}

// The config of `train --resume RUN_DIR`: the run's own, with the flags given on top (only
// kRunOnlyFields may differ; check_resumable names any other).
TrainConfig resume_config(const std::string& run_dir, const TrainConfig& cli,
                          const std::map<std::string, CLI::Option*>& flags) {
  const TrainConfig run = resumable_config(run_dir);
  TrainConfig config = run;
  for (const auto& [name, flag] : flags)
    if (flag->count() > 0) copy_field(config, cli, name);
  config.out = run_dir;  // the directory may have moved since the run started
  check_resumable(run, config, run_dir);
  validate(config);
  return config;
}

int run_train(const TrainConfig& config, bool overfit_batch, RunDirMode mode, Cluster& cluster) {
  // The directory is locked and checked before any data is read; rank 0 alone holds it.
  std::optional<RunDirectory> run_dir;
  if (cluster.leader())
    run_dir.emplace(config.out.empty() ? new_run_dir_name() : config.out, mode, run_bytes_needed(config));
  const Splits splits = load_splits(config);
  catch_stop_signals();
  const TrainResult result = train(config, splits,
                                   {.overfit_batch = overfit_batch,
                                    .resume = mode == RunDirMode::Resume,
                                    .run_directory = run_dir ? &*run_dir : nullptr,
                                    .stop_signal = &stop_signal,
                                    .cluster = &cluster});
  if (!cluster.leader()) {  // rank 0 reports
    const int sig = result.interrupted_by ? result.interrupted_by : result.signal_after_training;
    return sig ? 128 + sig : result.non_finite.empty() ? 0 : kExitNonFinite;
  }
  if (cluster.size() > 1) fmt::print("{}\n", cluster.report());
  if (result.interrupted_by) {
    fmt::print(stderr,
               "fashion_mlp: interrupted by {}: state saved to {}; continue with: fashion_mlp train --resume {}\n",
               signal_name(result.interrupted_by), resume_path(result.run_dir), result.run_dir);
    return 128 + result.interrupted_by;
  }
  if (result.best_epoch > 0) {
    const EpochRecord& best = result.history[result.best_epoch - 1];
    const std::string val = std::isnan(best.val_accuracy) ? std::string("best training accuracy: no validation split")
                                                          : fmt::format("val loss {:.4f}, val acc {:.2f}%",
                                                                        best.val_loss, 100 * best.val_accuracy);
    fmt::print("\nbest epoch {} ({}); {:.1f}s in all\n", best.epoch, val, result.seconds);
  }
  if (result.skipped_steps > 0) fmt::print("{} steps skipped for NaN or Inf values\n", result.skipped_steps);
  if (result.test) print_report(*result.test);
  fmt::print("\nrun directory: {}\n", result.run_dir);
  if (!result.non_finite.empty()) fmt::print(stderr, "fashion_mlp: training stopped at {}\n", result.non_finite);
  if (const int sig = result.signal_after_training) {  // a script running us must still see the interruption
    fmt::print(stderr, "fashion_mlp: {} came after the last step: the run's files in {} are complete\n",
               signal_name(sig), result.run_dir);
    return 128 + sig;
  }
  return result.non_finite.empty() ? 0 : kExitNonFinite;
}

void run_eval(const std::string& target, const std::string& data_dir, std::optional<bool> tta_flip) {
  LoadedModel loaded = load_checkpoint(checkpoint_in(target));
  if (!data_dir.empty()) loaded.config.data = data_dir;
  if (tta_flip) loaded.config.tta_flip = *tta_flip;
  const std::string dir = minigrad::data::find_fashion_mnist(loaded.config.data, {minigrad::data::Split::Test});
  auto test = minigrad::data::load_fashion_mnist_dataset(dir, minigrad::data::Split::Test);
  normalize(test, loaded.config, loaded.standardization);
  const Evaluation evaluation = evaluate(*loaded.model, test, loaded.config.tta_flip);
  print_report(evaluation);
  if (std::filesystem::is_directory(target))  // the run's test figures, for the whole test set
    for (const Figure& f :
         write_figures(target, {.test = &evaluation, .test_images = &test, .model = loaded.model.get()}))
      fmt::print("written: {}/{}\n", target, f.file);
}

void run_compare(const std::vector<std::string>& run_dirs, const std::string& out) {
  const std::vector<RunCurves> runs = load_runs(run_dirs);
  if (!write_figure(out, [&] { return compare_figure(runs); }))
    throw Error(fmt::format("compare: {} not written", out));
  fmt::print("written: {}\n", out);
}

void run_predict(const std::string& target, const std::vector<std::string>& files, const std::vector<int64_t>& indices,
                 bool invert, const std::string& data_dir) {
  if (files.empty() && indices.empty()) throw UsageError("predict: give image files and/or --index values");
  LoadedModel loaded = load_checkpoint(checkpoint_in(target));
  const auto names = class_names();
  std::vector<std::string> labels;
  std::vector<float> pixels;
  std::vector<int64_t> truth;
  for (const std::string& file : files) {
    const std::vector<float> image = load_image_28x28(file, invert);
    pixels.insert(pixels.end(), image.begin(), image.end());
    labels.push_back(file);
    truth.push_back(-1);
  }
  if (!indices.empty()) {
    const std::string dir = minigrad::data::find_fashion_mnist(data_dir.empty() ? loaded.config.data : data_dir,
                                                               {minigrad::data::Split::Test});
    const auto test = minigrad::data::load_fashion_mnist_dataset(dir, minigrad::data::Split::Test);
    for (int64_t i : indices) {
      if (i < 0 || i >= test.size())
        throw UsageError(
            fmt::format("predict: --index {} is out of range (the test set has {} images)", i, test.size()));
      const float* p = test.images.data<float>() + i * kImagePixels;
      pixels.insert(pixels.end(), p, p + kImagePixels);
      labels.push_back(fmt::format("test[{}]", i));
      truth.push_back(test.labels.data<int64_t>()[i]);
    }
  }
  const auto n = static_cast<int64_t>(labels.size());
  minigrad::data::Dataset batch{minigrad::tensor(pixels, {n, kImagePixels}),
                                minigrad::zeros({n}, {.dtype = minigrad::kInt64}),
                                {1, kImageSide, kImageSide}};
  normalize(batch, loaded.config, loaded.standardization);
  const Evaluation result = evaluate(*loaded.model, batch, loaded.config.tta_flip);
  const float* probs = result.probabilities.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    std::vector<int> order(kClasses);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + 3, order.end(),
                      [&](int a, int b) { return probs[i * kClasses + a] > probs[i * kClasses + b]; });
    std::string line = fmt::format("{}:", labels[i]);
    for (int k = 0; k < 3; ++k)
      line += fmt::format("  {} {:.1f}%", names[order[k]], 100 * probs[i * kClasses + order[k]]);
    if (truth[i] >= 0) line += fmt::format("   (true: {})", names[truth[i]]);
    fmt::print("{}\n", line);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::unique_ptr<Cluster> cluster;
  // After an error on one process the others would wait for it: end them all.
  auto failed = [&](int status) {
    if (cluster && cluster->size() > 1) cluster->abort(status);
    return status;
  };
  CLI::App app{"fashion_mlp: train, evaluate and query MLPs on Fashion-MNIST"};
  app.require_subcommand(1);
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return fmt::format("fashion_mlp: error: {}\n", printable_message(e.what()));
  });
  app.footer(
      "exit status: 0 done, 1 error while running, 2 usage error (bad flag, config or value), 3 training "
      "stopped on NaN or Inf, 128+N interrupted by signal N (130 for Ctrl-C; train --resume continues)");

  TrainConfig cli;
  std::string recipe, config_file;
  bool overfit_batch = false;
  auto* train_cmd = app.add_subcommand("train", "train a model and report test metrics");
  auto train_flags = add_config_flags(*train_cmd, cli);
  train_cmd->add_option("--recipe", recipe, "a bundled recipe by name, or a TOML file");
  train_cmd->add_option("--config", config_file, "a TOML config file (flags override it)");
  train_cmd->add_flag("--overfit-batch", overfit_batch, "train on one batch: the loss must go to ~0");
  std::string resume_dir;
  train_cmd->add_option("--resume", resume_dir, "continue the interrupted run in RUN_DIR (Ctrl-C or SIGTERM saves it)")
      ->excludes("--recipe", "--config", "--overfit-batch", "--out");
  bool force = false;
  train_cmd->add_flag("--force", force, "start over in an --out directory that holds a run, deleting that run")
      ->excludes("--resume");

  std::string target, data_dir;
  auto* eval_cmd = app.add_subcommand("eval", "report test metrics of a trained model");
  eval_cmd->add_option("checkpoint", target, "run directory or checkpoint file")->required();
  eval_cmd->add_option("--data", data_dir, "Fashion-MNIST folder");
  std::optional<bool> eval_tta_flip;
  eval_cmd->add_option("--tta-flip", eval_tta_flip,
                       "average each image's and its mirror's predictions (default: as trained)");

  std::vector<std::string> files;
  std::vector<int64_t> indices;
  bool invert = false;
  auto* predict_cmd = app.add_subcommand("predict", "top-3 classes of image files or test images");
  predict_cmd->add_option("checkpoint", target, "run directory or checkpoint file")->required();
  predict_cmd
      ->add_option("images", files, "PNG, JPEG, BMP or PGM/PPM (P2, P3, P5, P6) files (made grayscale and 28x28)")
      ->check(CLI::ExistingFile);
  predict_cmd->add_option("--index", indices, "test-set indices")->delimiter(',')->transform(kDecimalInt64);
  predict_cmd->add_flag("--invert", invert, "invert images drawn dark-on-light (Fashion-MNIST is light-on-dark)");
  predict_cmd->add_option("--data", data_dir, "Fashion-MNIST folder");

  TrainConfig sweep_cli;
  std::vector<std::string> grid;
  int64_t samples = 0;
  std::string sweep_recipe, sweep_config;
  auto* sweep_cmd = app.add_subcommand("sweep", "grid or random search; a table sorted by validation accuracy");
  auto sweep_flags = add_config_flags(*sweep_cmd, sweep_cli);
  sweep_cmd->add_option("--grid", grid, "name=value1,value2,... (hidden sizes as 512x256); repeat per setting")
      ->required();
  sweep_cmd->add_option("--samples", samples, "random search: run only N random points of the grid")
      ->transform(kDecimalInt64);
  sweep_cmd->add_option("--recipe", sweep_recipe, "base recipe");
  sweep_cmd->add_option("--config", sweep_config, "base config file");

  std::vector<std::string> compare_dirs;
  std::string compare_out = "compare.png";
  auto* compare_cmd = app.add_subcommand("compare", "draw the learning curves of several runs in one figure");
  compare_cmd->add_option("runs", compare_dirs, "run directories")->required()->check(CLI::ExistingDirectory);
  compare_cmd->add_option("--out", compare_out, "the PNG to write");

  TrainConfig lr_cli;
  double lr_start = 1e-6, lr_end = 1.0;
  int64_t lr_steps = 200;
  std::string lr_recipe, lr_config;
  auto* lr_cmd = app.add_subcommand("lr-find", "learning-rate range test");
  auto lr_flags = add_config_flags(*lr_cmd, lr_cli);
  lr_cmd->add_option("--start", lr_start, "first learning rate")->transform(kDecimalNumber);
  lr_cmd->add_option("--end", lr_end, "last learning rate")->transform(kDecimalNumber);
  lr_cmd->add_option("--steps", lr_steps, "number of steps (batches)")->transform(kDecimalInt64);
  lr_cmd->add_option("--recipe", lr_recipe, "base recipe");
  lr_cmd->add_option("--config", lr_config, "base config file");

  try {
    cluster = Cluster::from_environment();
    // CLI11 would only say "A subcommand is required" for `fashion_mlp trian`.
    std::vector<std::string> commands;
    for (const CLI::App* command : std::as_const(app).get_subcommands([](const CLI::App*) { return true; }))
      commands.push_back(command->get_name());
    if (argc > 1 && argv[1][0] != '-' && std::find(commands.begin(), commands.end(), argv[1]) == commands.end())
      throw UsageError(
          fmt::format("unknown subcommand '{}' (one of: {})", minigrad::printable(argv[1]), fmt::join(commands, ", ")));
    app.parse(argc, argv);
    if (cluster->size() > 1 && !*train_cmd)
      throw UsageError("only train runs on several processes; run the other subcommands without mpirun");
    if (*train_cmd) {
      const bool resume = !resume_dir.empty();
      const TrainConfig config =
          resume ? resume_config(resume_dir, cli, train_flags) : resolve_config(cli, train_flags, recipe, config_file);
      const RunDirMode mode = resume ? RunDirMode::Resume : force ? RunDirMode::Force : RunDirMode::New;
      if (const int status = run_train(config, overfit_batch, mode, *cluster); status != 0) return status;
    }
    if (*eval_cmd) run_eval(target, data_dir, eval_tta_flip);
    if (*predict_cmd) run_predict(target, files, indices, invert, data_dir);
    if (*sweep_cmd) run_sweep(resolve_config(sweep_cli, sweep_flags, sweep_recipe, sweep_config), grid, samples);
    if (*compare_cmd) run_compare(compare_dirs, compare_out);
    if (*lr_cmd) run_lr_find(resolve_config(lr_cli, lr_flags, lr_recipe, lr_config), lr_start, lr_end, lr_steps);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;  // --help exits 0
  } catch (const UsageError& e) {
    fmt::print(stderr, "fashion_mlp: error: {}\n", printable_message(e.what()));
    return failed(kExitUsage);
  } catch (const std::exception& e) {
    fmt::print(stderr, "fashion_mlp: error: {}\n", printable_message(e.what()));
    return failed(kExitRuntime);
  }
  return 0;
}
