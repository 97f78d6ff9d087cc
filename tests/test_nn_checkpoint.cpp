// state_dict and checkpoint files: round trips, and refusal of truncated, corrupt, foreign and
// mismatched files with messages naming the file and the problem.
#include <minigrad/minigrad.h>
#include <sys/resource.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>

namespace mg = minigrad;
namespace nn = minigrad::nn;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

// A fresh directory per test, removed afterwards.
struct TempDir {
  fs::path path = fs::temp_directory_path() / fmt::format("minigrad_nn_{}_{}", ::getpid(), counter()++);
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

nn::Sequential mlp(uint64_t seed, int64_t hidden = 5) {
  mg::Generator gen(seed);
  return nn::Sequential{nn::Linear(3, hidden, {.generator = &gen}), nn::ReLU(),
                        nn::Linear(hidden, 2, {.generator = &gen})};
}

}  // namespace

TEST_CASE("nn: state_dict round trip copies values into the existing parameters", "[nn]") {
  auto a = mlp(1), b = mlp(2);
  const auto x = mg::ones({4, 3});
  const auto weight_handle = b.parameters()[0];
  CHECK(a(x).to_vector<float>() != b(x).to_vector<float>());
  const auto state = a.state_dict();
  CHECK(state.size() == 4);
  CHECK(state.contains("2.bias"));
  b.load_state_dict(state);
  CHECK(a(x).to_vector<float>() == b(x).to_vector<float>());
  CHECK(b.parameters()[0].impl() == weight_handle.impl());  // same tensor, new values
  CHECK(b.parameters()[0].requires_grad());
}

TEST_CASE("nn: load_state_dict names the parameter and both shapes, and missing/unexpected keys", "[nn]") {
  auto model = mlp(1);
  const auto before = model.parameters()[0].to_vector<float>();
  CHECK_THROWS_WITH(model.load_state_dict(mlp(2, 7).state_dict()),
                    Contains("parameter '0.weight' has shape (5, 3) in the model but (7, 3) in the state dict"));
  CHECK(model.parameters()[0].to_vector<float>() == before);  // nothing copied on failure

  auto state = mlp(2).state_dict();
  state.erase("2.weight");
  state["3.weight"] = mg::zeros({2});
  CHECK_THROWS_WITH(model.load_state_dict(state), Contains("missing keys [2.weight], unexpected keys [3.weight]"));
  state.erase("3.weight");
  model.load_state_dict(state, /*strict=*/false);
  CHECK(model.parameters()[0].to_vector<float>() == mlp(2).parameters()[0].to_vector<float>());
}

TEST_CASE("nn: save_tensors / load_tensors round trip any dtype and rank, with metadata", "[nn]") {
  TempDir dir;
  const std::string path = dir.file("state.ckpt");
  const mg::StateDict tensors{{"w", mg::tensor({1.5, -2.0, 3.25, 0.0, 1e-30, 7.0}, {2, 3})},
                              {"step", mg::full({}, 1234.5, {.dtype = mg::kFloat64})},
                              {"idx", mg::tensor(std::vector<int64_t>{-1, 0, 1LL << 40}, {3})},
                              {"empty", mg::zeros({0, 4})}};
  nn::save_tensors(path, tensors, {{"optimizer", "adam"}, {"note", ""}});
  const auto ck = nn::load_tensors(path);
  CHECK(ck.metadata == nn::Metadata{{"optimizer", "adam"}, {"note", ""}});
  REQUIRE(ck.tensors.size() == 4);
  CHECK(ck.tensors.at("w").to_vector<float>() == tensors.at("w").to_vector<float>());
  CHECK(ck.tensors.at("w").shape() == mg::Shape{2, 3});
  CHECK(ck.tensors.at("step").dtype() == mg::kFloat64);
  CHECK(ck.tensors.at("step").dim() == 0);
  CHECK(ck.tensors.at("step").item() == 1234.5);
  CHECK(ck.tensors.at("idx").to_vector<int64_t>() == std::vector<int64_t>{-1, 0, 1LL << 40});
  CHECK(ck.tensors.at("empty").shape() == mg::Shape{0, 4});
  // The write went through a temporary file that is gone now.
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
}

TEST_CASE("nn: save and load a module through a checkpoint file", "[nn]") {
  TempDir dir;
  const std::string path = dir.file("model.ckpt");
  auto a = mlp(1), b = mlp(2);
  nn::save(a, path);
  nn::load(b, path);
  const auto x = mg::ones({2, 3});
  CHECK(a(x).to_vector<float>() == b(x).to_vector<float>());
  CHECK(nn::load_tensors(path).metadata.at("format") == "minigrad.module");

  auto wider = mlp(3, 8);
  CHECK_THROWS_WITH(nn::load(wider, path), Contains("load: " + path +
                                                    ": load_state_dict: parameter '0.weight' has shape (8, "
                                                    "3) in the model but (5, 3)"));
  nn::save_tensors(path, {{"lr", mg::zeros({})}}, {{"format", "minigrad.optimizer"}});
  CHECK_THROWS_WITH(nn::load(b, path), Contains("holds 'minigrad.optimizer', not a module's parameters"));
}

TEST_CASE("nn: checkpoints carry buffers with their dtypes", "[nn]") {
  struct Counted : nn::Sequential {
    Counted(uint64_t seed) : nn::Sequential(mlp(seed)) {
      register_buffer("running_mean", mg::full({2}, static_cast<double>(seed)));
      register_buffer("num_batches_tracked", mg::full({}, seed * 10.0, {.dtype = mg::kInt64}));
    }
  };
  TempDir dir;
  const std::string path = dir.file("model.ckpt");
  Counted a(1), b(2);
  nn::save(a, path);
  CHECK(nn::load_tensors(path).tensors.at("num_batches_tracked").dtype() == mg::kInt64);
  nn::load(b, path);
  CHECK(b.named_buffers()[0].second.to_vector<float>() == std::vector<float>{1.0f, 1.0f});
  CHECK(b.named_buffers()[1].second.to_vector<int64_t>() == std::vector<int64_t>{10});
  // A model without buffers saves exactly its parameters, as before buffers existed.
  CHECK(mlp(1).state_dict().size() == 4);
}

TEST_CASE("nn: load_tensors refuses truncated, corrupt, foreign and missing files", "[nn]") {
  TempDir dir;
  const std::string path = dir.file("model.ckpt");
  nn::save(mlp(1), path);
  const std::string good = read_bytes(path);

  write_bytes(path, good.substr(0, good.size() - 10));
  CHECK_THROWS_WITH(nn::load_tensors(path),
                    Contains(path + ": truncated: the header says " + std::to_string(good.size()) +
                             " bytes but the file has " + std::to_string(good.size() - 10)));
  write_bytes(path, good.substr(0, 5));
  CHECK_THROWS_WITH(nn::load_tensors(path), Contains(path + ": not a minigrad checkpoint"));
  write_bytes(path, good.substr(0, 16));
  CHECK_THROWS_WITH(nn::load_tensors(path), Contains("truncated: 16 bytes is shorter than any checkpoint"));

  std::string flipped = good;
  flipped[good.size() - 20] ^= 0x10;  // inside the last tensor's data
  write_bytes(path, flipped);
  CHECK_THROWS_WITH(nn::load_tensors(path), Contains(path + ": corrupt: CRC32 is"));

  write_bytes(path, "PK\x03\x04 some zip archive, not ours");
  CHECK_THROWS_WITH(nn::load_tensors(path), Contains("not a minigrad checkpoint (no MINIGRAD magic"));

  std::string future = good;
  future[8] = 9;  // version 9
  write_bytes(path, future);
  CHECK_THROWS_WITH(nn::load_tensors(path), Contains("format version 9 is not supported"));

  CHECK_THROWS_WITH(nn::load_tensors(dir.file("absent.ckpt")), Contains("absent.ckpt: cannot open"));
  CHECK_THROWS_WITH(nn::save_tensors(dir.file("no/such/dir/x.ckpt"), {}), Contains("cannot create"));
}

TEST_CASE("nn: a checkpoint write that fails midway leaves the old checkpoint whole", "[nn]") {
  TempDir dir;
  const std::string path = dir.file("model.ckpt");
  nn::save(mlp(1), path);
  const std::string good = read_bytes(path);
  // A file size limit makes write() fail after a partial write (EFBIG), like a disk filling up.
  // SIGXFSZ would kill the process; ignored, the write returns the error instead.
  struct rlimit old_limit {};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old_limit;
  small.rlim_cur = 1000;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  const nn::Sequential bigger = mlp(2, 100);  // ~2 KB of tensors: past the limit
  std::string error;
  try {
    nn::save(bigger, path);
  } catch (const mg::Error& e) {
    error = e.what();
  }
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  std::signal(SIGXFSZ, old_handler);
  CHECK_THAT(error, Contains(path) && Contains("write failed after 1000 of"));
  CHECK(read_bytes(path) == good);
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);  // no temporary left
}
