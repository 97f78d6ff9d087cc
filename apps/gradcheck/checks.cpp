#include "checks.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <unordered_map>

namespace minigrad::gradcheck_tool {

using mg::Tensor;
using Inputs = std::vector<Tensor>;

mg::GradcheckOptions gradcheck_options(const CheckPolicy& policy, const RunOptions& run) {
  return {.eps = run.eps.value_or(policy.eps),
          .atol = run.atol.value_or(policy.atol),
          .rtol = run.rtol.value_or(policy.rtol),
          .samples = run.samples,
          .seed = run.seed,
          .fast = run.fast,
          .kink_values = policy.kink_values,
          .worst = run.worst};
}

namespace {

// Each case draws from its own generator, so `--op NAME` sees the same inputs as a full run.
mg::Generator case_generator(const RunOptions& run, const std::string& name, std::size_t index) {
  return mg::Generator(run.seed * 0x9e3779b97f4a7c15ULL + std::hash<std::string>{}(name) + index);
}

template <typename F>
CheckResult timed(CheckResult result, F&& check) {
  const auto start = std::chrono::steady_clock::now();
  check(result);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

// Switches the record observer for a scope.
class ObserverScope {
 public:
  explicit ObserverScope(mg::RecordObserver observer) : previous_(mg::set_record_observer(std::move(observer))) {}
  ~ObserverScope() { mg::set_record_observer(std::move(previous_)); }
  ObserverScope(const ObserverScope&) = delete;
  ObserverScope& operator=(const ObserverScope&) = delete;

 private:
  mg::RecordObserver previous_;
};

struct StopReplay {};  // thrown by the observer once the node under check has run

nn::NamedTensors leaf_names(const Inputs& inputs, const nn::Module& module) {
  nn::NamedTensors names;
  for (std::size_t i = 0; i < inputs.size(); ++i)
    names.emplace_back(inputs.size() == 1 ? "input" : fmt::format("input {}", i), inputs[i]);
  for (const auto& named : module.named_parameters()) names.push_back(named);
  return names;
}

CheckResult check_leaves(CheckResult result, const std::function<Tensor()>& fn, const nn::NamedTensors& named,
                         mg::GradcheckOptions options) {
  return timed(std::move(result), [&](CheckResult& r) {
    std::vector<Tensor> leaves;
    options.names.clear();
    for (const auto& [name, t] : named) {
      options.names.push_back(name);
      leaves.push_back(t);
    }
    r.report = mg::gradcheck_leaves(fn, leaves, options);
    if (!r.report.passed) r.wrong_node = first_wrong_node(fn, named, options);
  });
}

}  // namespace

std::vector<CheckResult> check_op(const OpEntry& entry, const RunOptions& run, bool second_order) {
  std::vector<CheckResult> results;
  const mg::GradcheckOptions options = gradcheck_options(entry.policy, run);
  for (std::size_t i = 0; i < entry.cases.size(); ++i) {
    const OpCase& c = entry.cases[i];
    if (second_order && !c.second_order) continue;
    results.push_back(timed(
        CheckResult{.kind = "op", .name = entry.name, .label = c.label, .second_order = second_order},
        [&](CheckResult& r) {
          mg::Generator gen = case_generator(run, entry.name, i);
          const Inputs inputs = c.make_inputs(gen);
          r.report = second_order ? mg::gradgradcheck(c.fn, inputs, options) : mg::gradcheck(c.fn, inputs, options);
        }));
  }
  return results;
}

std::vector<CheckResult> check_module(const ModuleEntry& entry, const RunOptions& run, bool second_order) {
  std::vector<CheckResult> results;
  const mg::GradcheckOptions options = gradcheck_options(entry.policy, run);
  for (std::size_t i = 0; i < entry.cases.size(); ++i) {
    const ModuleCase& c = entry.cases[i];
    mg::Generator gen = case_generator(run, entry.name, i);
    const std::shared_ptr<nn::Module> module = c.make(gen);
    const Inputs inputs = c.apply ? (c.make_inputs ? c.make_inputs(gen) : Inputs{}) : uniform_inputs({c.input})(gen);
    const mg::GradcheckFn fn = [&](const Inputs& in) { return c.apply ? c.apply(*module, in) : (*module)(in[0]); };
    CheckResult result{.kind = "module", .name = entry.name, .label = c.label, .second_order = second_order};
    if (second_order) {
      if (inputs.empty()) continue;  // second order is with respect to the inputs
      results.push_back(
          timed(std::move(result), [&](CheckResult& r) { r.report = mg::gradgradcheck(fn, inputs, options); }));
    } else {
      results.push_back(check_leaves(
          std::move(result), [&] { return fn(inputs); }, leaf_names(inputs, *module), options));
    }
  }
  return results;
}

CheckResult check_model(nn::Module& model, const Tensor& input, const LossFn& loss, const RunOptions& run,
                        std::string kind, std::string name, std::string label) {
  const Tensor x = input.to(mg::kFloat64).detach().clone().requires_grad_();
  return check_leaves(
      {.kind = std::move(kind), .name = std::move(name), .label = std::move(label)},
      [&] { return loss ? loss(model(x)) : model(x); }, leaf_names({x}, model), gradcheck_options({}, run));
}

namespace {

void load_float64(nn::Module& module, const std::string& path) {
  for (const auto& [name, p] : module.named_parameters())
    if (p.dtype() != mg::kFloat64)
      throw mg::Error(
          fmt::format("gradcheck: {}'s parameter '{}' is {}: build the module with float64 parameters "
                      "(the file's values are converted as they load)",
                      module.kind(), name, mg::dtype_name(p.dtype())));
  nn::load(module, path);
}

std::string saved_label(const std::string& kind, const mg::Shape& input) {
  return fmt::format("{}, input {}", kind, mg::shape_str(input));
}

}  // namespace

CheckResult check_saved_module(nn::Module& module, const std::string& path, const Tensor& input, const LossFn& loss,
                               const RunOptions& run) {
  load_float64(module, path);
  module.eval();
  return check_model(module, input, loss, run, "ckpt", path, saved_label(module.kind(), input.shape()));
}

CheckpointEntry saved_module(std::string kind, std::function<std::shared_ptr<nn::Module>()> make, mg::Shape sample,
                             LossFn loss) {
  return {
      .kind = kind, .load = [=](const std::string& path, const CheckpointArgs& args) {
        std::shared_ptr<nn::Module> module = make();
        load_float64(*module, path);
        mg::Shape shape{args.batch};
        for (int64_t d : sample) shape.push_back(d);
        mg::Generator gen(args.seed);
        return SavedModel{
            .model = module, .input = uniform_inputs({shape})(gen)[0], .loss = loss, .label = saved_label(kind, shape)};
      }};
}

CheckpointCheck check_checkpoint(const Registry& registry, const std::string& path, const CheckpointArgs& args,
                                 const RunOptions& run) {
  if (args.batch <= 0) throw mg::Error(fmt::format("--batch {} must be positive", args.batch));
  // Read once for its metadata and dtypes; the entry reads the file again in its own way.
  const nn::Checkpoint file = nn::load_tensors(path);
  auto field = [&](const std::string& key) {
    const auto it = file.metadata.find(key);
    return it == file.metadata.end() ? std::string() : it->second;
  };
  const std::string format = field("format"), kind = field("kind");
  const CheckpointEntry* entry = registry.find_checkpoint(format, kind);
  if (!entry) {
    std::vector<std::string> known;
    for (const CheckpointEntry& e : registry.checkpoints()) known.push_back(e.kind.empty() ? e.format : e.kind);
    throw mg::Error(
        fmt::format("{}: no checkpoint entry for format '{}'{} is registered (registered: {}; a program "
                    "of yours adds its modules with saved_module())",
                    path, format, kind.empty() ? "" : fmt::format(" of kind '{}'", kind),
                    known.empty() ? "none" : fmt::format("{}", fmt::join(known, ", "))));
  }
  CheckpointCheck check;
  if (std::any_of(file.tensors.begin(), file.tensors.end(),
                  [](const auto& named) { return named.second.dtype() == mg::kFloat32; }))
    check.warning = fmt::format(
        "warning: {} holds float32 parameters; checking a float64 copy of them (float32 "
        "finite differences are too coarse to trust)",
        path);
  SavedModel saved = entry->load(path, args);
  saved.model->eval();
  check.result = check_model(*saved.model, saved.input, saved.loss, run, "ckpt", path, saved.label);
  return check;
}

std::optional<WrongNode> first_wrong_node(const std::function<Tensor()>& fn, const nn::NamedTensors& names,
                                          const mg::GradcheckOptions& options) {
  // Record every node with a copy of its output value, in forward order.
  std::vector<Tensor> outputs, values;
  Tensor root;
  {
    mg::GradModeGuard grad_on(true);
    ObserverScope scope([&](const mg::Node&, const Tensor& out) {
      outputs.push_back(out);  // keeps the node alive: record_op attaches it to this impl
      values.push_back(out.detach().clone());
      return Tensor();
    });
    root = fn();
  }
  std::unordered_map<const mg::Node*, int64_t> position;
  for (std::size_t p = 0; p < outputs.size(); ++p) position[outputs[p].grad_fn().get()] = static_cast<int64_t>(p);
  std::unordered_map<const mg::TensorImpl*, std::string> leaf_name;
  for (const auto& [name, t] : names) leaf_name[t.impl()] = name;

  mg::GradcheckOptions local = options;
  local.fast = false;
  if (local.samples == 0) local.samples = 32;  // enough to see a wrong backward; keeps big layers quick
  for (int64_t n = 0; n < static_cast<int64_t>(outputs.size()); ++n) {
    const std::shared_ptr<mg::Node> node = outputs[n].grad_fn();
    std::vector<std::string> shapes;
    for (const Tensor& in : node->inputs) {
      std::string text = in.defined() ? mg::shape_str(in.shape()) : "none";
      if (in.defined() && leaf_name.contains(in.impl())) text += " " + leaf_name.at(in.impl());
      shapes.push_back(text);
    }
    const std::string described = fmt::format("{}", fmt::join(shapes, ", "));
    // One check per distinct input: an input used twice (x * x) is perturbed in both places.
    std::vector<const mg::TensorImpl*> done;
    for (std::size_t j = 0; j < node->inputs.size(); ++j) {
      const Tensor& in = node->inputs[j];
      if (!in.defined() || !in.requires_grad() || std::find(done.begin(), done.end(), in.impl()) != done.end())
        continue;
      done.push_back(in.impl());
      std::vector<std::size_t> uses;
      for (std::size_t k = j; k < node->inputs.size(); ++k)
        if (node->inputs[k].impl() == in.impl()) uses.push_back(k);
      int64_t producer = -1;
      Tensor leaf;
      if (in.grad_fn()) {
        auto it = position.find(in.grad_fn().get());
        if (it == position.end()) continue;  // made before fn ran: cannot be replayed
        producer = it->second;
        leaf = values[producer].clone().requires_grad_();
      } else {
        leaf = in;  // a parameter or the input: perturbed in place
      }
      auto replay = [&, node, n, producer, leaf, uses] {
        Tensor captured;
        int64_t at = 0;
        {
          mg::GradModeGuard grad_on(true);
          ObserverScope scope([&](const mg::Node&, const Tensor& out) -> Tensor {
            const int64_t here = at++;
            if (here == n) {
              captured = out.detach().clone();
              throw StopReplay{};
            }
            // Everything before the node is frozen at its recorded value, except the input under check.
            return here == producer ? leaf.detach().clone() : values[here].clone();
          });
          try {
            (void)fn();
          } catch (const StopReplay&) {
          }
        }
        if (!captured.defined())
          throw mg::Error(
              fmt::format("gradcheck: replaying the forward did not reach node {} ('{}'): the "
                          "function records different ops on each call",
                          n + 1, node->name));
        return mg::record_op(node->name, captured, {leaf}, [node, uses, leaf](const Tensor& g) {
          Tensor sum = mg::zeros_like(leaf);
          const mg::TensorList grads = node->backward(g);
          for (std::size_t k : uses)
            if (grads.at(k).defined()) sum = sum + grads[k];
          return mg::TensorList{sum};
        });
      };
      local.names = {fmt::format("input {} of '{}'{}", j, node->name,
                                 leaf_name.contains(in.impl()) ? " (" + leaf_name.at(in.impl()) + ")" : "")};
      mg::GradcheckReport report = mg::gradcheck_leaves(replay, {leaf}, local);
      if (!report.passed)
        return WrongNode{.position = n + 1,
                         .nodes = static_cast<int64_t>(outputs.size()),
                         .op = std::string(node->name),
                         .inputs = described,
                         .report = std::move(report)};
    }
  }
  return std::nullopt;
}

std::shared_ptr<nn::Sequential> mlp_from_spec(const std::string& spec, const std::string& activation,
                                              mg::Generator& gen) {
  activation_module(activation);  // an unknown name fails even when no layer needs it
  std::vector<int64_t> sizes;
  for (std::size_t start = 0; start <= spec.size();) {
    const std::size_t end = std::min(spec.find('-', start), spec.size());
    int64_t value = 0;
    const auto [ptr, ec] = std::from_chars(spec.data() + start, spec.data() + end, value);
    if (ec != std::errc() || ptr != spec.data() + end || value <= 0)
      throw mg::Error(
          fmt::format("--model '{}': expected layer sizes like 784-128-64-10 (positive integers "
                      "joined by '-'), got '{}'",
                      spec, spec.substr(start, end - start)));
    sizes.push_back(value);
    start = end + 1;
  }
  if (sizes.size() < 2) throw mg::Error(fmt::format("--model '{}': needs at least an input and an output size", spec));
  auto model = std::make_shared<nn::Sequential>();
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    if (i > 0) model->push_back(activation_module(activation));
    model->push_back(std::make_shared<nn::Linear>(sizes[i], sizes[i + 1],
                                                  nn::LinearOptions{.dtype = mg::kFloat64, .generator = &gen}));
  }
  return model;
}

LossFn loss_by_name(const std::string& name, const Tensor& targets, double label_smoothing) {
  if (name == "cross_entropy")
    return [=](const Tensor& out) { return nn::cross_entropy(out, targets, {.label_smoothing = label_smoothing}); };
  if (name == "nll") return [=](const Tensor& out) { return nn::nll_loss(out.log_softmax(1), targets); };
  if (name == "mse")
    return [=](const Tensor& out) {
      const int64_t n = out.size(0);
      const Tensor one_hot =
          mg::scatter_add(out.shape(), 1, targets.reshape({n, 1}), mg::ones({n, 1}, {.dtype = out.dtype()}));
      return nn::mse_loss(out, one_hot);
    };
  throw mg::Error(fmt::format("--loss '{}' is not one of cross_entropy, nll, mse", name));
}

}  // namespace minigrad::gradcheck_tool
