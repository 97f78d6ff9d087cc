// The model shown in the README's "A first model" section, built so that it stays true.
#include <minigrad/minigrad.h>
namespace mg = minigrad;
namespace nn = minigrad::nn;
int main() {
  mg::manual_seed(0);
  const std::string dir = mg::data::find_fashion_mnist();
  auto train = mg::data::load_fashion_mnist_dataset(dir, mg::data::Split::Train);
  auto test = mg::data::load_fashion_mnist_dataset(dir, mg::data::Split::Test);
  nn::Sequential model{nn::Linear(784, 256), nn::ReLU(), nn::Dropout(0.2), nn::Linear(256, 10)};
  mg::optim::Adam opt(model.parameters(), {.lr = 1e-3});
  mg::data::DataLoader loader(train, {.batch_size = 128, .seed = 1});
  for (int64_t epoch = 0; epoch < 5; ++epoch) {
    loader.set_epoch(epoch);  // a new shuffle per epoch
    for (const auto& [x, y] : loader) {
      mg::Tensor loss = nn::cross_entropy(model(x), y);
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
  }
  mg::NoGradGuard no_grad;
  model.eval();
  const auto predicted = model(test.images).argmax(1).to_vector<int64_t>();
  const auto truth = test.labels.to_vector<int64_t>();
  int64_t correct = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) correct += predicted[i] == truth[i];
  fmt::print("{}test accuracy {:.2f}%\n", model.summary(mg::Shape{-1, 784}), 100.0 * correct / truth.size());
}
