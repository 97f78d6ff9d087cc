#pragma once
// Containers of modules: ModuleList (numbered) and ModuleDict (named) hold submodules for a parent
// module's own forward to call; their parameters join the parent's through the usual recursion
// ("layers.0.weight", "heads.policy.bias"). Neither is called itself. Sequential (sequential.h)
// is the numbered container that is also a module chaining its elements.
#include <minigrad/nn/module.h>

#include <initializer_list>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

namespace minigrad::nn {

// Children named "0", "1", ... in order, indexed from the front or, negative, from the back
// (as Python's lists).
class IndexedModules : public Module {
 public:
  std::size_t size() const { return named_children().size(); }
  bool empty() const { return named_children().empty(); }
  Module& operator[](int64_t index) const { return *ptr(index); }
  const std::shared_ptr<Module>& ptr(int64_t index) const;
  // Typed access: layers.at<Linear>(0).weight
  template <typename M>
  M& at(int64_t index) const {
    auto* typed = dynamic_cast<M*>(&(*this)[index]);
    if (!typed) throw Error(fmt::format("{}::at: module {} is a {}", kind(), index, (*this)[index].kind()));
    return *typed;
  }

 protected:
  void append(std::shared_ptr<Module> module);
};

// For a model that loops over its layers:
//   ModuleList layers;  // registered in the parent: register_module("layers", ...)
//   layers.push_back(Linear(64, 64));
//   for (const auto& layer : layers) x = (*layer)(x);
class ModuleList : public IndexedModules {
 public:
  ModuleList() = default;
  template <ModuleType... M>
  requires(sizeof...(M) > 0 && !(sizeof...(M) == 1 && (std::same_as<std::remove_cvref_t<M>, ModuleList> && ...)))
      ModuleList(M&&... modules) {  // NOLINT: implicit, for `ModuleList layers{...}`
    (push_back(std::forward<M>(modules)), ...);
  }

  template <ModuleType M>
  void push_back(M&& module) {
    append(std::make_shared<std::remove_cvref_t<M>>(std::forward<M>(module)));
  }
  void push_back(std::shared_ptr<Module> module) { append(std::move(module)); }

  auto begin() const { return Elements{named_children().begin()}; }
  auto end() const { return Elements{named_children().end()}; }

  Tensor forward(const Tensor& input) override;  // throws: a list is iterated, not called
  std::string kind() const override { return "ModuleList"; }

 private:
  // Iterates over the shared_ptrs, without the names.
  struct Elements {
    std::vector<std::pair<std::string, std::shared_ptr<Module>>>::const_iterator it;
    const std::shared_ptr<Module>& operator*() const { return it->second; }
    Elements& operator++() {
      ++it;
      return *this;
    }
    bool operator==(const Elements&) const = default;
  };
};

// Modules by key, in insertion order:
//   ModuleDict heads{{"policy", std::make_shared<Linear>(64, 4)},
//                    {"value", std::make_shared<Linear>(64, 1)}};
//   Tensor v = heads["value"](features);
// A key is never re-bound (torch's ModuleDict replaces): typed handles taken from the dict
// (at<Linear>) and the optimizer's parameter list would otherwise go stale silently.
class ModuleDict : public Module {
 public:
  ModuleDict() = default;
  ModuleDict(std::initializer_list<std::pair<std::string, std::shared_ptr<Module>>> items);

  void insert(std::string key, std::shared_ptr<Module> module);
  template <ModuleType M>
  void insert(std::string key, M&& module) {
    insert(std::move(key), std::make_shared<std::remove_cvref_t<M>>(std::forward<M>(module)));
  }

  std::size_t size() const { return named_children().size(); }
  bool empty() const { return named_children().empty(); }
  bool contains(const std::string& key) const { return index_.contains(key); }
  Module& operator[](const std::string& key) const { return *ptr(key); }
  const std::shared_ptr<Module>& ptr(const std::string& key) const;
  template <typename M>
  M& at(const std::string& key) const {
    auto* typed = dynamic_cast<M*>(&(*this)[key]);
    if (!typed) throw Error(fmt::format("ModuleDict::at: '{}' is a {}", key, (*this)[key].kind()));
    return *typed;
  }
  std::vector<std::string> keys() const;
  // (key, module) pairs in insertion order.
  const auto& items() const { return named_children(); }
  auto begin() const { return items().begin(); }
  auto end() const { return items().end(); }

  Tensor forward(const Tensor& input) override;  // throws: a dict is indexed, not called
  std::string kind() const override { return "ModuleDict"; }

 private:
  std::unordered_map<std::string, std::size_t> index_;  // key -> position in named_children()
};

}  // namespace minigrad::nn
