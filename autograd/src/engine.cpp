// Recording ops and running backward: the graph engine.
#include <vector>

#include "impl.h"

namespace minigrad {

namespace {
thread_local bool grad_mode = true;
thread_local RecordObserver record_observer;
}  // namespace

RecordObserver set_record_observer(RecordObserver observer) {
  std::swap(observer, record_observer);
  return observer;
}

bool grad_enabled() { return grad_mode; }
void set_grad_enabled(bool enabled) { grad_mode = enabled; }

// Destroying the last handle of a long chain would recurse once per node through shared_ptr
// destructors; instead, nodes that only we own are unlinked onto an explicit stack.
Node::~Node() {
  std::shared_ptr<Node> orphans;  // top of the stack
  auto adopt_sole_owned = [&orphans](TensorList& inputs) {
    for (Tensor& t : inputs) {
      TensorImpl* impl = t.impl();
      if (impl && t.impl_ptr().use_count() == 1 && impl->grad_fn && impl->grad_fn.use_count() == 1) {
        impl->grad_fn->next_orphan = std::move(orphans);
        orphans = std::move(impl->grad_fn);
      }
    }
    inputs.clear();
  };
  backward.reset();  // drops saved tensors first, so inputs become solely owned
  adopt_sole_owned(inputs);
  while (orphans) {
    std::shared_ptr<Node> node = std::move(orphans);
    orphans = std::move(node->next_orphan);
    node->backward.reset();
    adopt_sole_owned(node->inputs);
  }
}

Tensor record_op(std::string_view name, Tensor output, TensorList inputs, BackwardFn backward) {
  if (!grad_enabled()) return output;
  bool any = false;
  for (const Tensor& t : inputs) any = any || (t.defined() && t.requires_grad());
  if (!any) return output;
  if (!is_floating(output.dtype()))
    throw Error(fmt::format("{}: an op with {} output cannot be differentiable", name, dtype_name(output.dtype())));
  auto node = make_pooled<Node>();
  node->name = name;
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  if (record_observer) {
    // Off while it runs, so that ops inside the observer are not observed; back on afterwards,
    // also when it throws (a replay stops that way).
    struct Reinstall {
      RecordObserver observer;
      ~Reinstall() { set_record_observer(std::move(observer)); }
    } off{set_record_observer(nullptr)};
    Tensor replacement = off.observer(*node, output);
    if (replacement.defined()) {
      if (replacement.shape() != output.shape() || replacement.dtype() != output.dtype())
        throw Error(fmt::format("{}: the record observer replaced a {} {} output with {} {}", node->name,
                                dtype_name(output.dtype()), shape_str(output.shape()), dtype_name(replacement.dtype()),
                                shape_str(replacement.shape())));
      output = std::move(replacement);
    }
  }
  // The output is always a fresh impl made by the op's forward, so it can be claimed here.
  output.impl()->grad_fn = std::move(node);
  output.impl()->requires_grad = true;
  return output;
}

namespace {

// leaf.grad += g: in place into the leaf's own buffer unless a graph is being built.
Tensor accumulate(const Tensor& a, Tensor b, bool create_graph) {
  if (!a.defined()) {
    if (create_graph) return b;
    // A gradient that nothing else refers to becomes .grad as it is; any other may alias a saved
    // tensor or another gradient, so it is copied.
    const bool sole = b.impl_ptr().use_count() == 1 && b.impl()->storage.use_count() == 1 && !b.requires_grad();
    return sole ? b : b.detach().clone();
  }
  if (create_graph) return a + b;
  detail::dispatch_float(a, "backward", [&](auto z) {
    using T = decltype(z);
    T* pa = const_cast<Tensor&>(a).data<T>();
    const T* pb = b.data<T>();
    detail::parallel_for(a.numel(), [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) pa[i] += pb[i];
    });
  });
  return a;
}

// backward()'s lists, kept per thread so that a steady-state backward allocates nothing.
struct BackwardScratch {
  std::vector<std::shared_ptr<Node>> nodes;  // every node of the graph being run
  std::vector<Node*> stack;                  // to visit, then ready to run
  std::vector<TensorImpl*> hooked;           // leaves with a grad-ready hook that backward reaches
  bool in_use = false;
};
thread_local BackwardScratch thread_scratch;

void check_gradient(const Node& node, std::size_t i, const Tensor& input, const Tensor& grad) {
  if (grad.shape() != input.shape() || grad.dtype() != input.dtype())
    throw Error(fmt::format("backward of '{}' returned a {} gradient of shape {} for input {} of shape {} ({})",
                            node.name, dtype_name(grad.dtype()), shape_str(grad.shape()), i, shape_str(input.shape()),
                            dtype_name(input.dtype())));
}

// Counts one more gradient to come to a hooked leaf.
void expect_gradient(const Tensor& input, BackwardScratch& scratch) {
  TensorImpl* impl = input.impl();
  if (impl && impl->grad_ready_hook && !impl->grad_fn && impl->requires_grad && impl->pending_grads++ == 0)
    scratch.hooked.push_back(impl);
}

// One gradient of a hooked leaf delivered (or found undefined); runs the hook after the last.
void gradient_delivered(const Tensor& input) {
  TensorImpl* impl = input.impl();
  if (impl && impl->grad_ready_hook && !impl->grad_fn && impl->requires_grad && --impl->pending_grads == 0)
    (*impl->grad_ready_hook)(input);
}

}  // namespace

void Tensor::backward(const Tensor& gradient, bool retain_graph, bool create_graph) const {
  if (!defined()) throw Error("backward: tensor is undefined");
  if (!requires_grad())
    throw Error(
        "backward: tensor does not require grad and has no grad_fn (did you forget "
        "requires_grad_() on an input, or run the forward under NoGradGuard?)");
  Tensor seed = gradient;
  if (!seed.defined()) {
    if (numel() != 1)
      throw Error(
          fmt::format("backward: output of shape {} is not a scalar; pass a gradient of "
                      "that shape",
                      shape_str(shape())));
    seed = ones(shape(), {.dtype = dtype()});
  } else if (seed.shape() != shape() || seed.dtype() != dtype()) {
    throw Error(fmt::format("backward: gradient {} {} does not match output {} {}", dtype_name(seed.dtype()),
                            shape_str(seed.shape()), dtype_name(dtype()), shape_str(shape())));
  }
  GradModeGuard mode(create_graph);
  // A differentiable gradient refers back into the forward graph, so that graph must stay.
  retain_graph = retain_graph || create_graph;

  if (is_leaf()) {
    impl()->grad = accumulate(impl()->grad, seed, create_graph);
    if (impl()->grad_ready_hook) (*impl()->grad_ready_hook)(*this);
    return;
  }

  // Collect the graph without recursion and count, for every node, how many consumers feed it.
  // The scratch keeps every node alive until we are done; `done` resets the nodes' bookkeeping
  // and the scratch also when a backward closure throws.
  BackwardScratch nested;  // for a backward() run from inside a backward closure
  BackwardScratch& scratch = thread_scratch.in_use ? nested : thread_scratch;
  struct Done {
    BackwardScratch& scratch;
    ~Done() {
      for (const auto& node : scratch.nodes) {
        node->pending = 0;
        node->grad = Tensor();
      }
      for (TensorImpl* leaf : scratch.hooked) leaf->pending_grads = 0;
      scratch.hooked.clear();
      scratch.nodes.clear();
      scratch.stack.clear();
      scratch.in_use = false;
    }
  } done{scratch};
  scratch.in_use = true;
  auto& nodes = scratch.nodes;
  auto& stack = scratch.stack;
  Node* const root = grad_fn().get();
  nodes.push_back(grad_fn());
  stack.push_back(root);
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    if (node->released)
      throw Error(
          fmt::format("backward: the graph through '{}' was already freed by an earlier "
                      "backward(); pass retain_graph=true to the first call to "
                      "backward twice",
                      node->name));
    for (const Tensor& input : node->inputs) {
      const auto& fn = input.defined() ? input.grad_fn() : nullptr;
      if (fn && fn->pending++ == 0) {  // first seen
        nodes.push_back(fn);
        stack.push_back(fn.get());
      }
      expect_gradient(input, scratch);
    }
  }

  // Kahn's order: a node runs once all of its consumers have delivered their gradients.
  root->grad = seed;
  stack.push_back(root);  // now the nodes ready to run
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    const Tensor grad_out = std::move(node->grad);
    TensorList input_grads = node->backward(grad_out);
    if (input_grads.size() != node->inputs.size())
      throw Error(fmt::format("backward of '{}' returned {} gradients for {} inputs", node->name, input_grads.size(),
                              node->inputs.size()));
    for (std::size_t i = 0; i < node->inputs.size(); ++i) {
      const Tensor& input = node->inputs[i];
      if (!input.defined() || !input.requires_grad()) continue;
      Tensor& g = input_grads[i];
      Node* producer = input.grad_fn().get();
      if (g.defined()) {
        check_gradient(*node, i, input, g);
        if (producer) {
          // Out of place: a gradient may alias another input's gradient or a saved tensor.
          producer->grad = producer->grad.defined() ? producer->grad + g : g;
        } else {
          input.impl()->grad = accumulate(input.impl()->grad, std::move(g), create_graph);
        }
      }
      if (producer && --producer->pending == 0) stack.push_back(producer);
      if (!producer) gradient_delivered(input);
    }
    if (!retain_graph) {
      node->backward.reset();
      node->released = true;
    }
  }
  if (!retain_graph)
    for (const auto& node : nodes) node->inputs.clear();
}

}  // namespace minigrad
