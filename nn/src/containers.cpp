#include <minigrad/nn/containers.h>

namespace minigrad::nn {

const std::shared_ptr<Module>& IndexedModules::ptr(int64_t index) const {
  const auto n = static_cast<int64_t>(size());
  if (index < -n || index >= n)
    throw Error(fmt::format("{}: index {} is out of range for {} modules", kind(), index, n));
  return named_children()[static_cast<std::size_t>(index < 0 ? index + n : index)].second;
}

void IndexedModules::append(std::shared_ptr<Module> module) {
  register_module(std::to_string(size()), std::move(module));
}

Tensor ModuleList::forward(const Tensor&) {
  throw Error("ModuleList is not called: iterate over it in the forward of the module that owns it");
}

ModuleDict::ModuleDict(std::initializer_list<std::pair<std::string, std::shared_ptr<Module>>> items) {
  for (const auto& [key, module] : items) insert(key, module);
}

void ModuleDict::insert(std::string key, std::shared_ptr<Module> module) {
  if (index_.contains(key))
    throw Error(fmt::format("ModuleDict: key '{}' is already bound to a {}", key, (*this)[key].kind()));
  register_module(key, std::move(module));
  index_.emplace(std::move(key), size() - 1);
}

const std::shared_ptr<Module>& ModuleDict::ptr(const std::string& key) const {
  const auto it = index_.find(key);
  if (it == index_.end()) {
    std::vector<std::string> known = keys();
    throw Error(fmt::format("ModuleDict: no key '{}' (keys: {})", key, fmt::join(known, ", ")));
  }
  return named_children()[it->second].second;
}

std::vector<std::string> ModuleDict::keys() const {
  std::vector<std::string> out;
  out.reserve(size());
  for (const auto& [key, _] : named_children()) out.push_back(key);
  return out;
}

Tensor ModuleDict::forward(const Tensor&) {
  throw Error("ModuleDict is not called: index it in the forward of the module that owns it");
}

}  // namespace minigrad::nn
