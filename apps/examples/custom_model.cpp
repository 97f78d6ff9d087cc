// Writing a new model: a custom op, a custom Module that uses it (spiral_net.h), trained on the
// three-arm spiral. `example_custom_model FILE` also saves the trained model to FILE (nn::save).
#include <minigrad/minigrad.h>

#include "spiral.h"
#include "spiral_net.h"

int main(int argc, char** argv) {
  mg::Generator gen(42);
  const auto [x, y] = spiral::make(100, 3, 0.2, gen);

  SpiralNet model(kSpiralHidden, gen);
  fmt::print("{}\n", model.summary(mg::Shape{-1, 2}));
  mg::optim::Adam opt(model.parameters(), {.lr = 2e-2});

  for (int step = 1; step <= 1000; ++step) {
    const mg::Tensor logits = model(x);
    const mg::Tensor loss = nn::cross_entropy(logits, y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    if (step % 200 == 0)
      fmt::print("step {:4}  loss {:.4f}  accuracy {:.1f}%\n", step, loss.item(), 100 * spiral::accuracy(logits, y));
  }

  mg::NoGradGuard no_grad;
  model.eval();
  fmt::print("final training accuracy: {:.1f}%\n", 100 * spiral::accuracy(model(x), y));
  if (argc > 1) nn::save(model, argv[1]);
}
