// A small convolutional network on Fashion-MNIST: NCHW batches with augmentation, BatchNorm,
// AdamW with a cosine schedule, then the test accuracy. The whole program a user writes.
//   example_fashion_cnn [train_images (0 = all 60,000)] [epochs] [test_images (0 = all 10,000)]
#include <cstdlib>

#include <minigrad/minigrad.h>

namespace mg = minigrad;
namespace nn = minigrad::nn;
namespace data = minigrad::data;

// Fraction of the images whose largest logit is the label; BatchNorm and Dropout in eval mode.
double accuracy(nn::Module& model, const data::Dataset& images) {
  mg::NoGradGuard no_grad;
  model.eval();
  int64_t correct = 0;
  for (const auto& [x, y] : data::DataLoader(images, {.batch_size = 500, .shuffle = false, .nchw = true})) {
    const auto predicted = model(x).argmax(1).to_vector<int64_t>(), truth = y.to_vector<int64_t>();
    for (std::size_t i = 0; i < truth.size(); ++i) correct += predicted[i] == truth[i];
  }
  model.train();
  return static_cast<double>(correct) / static_cast<double>(images.size());
}

int main(int argc, char** argv) {
  const int64_t train_images = argc > 1 ? std::atoll(argv[1]) : 0, epochs = argc > 2 ? std::atoll(argv[2]) : 10;
  const int64_t test_images = argc > 3 ? std::atoll(argv[3]) : 0;
  mg::manual_seed(0);
  const std::string dir = data::find_fashion_mnist();
  data::Dataset train = data::load_fashion_mnist_dataset(dir, data::Split::Train);
  data::Dataset test = data::load_fashion_mnist_dataset(dir, data::Split::Test);
  if (train_images > 0) train = train.head(train_images);
  if (test_images > 0) test = test.head(test_images);
  const data::Standardization pixels = data::fit_standardization(train);  // from the training images only
  data::standardize(train, pixels);
  data::standardize(test, pixels);

  // 28x28 -> two conv-BN-ReLU blocks and 2x2 max pooling per stage -> 7x7x64 -> classifier.
  // One row per block reads as the network.
  // clang-format off
  nn::Sequential model{
      nn::Conv2d(1, 32, 3, {.padding = 1}),  nn::BatchNorm2d(32), nn::ReLU(),
      nn::Conv2d(32, 32, 3, {.padding = 1}), nn::BatchNorm2d(32), nn::ReLU(), nn::MaxPool2d(2),
      nn::Conv2d(32, 64, 3, {.padding = 1}), nn::BatchNorm2d(64), nn::ReLU(),
      nn::Conv2d(64, 64, 3, {.padding = 1}), nn::BatchNorm2d(64), nn::ReLU(), nn::MaxPool2d(2),
      nn::Flatten(), nn::Linear(64 * 7 * 7, 256), nn::ReLU(), nn::Dropout(0.5), nn::Linear(256, 10)};
  // clang-format on
  mg::optim::AdamW opt(model.parameters(), {.lr = 2e-3, .weight_decay = 5e-4});
  mg::optim::CosineAnnealingLR schedule(opt, epochs);
  // Random crops (padding 2), flips and erasing, drawn per (seed, epoch, batch): reproducible.
  const data::Augmentation augment{.max_shift = 2, .horizontal_flip = true, .erasing = data::RandomErasing{}};
  data::DataLoader loader(train, {.batch_size = 128, .seed = 1, .augment = augment, .nchw = true});

  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    loader.set_epoch(epoch);
    double loss_sum = 0;
    for (const auto& [x, y] : loader) {  // x: [128, 1, 28, 28]
      mg::Tensor loss = nn::cross_entropy(model(x), y, {.label_smoothing = 0.1});
      opt.zero_grad();
      loss.backward();
      opt.step();
      loss_sum += loss.item();
    }
    schedule.step();
    fmt::print("epoch {}: loss {:.4f}\n", epoch + 1, loss_sum / static_cast<double>(loader.num_batches()));
  }
  fmt::print("{}test accuracy {:.2f}%\n", model.summary(mg::Shape{-1, 1, 28, 28}), 100.0 * accuracy(model, test));
}
