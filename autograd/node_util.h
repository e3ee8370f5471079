// Helpers for writing differentiable functions (autograd/fn_*.cpp); not a public API.
#pragma once

#include <initializer_list>
#include <memory>

#include "autograd/variable.h"

namespace sad::detail {

// A node of type N whose next edges follow `inputs` in order (a null or undefined input,
// or one needing no gradient, gets an empty edge).
template <typename N>
std::shared_ptr<N> make_node(std::initializer_list<const Variable*> inputs) {
  auto n = std::make_shared<N>();
  for (const Variable* v : inputs) n->next.push_back(v ? gradient_edge(*v) : Edge{});
  return n;
}

// Whether the node must compute the gradient of input i.
inline bool wants_grad(const Node& n, size_t i) { return i < n.next.size() && n.next[i].fn != nullptr; }

// A tensor for input i's gradient, or undefined when that input needs none.
inline Tensor grad_buffer(const Node& n, size_t i, const Tensor& like) {
  return wants_grad(n, i) ? empty_like(like) : Tensor();
}
inline Tensor* ptr_or_null(Tensor& t) { return t.defined() ? &t : nullptr; }

}  // namespace sad::detail
