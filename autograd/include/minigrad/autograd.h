#pragma once
// The graph: nodes recorded by ops, grad mode, and the guards that switch recording off.
#include <memory>
#include <string>
#include <vector>

#include <minigrad/tensor.h>

namespace minigrad {

// One recorded op. Holds its inputs (the graph's edges) and the closure computing their gradients.
struct Node {
  std::string name;
  std::vector<Tensor> inputs;
  BackwardFn backward;
  bool released = false;  // set when backward() freed this node's saved state

  ~Node();  // tears down long chains iteratively: no stack overflow on deep graphs
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

}  // namespace minigrad
