// A project of its own that uses minigrad (tests/consumers/*): learns which points lie inside the
// unit circle with an MLP, a DataLoader and Adam. Exits non-zero unless it learned.
#include <minigrad/minigrad.h>

namespace mg = minigrad;
namespace nn = minigrad::nn;

int main() {
  mg::Generator gen(7);
  const mg::Tensor points = mg::rand({512, 2}, {}, &gen) * 3.0 - 1.5;
  std::vector<int64_t> inside;
  const std::vector<float> xy = points.to_vector<float>();
  for (std::size_t i = 0; i < xy.size(); i += 2) inside.push_back(xy[i] * xy[i] + xy[i + 1] * xy[i + 1] < 1.0f);
  const mg::data::Dataset data{points, mg::tensor(inside, {512})};

  const nn::LinearOptions o{.generator = &gen};
  nn::Sequential model{nn::Linear(2, 32, o), nn::Tanh(), nn::Linear(32, 2, o)};
  mg::optim::Adam opt(model.parameters(), {.lr = 2e-2});
  mg::data::DataLoader loader(data, {.batch_size = 64, .seed = 1});
  for (int64_t epoch = 0; epoch < 30; ++epoch) {
    loader.set_epoch(epoch);
    for (const auto& [x, y] : loader) {
      const mg::Tensor loss = nn::cross_entropy(model(x), y);
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
  }
  mg::NoGradGuard no_grad;
  const std::vector<int64_t> predicted = model(points).argmax(1).to_vector<int64_t>();
  int64_t correct = 0;
  for (std::size_t i = 0; i < inside.size(); ++i) correct += predicted[i] == inside[i];
  const double accuracy = static_cast<double>(correct) / static_cast<double>(inside.size());
  fmt::print("minigrad {}: training accuracy {:.1f}%\n", MINIGRAD_CONSUMER, 100 * accuracy);
  return accuracy > 0.9 ? 0 : 1;
}
