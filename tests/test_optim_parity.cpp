// Optimizer trajectories, scheduler values and gradient clipping against PyTorch's numbers, which
// tests/optim_reference/generate.py wrote into reference.inc (float64, 17 significant digits).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <string>

#include <minigrad/minigrad.h>

namespace mg = minigrad;
namespace opt = minigrad::optim;

namespace {

using Options = std::map<std::string, double>;

struct RefOptimizerCase {
  std::string name;
  std::string optimizer;
  Options options;
  double lr_from_step_10;                                    // 0: lr unchanged
  std::vector<std::vector<std::vector<double>>> trajectory;  // [step][param][element]
};
struct RefGroupCase {
  std::string name;
  std::string optimizer;
  std::vector<Options> groups;                               // options of group k, which holds parameter k
  std::vector<std::vector<std::vector<double>>> trajectory;  // [step][param][element]
};
struct RefSchedulerCase {
  std::string scheduler;
  Options options;
  std::vector<double> lrs;  // at epochs 0, 1, ...
};
struct RefClipCase {
  double norm_type;
  double total_norm;
  std::vector<std::vector<double>> grads;
};
constexpr double kInf = std::numeric_limits<double>::infinity();

#include "optim_reference/reference.inc"

double option(const Options& options, const std::string& key, double fallback) {
  const auto it = options.find(key);
  return it == options.end() ? fallback : it->second;
}

// Options a reference case lists; those it does not list keep our defaults, which are PyTorch's.
opt::SGDOptions sgd_options(const Options& o) {
  const opt::SGDOptions s;
  return {.lr = option(o, "lr", s.lr),
          .momentum = option(o, "momentum", s.momentum),
          .dampening = option(o, "dampening", s.dampening),
          .nesterov = option(o, "nesterov", 0.0) != 0.0,
          .weight_decay = option(o, "weight_decay", s.weight_decay)};
}

opt::AdamOptions adam_options(const Options& o, bool adamw) {
  opt::AdamOptions a;
  if (adamw) a.weight_decay = opt::AdamWOptions{}.weight_decay;
  return {.lr = option(o, "lr", a.lr),
          .betas = {option(o, "beta1", a.betas.first), option(o, "beta2", a.betas.second)},
          .eps = option(o, "eps", a.eps),
          .weight_decay = option(o, "weight_decay", a.weight_decay),
          .amsgrad = option(o, "amsgrad", 0.0) != 0.0};
}

opt::RMSpropOptions rmsprop_options(const Options& o) {
  const opt::RMSpropOptions r;
  return {.lr = option(o, "lr", r.lr),
          .alpha = option(o, "alpha", r.alpha),
          .eps = option(o, "eps", r.eps),
          .weight_decay = option(o, "weight_decay", r.weight_decay),
          .momentum = option(o, "momentum", r.momentum),
          .centered = option(o, "centered", 0.0) != 0.0};
}

// The optimizer a reference case names, over one group of all the parameters.
std::unique_ptr<opt::Optimizer> make_optimizer(const RefOptimizerCase& c, std::vector<mg::Tensor> params) {
  const Options& o = c.options;
  if (c.optimizer == "SGD") return std::make_unique<opt::SGD>(params, sgd_options(o));
  if (c.optimizer == "Adam") return std::make_unique<opt::Adam>(params, adam_options(o, false));
  if (c.optimizer == "AdamW") {
    const opt::AdamOptions a = adam_options(o, true);
    return std::make_unique<opt::AdamW>(
        params, opt::AdamWOptions{
                    .lr = a.lr, .betas = a.betas, .eps = a.eps, .weight_decay = a.weight_decay, .amsgrad = a.amsgrad});
  }
  REQUIRE(c.optimizer == "RMSprop");
  return std::make_unique<opt::RMSprop>(params, rmsprop_options(o));
}

// The optimizer of a group case, parameter k in group k.
std::unique_ptr<opt::Optimizer> make_grouped(const RefGroupCase& c, const std::vector<mg::Tensor>& params) {
  if (c.optimizer == "SGD") {
    std::vector<opt::SGD::Group> groups;
    for (std::size_t k = 0; k < params.size(); ++k) groups.push_back({{params[k]}, sgd_options(c.groups[k])});
    return std::make_unique<opt::SGD>(groups);
  }
  REQUIRE(c.optimizer == "AdamW");
  std::vector<opt::AdamW::Group> groups;
  for (std::size_t k = 0; k < params.size(); ++k) groups.push_back({{params[k]}, adam_options(c.groups[k], true)});
  return std::make_unique<opt::AdamW>(groups);
}

std::vector<mg::Tensor> reference_params() {
  std::vector<mg::Tensor> params;
  for (std::size_t k = 0; k < kRefShapes.size(); ++k)
    params.push_back(mg::tensor(kRefInit[k], kRefShapes[k], {.dtype = mg::kFloat64, .requires_grad = true}));
  return params;
}

// Sets each parameter's .grad to the reference gradient of `step` (none where it has none).
void set_reference_grads(std::vector<mg::Tensor>& params, std::size_t step) {
  for (std::size_t k = 0; k < params.size(); ++k) {
    const auto& g = kRefGrads[step][k];
    params[k].zero_grad();
    if (!g.empty()) params[k].set_grad(mg::tensor(g, kRefShapes[k], {.dtype = mg::kFloat64}));
  }
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double diff = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) diff = std::max(diff, std::abs(a[i] - b[i]));
  return diff;
}

}  // namespace

TEST_CASE("optim: parity with PyTorch trajectories in float64") {
  for (const auto& c : kRefOptimizers) {
    SECTION(c.name) {
      auto params = reference_params();
      auto optimizer = make_optimizer(c, params);
      double worst = 0.0;
      for (std::size_t t = 0; t < c.trajectory.size(); ++t) {
        if (t == 10 && c.lr_from_step_10 != 0.0) optimizer->set_lr(c.lr_from_step_10);
        set_reference_grads(params, t);
        optimizer->step();
        for (std::size_t k = 0; k < params.size(); ++k)
          worst = std::max(worst, max_abs_diff(params[k].to_vector<double>(), c.trajectory[t][k]));
      }
      INFO(c.name << ": max |ours - torch| over " << c.trajectory.size() << " steps = " << worst);
      CHECK(worst <= 1e-10);
    }
  }
}

TEST_CASE("optim: parity with PyTorch for parameter groups with their own options under StepLR") {
  for (const auto& c : kRefGroupCases) {
    SECTION(c.name) {
      auto params = reference_params();
      auto optimizer = make_grouped(c, params);
      REQUIRE(optimizer->num_groups() == 2);
      opt::StepLR scheduler(*optimizer, kRefGroupStepSize, kRefGroupGamma);
      double worst = 0.0;
      for (std::size_t t = 0; t < c.trajectory.size(); ++t) {
        set_reference_grads(params, t);
        optimizer->step();
        scheduler.step();
        for (std::size_t k = 0; k < params.size(); ++k)
          worst = std::max(worst, max_abs_diff(params[k].to_vector<double>(), c.trajectory[t][k]));
      }
      for (std::size_t g = 0; g < 2; ++g)
        CHECK(optimizer->lr(g) == scheduler.lr_at(static_cast<int64_t>(c.trajectory.size()), g));
      INFO(c.name << ": max |ours - torch| over " << c.trajectory.size() << " steps = " << worst);
      CHECK(worst <= 1e-10);
    }
  }
}

TEST_CASE("optim: parity with PyTorch schedulers") {
  for (const auto& c : kRefSchedulers) {
    SECTION(c.scheduler) {
      auto params = reference_params();
      opt::SGD sgd(params, {.lr = kRefSchedulerBaseLr});
      const Options& o = c.options;
      std::unique_ptr<opt::LRScheduler> scheduler;
      if (c.scheduler == "StepLR")
        scheduler = std::make_unique<opt::StepLR>(sgd, static_cast<int64_t>(o.at("step_size")), o.at("gamma"));
      else if (c.scheduler == "ExponentialLR")
        scheduler = std::make_unique<opt::ExponentialLR>(sgd, o.at("gamma"));
      else if (c.scheduler == "CosineAnnealingLR")
        scheduler = std::make_unique<opt::CosineAnnealingLR>(sgd, static_cast<int64_t>(o.at("T_max")), o.at("eta_min"));
      else
        scheduler =
            std::make_unique<opt::LinearWarmup>(sgd, static_cast<int64_t>(o.at("warmup_steps")), o.at("start_factor"));
      for (std::size_t epoch = 0; epoch < c.lrs.size(); ++epoch) {
        if (epoch > 0) scheduler->step();
        INFO(c.scheduler << " epoch " << epoch);
        CHECK(scheduler->last_epoch() == static_cast<int64_t>(epoch));
        CHECK(sgd.lr() == scheduler->get_last_lr());
        CHECK(std::abs(scheduler->get_last_lr() - c.lrs[epoch]) <= 1e-15);
      }
    }
  }
}

TEST_CASE("optim: parity with PyTorch clip_grad_norm_") {
  for (const auto& c : kRefClips) {
    auto params = reference_params();
    set_reference_grads(params, 0);
    INFO("norm_type " << c.norm_type);
    CHECK(std::abs(opt::clip_grad_norm_(params, kRefClipMaxNorm, c.norm_type) - c.total_norm) <= 1e-12);
    for (std::size_t k = 0; k < params.size(); ++k)
      CHECK(max_abs_diff(params[k].grad().to_vector<double>(), c.grads[k]) <= 1e-14);
  }
}
