// Optimizer behaviour beyond PyTorch parity (that is test_optim_parity.cpp): Momentum's relation to
// SGD, exact resume through state_dict, errors, skipping, clipping, allocation, convergence.
#include <catch2/catch.hpp>

#include <cmath>
#include <ctime>
#include <functional>
#include <memory>

#include <minigrad/minigrad.h>

namespace mg = minigrad;
namespace opt = minigrad::optim;
using Catch::Matchers::Contains;
using Params = std::vector<mg::Tensor>;
using Factory = std::function<std::unique_ptr<opt::Optimizer>(Params)>;

namespace {

Params make_params(mg::DType dtype = mg::kFloat64) {
  return {mg::tensor({0.5, -1.25, 2.0, -0.75, 0.125, 3.0}, {2, 3}, {.dtype = dtype, .requires_grad = true}),
          mg::tensor({1.5, -0.5, 0.25, -2.0}, {.dtype = dtype, .requires_grad = true})};
}

// Gradient of sum(scale * (w - 1)^2) plus a step-dependent wobble; parameter 1 gets none on
// every third step, so per-parameter step counts drift apart.
void set_grads(Params& params, int step) {
  for (std::size_t k = 0; k < params.size(); ++k) {
    params[k].zero_grad();
    if (k == 1 && step % 3 == 2) continue;
    const auto w = params[k].to(mg::kFloat64).to_vector<double>();
    std::vector<double> g(w.size());
    for (std::size_t i = 0; i < w.size(); ++i)
      g[i] = 2.0 * (1.0 + 0.3 * static_cast<double>(i)) * (w[i] - 1.0) + 0.1 * std::sin(step + 1.0 * i);
    params[k].set_grad(mg::tensor(g, params[k].shape(), {.dtype = mg::kFloat64}).to(params[k].dtype()));
  }
}

void run(opt::Optimizer& optimizer, Params& params, int from, int to) {
  for (int t = from; t < to; ++t) {
    set_grads(params, t);
    optimizer.step();
  }
}

std::vector<double> flat(const Params& params) {
  std::vector<double> out;
  for (const auto& p : params)
    for (double v : p.to(mg::kFloat64).to_vector<double>()) out.push_back(v);
  return out;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) diff = std::max(diff, std::abs(a[i] - b[i]));
  return diff;
}

// Every optimizer in a non-default configuration, and the same kind with default options (which
// load_state_dict must overwrite).
struct Kind {
  std::string name;
  Factory configured;
  Factory fresh;
};
template <typename O>
Factory factory(auto options) {
  return [options](Params p) { return std::make_unique<O>(std::move(p), options); };
}
const std::vector<Kind>& kinds() {
  static const std::vector<Kind> all = {
      {"SGD nesterov",
       factory<opt::SGD>(opt::SGDOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true, .weight_decay = 0.01}),
       factory<opt::SGD>(opt::SGDOptions{})},
      {"Momentum", factory<opt::Momentum>(opt::MomentumOptions{.lr = 0.05, .momentum = 0.8}),
       factory<opt::Momentum>(opt::MomentumOptions{})},
      {"Adam amsgrad", factory<opt::Adam>(opt::AdamOptions{.lr = 0.05, .weight_decay = 0.01, .amsgrad = true}),
       factory<opt::Adam>(opt::AdamOptions{})},
      {"AdamW", factory<opt::AdamW>(opt::AdamWOptions{.lr = 0.05, .betas = {0.8, 0.99}}),
       factory<opt::AdamW>(opt::AdamWOptions{})},
      {"RMSprop centered", factory<opt::RMSprop>(opt::RMSpropOptions{.lr = 0.01, .momentum = 0.5, .centered = true}),
       factory<opt::RMSprop>(opt::RMSpropOptions{})},
  };
  return all;
}

}  // namespace

TEST_CASE("optim: Momentum follows SGD(momentum) at constant lr and parts when lr changes") {
  const double lr = 0.05, mu = 0.9;
  auto p_sgd = make_params(), p_mom = make_params();
  opt::SGD sgd(p_sgd, {.lr = lr, .momentum = mu});
  opt::Momentum momentum(p_mom, {.lr = lr, .momentum = mu});
  run(sgd, p_sgd, 0, 15);
  run(momentum, p_mom, 0, 15);
  CHECK(max_abs_diff(flat(p_sgd), flat(p_mom)) < 1e-12);
  // buf_sgd = -v / lr
  const auto buf = sgd.state_dict().at("param.0.momentum_buffer").to_vector<double>();
  const auto v = momentum.state_dict().at("param.0.velocity").to_vector<double>();
  for (std::size_t i = 0; i < buf.size(); ++i) CHECK(buf[i] == Approx(-v[i] / lr).epsilon(1e-12));

  // SGD applies the new lr to its whole buffer at once; Momentum's velocity keeps the old steps.
  sgd.set_lr(lr / 10);
  momentum.set_lr(lr / 10);
  set_grads(p_sgd, 15);
  set_grads(p_mom, 15);
  const auto before = flat(p_sgd);
  sgd.step();
  momentum.step();
  CHECK(max_abs_diff(flat(p_sgd), flat(p_mom)) > 1e-3);
  CHECK(max_abs_diff(flat(p_sgd), before) < max_abs_diff(flat(p_mom), before));
}

TEST_CASE("optim: Momentum's weight decay is added to the gradient, as in SGD") {
  // d = g + weight_decay * w; v = momentum * v - lr * d; w += v
  mg::Tensor w = mg::tensor({2.0}, {1}, {.dtype = mg::kFloat64, .requires_grad = true});
  opt::Momentum momentum({w}, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1});
  for (const double expected : {1.93, 1.7977}) {
    w.zero_grad();
    (w * 0.5).sum().backward();
    momentum.step();
    CHECK(w.item() == Approx(expected).epsilon(1e-12));
  }

  // At constant lr it follows SGD(momentum, weight_decay), as without decay.
  auto p_sgd = make_params(), p_mom = make_params();
  opt::SGD sgd(p_sgd, {.lr = 0.05, .momentum = 0.9, .weight_decay = 0.01});
  opt::Momentum with_decay(p_mom, {.lr = 0.05, .momentum = 0.9, .weight_decay = 0.01});
  run(sgd, p_sgd, 0, 15);
  run(with_decay, p_mom, 0, 15);
  CHECK(max_abs_diff(flat(p_sgd), flat(p_mom)) < 1e-12);
  CHECK(with_decay.state_dict().at("weight_decay").to_vector<double>() == std::vector<double>{0.01});
  CHECK_THROWS_WITH(opt::Momentum(make_params(), {.weight_decay = -1.0}),
                    Contains("weight_decay must be finite and >= 0, got -1"));
}

TEST_CASE("optim: state_dict round trip resumes bit-identically") {
  for (const auto& kind : kinds()) {
    SECTION(kind.name) {
      auto p_whole = make_params();
      auto whole = kind.configured(p_whole);
      run(*whole, p_whole, 0, 15);

      auto p_first = make_params();
      auto first = kind.configured(p_first);
      run(*first, p_first, 0, 7);
      const auto saved = first->state_dict();
      Params p_second;
      for (const auto& p : p_first) p_second.push_back(p.detach().clone().requires_grad_());
      run(*first, p_first, 7, 9);  // the saved dict is a snapshot, unaffected by later steps

      auto second = kind.fresh(p_second);
      second->load_state_dict(saved);
      CHECK(second->lr() == whole->lr());
      run(*second, p_second, 7, 15);
      CHECK(flat(p_second) == flat(p_whole));
      const auto a = second->state_dict(), b = whole->state_dict();
      REQUIRE(a.size() == b.size());
      for (const auto& [key, value] : a) {
        INFO(key);
        CHECK(value.to(mg::kFloat64).to_vector<double>() == b.at(key).to(mg::kFloat64).to_vector<double>());
      }
    }
  }
}

TEST_CASE("optim: state_dict names buffers, steps and hyper-parameters") {
  auto params = make_params();
  opt::Adam adam(params, {.lr = 0.01, .amsgrad = true});
  CHECK(adam.state_dict().size() == 7);  // lr, group_sizes, beta1, beta2, eps, weight_decay, amsgrad
  run(adam, params, 0, 3);               // parameter 1 skips step 2
  const auto sd = adam.state_dict();
  CHECK(sd.at("lr").item() == 0.01);
  CHECK(sd.at("lr").dtype() == mg::kFloat64);
  CHECK(sd.at("amsgrad").item() == 1.0);
  CHECK(sd.at("param.0.step").dtype() == mg::kInt64);
  CHECK(sd.at("param.0.step").item() == 3);
  CHECK(sd.at("param.1.step").item() == 2);
  CHECK(sd.at("param.1.max_exp_avg_sq").shape() == mg::Shape{4});
  CHECK(sd.at("param.0.exp_avg").shape() == mg::Shape{2, 3});
}

TEST_CASE("optim: load_state_dict refuses bad state and changes nothing") {
  auto params = make_params();
  opt::Adam adam(params, {.lr = 0.01});
  run(adam, params, 0, 2);
  const auto good = adam.state_dict();
  auto params2 = make_params();
  opt::Adam target(params2, {.lr = 0.5, .betas = {0.5, 0.5}});
  const auto target_before = target.state_dict();

  auto refused = [&](mg::StateDict bad, const std::string& message) {
    INFO(message);
    CHECK_THROWS_WITH(target.load_state_dict(bad), Contains(message));
    const auto after = target.state_dict();
    REQUIRE(after.size() == target_before.size());
    for (const auto& [key, value] : after) CHECK(value.item() == target_before.at(key).item());
  };
  auto bad = good;
  bad["param.0.exp_avg"] = mg::zeros({3, 2}, {.dtype = mg::kFloat64});
  refused(bad, "Adam::load_state_dict: 'param.0.exp_avg' has shape (3, 2), expected (2, 3)");
  bad = good;
  bad["param.1.exp_avg_sq"] = mg::zeros({4});
  refused(bad, "'param.1.exp_avg_sq' has dtype float32, expected float64");
  bad = good;
  bad.erase("param.0.exp_avg_sq");
  refused(bad, "missing key 'param.0.exp_avg_sq'");
  bad = good;
  bad["param.0.bogus"] = mg::zeros({2, 3}, {.dtype = mg::kFloat64});
  refused(bad, "unexpected key 'param.0.bogus'");
  bad = good;
  bad["group_sizes"] = mg::tensor(std::vector<int64_t>{3}, {1});
  refused(bad, "state has groups of [3] parameters, this optimizer has [2]");
  bad = good;
  bad["beta1"] = mg::full({1}, 1.5, {.dtype = mg::kFloat64});
  refused(bad, "Adam: betas.first must be in [0, 1), got 1.5");
  bad = good;
  bad["amsgrad"] = mg::full({1}, 0.5, {.dtype = mg::kFloat64});
  refused(bad, "'amsgrad' is a flag, expected 0 or 1, got 0.5");
  opt::SGD sgd(make_params(), {.momentum = 0.9});
  refused(sgd.state_dict(), "missing key 'beta1'");

  target.load_state_dict(good);
  CHECK(target.lr() == 0.01);
}

TEST_CASE("optim: options are validated with errors naming the value") {
  CHECK_THROWS_WITH(opt::SGD(make_params(), {.lr = -0.1}), "SGD: lr must be finite and >= 0, got -0.1");
  CHECK_THROWS_WITH(opt::SGD(make_params(), {.nesterov = true}),
                    "SGD: nesterov requires momentum > 0 and dampening == 0, got momentum=0 and dampening=0");
  CHECK_THROWS_WITH(opt::SGD(make_params(), {.momentum = 0.9, .dampening = 0.1, .nesterov = true}),
                    Contains("dampening=0.1"));
  CHECK_THROWS_WITH(opt::SGD(make_params(), {.momentum = -1}), "SGD: momentum must be finite and >= 0, got -1");
  CHECK_THROWS_WITH(opt::SGD(make_params(), {.dampening = 2}), "SGD: dampening must be in [0, 1], got 2");
  CHECK_THROWS_WITH(opt::Momentum(make_params(), {.momentum = -0.5}),
                    Contains("momentum must be finite and >= 0, got -0.5"));
  CHECK_THROWS_WITH(opt::Adam(make_params(), {.betas = {1.0, 0.999}}), "Adam: betas.first must be in [0, 1), got 1");
  CHECK_THROWS_WITH(opt::Adam(make_params(), {.betas = {0.9, -0.1}}),
                    Contains("betas.second must be in [0, 1), got -0.1"));
  CHECK_THROWS_WITH(opt::Adam(make_params(), {.eps = std::nan("")}), Contains("eps must be finite and >= 0, got nan"));
  CHECK_THROWS_WITH(opt::AdamW(make_params(), {.weight_decay = -1e-2}),
                    "AdamW: weight_decay must be finite and >= 0, got -0.01");
  CHECK_THROWS_WITH(opt::RMSprop(make_params(), {.alpha = -0.5}), "RMSprop: alpha must be finite and >= 0, got -0.5");
  CHECK_THROWS_WITH(opt::RMSprop(make_params(), {.lr = INFINITY}), "RMSprop: lr must be finite and >= 0, got inf");

  opt::Adam adam(make_params());
  CHECK_THROWS_WITH(adam.set_lr(-1), "Adam: lr must be finite and >= 0, got -1");
  CHECK(adam.lr() == 1e-3);

  CHECK_THROWS_WITH(opt::SGD(Params{}), "SGD: parameter group 0 is empty");
  auto p = make_params();
  CHECK_THROWS_WITH(opt::SGD({p[0], p[1], p[0]}), "SGD: parameters 0 and 2 are the same tensor");
  CHECK_THROWS_WITH(opt::SGD({p[0] * 2.0}), "SGD: parameter 0 is not a leaf (it has a grad_fn)");
  CHECK_THROWS_WITH(opt::SGD({mg::tensor(std::vector<int64_t>{1, 2, 3}, {3})}),
                    "SGD: parameter 0 is int64; only float32 and float64 can be optimized");
}

TEST_CASE("optim: parameters without a gradient are skipped; zero_grad drops gradients") {
  auto params = make_params();
  opt::Adam adam(params, {.lr = 0.1});
  const auto p1 = params[1].to_vector<double>();
  params[0].set_grad(mg::ones({2, 3}, {.dtype = mg::kFloat64}));
  adam.step();
  adam.step();
  CHECK(params[1].to_vector<double>() == p1);
  const auto sd = adam.state_dict();
  CHECK(sd.at("param.0.step").item() == 2);
  CHECK_FALSE(sd.contains("param.1.step"));
  adam.zero_grad();
  CHECK_FALSE(params[0].grad().defined());
  CHECK_FALSE(params[1].grad().defined());
}

TEST_CASE("optim: steady-state steps allocate no tensor buffers") {
  for (const auto& kind : kinds()) {
    auto params = make_params();
    auto optimizer = kind.configured(params);
    set_grads(params, 0);
    optimizer->step();  // allocates the state buffers
    const auto before = mg::allocator_stats();
    for (int t = 0; t < 5; ++t) optimizer->step();
    const auto after = mg::allocator_stats();
    INFO(kind.name);
    CHECK(after.system_allocations + after.cache_hits == before.system_allocations + before.cache_hits);
  }
}

TEST_CASE("optim: float32 parameters follow the float64 trajectory") {
  for (const auto& kind : kinds()) {
    auto p64 = make_params(mg::kFloat64), p32 = make_params(mg::kFloat32);
    auto o64 = kind.configured(p64), o32 = kind.configured(p32);
    run(*o64, p64, 0, 20);
    run(*o32, p32, 0, 20);
    INFO(kind.name);
    CHECK(max_abs_diff(flat(p32), flat(p64)) < 1e-5);
  }
}

TEST_CASE("optim: clip_grad_norm_ scales only when over the limit") {
  auto params = make_params();
  params[0].set_grad(mg::full({2, 3}, 2.0, {.dtype = mg::kFloat64}));  // norm sqrt(24)
  // params[1] has no gradient and takes no part
  CHECK(opt::clip_grad_norm_(params, 10.0) == Approx(std::sqrt(24.0)));
  CHECK(params[0].grad().to_vector<double>()[0] == 2.0);
  CHECK(opt::clip_grad_norm_(params, 1.0, opt::kInfNorm) == 2.0);
  CHECK(params[0].grad().to_vector<double>()[0] == Approx(2.0 / (2.0 + 1e-6)));
  CHECK(opt::clip_grad_norm_({}, 1.0) == 0.0);

  auto p32 = make_params(mg::kFloat32);
  p32[1].set_grad(mg::tensor({3.0, 4.0, 0.0, 0.0}));
  CHECK(opt::clip_grad_norm_(p32, 1.0) == Approx(5.0));
  CHECK(p32[1].grad().to_vector<float>()[1] == Approx(0.8f));

  CHECK_THROWS_WITH(opt::clip_grad_norm_(params, -1.0), "clip_grad_norm_: max_norm must be >= 0, got -1");
  CHECK_THROWS_WITH(opt::clip_grad_norm_(params, 1.0, 0.0),
                    "clip_grad_norm_: norm_type must be > 0 or infinity, got 0");
}

TEST_CASE("optim: clip_grad_value_ clamps each element") {
  auto params = make_params(mg::kFloat32);
  params[1].set_grad(mg::tensor({-3.0, -0.5, 0.25, 7.0}));
  opt::clip_grad_value_(params, 1.0);
  CHECK(params[1].grad().to_vector<float>() == std::vector<float>{-1.0f, -0.5f, 0.25f, 1.0f});
  CHECK_THROWS_WITH(opt::clip_grad_value_(params, -1.0), "clip_grad_value_: clip_value must be >= 0, got -1");
}

TEST_CASE("optim: schedulers set the optimizer's lr and validate their options") {
  opt::SGD sgd(make_params(), {.lr = 0.2});
  opt::LinearWarmup warmup(sgd, 4, 0.5);
  CHECK(sgd.lr() == 0.1);  // epoch 0 takes effect at construction
  CHECK(warmup.base_lr() == 0.2);
  for (int e = 0; e < 4; ++e) warmup.step();
  CHECK(sgd.lr() == 0.2);
  warmup.step();
  CHECK(warmup.get_last_lr() == 0.2);

  CHECK_THROWS_WITH(opt::StepLR(sgd, 0), "StepLR: step_size must be >= 1, got 0");
  CHECK_THROWS_WITH(opt::ExponentialLR(sgd, -0.5), "ExponentialLR: gamma must be finite and > 0, got -0.5");
  CHECK_THROWS_WITH(opt::CosineAnnealingLR(sgd, 0), "CosineAnnealingLR: T_max must be >= 1, got 0");
  CHECK_THROWS_WITH(opt::CosineAnnealingLR(sgd, 10, -1.0), Contains("eta_min must be finite and >= 0, got -1"));
  CHECK_THROWS_WITH(opt::LinearWarmup(sgd, 5, 0.0), "LinearWarmup: start_factor must be in (0, 1], got 0");
}

TEST_CASE("optim: every optimizer minimizes a quadratic through autograd") {
  // f(w) = sum(a * (w - c)^2), minimum at c
  const auto a = mg::tensor({0.5, 1.0, 2.0, 1.5}, {.dtype = mg::kFloat64});
  const auto c = mg::tensor({1.0, -2.0, 0.5, 3.0}, {.dtype = mg::kFloat64});
  const std::vector<std::pair<std::string, Factory>> cases = {
      {"SGD", factory<opt::SGD>(opt::SGDOptions{.lr = 0.1})},
      {"SGD momentum", factory<opt::SGD>(opt::SGDOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true})},
      {"Momentum", factory<opt::Momentum>(opt::MomentumOptions{.lr = 0.05})},
      {"Adam", factory<opt::Adam>(opt::AdamOptions{.lr = 0.1})},
      {"AdamW", factory<opt::AdamW>(opt::AdamWOptions{.lr = 0.1, .weight_decay = 0.0})},
      {"RMSprop", factory<opt::RMSprop>(opt::RMSpropOptions{.lr = 0.05, .momentum = 0.5, .centered = true})},
  };
  for (const auto& [name, make] : cases) {
    auto w = mg::zeros({4}, {.dtype = mg::kFloat64, .requires_grad = true});
    auto optimizer = make({w});
    opt::CosineAnnealingLR schedule(*optimizer, 300);
    for (int t = 0; t < 300; ++t) {
      auto loss = (a * (w - c) * (w - c)).sum();
      optimizer->zero_grad();
      loss.backward();
      optimizer->step();
      schedule.step();
    }
    INFO(name);
    CHECK(max_abs_diff(w.to_vector<double>(), c.to_vector<double>()) < 1e-3);
  }
}

TEST_CASE("optim: parameter groups have their own options; add_param_group checks them whole") {
  auto params = make_params();
  auto extra = mg::tensor({1.0, 2.0}, {.dtype = mg::kFloat64, .requires_grad = true});
  opt::SGD sgd({{{params[0]}, opt::SGDOptions{.lr = 0.5, .weight_decay = 0.1}}, {{params[1]}}}, {.lr = 0.1});
  CHECK(sgd.num_groups() == 2);
  CHECK(sgd.lr(0) == 0.5);
  CHECK(sgd.lr(1) == 0.1);  // the defaults
  CHECK(sgd.group_begin(1) == 1);
  for (auto& p : params) p.set_grad(mg::ones_like(p));
  const auto w0 = params[0].to_vector<double>(), w1 = params[1].to_vector<double>();
  sgd.step();
  CHECK(params[0].to_vector<double>()[0] == Approx(w0[0] - 0.5 * (1.0 + 0.1 * w0[0])));
  CHECK(params[1].to_vector<double>()[0] == Approx(w1[0] - 0.1));

  CHECK_THROWS_WITH(sgd.add_param_group({{extra, params[1]}}),
                    "SGD: parameters 1 and 3 are the same tensor (parameter 1 is in group 1)");
  CHECK_THROWS_WITH(sgd.add_param_group({{extra}, opt::SGDOptions{.momentum = -1.0}}),
                    "SGD: momentum must be finite and >= 0, got -1");
  CHECK(sgd.num_groups() == 2);  // refused groups leave nothing behind
  CHECK(sgd.params().size() == 2);
  sgd.add_param_group({{extra}, opt::SGDOptions{.lr = 0.01, .momentum = 0.9}});
  CHECK(sgd.num_groups() == 3);
  CHECK(sgd.lr(2) == 0.01);
  CHECK_THROWS_WITH(sgd.lr(3), "SGD: group 3 does not exist (3 groups)");
  sgd.set_lr(0.2);
  CHECK((sgd.lr(0) == 0.2 && sgd.lr(2) == 0.2));

  // Per-group state round trips; the buffers follow each group's options.
  extra.set_grad(mg::ones_like(extra));
  sgd.step();
  const auto sd = sgd.state_dict();
  CHECK(sd.at("group_sizes").to_vector<int64_t>() == std::vector<int64_t>{1, 1, 1});
  CHECK(sd.at("momentum").to_vector<double>() == std::vector<double>{0.0, 0.0, 0.9});
  CHECK(sd.contains("param.2.momentum_buffer"));
  CHECK(!sd.contains("param.0.momentum_buffer"));
  auto p2 = make_params();
  using Group = opt::SGD::Group;  // spelled out: {{{p}}} alone could also be a list of tensors
  opt::SGD other({Group{{p2[0]}}, Group{{p2[1]}}, Group{{extra.detach().clone().requires_grad_()}}});
  other.load_state_dict(sd);
  CHECK(other.lr(2) == 0.2);
  CHECK(other.state_dict().at("momentum").to_vector<double>() == std::vector<double>{0.0, 0.0, 0.9});
  opt::SGD two(make_params());
  CHECK_THROWS_WITH(two.load_state_dict(sd),
                    Contains("state has groups of [1, 1, 1] parameters, this optimizer has [2]"));
}

TEST_CASE("optim: the single-group state_dict written before groups still loads") {
  auto params = make_params();
  opt::Adam adam(params, {.lr = 0.01});
  run(adam, params, 0, 3);
  auto old = adam.state_dict();
  old.erase("group_sizes");
  old["num_params"] = mg::tensor(std::vector<int64_t>{2}, {});
  for (const char* key : {"lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad"})
    old[key] = mg::full({}, old.at(key).item(), {.dtype = mg::kFloat64});
  auto params2 = make_params();
  opt::Adam resumed(params2);
  resumed.load_state_dict(old);
  CHECK(resumed.lr() == 0.01);
  CHECK(resumed.state_dict().at("param.1.exp_avg").to_vector<double>() ==
        adam.state_dict().at("param.1.exp_avg").to_vector<double>());
}

TEST_CASE("optim: schedulers scale every group from its own base lr and resume exactly") {
  auto make = [](opt::Optimizer& o, int kind) -> std::unique_ptr<opt::LRScheduler> {
    switch (kind) {
      case 0:
        return std::make_unique<opt::StepLR>(o, 3, 0.5);
      case 1:
        return std::make_unique<opt::ExponentialLR>(o, 0.9);
      case 2:
        return std::make_unique<opt::CosineAnnealingLR>(o, 7, 0.001);
      default:
        return std::make_unique<opt::LinearWarmup>(o, 4, 0.25);
    }
  };
  for (int kind = 0; kind < 4; ++kind) {
    auto groups = [] {
      auto p = make_params();
      return std::vector<opt::Adam::Group>{{{p[0]}, opt::AdamOptions{.lr = 0.2}},
                                           {{p[1]}, opt::AdamOptions{.lr = 0.02}}};
    };
    opt::Adam whole_opt(groups());
    auto whole = make(whole_opt, kind);
    INFO("scheduler " << kind);
    CHECK(whole->base_lr(1) == 0.02);
    std::vector<std::pair<double, double>> lrs;
    for (int e = 0; e < 12; ++e, whole->step()) lrs.emplace_back(whole_opt.lr(0), whole_opt.lr(1));
    for (int e = 0; e < 12; ++e) {
      CHECK(lrs[e].first == whole->lr_at(e, 0));
      CHECK(lrs[e].second == whole->lr_at(e, 1));
      // Proportional to the base lrs, but for the cosine's floor eta_min.
      if (kind != 2) CHECK(lrs[e].second == Approx(lrs[e].first / 10).epsilon(1e-12));
    }

    opt::Adam first_opt(groups());
    auto first = make(first_opt, kind);
    for (int e = 0; e < 5; ++e) first->step();
    const auto saved = first->state_dict(), saved_opt = first_opt.state_dict();
    CHECK(saved.at("last_epoch").to_vector<int64_t>() == std::vector<int64_t>{5});
    // A fresh run: the scheduler is built on the fresh optimizer, then both load.
    opt::Adam second_opt(groups());
    auto second = make(second_opt, kind);
    second->load_state_dict(saved);
    second_opt.load_state_dict(saved_opt);
    for (int e = 5; e < 12; ++e, second->step()) {
      CHECK(second_opt.lr(0) == lrs[e].first);
      CHECK(second_opt.lr(1) == lrs[e].second);
    }
    auto bad = saved;
    bad["base_lrs"] = mg::tensor({0.1}, {1}, {.dtype = mg::kFloat64});
    CHECK_THROWS_WITH(second->load_state_dict(bad), Contains("'base_lrs' must be float64 of shape (2,)"));
  }
  auto p = make_params();
  opt::SGD sgd(std::vector<opt::SGD::Group>{{{p[0]}}});
  opt::StepLR step(sgd, 2);
  sgd.add_param_group({{p[1]}});
  CHECK_THROWS_WITH(step.step(), "StepLR: the optimizer has 2 parameter groups, the schedule was made for 1");
}

TEST_CASE("optim: a model with tied weights trains its shared tensor once per step") {
  // y = W (W x): W appears under two names; parameters() lists it once, so the optimizer takes it
  // and applies the summed gradient once. Analytic check for SGD: W -= lr * dL/dW.
  struct Tied : mg::nn::Module {
    std::shared_ptr<mg::nn::Linear> a = register_module(
        "a", std::make_shared<mg::nn::Linear>(2, 2, mg::nn::LinearOptions{.bias = false, .dtype = mg::kFloat64}));
    std::shared_ptr<mg::nn::Linear> b = register_module("b", a);  // the same layer again
    mg::Tensor forward(const mg::Tensor& x) override { return (*b)((*a)(x)); }
  };
  Tied model;
  const auto named = model.named_parameters();
  REQUIRE(named.size() == 1);
  CHECK(named[0].first == "a.weight");    // the first name wins
  CHECK(model.state_dict().size() == 2);  // as PyTorch, state_dict keeps both names
  const auto w = model.a->weight.to_vector<double>();
  const auto x = mg::tensor({1.0, -2.0}, {1, 2}, {.dtype = mg::kFloat64});
  opt::SGD sgd(model.parameters(), {.lr = 0.1});
  model(x).sum().backward();
  // L = 1^T W W x: dL/dW = W^T 1 x^T + 1 (W x)^T.
  const double wx0 = w[0] * 1.0 + w[1] * -2.0, wx1 = w[2] * 1.0 + w[3] * -2.0;
  const double col0 = w[0] + w[2], col1 = w[1] + w[3];
  const std::vector<double> grad{col0 * 1.0 + wx0, col0 * -2.0 + wx1, col1 * 1.0 + wx0, col1 * -2.0 + wx1};
  sgd.step();
  const auto after = model.a->weight.to_vector<double>();
  for (int i = 0; i < 4; ++i) CHECK(after[i] == Approx(w[i] - 0.1 * grad[i]).epsilon(1e-12));
}

TEST_CASE("optim: registration, listing and optimizer construction are linear in the parameters") {
  // 100,000 parameter tensors: quadratic registration or duplicate checks took minutes here.
  struct Wide : mg::nn::Module {
    Wide() {
      for (int i = 0; i < 50000; ++i) register_parameter(fmt::format("w{}", i), mg::zeros({1}));
      auto list = register_module("list", std::make_shared<mg::nn::ModuleList>());
      for (int i = 0; i < 50000; ++i)
        list->push_back(std::make_shared<mg::nn::Linear>(1, 1, mg::nn::LinearOptions{.bias = false}));
    }
  };
  // CPU time, not wall time: the machine may be busy with other work.
  const std::clock_t start = std::clock();
  Wide model;
  const auto params = model.parameters();
  CHECK(params.size() == 100000);
  CHECK(model.named_parameters().back().first == "list.49999.weight");
  opt::SGD sgd(params, {.lr = 0.1});
  CHECK(model.state_dict().size() == 100000);
  const double seconds = static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
  INFO(seconds << " s");
#ifdef NDEBUG
  CHECK(seconds < 5.0);  // under a second of CPU; quadratic work would take minutes
#endif
}
