// Training that survives: NaN/Inf policy, interruption by a real signal and bit-exact resumption,
// independence from the thread count, and run directories that cannot take the run's files.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <minigrad/minigrad.h>

#include "config.h"
#include "resume.h"
#include "train.h"

extern char** environ;

using Catch::Matchers::Contains;
namespace fs = std::filesystem;
namespace mg = minigrad;

namespace {

// A fresh directory per test, removed afterwards.
struct TempDir {
  fs::path path = fs::temp_directory_path() / fmt::format("fashion_survive_{}_{}", ::getpid(), counter()++);
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  std::string sub(const std::string& name) const { return (path / name).string(); }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const void* raw(const mg::Tensor& t) {
  if (t.dtype() == mg::kFloat32) return t.data<float>();
  if (t.dtype() == mg::kFloat64) return t.data<double>();
  return t.data<int64_t>();
}

// Every tensor of two checkpoint files has the same name, dtype, shape and bytes.
void check_same_tensors(const std::string& a_path, const std::string& b_path) {
  const mg::nn::Checkpoint a = mg::nn::load_tensors(a_path), b = mg::nn::load_tensors(b_path);
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (const auto& [name, t] : a.tensors) {
    INFO(a_path << " vs " << b_path << ": " << name);
    REQUIRE(b.tensors.count(name) == 1);
    const mg::Tensor& u = b.tensors.at(name);
    REQUIRE(t.dtype() == u.dtype());
    REQUIRE(t.shape() == u.shape());
    const std::size_t bytes = static_cast<std::size_t>(t.numel()) * (t.dtype() == mg::kFloat32 ? 4 : 8);
    CHECK(std::memcmp(raw(t), raw(u), bytes) == 0);
  }
}

// metrics.csv without its timing column, which no two runs share.
std::string metrics_without_seconds(const std::string& path) {
  std::istringstream in(read_text(path));
  std::string out, line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream row(line);
    for (std::string cell; std::getline(row, cell, ',');) cells.push_back(cell);
    REQUIRE(cells.size() == 8);
    cells.erase(cells.begin() + 6);  // seconds
    for (const std::string& cell : cells) out += cell + ",";
    out += "\n";
  }
  return out;
}

// fashion_mlp run as a child process, its stdout and stderr read through pipes.
class Process {
 public:
  explicit Process(const std::vector<std::string>& args) {
    int out[2], err[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
    std::vector<char*> argv{const_cast<char*>(FASHION_MLP_EXE)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, FASHION_MLP_EXE, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    ::close(err[1]);
    fds_[0] = out[0];
    fds_[1] = err[0];
    REQUIRE(rc == 0);
  }
  ~Process() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    for (int fd : fds_)
      if (fd >= 0) ::close(fd);
  }

  // Reads until stdout holds `text`; false when the process ends first or time runs out.
  bool wait_for(const std::string& text, std::chrono::seconds timeout = std::chrono::seconds(120)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.find(text) == std::string::npos)
      if (!read_some(deadline)) return false;
    return true;
  }
  void send(int signal) { REQUIRE(::kill(pid_, signal) == 0); }
  pid_t pid() const { return pid_; }
  // Reads to the end and reaps the process: its exit status, or 128 + the signal that killed it.
  int finish(std::chrono::seconds timeout = std::chrono::seconds(300)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (read_some(deadline)) {
    }
    int status = 0;
    REQUIRE(::waitpid(pid_, &status, 0) == pid_);
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  std::string out, err;

 private:
  // One read from whichever pipe is ready; false at the end of both or at the deadline.
  bool read_some(std::chrono::steady_clock::time_point deadline) {
    while (fds_[0] >= 0 || fds_[1] >= 0) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        FAIL_CHECK("fashion_mlp took too long; stdout so far:\n" << out << "\nstderr:\n" << err);
        return false;
      }
      pollfd polls[2] = {{fds_[0], POLLIN, 0}, {fds_[1], POLLIN, 0}};
      if (::poll(polls, 2, static_cast<int>(left.count())) <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (fds_[i] < 0 || polls[i].revents == 0) continue;
        char buffer[4096];
        const ssize_t n = ::read(fds_[i], buffer, sizeof buffer);
        if (n <= 0) {
          ::close(fds_[i]);
          fds_[i] = -1;
          continue;
        }
        (i == 0 ? out : err).append(buffer, static_cast<std::size_t>(n));
        return true;
      }
    }
    return false;
  }

  pid_t pid_ = -1;
  int fds_[2] = {-1, -1};
  bool exited_ = false;
};

int run(const std::vector<std::string>& args, std::string* err = nullptr, std::string* out = nullptr) {
  Process p(args);
  const int status = p.finish();
  if (err) *err = p.err;
  if (out) *out = p.out;
  INFO("fashion_mlp stdout:\n" << p.out << "\nstderr:\n" << p.err);
  return status;
}

// A small run that takes a few seconds: 675 steps per epoch, dropout and augmentation on, so
// the shuffle, the masks and the shifts all have to resume where they were.
std::vector<std::string> small_run(const std::string& out) {
  return {"train", "--train-limit", "12000", "--test-limit",   "500",   "--hidden",        "32", "--batch-size",
          "16",    "--epochs",      "3",     "--dropout",      "0.2",   "--augment-shift", "1",  "--threads",
          "1",     "--seed",        "7",     "--restore-best", "false", "--log-every",     "25", "--out",
          out};
}

fashion::TrainConfig small_config() {
  fashion::TrainConfig c;
  c.train_limit = 3000;
  c.test_limit = 100;
  c.hidden = {64, 32};
  c.batch_size = 16;
  c.dropout = 0.1;
  c.seed = 5;
  c.restore_best = false;
  return c;
}

// Trains `c` uninterrupted into dir/straight, then again into dir/resumed (left in c.out) with a
// SIGTERM requested after the backward of (epoch, batch): that step still completes.
fashion::TrainResult train_straight_then_stop(TempDir& dir, fashion::TrainConfig& c, const fashion::Splits& splits,
                                              int64_t stop_epoch, int64_t stop_batch) {
  c.out = dir.sub("straight");
  fashion::train(c, splits, {.quiet = true, .evaluate_test = false});
  c.out = dir.sub("resumed");
  std::atomic<int> stop{0};
  fashion::TrainOptions options{.quiet = true, .evaluate_test = false, .stop_signal = &stop};
  options.after_backward = [&](int64_t epoch, int64_t batch, mg::nn::Module&) {
    if (epoch == stop_epoch && batch == stop_batch) stop = SIGTERM;
  };
  return fashion::train(c, splits, options);
}

// The resumed run ended where the uninterrupted one did: the same weights and metrics.
void check_resumed_matches_straight(TempDir& dir) {
  check_same_tensors(dir.sub("straight/model.ckpt"), dir.sub("resumed/model.ckpt"));
  CHECK(metrics_without_seconds(dir.sub("straight/metrics.csv")) ==
        metrics_without_seconds(dir.sub("resumed/metrics.csv")));
}

}  // namespace

TEST_CASE("fashion_mlp: SIGINT and SIGTERM mid-epoch save the run; resumed, it ends bit-identical", "[e2e]") {
  TempDir dir;
  const std::string straight = dir.sub("straight"), interrupted = dir.sub("interrupted");
  REQUIRE(run(small_run(straight)) == 0);

  {
    Process p(small_run(interrupted));
    REQUIRE(p.wait_for("epoch 2/3 batch 100/675"));
    p.send(SIGINT);
    CHECK(p.finish() == 130);
    CHECK_THAT(p.err, Contains("interrupted by SIGINT") && Contains("fashion_mlp train --resume " + interrupted));
  }
  // Saved in the middle of epoch 2 (0-based 1), after the step that printed the marker.
  const mg::nn::Checkpoint saved = mg::nn::load_tensors(fashion::resume_path(interrupted));
  const std::string position = saved.metadata.at("position");
  INFO("saved at " << position);
  int64_t epoch = -1, batch = -1;
  REQUIRE(std::sscanf(position.c_str(), "epoch %ld batch %ld", &epoch, &batch) == 2);
  CHECK(epoch == 1);
  CHECK((batch >= 100 && batch < 675));

  std::string err;
  CHECK(run({"train", "--resume", interrupted, "--lr", "0.1", "--activation", "tanh"}, &err) == 2);
  CHECK_THAT(err, Contains("cannot resume with a different config (activation is 'relu' in the run, 'tanh' now; "
                           "lr is 0.001 in the run, 0.1 now)"));
  CHECK(run({"train", "--resume", dir.sub("nowhere")}, &err) == 1);
  CHECK_THAT(err, Contains("nowhere: nothing to resume") && Contains("no such directory"));
  CHECK(run({"train", "--resume", straight}, &err) == 1);
  CHECK_THAT(err, Contains("nothing to resume") && Contains("the run finished"));

  {  // interrupted again, this time mid-way through a resumed session
    Process p({"train", "--resume", interrupted});
    REQUIRE(p.wait_for("epoch 3/3 batch 50/675"));
    p.send(SIGTERM);
    CHECK(p.finish() == 143);
    CHECK_THAT(p.err, Contains("interrupted by SIGTERM"));
  }
  REQUIRE(run({"train", "--resume", interrupted}) == 0);
  CHECK_FALSE(fs::exists(fashion::resume_path(interrupted)));  // finished: nothing left to resume
  check_same_tensors(straight + "/model.ckpt", interrupted + "/model.ckpt");
  check_same_tensors(straight + "/best.ckpt", interrupted + "/best.ckpt");
  CHECK(metrics_without_seconds(straight + "/metrics.csv") == metrics_without_seconds(interrupted + "/metrics.csv"));
}

TEST_CASE("fashion_mlp: a stop request finishes the step; the resumed run keeps best weights and early-stopping state",
          "[e2e]") {
  TempDir dir;
  fashion::TrainConfig c = small_config();
  c.epochs = 3;
  c.restore_best = true;  // the best epoch's snapshot must travel through resume.ckpt
  c.monitor = "val_loss";
  c.patience = 2;
  const fashion::Splits splits = fashion::load_splits(c);
  const fashion::TrainResult interrupted = train_straight_then_stop(dir, c, splits, 1, 5);
  CHECK(interrupted.interrupted_by == SIGTERM);
  CHECK(mg::nn::load_tensors(fashion::resume_path(c.out)).metadata.at("position") == "epoch 1 batch 6");

  fashion::Splits other = splits;
  other.train = splits.train.head(100);
  CHECK_THROWS_WITH(fashion::train(c, other, {.quiet = true, .resume = true}),
                    Contains("the data differ from the run's: train_images is 100 now, 2700 in the run"));
  fashion::TrainConfig changed = c;
  changed.hidden = {64, 16};
  CHECK_THROWS_WITH(fashion::train(changed, splits, {.quiet = true, .resume = true}),
                    Contains("hidden is [64, 32] in the run, [64, 16] now"));

  fashion::train(c, splits, {.quiet = true, .evaluate_test = false, .resume = true});
  check_resumed_matches_straight(dir);
  check_same_tensors(dir.sub("straight/best.ckpt"), dir.sub("resumed/best.ckpt"));

  // Not a resume point: a model checkpoint in its place is refused by name.
  fs::copy_file(dir.sub("resumed/model.ckpt"), fashion::resume_path(c.out));
  CHECK_THROWS_WITH(
      fashion::train(c, splits, {.quiet = true, .resume = true}),
      Contains("resume.ckpt: not a usable resume checkpoint: format is 'fashion_mlp', expected 'fashion_mlp.resume'"));
}

TEST_CASE("fashion_mlp: a NaN in a gradient stops the run naming epoch, batch and parameter; last good checkpoint kept",
          "[e2e]") {
  TempDir dir;
  fashion::TrainConfig c = small_config();
  c.epochs = 2;
  c.restore_best = true;
  c.out = dir.sub("run");
  const fashion::Splits splits = fashion::load_splits(c);
  fashion::TrainOptions options{.quiet = true};
  options.after_backward = [](int64_t epoch, int64_t batch, mg::nn::Module& model) {
    if (epoch != 1 || batch != 6) return;
    for (const auto& [name, p] : model.named_parameters())
      if (name == "3.bias") p.grad().data<float>()[0] = NAN;  // the second Linear (after ReLU, Dropout)
  };
  const fashion::TrainResult result = fashion::train(c, splits, options);
  CHECK_THAT(result.non_finite, Contains("epoch 2, batch 7: gradient of 3.bias is not finite"));
  REQUIRE(result.history.size() == 1);
  // The last good state survives: best.ckpt and model.ckpt are epoch 1's weights, and the resume
  // point of epoch 1's end is still there.
  check_same_tensors(c.out + "/best.ckpt", c.out + "/model.ckpt");
  CHECK(fs::exists(fashion::resume_path(c.out)));
  CHECK_THAT(read_text(c.out + "/summary.json"), Contains("stopped_on_non_finite"));
}

TEST_CASE("fashion_mlp: --on-nan skip drops the bad steps, counts them, and leaves the weights untouched", "[e2e]") {
  fashion::TrainConfig c = small_config();
  c.epochs = 1;
  c.on_nan = "skip";
  const fashion::Splits splits = fashion::load_splits(c);
  fashion::TrainOptions options{.quiet = true, .evaluate_test = false, .write_files = false};
  std::vector<std::vector<float>> before_bad_step;
  int64_t checked_after = 0;
  options.after_backward = [&](int64_t, int64_t batch, mg::nn::Module& model) {
    const auto params = model.parameters();
    if (!before_bad_step.empty()) {  // the step after a skipped one sees the weights as they were
      for (std::size_t i = 0; i < params.size(); ++i) CHECK(params[i].to_vector<float>() == before_bad_step[i]);
      before_bad_step.clear();
      ++checked_after;
    }
    if (batch == 10 || batch == 20 || batch == 21) {
      for (const auto& p : params) before_bad_step.push_back(p.to_vector<float>());
      params[0].grad().data<float>()[5] = batch == 10 ? INFINITY : NAN;
    }
  };
  const fashion::TrainResult result = fashion::train(c, splits, options);
  CHECK(result.non_finite.empty());
  CHECK(result.skipped_steps == 3);
  REQUIRE(result.history.size() == 1);
  CHECK(result.history[0].skipped_steps == 3);
  CHECK(checked_after == 3);
  CHECK(std::isfinite(result.history[0].train_loss));
}

TEST_CASE("fashion_mlp: a huge learning rate ends the process with the epoch, batch and parameter that went bad",
          "[e2e]") {
  TempDir dir;
  std::string err, out;
  CHECK(run({"train", "--train-limit", "2000", "--test-limit", "100", "--hidden", "16", "--epochs", "1", "--optimizer",
             "sgd", "--lr", "1e30", "--out", dir.sub("run")},
            &err, &out) == 3);
  CHECK_THAT(
      err,
      Contains("fashion_mlp: training stopped at epoch 1, batch 2: loss is nan, first non-finite gradient: 0.weight"));
  CHECK_THAT(out, !Contains("test accuracy"));  // no epoch ended: no test numbers of a model that never trained

  // In a sweep the diverging point gets a line, not a row, and the others still run.
  Process sweep({"sweep", "--grid", "lr=1e30,0.01", "--train-limit", "2000", "--hidden", "16", "--epochs", "1",
                 "--optimizer", "sgd", "--out", dir.sub("sweep")});
  CHECK(sweep.finish() == 0);
  CHECK_THAT(sweep.out, Contains("[1/2] lr=1e30  no epoch finished: epoch 1, batch 2: loss is nan") &&
                            Contains("[2/2] lr=0.01  val acc"));
  CHECK(read_text(dir.sub("sweep/sweep.csv")).find("lr=1e30") == std::string::npos);
}

TEST_CASE("fashion_mlp: training with 1 and 2 threads gives the same weights bit for bit", "[e2e]") {
  TempDir dir;
  fashion::TrainConfig c = small_config();
  // Big enough that the work is split: every GEMM is past the kernels' parallel threshold (2
  // MFLOP) and the [200, 256] activations are past the elementwise grain (32768 elements).
  c.train_limit = 30000;
  c.batch_size = 200;
  c.hidden = {256, 128};
  c.epochs = 2;  // 2 x 135 steps
  std::vector<std::string> models;
  for (int64_t threads : {1, 2}) {
    c.threads = threads;
    c.out = dir.sub(fmt::format("threads{}", threads));
    fashion::train(c, fashion::load_splits(c), {.quiet = true, .evaluate_test = false});
    REQUIRE(mg::get_num_threads() == threads);
    models.push_back(c.out + "/model.ckpt");
  }
  check_same_tensors(models[0], models[1]);
  CHECK(metrics_without_seconds(dir.sub("threads1/metrics.csv")) ==
        metrics_without_seconds(dir.sub("threads2/metrics.csv")));
}

TEST_CASE("fashion_mlp: a run directory that cannot take the run's files is refused before training", "[e2e]") {
  TempDir dir;
  std::ofstream(dir.sub("file")) << "a regular file";
  CHECK_THROWS_WITH(fashion::prepare_run_dir(dir.sub("file/run"), 0), Contains("file/run: cannot create it"));
  CHECK_THROWS_WITH(fashion::prepare_run_dir(dir.sub("run"), uintmax_t{1} << 62),
                    Contains("MB free, but the run's checkpoints need about"));
  CHECK_NOTHROW(fashion::prepare_run_dir(dir.sub("run"), 1000));
  CHECK(fs::is_empty(dir.sub("run")));  // the probe is gone

  fashion::TrainConfig c = small_config();
  c.out = dir.sub("file/run");
  CHECK_THROWS_WITH(fashion::train(c, fashion::load_splits(c), {.quiet = true}), Contains("cannot create it"));
}

namespace {

// A run of a few seconds: 113 steps per epoch.
std::vector<std::string> tiny_run(const std::string& out, const std::string& seed = "1",
                                  const std::string& epochs = "2") {
  return {"train", "--train-limit", "2000", "--test-limit", "100", "--hidden", "16", "--batch-size", "16", "--epochs",
          epochs,  "--threads",     "1",    "--log-every",  "5",   "--seed",   seed, "--out",        out};
}

// The pid of a process that has ended: nothing runs under it (until the pid is reused).
pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

}  // namespace

TEST_CASE("fashion_mlp: two trainings into one --out at once: one runs, the other is refused naming it", "[e2e]") {
  TempDir dir;
  const std::string out = dir.sub("run");
  Process a(tiny_run(out, "1")), b(tiny_run(out, "2"));
  const int status_a = a.finish(), status_b = b.finish();
  INFO("a: " << status_a << " " << a.err << "\nb: " << status_b << " " << b.err);
  REQUIRE(((status_a == 0 && status_b == 1) || (status_a == 1 && status_b == 0)));
  Process& loser = status_a == 1 ? a : b;
  const std::string winner_seed = status_a == 0 ? "1" : "2";
  CHECK_THAT(loser.err, Contains(out + " is in use by another process (pid " +
                                 std::to_string((status_a == 0 ? a : b).pid()) + ")"));
  // Every file is the winner's.
  fashion::TrainConfig config;
  fashion::load_config_file(out + "/config.toml", config);
  CHECK(config.seed == std::stoll(winner_seed));
  const auto model = fashion::load_checkpoint(out + "/model.ckpt");
  CHECK(model.config.seed == config.seed);

  // Finished, the directory is not overwritten without --force.
  const std::string before = read_text(out + "/model.ckpt");
  std::string err;
  CHECK(run(tiny_run(out, "3"), &err) == 1);
  CHECK_THAT(err, Contains(out + " holds a finished run (model.ckpt): choose another --out, or pass --force"));
  CHECK(read_text(out + "/model.ckpt") == before);
}

TEST_CASE("fashion_mlp: a run directory is locked, checked for an earlier run, and cleaned of dead writers' files",
          "[fashion]") {
  TempDir dir;
  const std::string out = dir.sub("run");
  {
    const fashion::RunDirectory held(out, fashion::RunDirMode::New, 0);
    CHECK_THROWS_WITH(fashion::RunDirectory(out, fashion::RunDirMode::Resume, 0),
                      Contains(out + " is in use by another process (pid " + std::to_string(::getpid()) + ")"));
  }
  CHECK_NOTHROW(fashion::RunDirectory(out, fashion::RunDirMode::New, 0));  // released with its owner

  std::ofstream(out + "/config.toml") << "epochs = 2\n";
  CHECK_THROWS_WITH(fashion::RunDirectory(out, fashion::RunDirMode::New, 0),
                    Contains("holds a run stopped before its first resume point: continue it with `fashion_mlp train "
                             "--resume " +
                             out + "`"));
  std::ofstream(out + "/resume.ckpt") << "state";
  std::ofstream(out + "/best.ckpt") << "weights";
  CHECK_THROWS_WITH(
      fashion::RunDirectory(out, fashion::RunDirMode::New, 0),
      Contains(out + " holds an interrupted run (resume.ckpt): continue it with `fashion_mlp train --resume " + out +
               "`, or pass --force"));
  CHECK_NOTHROW(fashion::RunDirectory(out, fashion::RunDirMode::Resume, 0));

  // A writer SIGKILLed between creating its temporary and renaming it leaves <file>.tmp.<pid>.
  const std::string stale = fmt::format("{}/model.ckpt.tmp.{}", out, dead_pid());
  const std::string live = fmt::format("{}/metrics.csv.tmp.{}", out, ::getppid());
  std::ofstream(stale) << "half a checkpoint";
  std::ofstream(live) << "being written";
  std::ofstream(out + "/notes.tmp.txt") << "not a temporary of ours";
  {
    const fashion::RunDirectory forced(out, fashion::RunDirMode::Force, 0);
    CHECK(forced.removed_temporaries() == std::vector<std::string>{stale});
  }
  CHECK_FALSE(fs::exists(stale));
  CHECK(fs::exists(live));
  CHECK(fs::exists(out + "/notes.tmp.txt"));
  for (const char* file : {"config.toml", "resume.ckpt", "best.ckpt"}) CHECK_FALSE(fs::exists(out + "/" + file));
}

TEST_CASE("fashion_mlp: a run killed before its first resume point is resumed from its config, ending bit-identical",
          "[e2e]") {
  TempDir dir;
  const std::string straight = dir.sub("straight"), killed = dir.sub("killed");
  REQUIRE(run(tiny_run(straight, "1", "1")) == 0);
  {
    Process p(tiny_run(killed, "1", "1"));
    REQUIRE(p.wait_for("epoch 1/1 batch 50/"));
    p.send(SIGKILL);
    p.finish();
  }
  REQUIRE(fs::exists(killed + "/config.toml"));
  REQUIRE_FALSE(fs::exists(fashion::resume_path(killed)));
  std::string err, out;
  CHECK(run({"train", "--resume", killed}, &err, &out) == 0);
  CHECK_THAT(out, Contains(killed + " stopped before its first resume point: starting it again from its config.toml"));
  check_same_tensors(straight + "/model.ckpt", killed + "/model.ckpt");
}

TEST_CASE("fashion_mlp: a stop request after the last step finishes the run and is reported", "[e2e]") {
  TempDir dir;
  fashion::TrainConfig c = small_config();
  c.epochs = 1;
  c.out = dir.sub("run");
  const fashion::Splits splits = fashion::load_splits(c);
  std::atomic<int> stop{0};
  fashion::TrainOptions options{.quiet = true, .evaluate_test = false, .stop_signal = &stop};
  const int64_t last_batch = (splits.train.size() + c.batch_size - 1) / c.batch_size - 1;
  options.after_backward = [&](int64_t, int64_t batch, mg::nn::Module&) {
    if (batch == last_batch) stop = SIGINT;
  };
  const fashion::TrainResult result = fashion::train(c, splits, options);
  CHECK(result.interrupted_by == 0);
  CHECK(result.signal_after_training == SIGINT);
  CHECK(result.history.size() == 1);
  CHECK(fs::exists(c.out + "/model.ckpt"));
  CHECK_FALSE(fs::exists(fashion::resume_path(c.out)));
}

TEST_CASE("fashion_mlp: a CNN stopped mid-epoch resumes bit-identical, BatchNorm statistics included", "[e2e]") {
  TempDir dir;
  fashion::TrainConfig c = small_config();
  c.arch = {"conv 4 3 pad 1", "bn", "relu", "maxpool 2", "dropout2d 0.1", "flatten", "linear 16", "bn", "relu"};
  c.train_limit = 400;
  c.epochs = 2;
  c.augment_shift = 1;
  c.augment_erase = 0.5;
  const fashion::Splits splits = fashion::load_splits(c);
  CHECK(train_straight_then_stop(dir, c, splits, 0, 10).interrupted_by == SIGTERM);
  // Batch norm normalizes each process's share of a batch: another process count cannot go on.
  const auto model = fashion::build_model(c);
  const auto optimizer = fashion::make_optimizer(c, model->parameters());
  CHECK_THROWS_WITH(fashion::load_training_state(fashion::resume_path(c.out), c, splits, *model, *optimizer, 2),
                    Contains("the run was saved by 1 process(es), this one has 2") && Contains("mpirun -np 1"));
  fashion::train(c, splits, {.quiet = true, .evaluate_test = false, .resume = true});
  check_resumed_matches_straight(dir);
}
