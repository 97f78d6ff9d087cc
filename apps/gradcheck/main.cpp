// gradcheck: verifies gradients of every registered op and module, of a model given on the
// command line, or of a trained fashion_mlp checkpoint, against finite differences.
//   gradcheck                          every op and module, float64, several shapes
//   gradcheck --op relu --module Linear
//   gradcheck --model 784-128-64-10 --activation tanh --loss cross_entropy --batch 4
//   gradcheck --checkpoint runs/<run>/model.ckpt --samples 64
//   gradcheck --second-order --fast --json --eps 1e-6 --atol 1e-5 --rtol 1e-3 --seed 1
#include "checkpoint_check.h"
#include "cli.h"

namespace gt = minigrad::gradcheck_tool;

int main(int argc, char** argv) {
  gt::Registry registry = gt::builtin_registry();
  registry.add(gt::fashion_checkpoint());
  return gt::main(argc, argv, registry);
}
