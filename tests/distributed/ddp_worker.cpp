// Run under mpirun by ctest: trains a small MLP with dropout data-parallel and checks what must
// hold (the ranks' parameters bit-identical, the distance to one process with the same global
// batches within the bound), or plays a fault (a rank that hangs or dies, a rank with another model
// or config) that the others must report. Exit status 0 when every check passes.
#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include <minigrad/distributed/data_parallel.h>
#include <minigrad/minigrad.h>

namespace mg = minigrad;
namespace nn = minigrad::nn;
namespace dist = minigrad::distributed;

namespace {

struct Args {
  int64_t steps = 100, batch = 100, hidden = 32;
  double bound_1 = 0, bound_100 = 0;  // max |difference| from one process after 1 and 100 steps
  std::string fault;                  // "hang:RANK:STEP", "die:RANK:STEP", "model:RANK", "config:RANK", "unused"
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--steps")
      a.steps = std::atoll(value);
    else if (flag == "--batch")
      a.batch = std::atoll(value);
    else if (flag == "--bound-1")
      a.bound_1 = std::atof(value);
    else if (flag == "--bound-100")
      a.bound_100 = std::atof(value);
    else if (flag == "--fault")
      a.fault = value;
    else
      throw mg::Error(fmt::format("ddp_worker: unknown flag {}", flag));
  }
  return a;
}

// 2,000 points in 64 dimensions, labelled by a fixed random linear teacher.
mg::data::Dataset teacher_data() {
  mg::Generator gen(7);
  const mg::Tensor x = mg::randn({2000, 64}, {}, &gen);
  const mg::Tensor teacher = mg::randn({64, 10}, {}, &gen);
  return {x, x.matmul(teacher).argmax(1)};
}

// A parameter the loss never uses: DataParallel must refuse to go on, naming it.
struct Unused : nn::Module {
  std::shared_ptr<nn::Linear> used = register_module("used", std::make_shared<nn::Linear>(64, 10));
  std::shared_ptr<nn::Linear> idle = register_module("idle", std::make_shared<nn::Linear>(64, 10));
  mg::Tensor forward(const mg::Tensor& x) override { return (*used)(x); }
};

std::shared_ptr<nn::Sequential> make_model(int64_t hidden) {
  mg::manual_seed(3);
  return std::make_shared<nn::Sequential>(nn::Linear(64, hidden), nn::ReLU(), nn::Dropout(0.2), nn::Linear(hidden, 10));
}

// Trains `steps` steps of SGD with momentum on the global batches; calls after(step) after each.
template <typename Forward, typename After>
void train(nn::Module& model, const mg::data::DataLoader& loader, int64_t steps, Forward&& forward, After&& after) {
  mg::optim::SGD opt(model.parameters(), {.lr = 0.05, .momentum = 0.9});
  for (int64_t step = 0; step < steps; ++step) {
    const int64_t i = step % loader.num_batches();
    const mg::data::Batch batch = loader.batch(i);
    mg::Tensor loss = nn::cross_entropy(forward(batch, i), batch.y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    after(step);
  }
}

std::vector<float> flat(const nn::Module& model) {
  std::vector<float> out;
  for (const mg::Tensor& p : model.parameters()) {
    const auto v = p.to_vector<float>();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

double max_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]));
  return worst;
}

int run(dist::ProcessGroup& group, const Args& args) {
  const int rank = group.rank();
  int fault_rank = -1;
  int64_t fault_step = -1;
  char kind[16] = {};
  if (!args.fault.empty()) std::sscanf(args.fault.c_str(), "%15[a-z]:%d:%ld", kind, &fault_rank, &fault_step);
  const std::string_view fault = kind;

  const auto data = teacher_data();
  std::shared_ptr<nn::Module> model =
      make_model(fault == "model" && rank == fault_rank ? args.hidden + 1 : args.hidden);
  if (fault == "unused") model = std::make_shared<Unused>();
  dist::DataParallel ddp(group, model, {.bucket_bytes = 4096, .config_hash = fault == "config" && rank == fault_rank});
  mg::data::DataLoader loader(data, {.batch_size = args.batch, .seed = 5, .shard = {rank, group.size()}});
  std::vector<float> after_1;
  train(
      *model, loader, args.steps,
      [&](const mg::data::Batch& batch, int64_t i) {
        const auto rows = loader.shard_rows(i);
        ddp.set_batch_rows(rows.first, rows.count, rows.global);
        return ddp(batch.x);
      },
      [&](int64_t step) {
        if (step == 0) after_1 = flat(*model);
        if (rank == fault_rank && step == fault_step) {
          if (fault == "hang") pause();
          if (fault == "die") raise(SIGKILL);
        }
      });

  // Every rank's parameters, bit for bit.
  mg::Tensor mine = mg::tensor(flat(*model), {static_cast<int64_t>(flat(*model).size())});
  const mg::Tensor all = group.all_gather(mine, "parameter check");
  const int64_t n = mine.numel();
  for (int r = 1; r < group.size(); ++r)
    if (std::memcmp(all.data<float>(), all.data<float>() + r * n, n * sizeof(float)) != 0)
      throw mg::Error(fmt::format("rank {}'s parameters differ from rank 0's after {} steps", r, args.steps));
  if (rank != 0) return 0;

  // One process, the same global batches.
  auto single = make_model(args.hidden);
  mg::data::DataLoader whole(data, {.batch_size = args.batch, .seed = 5});
  std::vector<float> single_1;
  train(
      *single, whole, args.steps, [&](const mg::data::Batch& batch, int64_t) { return (*single)(batch.x); },
      [&](int64_t step) {
        if (step == 0) single_1 = flat(*single);
      });
  const double d1 = max_difference(after_1, single_1), d100 = max_difference(flat(*model), flat(*single));
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const float v : flat(*model)) hash = (hash ^ std::bit_cast<uint32_t>(v)) * 0x100000001b3ULL;
  fmt::print(
      "{} ranks, {} steps: parameters identical on every rank; max |difference| from one process {:.3g} after "
      "1 step, {:.3g} after {}; parameter hash {:016x}\n",
      group.size(), args.steps, d1, d100, args.steps, hash);
  fmt::print("{}\n", ddp.stats().report());
  if (d1 > args.bound_1 || d100 > args.bound_100) {
    fmt::print(stderr, "error: the difference from one process exceeds the bound ({} after 1 step, {} after {})\n",
               args.bound_1, args.bound_100, args.steps);
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  dist::ProcessGroup group;
  try {
    return run(group, parse(argc, argv));
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
