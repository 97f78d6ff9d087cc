#pragma once
// A run directory belongs to one process at a time, and a run in it is never overwritten by
// accident: RunDirectory holds an advisory lock (flock on RUN_DIR/.lock, which records the owner's
// pid) for as long as it lives, and refuses a directory that holds a finished or interrupted run
// unless that run is being resumed or the caller forces a fresh start.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"

namespace fashion {

// Files a run writes; --force removes them all, so that nothing of the old run is left to mix
// with the new one.
inline constexpr std::string_view kRunFiles[] = {"config.toml",   "resume.ckpt",  "best.ckpt",    "model.ckpt",
                                                 "metrics.csv",   "summary.json", "report.html",  "curves.png",
                                                 "confusion.png", "samples.png",  "mistakes.png", "weights.png"};

// New: the directory must hold no run. Resume: it holds the run being resumed. Force: any run
// in it is deleted first.
enum class RunDirMode { New, Resume, Force };

class RunDirectory {
 public:
  // Creates `path` if needed, takes the lock (or throws naming the pid that holds it), checks
  // what the directory holds against `mode`, removes temporaries that dead processes left
  // behind, and checks that the run's files can be written and `bytes_needed` fit. Every refusal
  // is an Error naming the directory and what to do instead.
  RunDirectory(std::string path, RunDirMode mode, uintmax_t bytes_needed);
  ~RunDirectory();
  RunDirectory(const RunDirectory&) = delete;
  RunDirectory& operator=(const RunDirectory&) = delete;

  const std::string& path() const { return path_; }
  // Temporaries of dead writers that were removed on opening.
  const std::vector<std::string>& removed_temporaries() const { return removed_; }

 private:
  std::string path_;
  int lock_fd_ = -1;
  std::vector<std::string> removed_;
};

// A fresh directory for a run given no --out: runs/<timestamp>, or runs/<timestamp>-2, -3, ...
// when another run took that name in the same second (created here, so no two runs share it).
std::string new_run_dir_name();

// Creates the run directory and fails now, not after an hour of training, when it cannot be
// written or its file system has less than `bytes_needed` free.
void prepare_run_dir(const std::string& dir, uintmax_t bytes_needed);

// Bytes a run of this config needs on disk: its checkpoints and resume points.
uintmax_t run_bytes_needed(const TrainConfig& config);

}  // namespace fashion
