#pragma once
#include <minigrad/nn/containers.h>

#include <concepts>
#include <memory>

namespace minigrad::nn {

// Runs its modules in order; they are named "0", "1", ... (so parameters are "0.weight", ...), and
// model[i] and model.at<Linear>(i) reach them (see IndexedModules).
// Takes modules by value (each is moved into its own shared_ptr) or shared_ptrs:
//   Sequential model{Linear(784, 256), ReLU(), Dropout(0.2), Linear(256, 10)};
// Every module must map one tensor to one tensor (TensorModule, see module.h): one with its own
// several-tensor forward does not compile here, or, behind a shared_ptr<Module>, fails when called
// with an error naming it.
class Sequential : public IndexedModules {
 public:
  Sequential() = default;
  template <ModuleType... M>
  requires(sizeof...(M) > 0 && !(sizeof...(M) == 1 && (std::same_as<std::remove_cvref_t<M>, Sequential> && ...)))
      Sequential(M&&... modules) {  // implicit, so that `Sequential model{...}` reads like PyTorch
    (push_back(std::forward<M>(modules)), ...);
  }

  template <ModuleType M>
  void push_back(M&& module) {
    require_one_tensor<M>();
    push_back(std::static_pointer_cast<Module>(std::make_shared<std::remove_cvref_t<M>>(std::forward<M>(module))));
  }
  template <ModuleType M>
  void push_back(const std::shared_ptr<M>& module) {
    require_one_tensor<M>();
    push_back(std::static_pointer_cast<Module>(module));
  }
  void push_back(std::shared_ptr<Module> module) { append(std::move(module)); }

  Tensor forward(const Tensor& input) override;
  std::string kind() const override;
  std::optional<Shape> output_shape(const std::optional<Shape>& input) const override;
  void summary_rows(std::vector<SummaryRow>& rows, const std::string& name, int depth,
                    const std::optional<Shape>& input) const override;

 private:
  template <typename M>
  static void require_one_tensor() {
    static_assert(TensorModule<M>,
                  "Sequential chains modules with Tensor forward(const Tensor&); call a module "
                  "with several inputs or outputs from your own module's forward");
  }
};

}  // namespace minigrad::nn
