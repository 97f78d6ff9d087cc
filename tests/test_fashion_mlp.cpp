// The trainer: config handling, metrics, and an end-to-end run on a subset of the real data.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <minigrad/minigrad.h>

#include "arch.h"
#include "config.h"
#include "metrics.h"
#include "sweep.h"
#include "train.h"

using Catch::Matchers::Contains;
namespace fs = std::filesystem;
namespace mg = minigrad;

namespace {

// Two runs gave the same losses, bit for bit, epoch by epoch.
void check_same_losses(const fashion::TrainResult& a, const fashion::TrainResult& b) {
  REQUIRE(a.history.size() == b.history.size());
  for (std::size_t e = 0; e < a.history.size(); ++e) {
    CHECK(a.history[e].train_loss == b.history[e].train_loss);
    CHECK(a.history[e].val_loss == b.history[e].val_loss);
  }
}

// A plain MLP on the first 2,000 training images in batches of 32: no dropout, no smoothing.
fashion::TrainConfig small_plain_config(int64_t hidden, int64_t epochs) {
  fashion::TrainConfig c;
  c.train_limit = 2000;
  c.test_limit = 100;
  c.hidden = {hidden};
  c.batch_size = 32;
  c.epochs = epochs;
  c.dropout = 0.0;
  c.label_smoothing = 0.0;
  return c;
}

}  // namespace

TEST_CASE("fashion_mlp: config round-trips through TOML and rejects bad files") {
  fashion::TrainConfig c;
  c.hidden = {64, 32};
  c.lr = 3e-4;
  c.activation = "tanh";
  const fashion::TrainConfig back = fashion::from_toml(fashion::to_toml(c), "test");
  CHECK(back.hidden == std::vector<int64_t>{64, 32});
  CHECK(back.lr == 3e-4);
  CHECK(back.activation == "tanh");
  // A string starting with a newline: in a multi-line TOML string that newline would be dropped.
  c.activation = "\n";
  c.arch = {"\nrelu", "\r\n", "'\"\\"};
  const fashion::TrainConfig odd = fashion::from_toml(fashion::to_toml(c), "test");
  CHECK(odd.activation == c.activation);
  CHECK(odd.arch == c.arch);

  CHECK_THROWS_WITH(fashion::from_toml("lrr = 0.1", "cfg.toml"),
                    Contains("cfg.toml:1") && Contains("unknown key 'lrr'"));
  CHECK_THROWS_WITH(fashion::from_toml("\nlr = \"fast\"", "cfg.toml"),
                    Contains("cfg.toml:2") && Contains("'lr' must be a number"));
  CHECK_THROWS_WITH(fashion::from_toml("hidden = [1.5]", "cfg.toml"), Contains("list of integers"));
  CHECK_THROWS_WITH(fashion::from_toml("lr = ", "cfg.toml"), Contains("cfg.toml:1"));

  fashion::set_field(c, "hidden", "512x256");
  CHECK(c.hidden == std::vector<int64_t>{512, 256});
  fashion::set_field(c, "optimizer", "sgd");
  CHECK(c.optimizer == "sgd");
  CHECK_THROWS_WITH(fashion::set_field(c, "nope", "1"), Contains("unknown setting 'nope'"));
  c.activation = "swish";
  CHECK_THROWS_WITH(fashion::validate(c), Contains("activation 'swish'"));
}

TEST_CASE("fashion_mlp: build_model lays out dropout on the input and after each hidden layer") {
  fashion::TrainConfig c;
  c.hidden = {32, 16};
  c.dropout = 0.3;
  c.input_dropout = 0.1;
  const auto model = fashion::build_model(c);
  const std::string layers = model->summary();
  const size_t input_dropout = layers.find("Dropout p=0.1"), first_linear = layers.find("Linear 784->32");
  REQUIRE(first_linear != std::string::npos);
  CHECK(input_dropout < first_linear);
  CHECK(model->parameters().size() == 6);
  c.input_dropout = 1.0;
  CHECK_THROWS_WITH(fashion::validate(c), Contains("input_dropout 1 must be in [0, 1)"));
}

TEST_CASE("fashion_mlp: every bundled recipe loads and validates") {
  const auto names = fashion::recipe_names();
  CHECK(names.size() >= 5);
  for (const std::string& name : names) {
    fashion::TrainConfig c;
    INFO(name);
    CHECK_NOTHROW(fashion::load_config_file(fashion::recipe_path(name), c));
    CHECK_NOTHROW(fashion::validate(c));
  }
  CHECK_THROWS_WITH(fashion::recipe_path("no_such_recipe"), Contains("no_such_recipe") && Contains("not found"));
}

TEST_CASE("fashion_mlp: confusion matrix metrics") {
  fashion::ConfusionMatrix cm(2);
  for (int i = 0; i < 8; ++i) cm.add(0, 0);
  cm.add(0, 1);
  cm.add(1, 1);
  CHECK(cm.total() == 10);
  CHECK(cm.accuracy() == Approx(0.9));
  CHECK(cm.accuracy_stderr() == Approx(std::sqrt(0.9 * 0.1 / 10)));
  CHECK(cm.precision(1) == Approx(0.5));
  CHECK(cm.recall(0) == Approx(8.0 / 9));
  CHECK(cm.f1(1) == Approx(2 * 0.5 * 1.0 / 1.5));
  CHECK(cm.accuracy_text() == "90.00% +- 9.49%");
}

TEST_CASE("fashion_mlp: one epoch on 10,000 real images reaches 80% on 2,000 test images", "[e2e]") {
  fashion::TrainConfig c;
  c.train_limit = 10000;
  c.test_limit = 2000;
  c.epochs = 1;
  c.val_fraction = 0.1;
  c.dropout = 0.0;
  c.out = (fs::temp_directory_path() / fmt::format("fashion_e2e_{}", ::getpid())).string();
  const fashion::Splits splits = fashion::load_splits(c);
  REQUIRE(splits.train.size() == 9000);
  REQUIRE(splits.test.size() == 2000);
  const fashion::TrainResult result = fashion::train(c, splits, {.quiet = true});
  REQUIRE(result.test);
  INFO("test accuracy " << result.test->confusion.accuracy_text());
  CHECK(result.test->confusion.accuracy() >= 0.80);
  for (const char* file : {"best.ckpt", "model.ckpt", "metrics.csv", "summary.json", "config.toml"})
    CHECK(fs::exists(fs::path(c.out) / file));

  // eval's path: the saved model reproduces the run's test predictions.
  const fashion::LoadedModel loaded = fashion::load_checkpoint(c.out + "/model.ckpt");
  const fashion::Evaluation again = fashion::evaluate(*loaded.model, splits.test, loaded.config.tta_flip);
  CHECK(again.confusion.accuracy() == result.test->confusion.accuracy());
  fs::remove_all(c.out);
}

TEST_CASE("fashion_mlp: test-time flip averages the probabilities of each image and its mirror") {
  fashion::TrainConfig c;
  c.hidden = {16};
  auto model = fashion::build_model(c);
  mg::data::Dataset images{mg::randn({30, 784}), mg::tensor(std::vector<int64_t>(30, 3), {30}), {1, 28, 28}};
  mg::data::Dataset mirrored{mg::data::flip_horizontal(images.images, images.geometry), images.labels};
  const fashion::Evaluation plain = fashion::evaluate(*model, images, false);
  const fashion::Evaluation flip = fashion::evaluate(*model, mirrored, false);
  const fashion::Evaluation tta = fashion::evaluate(*model, images, true);
  const float *p = plain.probabilities.data<float>(), *q = flip.probabilities.data<float>(),
              *avg = tta.probabilities.data<float>();
  double loss = 0;
  for (int64_t i = 0; i < 30 * 10; ++i) CHECK(avg[i] == Approx((p[i] + q[i]) / 2).epsilon(1e-5));
  for (int64_t i = 0; i < 30; ++i) loss -= std::log((p[i * 10 + 3] + q[i * 10 + 3]) / 2);
  CHECK(tta.loss == Approx(loss / 30).epsilon(1e-5));
  CHECK(plain.probabilities.to_vector<float>() != tta.probabilities.to_vector<float>());
}

TEST_CASE("fashion_mlp: --overfit-batch drives the loss of one batch to ~0, reproducibly", "[e2e]") {
  fashion::TrainConfig c = small_plain_config(128, 100);
  c.schedule = "none";
  const fashion::Splits splits = fashion::load_splits(c);
  const fashion::TrainOptions options{
      .quiet = true, .evaluate_test = false, .write_files = false, .overfit_batch = true};
  const fashion::TrainResult first = fashion::train(c, splits, options);
  CHECK(first.history.back().train_loss < 0.01);
  CHECK(first.history.back().val_accuracy == 1.0);
  // Same seed, same thread count: the same numbers, bit for bit.
  check_same_losses(first, fashion::train(c, splits, options));
}

TEST_CASE("fashion_mlp: reduction = sum trains as the mean loss with the lr times the batch size", "[e2e]") {
  fashion::TrainConfig c = small_plain_config(32, 2);
  c.val_fraction = 0.2;  // 1,600 training images: 50 full batches of 32, whose scaling is exact
  c.optimizer = "momentum";
  c.lr = 1e-4;
  const fashion::Splits splits = fashion::load_splits(c);
  const fashion::TrainOptions options{.quiet = true, .evaluate_test = false, .write_files = false};
  c.reduction = "sum";
  const fashion::TrainResult sum = fashion::train(c, splits, options);
  c.reduction = "mean";
  const fashion::TrainResult mean = fashion::train(c, splits, options);
  c.lr *= 32;
  const fashion::TrainResult mean_scaled = fashion::train(c, splits, options);
  check_same_losses(sum, mean_scaled);
  CHECK(sum.history.back().train_loss != mean.history.back().train_loss);
}

TEST_CASE("fashion_mlp: a sweep over data settings trains each point on its own data", "[e2e]") {
  fashion::TrainConfig c = small_plain_config(16, 1);
  c.out = (fs::temp_directory_path() / fmt::format("fashion_sweep_{}", ::getpid())).string();
  fashion::run_sweep(c, {"normalize=scale,standardize", "val_fraction=0.1,0.3"}, 0);
  std::ifstream file(c.out + "/sweep.csv");
  const std::string csv{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  INFO(csv);
  for (const char* normalize : {"scale", "standardize"})
    for (const char* val_fraction : {"0.1", "0.3"}) {
      fashion::TrainConfig point = c;
      fashion::set_field(point, "normalize", normalize);
      fashion::set_field(point, "val_fraction", val_fraction);
      const fashion::TrainResult alone = fashion::train(point, fashion::load_splits(point),
                                                        {.quiet = true, .evaluate_test = false, .write_files = false});
      const fashion::EpochRecord& best = alone.history[alone.best_epoch - 1];
      CHECK_THAT(csv, Contains(fmt::format("\"normalize={} val_fraction={}\",{:.6f},{:.6f},", normalize, val_fraction,
                                           best.val_accuracy, best.val_loss)));
    }
  fs::remove_all(c.out);
}

TEST_CASE("fashion_mlp: arch entries build the model they count, recipes included") {
  fashion::TrainConfig c;
  for (const std::string recipe : {"cnn", "resnet"}) {
    fashion::TrainConfig r;
    fashion::load_config_file(fashion::recipe_path(recipe), r);
    int64_t built = 0;
    for (const mg::Tensor& p : fashion::build_model(r)->parameters()) built += p.numel();
    CHECK(fashion::parameter_count(r) == built);
  }
  fashion::TrainConfig r;
  fashion::load_config_file(fashion::recipe_path("cnn"), r);
  CHECK(fashion::parameter_count(r) ==
        870826);  // 4 convs without bias (288 + 9216 + 18432 + 36864), 4 BNs, 3136->256->10

  // An MLP config is the arch it stands for: the same layers under the same names as ever.
  c.hidden = {32, 16};
  c.input_dropout = 0.1;
  CHECK(fashion::mlp_arch(c) == std::vector<std::string>{"dropout 0.1", "linear 32", "relu", "dropout 0.2", "linear 16",
                                                         "relu", "dropout 0.2"});
  std::vector<std::string> names;
  for (const auto& [name, t] : fashion::build_model(c)->named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"1.weight", "1.bias", "4.weight", "4.bias", "7.weight", "7.bias"});

  // Images appear at the first layer that needs one, and a flatten before the output.
  c.arch = {"conv 4 3 stride 2", "relu", "maxpool 2 pad 1"};
  const std::string summary = fashion::build_model(c)->summary(mg::Shape{-1, 784});
  INFO(summary);
  CHECK_THAT(summary, Contains("Unflatten 1 -> (1, 28, 28)") && Contains("Conv2d 1->4") && Contains("Flatten") &&
                          Contains("Linear 196->10"));
  CHECK(fashion::build_model(c)->forward(mg::randn({3, 784})).shape() == mg::Shape{3, 10});
  fashion::set_field(c, "arch", "conv 8 3 pad 1,bn,relu,gap");
  CHECK(c.arch == std::vector<std::string>{"conv 8 3 pad 1", "bn", "relu", "gap"});
  CHECK(fashion::from_toml(fashion::to_toml(c), "test").arch == c.arch);
  CHECK(fashion::field_text(c, "arch") == "['conv 8 3 pad 1', 'bn', 'relu', 'gap']");

  // 'bias 0' drops the conv's bias (redundant before a bn); the size estimate agrees.
  c.arch = {"conv 8 3 pad 1 bias 0", "bn", "relu", "gap"};
  const auto no_bias = fashion::build_model(c);
  names.clear();
  for (const auto& [name, t] : no_bias->named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"1.weight", "2.weight", "2.bias", "6.weight", "6.bias"});
  CHECK(fashion::arch_size(fashion::plan_arch(c.arch)).parameters == no_bias->num_parameters());
}

TEST_CASE("fashion_mlp: a small CNN trains on real images, reloads for eval and draws its filters", "[e2e]") {
  fashion::TrainConfig c;
  c.arch = {"conv 8 3 pad 1", "bn",      "relu",      "maxpool 2", "conv 16 3 pad 1", "bn", "relu",
            "maxpool 2",      "flatten", "linear 32", "relu",      "dropout 0.2"};
  c.train_limit = 600;
  c.test_limit = 200;
  c.epochs = 1;
  c.batch_size = 32;
  c.lr = 3e-3;
  c.augment_shift = 1;
  c.augment_flip = true;
  c.augment_erase = 0.5;
  c.tta_flip = true;
  c.out = (fs::temp_directory_path() / fmt::format("fashion_cnn_{}", ::getpid())).string();
  const fashion::Splits splits = fashion::load_splits(c);
  const fashion::TrainResult result = fashion::train(c, splits, {.quiet = true});
  REQUIRE(result.test);
  INFO("test accuracy " << result.test->confusion.accuracy_text());
  CHECK(result.test->confusion.accuracy() >= 0.4);  // 17 steps; chance is 0.1
  for (const char* file : {"model.ckpt", "metrics.csv", "report.html", "weights.png"})
    CHECK(fs::exists(fs::path(c.out) / file));

  // The checkpoint holds BatchNorm's running statistics: eval reproduces the run's predictions.
  const fashion::LoadedModel loaded = fashion::load_checkpoint(c.out + "/model.ckpt");
  CHECK(loaded.config.arch == c.arch);
  CHECK(loaded.model->state_dict().count("2.running_mean") == 1);
  const fashion::Evaluation again = fashion::evaluate(*loaded.model, splits.test, loaded.config.tta_flip);
  CHECK(again.confusion.accuracy() == result.test->confusion.accuracy());
  fs::remove_all(c.out);
}
