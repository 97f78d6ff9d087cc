#pragma once
// Learning-rate schedulers. Each computes the lr of an epoch in closed form from the optimizer's
// lr at construction (base_lr), so the value at epoch e does not depend on rounding carried over
// from earlier epochs. Construction sets the epoch-0 lr; step() moves to the next epoch.
#include <cstdint>

#include <minigrad/optim/optimizer.h>

namespace minigrad::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;

  void step();  // call once per epoch, after the epoch's optimizer steps
  double get_last_lr() const { return optimizer_.lr(); }
  int64_t last_epoch() const { return epoch_; }
  double base_lr() const { return base_lr_; }
  virtual double lr_at(int64_t epoch) const = 0;

 protected:
  explicit LRScheduler(Optimizer& optimizer);
  // Sets the epoch-0 lr; subclasses call it last in their constructor, once lr_at works.
  void start();

 private:
  Optimizer& optimizer_;
  double base_lr_;
  int64_t epoch_ = 0;
};

// lr = base_lr * gamma^floor(epoch / step_size)
class StepLR final : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);
  double lr_at(int64_t epoch) const override;

 private:
  int64_t step_size_;
  double gamma_;
};

// lr = base_lr * gamma^epoch
class ExponentialLR final : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma);
  double lr_at(int64_t epoch) const override;

 private:
  double gamma_;
};

// lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2; past T_max the cosine
// continues (rising again), as in PyTorch.
class CosineAnnealingLR final : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min = 0.0);
  double lr_at(int64_t epoch) const override;

 private:
  int64_t T_max_;
  double eta_min_;
};

// lr = base_lr * (start_factor + (1 - start_factor) * min(epoch, warmup_steps) / warmup_steps):
// PyTorch's LinearLR(start_factor, end_factor = 1, total_iters = warmup_steps).
class LinearWarmup final : public LRScheduler {
 public:
  LinearWarmup(Optimizer& optimizer, int64_t warmup_steps, double start_factor = 1.0 / 3.0);
  double lr_at(int64_t epoch) const override;

 private:
  int64_t warmup_steps_;
  double start_factor_;
};

}  // namespace minigrad::optim
