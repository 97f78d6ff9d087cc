// Your own ops and modules under the gradcheck command line, with all its options and its report:
// the built-in registry plus swish and SpiralNet (spiral_net.h), and SpiralNet checkpoints.
//   example_gradcheck_custom --op swish --module SpiralNet --second-order
//   example_custom_model spiral.ckpt && example_gradcheck_custom --checkpoint spiral.ckpt
#include <minigrad/gradcheck/checks.h>
#include <minigrad/gradcheck/cli.h>

#include "spiral_net.h"

namespace gt = minigrad::gradcheck_tool;

int main(int argc, char** argv) {
  gt::Registry registry = gt::builtin_registry();
  // An op: the cases draw float64 inputs; the policy (step, tolerances, kinks) keeps its defaults.
  registry.add(gt::OpEntry{
      .name = "swish",
      .cases = {
          {"(3, 5)", gt::uniform_inputs({{3, 5}}), [](const std::vector<mg::Tensor>& in) { return swish(in[0]); }},
          {"()", gt::uniform_inputs({{}}), [](const std::vector<mg::Tensor>& in) { return swish(in[0]); }}}});
  // A module: built with float64 parameters, checked with respect to its input and every parameter.
  registry.add(gt::ModuleEntry{.name = "SpiralNet",
                               .cases = {{"hidden 5, input (4, 2)",
                                          [](mg::Generator& gen) -> std::shared_ptr<nn::Module> {
                                            return std::make_shared<SpiralNet>(5, gen, mg::kFloat64);
                                          },
                                          {4, 2}}}});
  // Files nn::save wrote from a SpiralNet: rebuilt at the saved width, checked at 2-D points.
  registry.add(gt::saved_module("SpiralNet",
                                [] {
                                  mg::Generator gen(0);
                                  return std::make_shared<SpiralNet>(kSpiralHidden, gen, mg::kFloat64);
                                },
                                {2}));
  return gt::main(argc, argv, registry);
}
