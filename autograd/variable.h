// Reverse-mode, define-by-run automatic differentiation.
//
// A Variable is a tensor plus, when it requires a gradient, the Node that made it.
// Every differentiable op (autograd/functions.h) records a Node holding what its backward
// needs; Variable::backward() walks the recorded graph once in reverse topological order,
// accumulates gradients into the leaves (their grad() tensors), then frees every saved
// tensor. Calling backward through the same graph again is an error, as is backward on a
// non-scalar without a seed gradient.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace sad {

class Node;
struct VariableImpl;

class Variable {
 public:
  Variable() = default;
  explicit Variable(Tensor data, bool requires_grad = false);

  bool defined() const { return impl_ != nullptr; }
  const Tensor& data() const;
  // Replaces the value (same shape), e.g. to rebind a parameter into an arena.
  void set_data(Tensor t);
  const Shape& shape() const { return data().shape(); }
  int64_t dim(int i) const { return data().dim(i); }
  Device device() const { return data().device(); }
  DType dtype() const { return data().dtype(); }

  bool requires_grad() const;
  void set_requires_grad(bool on);  // leaves only
  bool is_leaf() const;

  // The accumulated gradient of a leaf (undefined until the first backward reaches it).
  const Tensor& grad() const;
  void set_grad(Tensor g);  // e.g. a view into a gradient arena
  void zero_grad();         // zero in place when defined

  // A new leaf sharing this value, outside the graph.
  Variable detach() const;

  // Backward from a one-element output (seed 1) or with an explicit seed gradient.
  void backward() const;
  void backward(const Tensor& seed) const;

  const std::shared_ptr<Node>& grad_fn() const;
  int output_nr() const;
  const std::shared_ptr<VariableImpl>& impl() const { return impl_; }

  // Used by autograd/functions: an op output with its Node.
  static Variable make_output(Tensor data, std::shared_ptr<Node> fn, int output_nr);

 private:
  std::shared_ptr<VariableImpl> impl_;
};

struct VariableImpl {
  Tensor data;
  Tensor grad;
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;  // null for leaves
  int output_nr = 0;
};

// ---- Recording switch --------------------------------------------------------------------
bool grad_mode_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// ---- Graph nodes ----------------------------------------------------------------------------
struct Edge {
  std::shared_ptr<Node> fn;  // null: that input needs no gradient
  int input_nr = 0;          // which output of fn the gradient belongs to
};

class Node {
 public:
  virtual ~Node() = default;
  virtual const char* name() const = 0;
  // Gradients of the inputs (one per next edge; undefined where not needed) from the
  // gradients of the outputs (undefined where nothing flowed: treat as zero).
  virtual std::vector<Tensor> apply(std::vector<Tensor>& grad_outputs) = 0;
  // Frees saved tensors once backward has run through this node.
  virtual void release() {}

  std::vector<Edge> next;
  int num_outputs = 1;
  bool released = false;
};

// Accumulates into a leaf's grad.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<VariableImpl> leaf) : leaf_(std::move(leaf)) {}
  const char* name() const override { return "AccumulateGrad"; }
  std::vector<Tensor> apply(std::vector<Tensor>& grad_outputs) override;

 private:
  std::shared_ptr<VariableImpl> leaf_;
};

// The edge along which a gradient for `v` flows (empty when v needs none).
Edge gradient_edge(const Variable& v);
// True when an op on these inputs must be recorded.
bool any_requires_grad(std::initializer_list<const Variable*> vs);

// Runs backward from `root` with gradient `seed` (same shape as root).
void run_backward(const Variable& root, const Tensor& seed);

}  // namespace sad
