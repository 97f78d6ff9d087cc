// An LSTM reads each Fashion-MNIST image as a sequence of 28 rows of 28 pixels; a linear layer
// classifies the last hidden state.
//   example_lstm_fashion [--data DIR] [--epochs E] [--train-limit N] [--test-limit N]
//                        [--min-accuracy A]   (exits 1 below A, test accuracy in %)
#include <minigrad/minigrad.h>

#include "flags.h"

namespace mg = minigrad;
namespace nn = minigrad::nn;
namespace data = minigrad::data;

class RowReader : public nn::Module {
 public:
  RowReader(int64_t hidden, mg::Generator& gen)
      : lstm(register_module("lstm", std::make_shared<nn::LSTM>(28, hidden, nn::RNNOptions{.generator = &gen}))),
        fc(register_module("fc", std::make_shared<nn::Linear>(hidden, 10, nn::LinearOptions{.generator = &gen}))) {}

  // images [B, 784] -> logits [B, 10]
  mg::Tensor forward(const mg::Tensor& images) override {
    const auto [rows, state] = (*lstm)(images.reshape({-1, 28, 28}));
    const auto [h_n, c_n] = state;
    return (*fc)(h_n.select(0, 0));  // the last layer's final h
  }

  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Linear> fc;
};

int main(int argc, char** argv) {
  flags::expect(argc, argv, {"--data", "--epochs", "--train-limit", "--test-limit", "--min-accuracy"});
  const std::string dir = data::find_fashion_mnist(flags::get(argc, argv, "--data", std::string()));
  const auto epochs = flags::get<int64_t>(argc, argv, "--epochs", 6);
  const auto train_limit = flags::get<int64_t>(argc, argv, "--train-limit", 60000);
  const auto test_limit = flags::get<int64_t>(argc, argv, "--test-limit", 10000);
  const double min_accuracy = flags::get(argc, argv, "--min-accuracy", 88.0);

  const data::Dataset train = data::load_fashion_mnist_dataset(dir, data::Split::Train).head(train_limit);
  const data::Dataset test = data::load_fashion_mnist_dataset(dir, data::Split::Test).head(test_limit);
  mg::Generator gen(1);
  RowReader model(128, gen);
  fmt::print("{}", model.summary());
  mg::optim::Adam opt(model.parameters(), {.lr = 2e-3});
  mg::optim::CosineAnnealingLR schedule(opt, epochs);
  data::DataLoader loader(train, {.batch_size = 128, .seed = 1});

  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    loader.set_epoch(epoch);
    model.train();
    double loss_sum = 0;
    for (const auto& [x, y] : loader) {
      const mg::Tensor loss = nn::cross_entropy(model(x), y);
      opt.zero_grad();
      loss.backward();
      mg::optim::clip_grad_norm_(model.parameters(), 1.0);
      opt.step();
      loss_sum += loss.item();
    }
    schedule.step();
    fmt::print("epoch {}  train loss {:.4f}\n", epoch + 1, loss_sum / static_cast<double>(loader.num_batches()));
  }

  mg::NoGradGuard no_grad;
  model.eval();
  int64_t right = 0;
  for (const auto& [x, y] : data::DataLoader(test, {.batch_size = 1000, .shuffle = false})) {
    const auto predicted = model(x).argmax(1).to_vector<int64_t>();
    const auto truth = y.to_vector<int64_t>();
    for (std::size_t i = 0; i < truth.size(); ++i) right += predicted[i] == truth[i];
  }
  const double accuracy = 100.0 * static_cast<double>(right) / static_cast<double>(test.size());
  fmt::print("test accuracy on {} images: {:.2f}%\n", test.size(), accuracy);
  if (accuracy < min_accuracy) {
    fmt::print("below {:.2f}%\n", min_accuracy);
    return 1;
  }
}
