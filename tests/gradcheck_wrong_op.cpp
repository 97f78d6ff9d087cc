// The gradcheck command line over the built-in registry plus one op with a deliberately wrong
// backward (x^2 whose gradient forgets the factor 2): it must fail and name that op.
#include "cli.h"

namespace mg = minigrad;

int main(int argc, char** argv) {
  gradcheck_tool::Registry registry = gradcheck_tool::builtin_registry();
  auto wrong_square = [](const std::vector<mg::Tensor>& in) {
    const mg::Tensor& x = in[0];
    mg::Tensor out;
    {
      mg::NoGradGuard no_grad;
      out = x * x;
    }
    return mg::record_op("wrong_square", out, {x}, [x](const mg::Tensor& g) { return std::vector<mg::Tensor>{g * x}; });
  };
  registry.add(gradcheck_tool::OpEntry{
      .name = "wrong_square", .cases = {{"(3, 4)", gradcheck_tool::uniform_inputs({{3, 4}}), wrong_square}}});
  return gradcheck_tool::run_cli(argc, argv, registry);
}
