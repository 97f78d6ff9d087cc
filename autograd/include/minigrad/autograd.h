#pragma once
// The graph: nodes recorded by ops, grad mode, and the guards that switch recording off.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <minigrad/tensor.h>

namespace minigrad {

// One recorded op. Holds its inputs (the graph's edges) and the closure computing their gradients.
// Made by record_op from the small-object pool.
struct Node {
  std::string_view name;  // a literal, see record_op
  TensorList inputs;
  BackwardFn backward;
  bool released = false;  // set when backward() freed this node's saved state

  // The engine's bookkeeping during one backward(), kept here so that it needs no map: how many
  // consumers have yet to deliver a gradient, and the sum of those delivered. 0 and undefined
  // outside backward().
  int pending = 0;
  Tensor grad;

  // ~Node tears down long chains iteratively (no stack overflow on deep graphs), on a stack of
  // the nodes only it owns that is linked through this field: no allocation.
  std::shared_ptr<Node> next_orphan;
  ~Node();
};

// Thread-local: whether ops record nodes. Off inside NoGradGuard and during backward (unless
// create_graph asked for differentiable gradients).
bool grad_enabled();
void set_grad_enabled(bool enabled);

class GradModeGuard {
 public:
  explicit GradModeGuard(bool enabled) : previous_(grad_enabled()) { set_grad_enabled(enabled); }
  ~GradModeGuard() { set_grad_enabled(previous_); }
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool previous_;
};

struct NoGradGuard : GradModeGuard {
  NoGradGuard() : GradModeGuard(false) {}
};

// Sees every node as record_op records it, with the op's output, and may return a replacement
// output (a fresh tensor of the same shape and dtype; undefined keeps the original) that the op
// then returns. For tools that replay a forward pass node by node: apps/gradcheck uses it to find
// the op whose backward is wrong. Thread-local; nullptr removes it; returns the previous one.
using RecordObserver = std::function<Tensor(const Node& node, const Tensor& output)>;
RecordObserver set_record_observer(RecordObserver observer);

}  // namespace minigrad
