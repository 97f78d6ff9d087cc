// Corpora of broken inputs for the trainer: config files, image files for `predict`, fashion_mlp
// checkpoints, and every command-line flag. Library calls must throw minigrad::Error naming the
// file and the problem; the command line must exit non-zero with one line on stderr. Readers run
// under a capped address space (bad_input.h), the command line under RLIMIT_AS too.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <set>

#include <fcntl.h>
#include <sys/stat.h>

#include <zlib.h>

#include <minigrad/minigrad.h>

#include "bad_input.h"
#include "config.h"
#include "figures.h"
#include "images.h"
#include "train.h"

using namespace bad_input;
using Catch::Matchers::Contains;
using minigrad::Error;
using namespace std::string_literals;
namespace fs = std::filesystem;

namespace {

constexpr long long kBudget = 64LL << 20;

// The message of the minigrad::Error that read(path) throws in a capped child, after checking it
// names the path and is one line.
std::string error_of(const std::string& path, const std::function<std::string()>& read, long long budget = kBudget) {
  const Outcome out = run_capped<Error>(read, budget);
  INFO(path << " -> " << kind_name(out.kind) << ": " << out.text.substr(0, 300));
  REQUIRE(out.kind == Outcome::Threw);
  CHECK_THAT(out.text, Contains(path));
  CHECK(out.text.find('\n') == std::string::npos);
  return out.text;
}

// ---- config ----

// A value of the wrong type for every kind of field.
std::vector<std::string> wrong_values(const fashion::TrainConfig&, const bool&) { return {"1", "\"yes\"", "[true]"}; }
std::vector<std::string> wrong_values(const fashion::TrainConfig&, const int64_t&) {
  return {"1.5", "\"3\"", "true", "[1]"};
}
std::vector<std::string> wrong_values(const fashion::TrainConfig&, const double&) {
  return {"\"0.1\"", "true", "[0.1]"};
}
std::vector<std::string> wrong_values(const fashion::TrainConfig&, const std::string&) {
  return {"1", "true", "[\"a\"]"};
}
std::vector<std::string> wrong_values(const fashion::TrainConfig&, const std::vector<int64_t>&) {
  return {"512", "\"512,256\"", "[512, 2.5]", "[\"a\"]", "[[1]]"};
}
std::vector<std::string> wrong_values(const fashion::TrainConfig&, const std::vector<std::string>&) {
  return {"\"relu\"", "[1]", "[\"relu\", 2]", "[[\"relu\"]]"};
}

}  // namespace

TEST_CASE("bad input: config file corpus", "[fashion][bad-input]") {
  TempDir dir;
  const std::string good = bad_input::read_file(fashion::recipe_path("relu_128_64"));
  size_t tried = 0;
  auto expect_error = [&](const std::string& text, const std::string& expect) {
    const std::string path = dir / ("config-" + std::to_string(tried++) + ".toml");
    write_file(path, text);
    fashion::TrainConfig config;
    const std::string message = error_of(path, [&] {
      fashion::load_config_file(path, config);
      fashion::validate(config);
      return std::string();
    });
    INFO(text);
    CHECK_THAT(message, Contains(expect));
  };
  fashion::TrainConfig probe;
  fashion::for_each_field(probe, [&](std::string_view name, const auto& field, std::string_view) {
    for (const std::string& value : wrong_values(probe, field)) {
      // Line 5 of the file, after four lines of the good recipe's comments and settings.
      const std::string text = "# a config\n\n\n\n" + std::string(name) + " = " + value + "\n";
      expect_error(text, ":5: '" + std::string(name) + "' must be");
    }
  });
  const std::vector<std::pair<std::string, std::string>> named = {
      {good + "learning_rate = 0.1\n", "unknown key 'learning_rate'"},
      {"[model]\nhidden = [1]\n", "unknown key 'model'"},
      {"lr = 0.1\nlr = 0.2\n", ":2:"},
      {"lr = \n", ":1:"},
      {"lr = 0.1 0.2\n", ":1:"},
      {"hidden = [1,\n", ":1:"},
      {"epochs = 99999999999999999999\n", ":1:"},
      {"activation = \"relu\n", ":1:"},
      {std::string("lr = 1\0\n", 8), ":1:"},
      {"\xff\xfe binary", ":1:"},
      {"= 3\n", ":1:"},
  };
  for (const auto& [text, expect] : named) expect_error(text, expect);

  // Values of the right type but out of range: validate names the setting.
  const std::vector<std::pair<std::string, std::string>> invalid = {
      {"lr = -1", "lr -1 must be in (0, 1e+100]"},
      {"lr = nan", "lr nan must be in (0, 1e+100]"},
      {"lr = 1e308", "lr 1e+308 must be in (0, 1e+100]"},
      {"clip_norm = -1", "clip_norm -1 must be a finite number >= 0"},
      {"clip_norm = nan", "clip_norm nan must be a finite number >= 0"},
      {"clip_value = inf", "clip_value inf must be a finite number >= 0"},
      {"warmup_epochs = -5", "warmup_epochs -5 must be >= 0"},
      {"train_limit = -5", "train_limit -5 must be >= 0 (0 = all)"},
      {"test_limit = -1", "test_limit -1 must be >= 0 (0 = all)"},
      {"train_limit = 1\nval_fraction = 0.6", "train_limit 1 with val_fraction 0.6 leaves no training images"},
      {"init_scale = inf", "init_scale inf must be a finite number > 0"},
      {"l2 = inf", "l2 inf must be a finite number >= 0"},
      {"weight_decay = -0.1", "weight_decay -0.1 must be a finite number >= 0"},
      {"momentum = 1.5", "momentum 1.5 must be in [0, 1)"},
      {"beta2 = 1", "beta2 1 must be in [0, 1)"},
      {"gamma = 0", "gamma 0 must be a finite number > 0"},
      {"step_size = 0", "step_size 0 must be >= 1"},
      {"dropout = 1.5", "dropout 1.5"},
      {"epochs = 0", "epochs 0"},
      {"hidden = [0]", "hidden size 0"},
      {"hidden = [1000000, 1000000]", "more than 1073741824 parameters"},
      {"hidden = [9223372036854775807]", "more than 1073741824 parameters"},
      {"activation = \"swish\"", "activation 'swish'"},
      {"val_fraction = 1.0", "val_fraction 1"},
      {"batch_size = -1", "batch_size -1"},
      {"augment_shift = 14", "augment_shift 14"},
      {"augment_erase = 1.5", "augment_erase 1.5"},
      {"arch = [\"conv 8 3\", \"conv 8 x\"]", "arch[1] 'conv 8 x': the kernel size 'x' is not an integer"},
      {"arch = [\"conv 8 3\", \"swish\"]", "arch[1] 'swish': unknown layer"},
      {"arch = [\"conv 8 3 pad 1\", \"linear 10\"]",
       "arch[1] 'linear 10': needs flat features: put 'flatten' or 'gap' before it"},
      {"arch = [\"linear 10\", \"conv 8 3\"]", "arch[1] 'conv 8 3': needs an image, and its input is 10 flat features"},
      {"arch = [\"maxpool 2\", \"maxpool 2\", \"maxpool 2\", \"maxpool 2\", \"maxpool 2\"]",
       "arch[4] 'maxpool 2': a 2x2 window does not fit its 1x1x1 input"},
      {"arch = [\"conv 8 3 stride 0\"]", "arch[0] 'conv 8 3 stride 0': stride 0 must be positive"},
      {"arch = [\"conv 8 3 dilation 2\"]", "arch[0] 'conv 8 3 dilation 2': unexpected 'dilation'"},
      {"arch = [\"conv 8 3 bias 2\"]", "arch[0] 'conv 8 3 bias 2': bias 2 must be 0 or 1"},
      {"arch = [\"maxpool 2 bias 0\"]", "arch[0] 'maxpool 2 bias 0': unexpected 'bias'"},
      {"arch = [\"dropout 1\"]", "arch[0] 'dropout 1': '1' is not a probability in [0, 1)"},
      {"arch = [\"\"]", "arch[0] '': is empty"},
      {"arch = [\"linear 100000\", \"linear 100000\"]", "arch makes a model of more than 1073741824 parameters"},
      {"arch = [\"conv 596621554583428546 3 pad 1\", \"maxpool 2\"]",
       "arch[0] 'conv 596621554583428546 3 pad 1': the number of output channels 596621554583428546 is larger than "
       "16777216"},
      // Every number at its bound: the feature count saturates instead of overflowing.
      {"arch = [\"conv 16777216 1 pad 16777216\"]", "arch makes a model of more than 1073741824 parameters"},
  };
  for (const auto& [text, expect] : invalid) {
    CHECK_THROWS_WITH(fashion::validate(fashion::from_toml(text, "x.toml")), Contains(expect));
    ++tried;
  }
  write_file(dir / "huge.toml", "# " + Bytes(fashion::kMaxConfigBytes, 'x') + "\nlr = 0.1\n");
  CHECK_THAT(error_of(dir / "huge.toml",
                      [&] {
                        fashion::TrainConfig c;
                        fashion::load_config_file(dir / "huge.toml", c);
                        return std::string();
                      }),
             Contains("bytes is larger than a TOML config file can be (at most 1048576 bytes)"));
  ++tried;
  CHECK_THAT(error_of(dir / "missing.toml",
                      [&] {
                        fashion::TrainConfig c;
                        fashion::load_config_file(dir / "missing.toml", c);
                        return std::string();
                      }),
             Contains("config file not found"));
  ++tried;
  CHECK(tried > 130);
  WARN("config: " << tried << " broken files tried");
}

// ---- images ----

namespace {

Bytes pgm(const std::string& magic, int width, int height, int maxval, const Bytes& raster) {
  return magic + "\n# made by a test\n" + std::to_string(width) + " " + std::to_string(height) + "\n" +
         std::to_string(maxval) + "\n" + raster;
}

Bytes ascii_raster(const std::vector<int>& values, int per_line) {
  Bytes out;
  for (size_t i = 0; i < values.size(); ++i) out += std::to_string(values[i]) + ((i + 1) % per_line ? " " : "\n");
  return out;
}

std::string image_digest(const std::string& path) {
  const fashion::GrayImage image = fashion::load_gray_image(path);
  std::string s = std::to_string(image.width) + "x" + std::to_string(image.height) + ":";
  for (float v : image.pixels) s += std::to_string(v) + ",";
  return s;
}

}  // namespace

TEST_CASE("predict reads ASCII and binary PGM and PPM, all to the same grayscale", "[fashion]") {
  TempDir dir;
  std::vector<int> values(12 * 8);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<int>(i * 37 % 256);
  write_file(dir / "binary.pgm", pgm("P5", 12, 8, 255, Bytes(values.begin(), values.end())));
  write_file(dir / "ascii.pgm", pgm("P2", 12, 8, 255, ascii_raster(values, 12)));
  std::vector<int> rgb;
  for (int v : values) rgb.insert(rgb.end(), {v, v, v});
  write_file(dir / "ascii.ppm", pgm("P3", 12, 8, 255, ascii_raster(rgb, 36)));
  write_file(dir / "binary.ppm", pgm("P6", 12, 8, 255, Bytes(rgb.begin(), rgb.end())));
  Bytes wide;  // 16-bit samples, big-endian
  for (int v : values) wide += {static_cast<char>(v), static_cast<char>(v)};
  write_file(dir / "wide.pgm", pgm("P5", 12, 8, 65535, wide));

  const fashion::GrayImage image = fashion::load_gray_image(dir / "ascii.pgm");
  REQUIRE(image.width == 12);
  REQUIRE(image.height == 8);
  for (size_t i = 0; i < values.size(); ++i) CHECK(image.pixels[i] == Approx(values[i] / 255.0));
  for (const char* other : {"binary.pgm", "ascii.ppm", "binary.ppm", "wide.pgm"}) {
    INFO(other);
    CHECK(image_digest(dir / other) == image_digest(dir / "ascii.pgm"));
  }
  const std::vector<float> small = fashion::load_image_28x28(dir / "ascii.pgm", false);
  const std::vector<float> inverted = fashion::load_image_28x28(dir / "ascii.pgm", true);
  REQUIRE(small.size() == 784);
  for (size_t i = 0; i < small.size(); ++i) CHECK(inverted[i] == Approx(1.0f - small[i]));
}

TEST_CASE("bad input: image corpus for predict", "[fashion][bad-input]") {
  TempDir dir;
  std::vector<int> values(6 * 5);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<int>(i * 8);
  const Bytes p5 = pgm("P5", 6, 5, 255, Bytes(values.begin(), values.end()));
  const Bytes p2 = pgm("P2", 6, 5, 255, ascii_raster(values, 6));
  write_file(dir / "good.pgm", p5);
  const std::string good_digest = image_digest(dir / "good.pgm");

  std::vector<Variant> broken = truncations(p5);
  // An ASCII file cut inside a sample would read as a shorter number: every sample, the last
  // too, must be followed by whitespace.
  for (auto& v : truncations(p2)) broken.push_back(v);
  const std::vector<Variant> named = {
      {"empty", ""},
      {"a text file", "hello"},
      {"P7", "P7\n6 5\n255\n"},
      {"negative width", pgm("P5", -6, 5, 255, "")},
      {"zero height", "P5\n6 0\n255\n"},
      {"maxval 0", "P5 6 5 0\n" + Bytes(30, '\0')},
      {"maxval 70000", "P2 1 1 70000\n5\n"},
      {"sample above maxval (binary)", pgm("P5", 2, 1, 100, "\x05\xc8")},
      {"sample above maxval (ascii)", pgm("P2", 2, 1, 100, "5 101\n")},
      {"negative sample", pgm("P2", 2, 1, 255, "5 -1\n")},
      {"non-numeric sample", pgm("P2", 2, 1, 255, "5 x\n")},
      {"width not a number", "P5\nsix 5\n255\n" + Bytes(30, '\0')},
      {"width 10^12", "P5 1000000000000 1 255\n" + Bytes(30, '\0')},
      {"100000 x 100000 promised, 30 bytes given", pgm("P5", 100000, 100000, 255, Bytes(30, '\0'))},
      {"8192 x 8193 (above the pixel limit)", pgm("P5", 8192, 8193, 255, "")},
      {"65535 x 65535 ascii, 4 samples given", pgm("P2", 65535, 65535, 255, "1 2 3 4\n")},
      {"trailing bytes", p5 + "extra"},
      {"no whitespace after maxval", "P5 6 5 255" + Bytes(30, '\0')},
      {"a truncated PNG", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x00"s},
      {"a PNG header of 100000 x 100000",
       "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\x01\x86\xa0\0\x01\x86\xa0\x08\x00\0\0\0\0\0\0\0"s},
      {"a JPEG start only", "\xff\xd8\xff\xe0"s},
      {"a BMP header only", "BM\x36\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0"s},
  };
  broken.insert(broken.end(), named.begin(), named.end());
  size_t tried = 0;
  for (const Variant& v : broken) {
    const std::string path = dir / ("image-" + std::to_string(tried++));
    write_file(path, v.bytes);
    INFO(v.name);
    error_of(
        path, [&] { return image_digest(path); }, kBudget + 8 * static_cast<long long>(v.bytes.size()));
  }
  const std::vector<std::pair<std::string, std::string>> specific = {
      {pgm("P5", 100000, 100000, 255, Bytes(30, '\0')), "larger than the 67108864 pixels"},
      {pgm("P5", 6, 5, 255, Bytes(29, '\0')), "truncated: a 6x5 gray raster needs exactly 30 bytes, 29 are left"},
      {pgm("P2", 2, 1, 100, "5 101\n"), "sample 101"},
      {p5 + "extra", "5 bytes of trailing data"},
  };
  for (const auto& [bytes, expect] : specific) {
    const std::string path = dir / ("image-" + std::to_string(tried++));
    write_file(path, bytes);
    CHECK_THAT(error_of(path, [&] { return image_digest(path); }), Contains(expect));
  }
  CHECK(tried > 200);
  WARN("images: " << tried << " broken files tried");
  CHECK(image_digest(dir / "good.pgm") == good_digest);
}

// ---- fashion_mlp checkpoints ----

namespace {

// A fashion_mlp checkpoint of a small model (no training: the reader does not care).
void write_checkpoint(const std::string& path, fashion::TrainConfig config, minigrad::StateDict edit = {},
                      minigrad::nn::Metadata meta_edit = {}) {
  auto model = fashion::build_model(config);
  auto state = model->state_dict();
  for (auto& [k, v] : edit) state[k] = v;
  minigrad::nn::Metadata meta = {{"format", "fashion_mlp"},
                                 {"config", fashion::to_toml(config)},
                                 {"standardization_mean", "0.25"},
                                 {"standardization_std", "0.5"},
                                 {"epoch", "1"},
                                 {"val_accuracy", "0.5"}};
  for (auto& [k, v] : meta_edit) meta[k] = v;
  minigrad::nn::save_tensors(path, state, meta);
}

}  // namespace

TEST_CASE("bad input: fashion_mlp checkpoints", "[fashion][bad-input]") {
  TempDir dir;
  fashion::TrainConfig small;
  small.hidden = {8};
  write_checkpoint(dir / "good.ckpt", small);
  const auto loaded = fashion::load_checkpoint(dir / "good.ckpt");
  CHECK(loaded.config.hidden == std::vector<int64_t>{8});
  CHECK(loaded.standardization.mean == 0.25);

  fashion::TrainConfig other = small;
  other.hidden = {9};
  fashion::TrainConfig huge = small;
  huge.hidden = {30000, 30000};
  const std::string huge_toml = fashion::to_toml(huge);
  const std::vector<std::tuple<std::string, std::function<void(const std::string&)>, std::string>> cases = {
      {"another architecture (config and tensors agree)", [&](const std::string& p) { write_checkpoint(p, other); },
       ""},  // valid: loads as hidden 9
      {"tensors of another architecture",
       [&](const std::string& p) { write_checkpoint(p, small, fashion::build_model(other)->state_dict()); },
       "describes a model of"},
      {"a tensor of another shape, same size",
       [&](const std::string& p) {
         write_checkpoint(p, small, {{"0.bias", minigrad::zeros({2, 4})}});
       },
       "'0.bias' has shape (8,) in the model but (2, 4)"},
      {"a config naming a 900M-parameter model",
       [&](const std::string& p) {
         write_checkpoint(p, small, {}, {{"config", huge_toml}});
       },
       "describes a model of 923880010 parameters"},
      {"a config with an unknown key",
       [&](const std::string& p) {
         write_checkpoint(p, small, {}, {{"config", "hidden = [8]\nspeed = 3\n"}});
       },
       "unknown key 'speed'"},
      {"a config with a wrong type",
       [&](const std::string& p) {
         write_checkpoint(p, small, {}, {{"config", "hidden = 8\n"}});
       },
       "'hidden' must be a list of integers"},
      {"a config with an invalid value",
       [&](const std::string& p) {
         write_checkpoint(p, small, {}, {{"config", "hidden = [8]\nlr = -1\n"}});
       },
       "lr -1 must be in (0, 1e+100]"},
      {"a standardization that is not a number",
       [&](const std::string& p) {
         write_checkpoint(p, small, {}, {{"standardization_std", "wide"}});
       },
       "'standardization_std' is 'wide'"},
      {"an infinite standardization",
       [&](const std::string& p) {
         write_checkpoint(p, small, {}, {{"standardization_mean", "inf"}});
       },
       "'standardization_mean' is 'inf'"},
      {"another format",
       [&](const std::string& p) {
         write_checkpoint(p, small, {}, {{"format", "minigrad.module"}});
       },
       "format 'minigrad.module'"},
      {"no config",
       [&](const std::string& p) {
         minigrad::nn::save_tensors(p, fashion::build_model(small)->state_dict(), {{"format", "fashion_mlp"}});
       },
       "no 'config'"},
      {"a module checkpoint", [&](const std::string& p) { minigrad::nn::save(*fashion::build_model(small), p); },
       "format 'minigrad.module' is not a fashion_mlp checkpoint"},
  };
  size_t tried = 0;
  for (const auto& [name, write, expect] : cases) {
    INFO(name);
    const std::string path = dir / ("ckpt-" + std::to_string(tried++));
    write(path);
    if (expect.empty()) {
      CHECK(fashion::load_checkpoint(path).config.hidden == other.hidden);
      continue;
    }
    CHECK_THAT(error_of(path,
                        [&] {
                          fashion::load_checkpoint(path);
                          return std::string();
                        }),
               Contains(expect));
  }
  // A flipped byte anywhere in a real checkpoint: the CRC (or the magic, version or size) refuses it.
  const Bytes good = read_file(dir / "good.ckpt");
  const size_t stride = good.size() / 200;
  for (size_t i = 0; i < good.size(); i += stride) {
    Bytes b = good;
    b[i] = static_cast<char>(b[i] ^ 0x10);
    const std::string path = dir / "flipped.ckpt";
    write_file(path, b);
    INFO("byte " << i);
    error_of(path, [&] {
      fashion::load_checkpoint(path);
      return std::string();
    });
    ++tried;
  }
  CHECK(tried > 200);
  WARN("fashion_mlp checkpoints: " << tried << " broken files tried");
}

// ---- the command line ----

namespace {

struct CliResult {
  int status = -1;
  std::string out, err;
};

// Runs fashion_mlp with args in a child with a capped address space (except under ASan), killed
// by SIGALRM (status 128 + 14) if it runs longer than timeout_seconds: a hang fails, not blocks.
CliResult run_cli(const std::vector<std::string>& args, const TempDir& dir, long long budget = 1LL << 30,
                  unsigned timeout_seconds = 600) {
  const std::string out_path = dir / "stdout", err_path = dir / "stderr";
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    if (!kAddressSanitizer) {
      const rlimit limit{static_cast<rlim_t>(budget), static_cast<rlim_t>(budget)};
      ::setrlimit(RLIMIT_AS, &limit);
    }
    std::vector<char*> argv{const_cast<char*>(FASHION_MLP_EXE)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::alarm(timeout_seconds);  // kept across exec
    ::execv(FASHION_MLP_EXE, argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), read_file(out_path), read_file(err_path)};
}

std::string flag_of(std::string_view field) {
  std::string flag = "--" + std::string(field);
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

}  // namespace

TEST_CASE("bad input: every command-line flag", "[fashion][bad-input][cli]") {
  TempDir dir;
  std::vector<std::pair<std::vector<std::string>, std::string>> cases;
  // Every config flag of every subcommand that takes them, with a value of the wrong type.
  fashion::TrainConfig probe;
  fashion::for_each_field(probe, [&](std::string_view name, const auto& field, std::string_view) {
    using T = std::remove_cvref_t<decltype(field)>;
    // Any text is a string (and a list of strings, such as arch): validate judges them below.
    if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::vector<std::string>>) return;
    const std::string bad = std::is_same_v<T, bool> ? "maybe" : std::is_same_v<T, double> ? "fast" : "1.5x";
    for (const char* command : {"train", "sweep", "lr-find"})
      cases.push_back({{command, flag_of(name), bad}, flag_of(name)});
  });
  // Values of the right type that validate refuses.
  const std::vector<std::pair<std::vector<std::string>, std::string>> invalid = {
      {{"--lr", "-1"}, "lr -1 must be in (0, 1e+100]"},
      {{"--lr", "0"}, "lr 0 must be in (0, 1e+100]"},
      {{"--lr", "inf"}, "lr inf must be in (0, 1e+100]"},
      {{"--lr", "1e308"}, "lr 1e+308 must be in (0, 1e+100]"},
      {{"--lr", "1e999"}, "1e999 is outside the range of a double"},
      {{"--lr", "0x10"}, "0x10 is not a decimal number"},
      {{"--clip-norm", "-1"}, "clip_norm -1 must be a finite number >= 0"},
      {{"--clip-norm", "nan"}, "clip_norm nan must be a finite number >= 0"},
      {{"--warmup-epochs", "-5"}, "warmup_epochs -5 must be >= 0"},
      {{"--train-limit", "-5"}, "train_limit -5 must be >= 0"},
      {{"--test-limit", "-1"}, "test_limit -1 must be >= 0"},
      {{"--train-limit", "1", "--val-fraction", "0.6"},
       "train_limit 1 with val_fraction 0.6 leaves no training images (1 held out"},
      {{"--init-scale", "inf"}, "init_scale inf must be a finite number > 0"},
      {{"--l2", "inf"}, "l2 inf must be a finite number >= 0"},
      {{"--activation", "re\x01lu\x1b[31m"}, "activation 're\\x01lu\\x1b[31m' must be one of"},
      {{"--optimizer", std::string(100'000, 'a')}, "aaaa... (100000 bytes in all)' must be one of"},
      {{"--dropout", "1"}, "dropout 1 must be in [0, 1)"},
      {{"--epochs", "0"}, "epochs 0 must be >= 1"},
      {{"--batch-size", "-5"}, "batch_size -5"},
      {{"--val-fraction", "1"}, "val_fraction 1"},
      {{"--hidden", "0"}, "hidden size 0"},
      {{"--hidden", "100000,100000"}, "parameters"},
      {{"--activation", "swish"}, "activation 'swish'"},
      {{"--init", "zeros"}, "init 'zeros'"},
      {{"--optimizer", "lbfgs"}, "optimizer 'lbfgs'"},
      {{"--schedule", "linear"}, "schedule 'linear'"},
      {{"--normalize", "minmax"}, "normalize 'minmax'"},
      {{"--monitor", "train_loss"}, "monitor 'train_loss'"},
      {{"--label-smoothing", "2"}, "label_smoothing 2"},
      {{"--threads", "-1"}, "threads -1"},
      {{"--augment-shift", "14"}, "augment_shift 14"},
      {{"--patience", "-1"}, "patience -1"},
      {{"--init-scale", "0"}, "init_scale 0"},
      {{"--l2", "-1"}, "l2 -1 must be a finite number >= 0"},
      {{"--epochs", "99999999999999999999"}, "99999999999999999999 does not fit in a 64-bit integer"},
      {{"--seed", "-99999999999999999999"}, "does not fit in a 64-bit integer"},
      {{"--hidden", "64,99999999999999999999"}, "does not fit in a 64-bit integer"},
      {{"--epochs", "0x10"}, "0x10 is not a decimal integer"},
      {{"--batch-size", "1e3"}, "1e3 is not a decimal integer"},
      {{"--data", dir / "nowhere"}, "nowhere"},
      {{"--config", dir / "missing.toml"}, "missing.toml: config file not found"},
      {{"--recipe", "nope"}, "recipe 'nope' not found"},
  };
  // Each is refused before any data is read: with a --data that holds none, the message is
  // still about the setting, and the status is 2 (a usage error).
  std::set<std::vector<std::string>> usage_errors;
  for (const auto& [args, expect] : invalid)
    for (const char* command : {"train", "sweep", "lr-find"}) {
      std::vector<std::string> full{command};
      full.insert(full.end(), args.begin(), args.end());
      if (std::string(command) == "sweep") full.insert(full.end(), {"--grid", "lr=1e-3"});
      full.insert(full.end(), {"--out", dir / "out"});
      if (args[0] != "--data") {
        full.insert(full.end(), {"--data", dir / "no-data-here"});
        usage_errors.insert(full);
      }
      cases.push_back({full, expect});
    }
  write_file(dir / "garbage.ckpt", "MINIGRAD but not really a checkpoint");
  write_file(dir / "truncated.pgm", "P5 28 28 255\n" + Bytes(100, '\0'));
  const std::vector<std::pair<std::vector<std::string>, std::string>> other = {
      {{}, "subcommand is required"},
      {{"fly"}, "unknown subcommand 'fly'"},
      {{"train", "--no-such-flag"}, "--no-such-flag"},
      {{"train", "--lr"}, "--lr"},
      {{"eval"}, "checkpoint is required"},
      {{"eval", dir / "missing.ckpt"}, "missing.ckpt"},
      {{"eval", dir / "garbage.ckpt"}, "garbage.ckpt"},
      {{"eval", dir.path.string()}, "model.ckpt"},
      {{"predict", dir / "garbage.ckpt", "--index", "0"}, "garbage.ckpt"},
      {{"predict", dir / "garbage.ckpt", dir / "missing.png"}, "missing.png"},
      {{"predict", dir / "garbage.ckpt", "--index", "x"}, "--index"},
      {{"sweep"}, "--grid is required"},
      {{"sweep", "--grid", "lr"}, "--grid 'lr' is not name=value1,value2"},
      {{"sweep", "--grid", "speed=1,2"}, "unknown setting 'speed'"},
      {{"sweep", "--grid", "lr=fast"}, "--lr:1:"},
      {{"sweep", "--grid", "lr=1e-3", "--samples", "many"}, "--samples"},
      {{"lr-find", "--start", "-1"}, "need 0 < start < end"},
      {{"lr-find", "--start", "1", "--end", "0.1"}, "need 0 < start < end"},
      {{"lr-find", "--steps", "1"}, "steps > 1"},
      {{"lr-find", "--steps", "ten"}, "--steps"},
  };
  cases.insert(cases.end(), other.begin(), other.end());
  for (const auto& [args, expect] : cases) {
    std::string line = "fashion_mlp";
    for (const auto& a : args) line += " " + a;
    INFO(line);
    const CliResult r = run_cli(args, dir);
    INFO("stderr: " << r.err);
    CHECK(r.status != 0);
    CHECK(r.status < 128);  // an exit, not a signal
    if (usage_errors.contains(args)) CHECK(r.status == 2);
    std::string err = r.err;
    while (!err.empty() && err.back() == '\n') err.pop_back();
    CHECK(err.find('\n') == std::string::npos);
    CHECK(err.size() < 2000);  // a huge value is cut, not echoed whole
    CHECK(std::none_of(err.begin(), err.end(), [](char c) { return c >= 0 && c < 0x20; }));
    CHECK_THAT(err, Contains(expect));
  }
  CHECK(cases.size() > 150);
  WARN("command line: " << cases.size() << " bad invocations tried");
}

TEST_CASE("predict on files: a truncated image is refused, a P2 image is classified", "[fashion][cli][e2e]") {
  TempDir dir;
  fashion::TrainConfig small;
  small.hidden = {8};
  write_checkpoint(dir / "model.ckpt", small);
  std::vector<int> values(28 * 28);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<int>(i % 28 * 9);
  write_file(dir / "item.pgm", pgm("P2", 28, 28, 255, ascii_raster(values, 28)));
  write_file(dir / "cut.pgm", pgm("P5", 28, 28, 255, Bytes(700, '\x10')));
  const CliResult ok = run_cli({"predict", dir / "model.ckpt", dir / "item.pgm"}, dir);
  INFO(ok.err);
  CHECK(ok.status == 0);
  CHECK_THAT(ok.out, Contains(dir / "item.pgm" + ":") && Contains("%"));
  const CliResult cut = run_cli({"predict", dir / "model.ckpt", dir / "item.pgm", dir / "cut.pgm"}, dir);
  CHECK(cut.status == 1);
  CHECK_THAT(cut.err,
             Contains(dir / "cut.pgm") && Contains("truncated: a 28x28 gray raster needs exactly 784 bytes, 700"));
}

TEST_CASE("train warns when the first loss is far from ln(10)", "[fashion][cli][e2e]") {
  TempDir dir;
  const std::vector<std::string> common = {"train", "--epochs", "1",  "--train-limit", "600", "--test-limit",
                                           "100",   "--hidden", "32", "--batch-size",  "100", "--threads",
                                           "1"};
  int runs = 0;
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = common;
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), {"--out", dir / ("run" + std::to_string(++runs))});
    return run_cli(args, dir, 4LL << 30);
  };
  // Weights of std 1 on 784 standardized inputs make logits of size ~30: a first loss far above 2.3.
  const CliResult loud = run({"--init", "normal", "--init-scale", "1"});
  INFO(loud.err);
  REQUIRE(loud.status == 0);
  CHECK_THAT(loud.err, Contains("warning: first loss") && Contains("far from ln(10) = 2.303"));
  const CliResult quiet = run({});
  INFO(quiet.err);
  REQUIRE(quiet.status == 0);
  CHECK_THAT(quiet.err, !Contains("warning: first loss"));
}

TEST_CASE("bad input: a FIFO or a device given to any reader or command is refused unread",
          "[fashion][bad-input][cli]") {
  TempDir dir;
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
  fashion::TrainConfig small;
  small.hidden = {8};
  write_checkpoint(dir / "model.ckpt", small);
  const std::string fifo = "is a FIFO, not a regular file", device = "is a character device, not a regular file";
  for (const auto& [path, expect] : {std::pair{dir / "fifo", fifo}, std::pair{std::string("/dev/zero"), device}}) {
    INFO(path);
    fashion::TrainConfig config;
    CHECK_THAT(error_of(path,
                        [&] {
                          fashion::load_config_file(path, config);
                          return std::string();
                        }),
               Contains(expect));
    CHECK_THAT(error_of(path,
                        [&] {
                          fashion::load_gray_image(path);
                          return std::string();
                        }),
               Contains(expect));
    CHECK_THAT(error_of(path,
                        [&] {
                          fashion::read_metrics_csv(path);
                          return std::string();
                        }),
               Contains(expect));
    CHECK_THAT(error_of(path,
                        [&] {
                          fashion::load_checkpoint(path);
                          return std::string();
                        }),
               Contains(expect));
    // The commands, each with a timeout: a reader blocked on the FIFO fails the test (status 142).
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"eval", path},
             {"predict", path, "--index", "0"},
             {"predict", dir / "model.ckpt", path},
             {"train", "--config", path},
         }) {
      std::string line;
      for (const std::string& a : args) line += " " + a;
      INFO("fashion_mlp" << line);
      const CliResult r = run_cli(args, dir, 1LL << 30, 60);
      INFO(r.err);
      CHECK((r.status == 1 || r.status == 2));
      CHECK_THAT(r.err, Contains(path) && Contains(expect));
    }
  }
  fs::create_directories(dir / "run");
  REQUIRE(::mkfifo((dir / "run/metrics.csv").c_str(), 0600) == 0);
  const CliResult compare = run_cli({"compare", dir / "run", "--out", dir / "c.png"}, dir, 1LL << 30, 60);
  CHECK(compare.status == 1);
  CHECK_THAT(compare.err, Contains("metrics.csv: is a FIFO"));
}

TEST_CASE("eval and predict --index need the test split only", "[fashion][cli][e2e]") {
  TempDir dir;
  const std::string real = minigrad::data::find_fashion_mnist();
  fs::create_directories(dir / "test-only");
  for (const char* stem : {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"})
    for (const std::string suffix : {".gz", ""})
      if (fs::exists(real + "/" + stem + suffix))
        fs::create_symlink(real + "/" + stem + suffix, dir / "test-only/" + stem + suffix);
  fashion::TrainConfig small;
  small.hidden = {8};
  write_checkpoint(dir / "model.ckpt", small);
  const CliResult eval = run_cli({"eval", dir / "model.ckpt", "--data", dir / "test-only"}, dir);
  INFO(eval.err);
  CHECK(eval.status == 0);
  CHECK_THAT(eval.out, Contains("test accuracy"));
  const CliResult predict = run_cli({"predict", dir / "model.ckpt", "--index", "3", "--data", dir / "test-only"}, dir);
  INFO(predict.err);
  CHECK(predict.status == 0);
  CHECK_THAT(predict.out, Contains("test[3]:"));
}

TEST_CASE("fashion_mlp exits 2 for usage errors, 1 for errors while running, 0 for --help", "[fashion][cli]") {
  TempDir dir;
  const std::vector<std::pair<std::vector<std::string>, int>> cases = {
      {{"train", "--no-such-flag"}, 2},
      {{"train", "--lr", "abc"}, 2},
      {{"train", "--resume", dir / "r", "--force"}, 2},
      {{"fly"}, 2},
      {{}, 2},
      {{"sweep", "--grid", "lr"}, 2},
      {{"lr-find", "--end", "inf"}, 2},
      {{"predict", dir / "missing.ckpt"}, 2},
      {{"--help"}, 0},
      {{"train", "--help"}, 0},
      {{"eval", dir / "missing.ckpt"}, 1},
      {{"train", "--data", dir / "nowhere", "--out", dir / "out"}, 1},
  };
  for (const auto& [args, status] : cases) {
    std::string line;
    for (const std::string& a : args) line += " " + a;
    INFO("fashion_mlp" << line);
    const CliResult r = run_cli(args, dir, 1LL << 30, 60);
    INFO(r.err);
    CHECK(r.status == status);
  }
  CHECK_THAT(run_cli({"--help"}, dir).out, Contains("exit status: 0 done, 1 error while running, 2 usage error"));
}
