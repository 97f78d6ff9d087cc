// The gradcheck command line over the built-in registry plus a deliberately wrong backward (x^2
// whose gradient forgets the factor 2), as an op and inside a module: both must fail, name the
// op, and the module's failure must be traced to that op.
#include "cli.h"
#include "planted_ops.h"

namespace mg = minigrad;
namespace nn = minigrad::nn;
namespace gt = minigrad::gradcheck_tool;

int main(int argc, char** argv) {
  gt::Registry registry = gt::builtin_registry();
  registry.add(gt::OpEntry{.name = "wrong_square",
                           .cases = {{"(3, 4)", gt::uniform_inputs({{3, 4}}), [](const std::vector<mg::Tensor>& in) {
                                        return planted::wrong_square(in[0]);
                                      }}}});
  registry.add(gt::ModuleEntry{.name = "WrongMLP",
                               .cases = {{"4-5-3 with wrong_square",
                                          [](mg::Generator& gen) -> std::shared_ptr<nn::Module> {
                                            const nn::LinearOptions o{.dtype = mg::kFloat64, .generator = &gen};
                                            return std::make_shared<nn::Sequential>(nn::Linear(4, 5, o), nn::Tanh(),
                                                                                    planted::WrongSquare(),
                                                                                    nn::Linear(5, 3, o));
                                          },
                                          {2, 4}}}});
  return gt::main(argc, argv, registry);
}
