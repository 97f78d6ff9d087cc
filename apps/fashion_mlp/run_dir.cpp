#include "run_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>

#include <minigrad/io.h>
#include <minigrad/tensor.h>

namespace fashion {

namespace fs = std::filesystem;
using minigrad::Error;

namespace {

bool holds(const std::string& dir, std::string_view file) { return fs::exists(fs::path(dir) / file); }

// Why a new run cannot start in `dir`; "" when it holds no run.
std::string conflict(const std::string& dir) {
  if (holds(dir, "resume.ckpt"))
    return fmt::format(
        "{} holds an interrupted run (resume.ckpt): continue it with `fashion_mlp train --resume {}`, "
        "or pass --force to delete it and start over",
        dir, dir);
  if (holds(dir, "model.ckpt"))
    return fmt::format(
        "{} holds a finished run (model.ckpt): choose another --out, or pass --force to delete it and "
        "start over",
        dir);
  if (std::any_of(std::begin(kRunFiles), std::end(kRunFiles), [&](std::string_view f) { return holds(dir, f); }))
    return fmt::format(
        "{} holds a run stopped before its first resume point: continue it with `fashion_mlp train "
        "--resume {}` (it starts again from its config.toml), or pass --force to delete it",
        dir, dir);
  return "";
}

}  // namespace

RunDirectory::RunDirectory(std::string path, RunDirMode mode, uintmax_t bytes_needed) : path_(std::move(path)) {
  std::error_code ec;
  fs::create_directories(path_, ec);
  if (ec) throw Error(fmt::format("run directory {}: cannot create it: {}", path_, ec.message()));
  const std::string lock = path_ + "/.lock";
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) throw Error(fmt::format("run directory {}: cannot open {}: {}", path_, lock, std::strerror(errno)));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    // The owner writes its pid just after taking the lock: give it a moment when the file is empty.
    char owner[32] = {};
    for (int attempt = 0; attempt < 50 && ::pread(lock_fd_, owner, sizeof owner - 1, 0) <= 0; ++attempt)
      ::usleep(10'000);
    ::close(lock_fd_);
    if (err == EWOULDBLOCK)
      throw Error(
          fmt::format("run directory {} is in use by another process (pid {}): wait for it to end, or "
                      "choose another --out",
                      path_, *owner ? minigrad::printable(owner, 20) : "unknown"));
    throw Error(fmt::format("run directory {}: cannot lock {}: {}", path_, lock, std::strerror(err)));
  }
  try {
    const std::string pid = std::to_string(::getpid());
    if (::ftruncate(lock_fd_, 0) != 0 ||
        ::pwrite(lock_fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
      throw Error(fmt::format("run directory {}: cannot write {}: {}", path_, lock, std::strerror(errno)));
    // A resumed run is the directory's own (resumable_config has checked it holds one).
    if (mode == RunDirMode::New)
      if (const std::string why = conflict(path_); !why.empty()) throw Error(why);
    if (mode == RunDirMode::Force)
      for (std::string_view file : kRunFiles) fs::remove(fs::path(path_) / file);
    removed_ = minigrad::remove_stale_temporaries(path_);
    prepare_run_dir(path_, bytes_needed);
  } catch (...) {
    ::close(lock_fd_);
    throw;
  }
}

RunDirectory::~RunDirectory() { ::close(lock_fd_); }  // releases the lock

std::string new_run_dir_name() {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  std::error_code ec;
  fs::create_directories("runs", ec);
  for (int n = 1;; ++n) {
    const std::string dir = n == 1 ? fmt::format("runs/{}", stamp) : fmt::format("runs/{}-{}", stamp, n);
    if (fs::create_directory(dir, ec)) return dir;
    if (ec) throw Error(fmt::format("run directory {}: cannot create it: {}", dir, ec.message()));
  }
}

void prepare_run_dir(const std::string& dir, uintmax_t bytes_needed) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(fmt::format("run directory {}: cannot create it: {}", dir, ec.message()));
  // A probe through the same path the checkpoints take.
  const std::string probe = dir + "/.write_probe";
  minigrad::write_file_atomic(probe, "probe");
  fs::remove(probe, ec);
  const fs::space_info space = fs::space(dir, ec);
  if (ec) throw Error(fmt::format("run directory {}: cannot tell the free space: {}", dir, ec.message()));
  if (space.available < bytes_needed)
    throw Error(fmt::format("run directory {}: {:.1f} MB free, but the run's checkpoints need about {:.1f} MB", dir,
                            space.available / 1e6, bytes_needed / 1e6));
}

// resume.ckpt holds the model, up to three optimizer buffers per parameter and the best weights,
// and while it is rewritten the old and the new copy coexist; best.ckpt and model.ckpt hold one
// model each. A MB more for metrics, summary and headers.
uintmax_t run_bytes_needed(const TrainConfig& config) {
  const auto model_bytes = static_cast<uintmax_t>(parameter_count(config)) * sizeof(float);
  return model_bytes * (2 * 5 + 2) + (uintmax_t{1} << 20);
}

}  // namespace fashion
