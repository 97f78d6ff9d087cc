#include <cxxabi.h>
#include <minigrad/autograd.h>
#include <minigrad/nn/module.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <set>
#include <typeinfo>

namespace minigrad::nn {
namespace {

std::string join_path(const std::vector<std::string>& path) {
  std::string out;
  for (const auto& part : path) out += (out.empty() ? "" : ".") + part;
  return out;
}

// "(N, 256)": the batch axis, unknown until a batch arrives, prints as N.
std::string shape_text(const Shape& shape) {
  std::string out = "(";
  for (std::size_t i = 0; i < shape.size(); ++i)
    out += (i ? ", " : "") + (shape[i] < 0 ? std::string("N") : std::to_string(shape[i]));
  return out + (shape.size() == 1 ? ",)" : ")");
}

// 203530 -> "203,530"
std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

ModuleError::ModuleError(std::vector<std::string> path_, std::string kind_, std::string detail_)
    : Error(fmt::format("{} ({}): {}", join_path(path_), kind_, detail_)),
      path(std::move(path_)),
      kind(std::move(kind_)),
      detail(std::move(detail_)) {}

Tensor Module::operator()(const Tensor& input) {
  return call(input, [](Module& self, const Tensor& x) { return self.forward(x); });
}

Tensor Module::call(const Tensor& input, Tensor (*run)(Module& self, const Tensor& input)) {
  try {
    return run(*this, input);
  } catch (const ModuleError& e) {
    // A child failed: put our name in front of its path.
    std::vector<std::string> path{name_};
    path.insert(path.end(), e.path.begin(), e.path.end());
    throw ModuleError(std::move(path), e.kind, e.detail);
  } catch (const Error& e) {
    throw ModuleError({name_}, kind(), e.what());
  }
}

std::string Module::kind() const {
  const char* mangled = typeid(*this).name();
  int status = 0;
  char* demangled = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string name = status == 0 ? demangled : mangled;
  std::free(demangled);
  // Drop namespaces: "(anonymous namespace)::SpiralNet" -> "SpiralNet".
  const auto colon = name.rfind("::");
  return colon == std::string::npos ? name : name.substr(colon + 2);
}

std::optional<Shape> Module::output_shape(const std::optional<Shape>&) const {
  return std::nullopt;
}

Tensor Module::register_parameter(std::string name, Tensor value) {
  if (!value.defined()) throw Error(fmt::format("register_parameter: '{}' is undefined", name));
  if (!is_floating(value.dtype()))
    throw Error(
        fmt::format("register_parameter: '{}' has dtype {}; parameters must be float32 or "
                    "float64",
                    name, value.dtype()));
  for (const auto& [existing, _] : parameters_)
    if (existing == name)
      throw Error(fmt::format("register_parameter: '{}' is already registered", name));
  value.requires_grad_(true);
  parameters_.emplace_back(std::move(name), value);
  return value;
}

void Module::attach(std::string name, std::shared_ptr<Module> module) {
  if (!module) throw Error(fmt::format("register_module: '{}' is null", name));
  for (const auto& [existing, _] : children_)
    if (existing == name)
      throw Error(fmt::format("register_module: '{}' is already registered", name));
  module->set_name(name);
  children_.emplace_back(std::move(name), std::move(module));
}

NamedTensors Module::named_parameters() const {
  NamedTensors out = parameters_;
  for (const auto& [child_name, child] : children_)
    for (auto& [name, p] : child->named_parameters()) out.emplace_back(child_name + "." + name, p);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [_, p] : named_parameters()) out.push_back(p);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [_, child] : children_) child->train(on);
}

void Module::zero_grad() {
  for (auto& p : parameters()) p.zero_grad();
}

StateDict Module::state_dict() const {
  StateDict out;
  for (auto& [name, p] : named_parameters()) out.emplace(name, p.detach());
  return out;
}

void Module::load_state_dict(const StateDict& state, bool strict) {
  const auto params = named_parameters();
  std::set<std::string> known;
  std::vector<std::string> missing;
  for (const auto& [name, p] : params) {
    known.insert(name);
    const auto it = state.find(name);
    if (it == state.end()) {
      missing.push_back(name);
      continue;
    }
    if (it->second.shape() != p.shape())
      throw Error(
          fmt::format("load_state_dict: parameter '{}' has shape {} in the model but {} in "
                      "the state dict",
                      name, shape_str(p.shape()), shape_str(it->second.shape())));
    if (!is_floating(it->second.dtype()))
      throw Error(
          fmt::format("load_state_dict: parameter '{}' has dtype {} in the state dict; a "
                      "float type is needed",
                      name, it->second.dtype()));
  }
  if (strict) {
    std::vector<std::string> unexpected;
    for (const auto& [name, _] : state)
      if (!known.contains(name)) unexpected.push_back(name);
    if (!missing.empty() || !unexpected.empty())
      throw Error(fmt::format("load_state_dict: missing keys [{}], unexpected keys [{}]",
                              fmt::join(missing, ", "), fmt::join(unexpected, ", ")));
  }
  // Every check passed: now copy, converting dtype like PyTorch's copy_.
  NoGradGuard no_grad;
  for (const auto& [name, p] : params) {
    const auto it = state.find(name);
    if (it == state.end()) continue;
    const Tensor src = it->second.to(p.dtype());
    Tensor dst = p;
    std::memcpy(dst.raw_data(), src.raw_data(), p.numel() * dtype_size(p.dtype()));
  }
}

void Module::summary_rows(std::vector<SummaryRow>& rows, const std::string& name, int depth,
                          const std::optional<Shape>& input) const {
  rows.push_back({name, depth, kind(), output_shape(input), num_parameters()});
  // Children of a generic module run in an order only its forward knows: their inputs are unknown.
  for (const auto& [child_name, child] : children_)
    child->summary_rows(rows, name.empty() ? child_name : name + "." + child_name, depth + 1,
                        std::nullopt);
}

std::string Module::summary(const std::optional<Shape>& input) const {
  std::vector<SummaryRow> rows;
  summary_rows(rows, "", 0, input);
  std::vector<std::array<std::string, 4>> cells{{"Layer", "Kind", "Output", "Params"}};
  for (const auto& r : rows)
    cells.push_back({std::string(2 * r.depth, ' ') + (r.name.empty() ? name_ : r.name), r.kind,
                     r.output ? shape_text(*r.output) : "?", with_commas(r.parameters)});
  std::array<std::size_t, 4> width{};
  for (const auto& row : cells)
    for (std::size_t c = 0; c < 4; ++c) width[c] = std::max(width[c], row[c].size());
  std::string out;
  for (const auto& row : cells)
    out += fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>{}}\n", row[0], width[0], row[1], width[1],
                       row[2], width[2], row[3], width[3]);
  return out + fmt::format("Total parameters: {}\n", with_commas(num_parameters()));
}

}  // namespace minigrad::nn
