// nn modules: gradients (float64, wrt inputs and parameters), Dropout, containers, errors, summary.
#include <minigrad/minigrad.h>

#include <catch2/catch.hpp>
#include <cmath>

namespace mg = minigrad;
namespace nn = minigrad::nn;
using Catch::Matchers::Contains;
using Inputs = std::vector<mg::Tensor>;

namespace {

mg::Tensor input(const mg::Shape& shape, uint64_t seed = 7) {
  mg::Generator gen(seed);
  return (mg::rand(shape, {.dtype = mg::kFloat64}, &gen) * 4.0 - 2.0).detach().requires_grad_();
}

// Inputs by mg::gradcheck (full Jacobian). Parameters by central differences on the module's own
// buffers against backward of sum(output * r) for a fixed random r: the vector-Jacobian check
// torch.autograd.gradcheck runs in fast_mode, here for every parameter element.
void check_module(nn::Module& m, const mg::Tensor& x) {
  const auto report = mg::gradcheck([&](const Inputs& in) { return m(in[0]); }, {x});
  INFO(m.kind() << " wrt input: " << report.message);
  CHECK(report.passed);

  if (m.parameters().empty()) return;
  mg::Generator gen(99);
  const mg::Tensor r = mg::randn(m(x.detach()).shape(), {.dtype = mg::kFloat64}, &gen);
  auto loss = [&] { return (m(x.detach()) * r).sum(); };
  m.zero_grad();
  loss().backward();
  mg::NoGradGuard no_grad;
  const double eps = 1e-6;
  for (auto& [name, p] : m.named_parameters()) {
    REQUIRE(p.grad().defined());
    double* w = p.data<double>();
    const double* g = p.grad().data<double>();
    int64_t bad = 0;
    std::string first_bad;
    for (int64_t k = 0; k < p.numel(); ++k) {
      const double saved = w[k];
      w[k] = saved + eps;
      const double plus = loss().item();
      w[k] = saved - eps;
      const double minus = loss().item();
      w[k] = saved;
      const double numeric = (plus - minus) / (2 * eps);
      if (std::abs(g[k] - numeric) > 1e-6 + 1e-4 * std::abs(numeric) && bad++ == 0)
        first_bad = fmt::format("[{}]: analytic {}, numeric {}", k, g[k], numeric);
    }
    INFO(m.kind() << " wrt " << name << first_bad);
    CHECK(bad == 0);
  }
}

}  // namespace

TEST_CASE("nn: Linear has PyTorch's layout, init bounds and values", "[nn]") {
  mg::Generator gen(1);
  nn::Linear fc(4, 3, {.generator = &gen});
  CHECK(fc.weight.shape() == mg::Shape{3, 4});
  CHECK(fc.bias.shape() == mg::Shape{3});
  CHECK(fc.weight.requires_grad());
  // PyTorch's default: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias.
  for (const auto& p : {fc.weight, fc.bias})
    for (float v : p.to_vector<float>()) CHECK(std::abs(v) <= 0.5f);
  const auto x = mg::tensor({1.0, 2.0, 3.0, 4.0, -1.0, 0.0, 1.0, 0.5}, {2, 4});
  const auto y = fc(x).to_vector<float>();
  const auto w = fc.weight.to_vector<float>(), b = fc.bias.to_vector<float>();
  const auto xv = x.to_vector<float>();
  for (int i = 0; i < 2; ++i)
    for (int o = 0; o < 3; ++o) {
      float expected = b[o];
      for (int k = 0; k < 4; ++k) expected += xv[i * 4 + k] * w[o * 4 + k];
      CHECK(y[i * 3 + o] == Approx(expected).epsilon(1e-5));
    }
  CHECK(fc(mg::ones({5, 2, 4})).shape() == mg::Shape{5, 2, 3});  // leading axes kept
  nn::Linear same_seed(4, 3, {.generator = &(gen = mg::Generator(1))});
  CHECK(same_seed.weight.to_vector<float>() == w);
  CHECK(nn::Linear(4, 3, {.bias = false}).parameters().size() == 1);
}

TEST_CASE("nn: every layer gradchecks in float64 wrt inputs and parameters", "[nn]") {
  mg::Generator gen(3);
  const mg::Shape s{3, 4};
  nn::Linear linear(4, 3, {.dtype = mg::kFloat64, .generator = &gen});
  nn::Linear no_bias(4, 2, {.bias = false, .dtype = mg::kFloat64, .generator = &gen});
  nn::ReLU relu;
  nn::LeakyReLU leaky(0.1);
  nn::Sigmoid sigmoid;
  nn::Tanh tanh;
  nn::GELU gelu;
  nn::Softmax softmax(1);
  nn::LogSoftmax log_softmax(0);
  nn::Flatten flatten;
  nn::Identity identity;
  for (nn::Module* m : std::initializer_list<nn::Module*>{&linear, &no_bias, &relu, &leaky, &sigmoid, &tanh, &gelu,
                                                          &softmax, &log_softmax, &identity})
    check_module(*m, input(s));
  check_module(flatten, input({2, 3, 2}));
  nn::Unflatten unflatten(1, {3, 1, 2});
  check_module(unflatten, input({2, 6}));
  CHECK(unflatten(input({2, 6})).shape() == mg::Shape{2, 3, 1, 2});
  CHECK(unflatten.output_shape(mg::Shape{-1, 6}) == mg::Shape{-1, 3, 1, 2});
  CHECK_THROWS_WITH(unflatten(input({2, 5})), Contains("Unflatten: cannot split axis 1 of (2, 5) into (3, 1, 2)"));

  nn::Dropout dropout(0.4);
  dropout.set_mask(mg::tensor({1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0}, {3, 4}));
  check_module(dropout, input(s));

  nn::Sequential mlp{nn::Linear(4, 5, {.dtype = mg::kFloat64, .generator = &gen}), nn::Tanh(),
                     nn::Linear(5, 2, {.dtype = mg::kFloat64, .generator = &gen}), nn::LogSoftmax(1)};
  check_module(mlp, input(s));
}

TEST_CASE("nn: Dropout of a share of the batch drops what the whole batch's masks drop there") {
  const mg::Tensor x = mg::ones({10, 3, 2, 2});
  for (const bool channels : {false, true}) {
    auto make = [&] {
      return channels ? std::shared_ptr<nn::Dropout>(std::make_shared<nn::Dropout2d>(0.5, uint64_t{9}))
                      : std::make_shared<nn::Dropout>(0.5, uint64_t{9});
    };
    auto whole = make();
    const std::vector<float> expected = (*whole)(x).to_vector<float>();
    std::vector<float> joined;
    std::vector<std::shared_ptr<nn::Dropout>> shares;
    for (const auto& [first, rows] : {std::pair{0, 3}, {3, 3}, {6, 4}}) {
      shares.push_back(make());
      shares.back()->set_batch_rows(first, 10);
      const auto part = (*shares.back())(x.narrow(0, first, rows)).to_vector<float>();
      joined.insert(joined.end(), part.begin(), part.end());
    }
    CHECK(joined == expected);
    for (const auto& share : shares) CHECK(share->generator().state() == whole->generator().state());
  }
  nn::Dropout dropout(0.5);
  dropout.set_batch_rows(8, 10);
  CHECK_THROWS_WITH(dropout(mg::ones({4, 2})), Contains("an input of 4 rows from row 8 does not fit a batch of 10"));
  CHECK_THROWS_WITH(dropout.set_batch_rows(10, 10), Contains("row 10 of a batch of 10"));
}

TEST_CASE("nn: Dropout keeps 1-p of the elements, scales by 1/(1-p), and is the identity in eval", "[nn]") {
  const double p = 0.3;
  const int64_t n = 100000;
  nn::Dropout dropout(p, uint64_t{42});
  const auto x = mg::ones({n});
  const auto y = dropout(x).to_vector<float>();
  int64_t kept = 0, wrong_scale = 0;
  for (float v : y) {
    kept += v != 0.0f;
    wrong_scale += v != 0.0f && std::abs(v - 1.0 / (1.0 - p)) > 1e-6;
  }
  CHECK(wrong_scale == 0);
  // Binomial(n, 0.7): standard deviation sqrt(n p (1-p)) ~ 145; allow 5 of them.
  const double sd = std::sqrt(n * p * (1 - p));
  CHECK(std::abs(kept - n * (1 - p)) < 5 * sd);
  CHECK(dropout(x).to_vector<float>() != y);  // a fresh mask each call

  dropout.eval();
  CHECK(!dropout.is_training());
  CHECK(dropout(x).to_vector<float>() == x.to_vector<float>());
  dropout.train();
  CHECK(nn::Dropout(1.0)(x).sum().item() == 0.0);
  CHECK(nn::Dropout(0.0)(x).sum().item() == Approx(n));
  CHECK_THROWS_WITH(nn::Dropout(1.5), Contains("p must be in [0, 1], got 1.5"));

  // Same seed, same masks.
  CHECK(nn::Dropout(p, uint64_t{7})(x).to_vector<float>() == nn::Dropout(p, uint64_t{7})(x).to_vector<float>());
}

TEST_CASE("nn: parameters and named_parameters follow registration order with dotted names", "[nn]") {
  struct Net : nn::Module {
    std::shared_ptr<nn::Linear> fc1 = register_module("fc1", std::make_shared<nn::Linear>(3, 4));
    std::shared_ptr<nn::Sequential> body =
        register_module("body", std::make_shared<nn::Sequential>(nn::ReLU(), nn::Linear(4, 2)));
    mg::Tensor scale = register_parameter("scale", mg::ones({2}));
    mg::Tensor forward(const mg::Tensor& x) override { return (*body)((*fc1)(x)) * scale; }
  };
  Net net;
  std::vector<std::string> names;
  for (const auto& [name, p] : net.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"scale", "fc1.weight", "fc1.bias", "body.1.weight", "body.1.bias"});
  CHECK(net.parameters().size() == 5);
  CHECK(net.parameters()[1].impl() == net.fc1->weight.impl());  // the same tensor, not a copy
  CHECK(net.num_parameters() == 2 + 12 + 4 + 8 + 2);
  CHECK(net.kind() == "Net");

  net.eval();
  CHECK(!net.body->is_training());
  CHECK(!(*net.body)[1].is_training());
  net.train();
  CHECK((*net.body)[0].is_training());

  net(mg::ones({2, 3})).sum().backward();
  CHECK(net.fc1->weight.grad().defined());
  net.zero_grad();
  for (const auto& p : net.parameters()) CHECK(!p.grad().defined());
}

TEST_CASE("nn: Sequential runs a Linear and the ReLU after it as one op, with the same values", "[nn]") {
  mg::Generator gen(5);
  nn::Sequential model{nn::Linear(4, 3, {.dtype = mg::kFloat64, .generator = &gen}), nn::ReLU(),
                       nn::Linear(3, 2, {.dtype = mg::kFloat64, .generator = &gen}), nn::Tanh()};
  const mg::Tensor x = mg::randn({5, 4}, {.dtype = mg::kFloat64}, &gen);
  const mg::Tensor y = model(x);
  const mg::Tensor apart = model[3](model[2](model[1](model[0](x))));
  CHECK(y.to_vector<double>() == apart.to_vector<double>());

  CHECK(model[0].fuses(model[1]));
  CHECK_FALSE(model[2].fuses(model[3]));
  CHECK_FALSE(model[1].fuses(model[2]));
  // A subclass may change forward, so only the exact types fuse.
  struct CountingReLU : nn::ReLU {};
  struct WideLinear : nn::Linear {
    using nn::Linear::Linear;
  };
  CHECK_FALSE(model[0].fuses(CountingReLU()));
  CHECK_FALSE(WideLinear(4, 3).fuses(nn::ReLU()));

  // The pair is one graph node: the ReLU's output comes straight from linear.
  nn::Sequential pair;
  pair.push_back(model.ptr(0));
  pair.push_back(model.ptr(1));
  CHECK(pair(x).grad_fn()->name == "linear");
}

TEST_CASE("nn: Sequential takes modules by value or shared_ptr, with push_back, size and []", "[nn]") {
  nn::Sequential model{nn::Linear(8, 6), nn::ReLU(), nn::Dropout(0.2), nn::Linear(6, 2)};
  CHECK(model.size() == 4);
  CHECK(model[1].kind() == "ReLU");
  CHECK(model.at<nn::Linear>(3).out_features == 2);
  CHECK_THROWS_WITH(model.at<nn::Linear>(1), Contains("module 1 is a ReLU"));
  CHECK_THROWS_WITH(model[9], Contains("index 9 is out of range for 4 modules"));
  auto shared = std::make_shared<nn::Softmax>(1);
  model.push_back(shared);
  model.push_back(nn::Identity());
  CHECK(model.size() == 6);
  CHECK(&model[4] == shared.get());
  CHECK(model(mg::ones({3, 8})).shape() == mg::Shape{3, 2});
  CHECK(model.named_parameters()[2].first == "3.weight");
  nn::Sequential nested{model, nn::Tanh()};  // a copy shares the layers, as shared_ptrs do
  CHECK(nested.parameters().size() == 4);
  CHECK(nested.parameters()[0].impl() == model.parameters()[0].impl());
}

TEST_CASE("nn: an error inside a module names its path and kind", "[nn]") {
  nn::Sequential model{nn::Linear(784, 512), nn::ReLU(), nn::Linear(512, 10)};
  CHECK_NOTHROW(model(mg::ones({2, 784})));
  nn::Sequential wrong{nn::Linear(784, 256), nn::ReLU(), nn::Linear(512, 10)};
  CHECK_THROWS_WITH(wrong(mg::ones({32, 784})),
                    Contains("model.2 (Linear 512->10): input has 256 features, expected 512"));
  try {
    wrong(mg::ones({32, 784}));
  } catch (const nn::ModuleError& e) {
    CHECK(e.path == std::vector<std::string>{"model", "2"});
    CHECK(e.kind == "Linear 512->10");
  }
  // Errors from ops inside forward are wrapped the same way; nesting extends the path.
  nn::Sequential outer{nn::Identity(), nn::Sequential{nn::Identity(), nn::Softmax(3)}};
  outer.set_name("net");
  CHECK_THROWS_WITH(outer(mg::ones({2, 2})), Contains("net.1.1 (Softmax axis=3): softmax: axis 3"));
}

TEST_CASE("nn: summary lists layers, output shapes and parameter counts", "[nn]") {
  nn::Sequential model{nn::Flatten(), nn::Linear(784, 256), nn::ReLU(), nn::Dropout(0.2),
                       nn::Linear(256, 10, {.bias = false})};
  const std::string text = model.summary(mg::Shape{-1, 1, 28, 28});
  INFO(text);
  CHECK_THAT(text, Contains("Layer"));
  CHECK_THAT(text, Contains("Flatten 1..-1"));
  CHECK_THAT(text, Contains("(N, 784)"));
  CHECK_THAT(text, Contains("Linear 784->256"));
  CHECK_THAT(text, Contains("200,960"));
  CHECK_THAT(text, Contains("Dropout p=0.2"));
  CHECK_THAT(text, Contains("Linear 256->10 no bias"));
  CHECK_THAT(text, Contains("(N, 10)"));
  CHECK_THAT(text, Contains("Total parameters: 203,520"));
  CHECK(fmt::format("{}", model) == model.summary());
  // Without an input shape, Linear still knows its output.
  CHECK_THAT(model.summary(), Contains("(N, 256)"));
}

namespace {

// Running statistics as batch norm keeps them: float buffers, an int64 counter, and a scratch
// buffer that is not saved.
struct Stats : nn::Module {
  mg::Tensor scale = register_parameter("scale", mg::ones({2}));
  mg::Tensor running_mean = register_buffer("running_mean", mg::zeros({2}));
  mg::Tensor count = register_buffer("num_batches_tracked", mg::zeros({}, {.dtype = mg::kInt64}));
  mg::Tensor scratch = register_buffer("scratch", mg::zeros({3}), /*persistent=*/false);
  mg::Tensor forward(const mg::Tensor& x) override {
    if (is_training()) {
      mg::NoGradGuard no_grad;  // buffers are updated in place, outside the graph
      const auto mean = x.mean(0).to_vector<float>();
      for (int i = 0; i < 2; ++i) running_mean.data<float>()[i] += 0.5f * mean[i];
      ++count.data<int64_t>()[0];
    }
    return x * scale;
  }
};

// Takes two tensors and returns two: a typed forward and an operator() through call().
struct Mix : nn::Module {
  std::pair<mg::Tensor, mg::Tensor> forward(const mg::Tensor& a, const mg::Tensor& b) { return {a + b, mg::mm(a, b)}; }
  std::pair<mg::Tensor, mg::Tensor> operator()(const mg::Tensor& a, const mg::Tensor& b) {
    return call([&] { return forward(a, b); });
  }
};

}  // namespace

TEST_CASE("nn: buffers are registered, listed, saved and never trained", "[nn]") {
  struct Net : nn::Module {
    std::shared_ptr<Stats> stats = register_module("stats", std::make_shared<Stats>());
    std::shared_ptr<nn::Linear> fc = register_module("fc", std::make_shared<nn::Linear>(2, 2));
    mg::Tensor steps = register_buffer("steps", mg::zeros({1}));
    mg::Tensor forward(const mg::Tensor& x) override { return (*fc)((*stats)(x)); }
  };
  Net net;
  std::vector<std::string> names;
  for (const auto& [name, b] : net.named_buffers()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"steps", "stats.running_mean", "stats.num_batches_tracked", "stats.scratch"});
  CHECK(net.buffers()[2].impl() == net.stats->count.impl());
  CHECK(net.parameters().size() == 3);  // scale, fc.weight, fc.bias: no buffer
  for (const auto& b : net.buffers()) CHECK(!b.requires_grad());
  CHECK(net.num_parameters() == 2 + 4 + 2);

  const auto state = net.state_dict();
  CHECK(state.size() == 6);  // 3 parameters, 3 persistent buffers
  CHECK(state.contains("stats.running_mean"));
  CHECK(state.at("stats.num_batches_tracked").dtype() == mg::kInt64);
  CHECK(!state.contains("stats.scratch"));

  // Training updates buffers through forward, the optimizer only parameters.
  const auto x = mg::tensor({1.0, 2.0, 3.0, 4.0}, {2, 2});
  mg::optim::SGD sgd(net.parameters(), {.lr = 0.1});
  net(x).sum().backward();
  sgd.step();
  CHECK(net.stats->running_mean.to_vector<float>() == std::vector<float>{1.0f, 1.5f});
  CHECK(net.stats->count.to_vector<int64_t>() == std::vector<int64_t>{1});
  net.eval();
  CHECK(!net.stats->is_training());
  net(x);
  CHECK(net.stats->count.to_vector<int64_t>() == std::vector<int64_t>{1});

  // load_state_dict copies buffers in place too, converting the dtype as PyTorch's copy_.
  Net other;
  auto loaded = net.state_dict();
  loaded["stats.num_batches_tracked"] = mg::full({}, 7.0);
  other.load_state_dict(loaded);
  CHECK(other.stats->running_mean.to_vector<float>() == std::vector<float>{1.0f, 1.5f});
  CHECK(other.stats->count.dtype() == mg::kInt64);
  CHECK(other.stats->count.to_vector<int64_t>() == std::vector<int64_t>{7});
  loaded["stats.running_mean"] = mg::zeros({3});
  CHECK_THROWS_WITH(other.load_state_dict(loaded),
                    Contains("buffer 'stats.running_mean' has shape (2,) in the model but (3,)"));
  loaded.erase("stats.running_mean");
  CHECK_THROWS_WITH(other.load_state_dict(loaded), Contains("missing keys [stats.running_mean]"));
}

TEST_CASE("nn: parameters, buffers and children share one namespace of plain names", "[nn]") {
  nn::Sequential model{nn::Linear(2, 2)};
  CHECK_THROWS_WITH(model.register_buffer("0", mg::zeros({1})),
                    Contains("register_buffer: '0' is already registered in this module"));
  model.register_buffer("mean", mg::zeros({1}));
  CHECK_THROWS_WITH(model.register_parameter("mean", mg::zeros({1})),
                    Contains("register_parameter: 'mean' is already registered"));
  CHECK_THROWS_WITH(model.register_module("mean", std::make_shared<nn::ReLU>()),
                    Contains("register_module: 'mean' is already registered"));
  CHECK_THROWS_WITH(model.register_buffer("a.b", mg::zeros({1})), Contains("register_buffer: 'a.b' contains '.'"));
  CHECK_THROWS_WITH(model.register_parameter("", mg::zeros({1})), Contains("register_parameter: the name is empty"));
  CHECK_THROWS_WITH(model.register_buffer("none", mg::Tensor()), Contains("register_buffer: 'none' is undefined"));
}

TEST_CASE("nn: a module's own forward takes and returns several tensors", "[nn]") {
  static_assert(nn::TensorModule<nn::Linear> && nn::TensorModule<nn::Sequential>);
  static_assert(!nn::TensorModule<Mix>);  // so Sequential{Mix()} does not compile

  Mix mix;
  const auto a = mg::ones({2, 2}), b = mg::full({2, 2}, 2.0);
  auto [sum, product] = mix(a, b);
  CHECK(sum.to_vector<float>() == std::vector<float>(4, 3.0f));
  CHECK(product.to_vector<float>() == std::vector<float>(4, 4.0f));
  // Errors name the module as module(x)'s do, nested paths included.
  struct Net : nn::Module {
    std::shared_ptr<Mix> mix = register_module("mix", std::make_shared<Mix>());
    mg::Tensor forward(const mg::Tensor& x) override { return (*mix)(x, x).second; }
  };
  Net net;
  net.set_name("net");
  CHECK(net(a).shape() == mg::Shape{2, 2});
  CHECK_THROWS_WITH(net(mg::ones({2, 3})), Contains("net.mix (Mix): matmul: (2, 3) @ (2, 3)"));

  // Behind a shared_ptr<Module>, Sequential takes it but calling it fails naming it.
  nn::Sequential seq;
  seq.push_back(std::static_pointer_cast<nn::Module>(std::make_shared<Mix>()));
  CHECK_THROWS_WITH(seq(a), Contains("model.0 (Mix): Mix has no forward(const Tensor&)"));
}

TEST_CASE("nn: module trees refuse cycles and absurd depths with an error", "[nn]") {
  auto a = std::make_shared<nn::Sequential>(), b = std::make_shared<nn::Sequential>();
  a->push_back(b);
  CHECK_THROWS_WITH(b->push_back(a), Contains("register_module: '0': it contains this module (at '0.')"));
  CHECK_THROWS_WITH(a->push_back(a), Contains("a module cannot be inside itself"));

  // Built top-down, the chain is refused when first walked; built bottom-up, when registered.
  auto root = std::make_shared<nn::Sequential>();
  auto tip = root;
  for (int i = 0; i < nn::kMaxModuleDepth + 1; ++i) {
    auto next = std::make_shared<nn::Sequential>();
    tip->push_back(next);
    tip = next;
  }
  CHECK_THROWS_WITH(root->parameters(), Contains("module tree deeper than 1000 levels"));
  CHECK_THROWS_WITH(root->train(), Contains("deeper than 1000 levels"));
  CHECK_THROWS_WITH(root->summary(), Contains("deeper than 1000 levels"));
  CHECK_THROWS_WITH(nn::Sequential().push_back(root),
                    Contains("register_module: '0': module tree deeper than 1000 levels"));
}

TEST_CASE("nn: ModuleList and ModuleDict hold children for a module's own forward", "[nn]") {
  struct Net : nn::Module {
    std::shared_ptr<nn::ModuleList> layers =
        register_module("layers", std::make_shared<nn::ModuleList>(nn::Linear(3, 4), nn::Tanh(), nn::Linear(4, 4)));
    std::shared_ptr<nn::ModuleDict> heads = register_module(
        "heads",
        std::make_shared<nn::ModuleDict>(std::initializer_list<std::pair<std::string, std::shared_ptr<nn::Module>>>{
            {"policy", std::make_shared<nn::Linear>(4, 2)}, {"value", std::make_shared<nn::Linear>(4, 1)}}));
    mg::Tensor forward(const mg::Tensor& x) override {
      mg::Tensor h = x;
      for (const auto& layer : *layers) h = (*layer)(h);
      return (*heads)["policy"](h).sum(1) + (*heads)["value"](h).sum(1);
    }
  };
  Net net;
  std::vector<std::string> names;
  for (const auto& [name, p] : net.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias",
                                          "heads.policy.weight", "heads.policy.bias", "heads.value.weight",
                                          "heads.value.bias"});
  CHECK(net(mg::ones({5, 3})).shape() == mg::Shape{5});

  nn::ModuleList& layers = *net.layers;
  CHECK(layers.size() == 3);
  CHECK(layers[-1].kind() == "Linear 4->4");
  CHECK(layers.at<nn::Linear>(0).in_features == 3);
  CHECK(layers.ptr(1).get() == &layers[1]);
  CHECK_THROWS_WITH(layers.at<nn::Linear>(1), Contains("ModuleList::at: module 1 is a Tanh"));
  CHECK_THROWS_WITH(layers[3], Contains("ModuleList: index 3 is out of range for 3 modules"));
  CHECK_THROWS_WITH(layers[-4], Contains("index -4 is out of range"));
  layers.push_back(std::make_shared<nn::ReLU>());
  CHECK(layers.named_children().back().first == "3");
  CHECK_THROWS_WITH(layers(mg::ones({1, 3})), Contains("ModuleList is not called"));

  nn::ModuleDict& heads = *net.heads;
  CHECK(heads.keys() == std::vector<std::string>{"policy", "value"});
  CHECK(heads.contains("value"));
  CHECK(heads.at<nn::Linear>("value").out_features == 1);
  CHECK_THROWS_WITH(heads["q"], Contains("ModuleDict: no key 'q' (keys: policy, value)"));
  CHECK_THROWS_WITH(heads.insert("value", nn::ReLU()),
                    Contains("ModuleDict: key 'value' is already bound to a Linear 4->1"));
  heads.insert("aux", nn::Identity());
  std::vector<std::string> keys;
  for (const auto& [key, module] : heads) keys.push_back(key);
  CHECK(keys == std::vector<std::string>{"policy", "value", "aux"});
  CHECK(&heads["aux"] == heads.items()[2].second.get());

  // Errors inside name the path through the container.
  net.set_name("net");
  CHECK_THROWS_WITH(net(mg::ones({5, 2})), Contains("net.layers.0 (Linear 3->4): input has 2"));

  // Negative indices reach Sequential too.
  nn::Sequential seq{nn::Linear(2, 2), nn::ReLU()};
  CHECK(seq[-1].kind() == "ReLU");
}
