#pragma once
// Learning-rate schedulers. Each computes the lr of an epoch in closed form from each group's lr
// at construction (its base lr), so the value at epoch e does not depend on rounding carried over
// from earlier epochs. Construction sets the epoch-0 lrs; step() moves to the next epoch.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <minigrad/optim/optimizer.h>

namespace minigrad::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;

  void step();  // call once per epoch, after the epoch's optimizer steps
  double get_last_lr(std::size_t group = 0) const { return optimizer_.lr(group); }
  int64_t last_epoch() const { return epoch_; }
  double base_lr(std::size_t group = 0) const;
  // The lr of a group at an epoch.
  double lr_at(int64_t epoch, std::size_t group = 0) const { return lr_from(base_lr(group), epoch); }

  // "last_epoch" (0-d int64) and "base_lrs" (float64, one per group); the options are the
  // constructor's. Loading sets the optimizer's lrs to the loaded epoch's, so a resumed schedule
  // continues exactly whether the optimizer's own state is loaded before or after.
  StateDict state_dict() const;
  void load_state_dict(const StateDict& state);

 protected:
  explicit LRScheduler(std::string name, Optimizer& optimizer);
  // Sets the epoch-0 lrs; subclasses call it last in their constructor, once lr_from works.
  void start();
  virtual double lr_from(double base_lr, int64_t epoch) const = 0;

 private:
  void apply();  // sets every group's lr to the current epoch's

  std::string name_;
  Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  int64_t epoch_ = 0;
};

// lr = base_lr * gamma^floor(epoch / step_size)
class StepLR final : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);

 private:
  double lr_from(double base_lr, int64_t epoch) const override;
  int64_t step_size_;
  double gamma_;
};

// lr = base_lr * gamma^epoch
class ExponentialLR final : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma);

 private:
  double lr_from(double base_lr, int64_t epoch) const override;
  double gamma_;
};

// lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2; past T_max the cosine
// continues (rising again), as in PyTorch.
class CosineAnnealingLR final : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min = 0.0);

 private:
  double lr_from(double base_lr, int64_t epoch) const override;
  int64_t T_max_;
  double eta_min_;
};

// lr = base_lr * (start_factor + (1 - start_factor) * min(epoch, warmup_steps) / warmup_steps):
// PyTorch's LinearLR(start_factor, end_factor = 1, total_iters = warmup_steps).
class LinearWarmup final : public LRScheduler {
 public:
  LinearWarmup(Optimizer& optimizer, int64_t warmup_steps, double start_factor = 1.0 / 3.0);

 private:
  double lr_from(double base_lr, int64_t epoch) const override;
  int64_t warmup_steps_;
  double start_factor_;
};

}  // namespace minigrad::optim
