// The backward pass: discover the graph below the root, run each Node once all of its
// consumers have delivered their gradients, accumulate into leaves, free the graph.
#include <unordered_map>
#include <unordered_set>

#include "autograd/variable.h"
#include "kernels/ops.h"

namespace sad {

namespace {
thread_local bool g_grad_enabled = true;

// Whether t is the only holder of its memory, so that writing into it changes no other
// tensor (no other edge, saved tensor, variable or view sees it).
bool sole_owner(const Tensor& t) { return t.storage().use_count() == 1; }

// Adds g into slot. The first contribution is taken as it is, without a copy. A slot's
// tensor may be shared with another edge (ops pass gradients through unchanged): then the
// sum goes into a fresh tensor; a tensor no one else holds is added to in place.
void accumulate_into(Tensor& slot, const Tensor& g) {
  if (!slot.defined()) {
    slot = g;
    return;
  }
  SAD_CHECK(slot.shape() == g.shape(), "autograd: gradient of shape ", shape_str(g.shape()), " does not match ",
            shape_str(slot.shape()));
  if (sole_owner(slot)) {
    ops::axpy(1.0f, g, slot);
    return;
  }
  Tensor sum = slot.clone();
  ops::axpy(1.0f, g, sum);
  slot = sum;
}
}  // namespace

bool grad_mode_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : prev_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = prev_; }

std::vector<Tensor> AccumulateGrad::apply(std::vector<Tensor>& grad_outputs) {
  const Tensor& g = grad_outputs[0];
  if (g.defined()) {
    SAD_CHECK(g.shape() == leaf_->data.shape(), "autograd: gradient ", shape_str(g.shape()), " for a leaf of shape ",
              shape_str(leaf_->data.shape()));
    // The first gradient becomes the leaf's without a copy when nothing else holds it
    // (grad_outputs' reference is the engine's, dropped after this call).
    if (!leaf_->grad.defined())
      leaf_->grad = sole_owner(g) ? g : g.clone();
    else
      ops::axpy(1.0f, g, leaf_->grad);
  }
  return {};
}

Edge gradient_edge(const Variable& v) {
  if (!v.defined() || !v.requires_grad()) return {};
  if (v.grad_fn()) return {v.grad_fn(), v.output_nr()};
  return {std::make_shared<AccumulateGrad>(v.impl()), 0};
}

bool any_requires_grad(std::initializer_list<const Variable*> vs) {
  if (!g_grad_enabled) return false;
  for (const Variable* v : vs)
    if (v && v->defined() && v->requires_grad()) return true;
  return false;
}

void run_backward(const Variable& root, const Tensor& seed) {
  SAD_CHECK(root.defined(), "backward on an undefined variable");
  SAD_CHECK(root.requires_grad(), "backward on a variable that does not require a gradient (nothing to compute)");
  SAD_CHECK(seed.defined() && seed.shape() == root.shape(), "backward: seed gradient ", seed.str(),
            " does not match the output ", root.data().str());
  Edge start = gradient_edge(root);

  // Discover the graph and count, for each node, the edges that deliver into it.
  std::unordered_map<Node*, int> pending;
  std::unordered_map<Node*, std::shared_ptr<Node>> nodes;
  std::vector<Node*> stack{start.fn.get()};
  nodes[start.fn.get()] = start.fn;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    SAD_CHECK(!n->released, "backward through node '", n->name(),
              "' a second time: its saved tensors were freed by the first backward");
    for (const Edge& e : n->next) {
      if (!e.fn) continue;
      if (pending[e.fn.get()]++ == 0 && !nodes.count(e.fn.get())) {
        nodes[e.fn.get()] = e.fn;
        stack.push_back(e.fn.get());
      }
    }
  }

  std::unordered_map<Node*, std::vector<Tensor>> buffers;
  buffers[start.fn.get()].resize(static_cast<size_t>(start.fn->num_outputs));
  buffers[start.fn.get()][static_cast<size_t>(start.input_nr)] = seed;
  std::vector<Node*> ready{start.fn.get()};
  while (!ready.empty()) {
    Node* n = ready.back();
    ready.pop_back();
    std::vector<Tensor> grads = std::move(buffers[n]);
    buffers.erase(n);
    grads.resize(static_cast<size_t>(n->num_outputs));
    bool any = false;
    for (const Tensor& g : grads) any = any || g.defined();
    // Nothing flowed into this node (its consumers needed no gradient): skip the work.
    std::vector<Tensor> input_grads = any ? n->apply(grads) : std::vector<Tensor>(n->next.size());
    SAD_CHECK(input_grads.size() == n->next.size() || n->next.empty(), "autograd: node '", n->name(), "' returned ",
              input_grads.size(), " gradients for ", n->next.size(), " inputs");
    for (size_t i = 0; i < n->next.size(); ++i) {
      const Edge& e = n->next[i];
      if (!e.fn) continue;
      if (input_grads[i].defined()) {
        auto& slots = buffers[e.fn.get()];
        slots.resize(static_cast<size_t>(e.fn->num_outputs));
        accumulate_into(slots[static_cast<size_t>(e.input_nr)], input_grads[i]);
      }
      if (--pending[e.fn.get()] == 0) ready.push_back(e.fn.get());
    }
  }

  // Free the graph: saved tensors and the edges that keep earlier nodes alive.
  for (auto& [ptr, node] : nodes) {
    node->release();
    node->released = true;
    node->next.clear();
  }
}

// ---- Variable -------------------------------------------------------------------------------

Variable::Variable(Tensor data, bool requires_grad) : impl_(std::make_shared<VariableImpl>()) {
  SAD_CHECK(data.defined(), "Variable from an undefined tensor");
  impl_->data = std::move(data);
  impl_->requires_grad = requires_grad;
}

Variable Variable::make_output(Tensor data, std::shared_ptr<Node> fn, int output_nr) {
  Variable v(std::move(data), fn != nullptr);
  v.impl_->grad_fn = std::move(fn);
  v.impl_->output_nr = output_nr;
  return v;
}

const Tensor& Variable::data() const {
  SAD_CHECK(impl_, "use of an undefined variable");
  return impl_->data;
}

void Variable::set_data(Tensor t) {
  SAD_CHECK(impl_ && t.shape() == impl_->data.shape(), "set_data: new value ", t.str(), " vs ", data().str());
  impl_->data = std::move(t);
}

bool Variable::requires_grad() const { return impl_ && impl_->requires_grad; }

void Variable::set_requires_grad(bool on) {
  SAD_CHECK(impl_ && !impl_->grad_fn, "set_requires_grad on a non-leaf variable");
  impl_->requires_grad = on;
}

bool Variable::is_leaf() const { return impl_ && !impl_->grad_fn; }

const Tensor& Variable::grad() const {
  SAD_CHECK(impl_, "grad() of an undefined variable");
  return impl_->grad;
}

void Variable::set_grad(Tensor g) {
  SAD_CHECK(impl_ && (!g.defined() || g.shape() == impl_->data.shape()), "set_grad: shape mismatch");
  impl_->grad = std::move(g);
}

void Variable::zero_grad() {
  if (impl_ && impl_->grad.defined()) impl_->grad.zero_();
}

Variable Variable::detach() const { return Variable(data(), false); }

const std::shared_ptr<Node>& Variable::grad_fn() const {
  SAD_CHECK(impl_, "grad_fn() of an undefined variable");
  return impl_->grad_fn;
}

int Variable::output_nr() const { return impl_ ? impl_->output_nr : 0; }

void Variable::backward() const {
  SAD_CHECK(defined() && data().numel() == 1, "backward() without a seed gradient needs a one-element output, got ",
            defined() ? data().str() : std::string("undefined"));
  run_backward(*this, ops::full(data().shape(), 1.0f, data().dtype(), data().device()));
}

void Variable::backward(const Tensor& seed) const { run_backward(*this, seed); }

}  // namespace sad
