#include <cxxabi.h>
#include <minigrad/autograd.h>
#include <minigrad/nn/module.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <typeinfo>
#include <unordered_set>
#include <utility>

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

ModuleError::ModuleError(std::vector<std::string> path_, std::string kind_, std::string detail_, const Module* origin_)
    : Error(fmt::format("{} ({}): {}", join_path(path_), kind_, detail_)),
      path(std::move(path_)),
      kind(std::move(kind_)),
      detail(std::move(detail_)),
      origin(origin_) {}

Tensor Module::forward(const Tensor&) {
  throw Error(
      fmt::format("{} has no forward(const Tensor&): it takes or returns several tensors, "
                  "so call it with its own arguments (Sequential chains only one-tensor "
                  "modules)",
                  kind()));
}

Tensor Module::operator()(const Tensor& input) {
  return call([&] { return forward(input); });
}

bool Module::fuses(const Module&) const { return false; }

Tensor Module::forward_fused(const Tensor& input, Module& next) { return next(forward(input)); }

void Module::rethrow_with_path() const {
  try {
    throw;
  } catch (const ModuleError& e) {
    // A module we called failed: put our name in front of its path, and spell out where that
    // module sits below us, which can be deeper than a child when containers that are not called
    // themselves (ModuleList, ModuleDict) lie between: "net.layers.0".
    std::vector<std::string> path{name_};
    std::string place;
    walk(*this, [&](const std::string& prefix, const Module& m) {
      if (&m == e.origin && place.empty()) place = prefix;
    });
    if (place.empty()) {
      path.push_back(e.path.front());  // not below us: its own name
    } else {
      for (std::size_t begin = 0, dot; (dot = place.find('.', begin)) != std::string::npos; begin = dot + 1)
        path.push_back(place.substr(begin, dot - begin));
    }
    path.insert(path.end(), e.path.begin() + 1, e.path.end());
    throw ModuleError(std::move(path), e.kind, e.detail, this);
  } catch (const Error& e) {
    throw ModuleError({name_}, kind(), e.what(), this);
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

std::optional<Shape> Module::output_shape(const std::optional<Shape>&) const { return std::nullopt; }

void Module::claim_name(const std::string& name, std::string_view what) {
  if (name.empty()) throw Error(fmt::format("{}: the name is empty", what));
  if (name.find('.') != std::string::npos)
    throw Error(fmt::format("{}: '{}' contains '.', which separates path parts", what, name));
  if (!names_.insert(name).second)
    throw Error(fmt::format("{}: '{}' is already registered in this module", what, name));
}

Tensor Module::register_parameter(std::string name, Tensor value) {
  if (!value.defined()) throw Error(fmt::format("register_parameter: '{}' is undefined", name));
  if (!is_floating(value.dtype()))
    throw Error(
        fmt::format("register_parameter: '{}' has dtype {}; parameters must be float32 or "
                    "float64",
                    name, value.dtype()));
  value.requires_grad_(true);
  claim_name(name, "register_parameter");
  parameters_.emplace_back(std::move(name), value);
  return value;
}

Tensor Module::register_buffer(std::string name, Tensor value, bool persistent) {
  if (!value.defined()) throw Error(fmt::format("register_buffer: '{}' is undefined", name));
  claim_name(name, "register_buffer");
  if (!persistent) transient_buffers_.insert(name);
  buffers_.emplace_back(std::move(name), value);
  return value;
}

void Module::attach(std::string name, std::shared_ptr<Module> module) {
  if (!module) throw Error(fmt::format("register_module: '{}' is null", name));
  // Refuse cycles and absurd depths now, while the error can name the registration.
  try {
    walk(std::as_const(*module), [&](const std::string& path, const Module& m) {
      if (&m == this)
        throw Error(fmt::format("it contains this module{}, and a module cannot be inside itself",
                                path.empty() ? "" : fmt::format(" (at '{}')", path)));
    });
  } catch (const Error& e) {
    throw Error(fmt::format("register_module: '{}': {}", name, e.what()));
  }
  claim_name(name, "register_module");
  module->set_name(name);
  children_.emplace_back(std::move(name), std::move(module));
}

template <typename M, typename F>
void Module::walk(M& root, F&& fn) {
  std::string prefix;
  auto visit = [&](auto& self, M& m, int depth) -> void {
    if (depth > kMaxModuleDepth)
      throw Error(fmt::format("module tree deeper than {} levels (at '{}...')", kMaxModuleDepth, prefix.substr(0, 60)));
    fn(std::as_const(prefix), m);
    for (const auto& [name, child] : m.children_) {
      const std::size_t length = prefix.size();
      prefix.append(name).push_back('.');
      self(self, *child, depth + 1);
      prefix.resize(length);
    }
  };
  visit(visit, root, 0);
}

namespace {

// Appends prefix + name for each tensor not seen before (by identity).
void add_unique(NamedTensors& out, std::unordered_set<const TensorImpl*>& seen, const std::string& prefix,
                const NamedTensors& tensors) {
  for (const auto& [name, t] : tensors)
    if (seen.insert(t.impl()).second) out.emplace_back(prefix + name, t);
}

std::vector<Tensor> values(const NamedTensors& named) {
  std::vector<Tensor> out;
  out.reserve(named.size());
  for (const auto& [_, t] : named) out.push_back(t);
  return out;
}

}  // namespace

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  std::unordered_set<const TensorImpl*> seen;
  walk(*this, [&](const std::string& prefix, const Module& m) { add_unique(out, seen, prefix, m.parameters_); });
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  std::unordered_set<const TensorImpl*> seen;
  walk(*this, [&](const std::string& prefix, const Module& m) { add_unique(out, seen, prefix, m.buffers_); });
  return out;
}

std::vector<Tensor> Module::parameters() const { return values(named_parameters()); }

std::vector<Tensor> Module::buffers() const { return values(named_buffers()); }

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

void Module::train(bool on) {
  walk(*this, [on](const std::string&, Module& m) { m.training_ = on; });
}

void Module::zero_grad() {
  for (auto& p : parameters()) p.zero_grad();
}

std::vector<std::tuple<std::string, Tensor, bool>> Module::saved_tensors() const {
  std::vector<std::tuple<std::string, Tensor, bool>> out;
  walk(*this, [&](const std::string& prefix, const Module& m) {
    for (const auto& [name, p] : m.parameters_) out.emplace_back(prefix + name, p, true);
    for (const auto& [name, b] : m.buffers_)
      if (!m.transient_buffers_.contains(name)) out.emplace_back(prefix + name, b, false);
  });
  return out;
}

StateDict Module::state_dict() const {
  StateDict out;
  for (auto& [name, t, _] : saved_tensors()) out.emplace(name, t.detach());
  return out;
}

void Module::load_state_dict(const StateDict& state, bool strict) {
  const auto targets = saved_tensors();
  std::unordered_set<std::string> known;
  std::vector<std::string> missing;
  for (const auto& [name, t, is_parameter] : targets) {
    known.insert(name);
    const auto it = state.find(name);
    if (it == state.end()) {
      missing.push_back(name);
      continue;
    }
    const std::string_view what = is_parameter ? "parameter" : "buffer";
    if (!it->second.defined())
      throw Error(fmt::format("load_state_dict: {} '{}' is undefined in the state dict", what, name));
    if (it->second.shape() != t.shape())
      throw Error(
          fmt::format("load_state_dict: {} '{}' has shape {} in the model but {} in "
                      "the state dict",
                      what, name, shape_str(t.shape()), shape_str(it->second.shape())));
    if (is_parameter && !is_floating(it->second.dtype()))
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
      throw Error(fmt::format("load_state_dict: missing keys [{}], unexpected keys [{}]", fmt::join(missing, ", "),
                              fmt::join(unexpected, ", ")));
  }
  // Every check passed: now copy, converting dtype like PyTorch's copy_.
  NoGradGuard no_grad;
  for (const auto& [name, t, _] : targets) {
    const auto it = state.find(name);
    if (it == state.end()) continue;
    const Tensor src = it->second.to(t.dtype());
    Tensor dst = t;
    std::memcpy(dst.raw_data(), src.raw_data(), t.numel() * dtype_size(t.dtype()));
  }
}

void Module::summary_rows(std::vector<SummaryRow>& rows, const std::string& name, int depth,
                          const std::optional<Shape>& input) const {
  rows.push_back({name, depth, kind(), output_shape(input), num_parameters()});
  // Children of a generic module run in an order only its forward knows: their inputs are unknown.
  for (const auto& [child_name, child] : children_)
    child->summary_rows(rows, name.empty() ? child_name : name + "." + child_name, depth + 1, std::nullopt);
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
    out += fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>{}}\n", row[0], width[0], row[1], width[1], row[2], width[2], row[3],
                       width[3]);
  return out + fmt::format("Total parameters: {}\n", with_commas(num_parameters()));
}

}  // namespace minigrad::nn
