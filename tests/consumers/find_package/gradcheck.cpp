// gradcheck over the built-in registry plus this project's own op, softsign(x) = x / (1 + |x|).
#include <minigrad/gradcheck/cli.h>

namespace mg = minigrad;
namespace gt = minigrad::gradcheck_tool;

mg::Tensor softsign(const mg::Tensor& x) {
  mg::Tensor out;
  {
    mg::NoGradGuard no_grad;
    out = x / (x.abs() + 1.0);
  }
  return mg::record_op("softsign", out, {x}, [x](const mg::Tensor& g) {
    const mg::Tensor d = x.abs() + 1.0;
    return mg::TensorList{g / (d * d)};
  });
}

int main(int argc, char** argv) {
  gt::Registry registry = gt::builtin_registry();
  registry.add(gt::OpEntry{.name = "softsign",
                           .cases = {{"(3, 4)", gt::uniform_inputs({{3, 4}}),
                                      [](const std::vector<mg::Tensor>& in) { return softsign(in[0]); }}}});
  return gt::main(argc, argv, registry);
}
