// Differentiable add, sub and mul with NumPy broadcasting. One Node type serves all
// three. An add input with the output's shape receives the upstream gradient itself (no
// kernel, no copy); every other case runs binary_backward, which sums over the broadcast
// dimensions.
#include "autograd/functions.h"
#include "autograd/node_util.h"

namespace sad {

namespace {

class BinaryNode final : public Node {
 public:
  const char* name() const override { return ops::binary_name(p.kind); }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    const Tensor& dout = g[0];
    const bool want_a = detail::wants_grad(*this, 0), want_b = detail::wants_grad(*this, 1);
    Tensor da, db;
    // Add passes the gradient through unchanged to an input that was not broadcast.
    const bool pass_a = p.kind == ops::BinaryKind::Add && a_shape == dout.shape();
    const bool pass_b = p.kind == ops::BinaryKind::Add && b_shape == dout.shape();
    if (want_a && pass_a) da = dout;
    if (want_b && pass_b) db = dout;
    Tensor ka = (want_a && !pass_a) ? empty_like(a) : Tensor();
    Tensor kb = (want_b && !pass_b) ? empty_like(b) : Tensor();
    if (ka.defined() || kb.defined()) {
      ops::binary_backward(p, a, b, dout, detail::ptr_or_null(ka), detail::ptr_or_null(kb));
      if (ka.defined()) da = ka;
      if (kb.defined()) db = kb;
    }
    return {da, db};
  }
  void release() override {
    a = {};
    b = {};
  }

  ops::BinaryParams p;
  Shape a_shape, b_shape;
  Tensor a, b;  // the operands (shapes that broadcast together); unset for a plain add
};

Variable binary(const Variable& a, const Variable& b, ops::BinaryKind kind) {
  const ops::BinaryParams p{kind};
  Tensor out = Tensor::empty(ops::broadcast_shape(a.shape(), b.shape()), a.dtype(), a.device());
  ops::binary_forward(p, a.data(), b.data(), out);
  if (!any_requires_grad({&a, &b})) return Variable(out);
  auto n = detail::make_node<BinaryNode>({&a, &b});
  n->p = p;
  n->a_shape = a.shape();
  n->b_shape = b.shape();
  // A plain add (no broadcasting) passes gradients through and needs no operand.
  if (kind != ops::BinaryKind::Add || a.shape() != out.shape() || b.shape() != out.shape()) {
    n->a = a.data();
    n->b = b.data();
  }
  return Variable::make_output(out, n, 0);
}

}  // namespace

Variable add(const Variable& a, const Variable& b) { return binary(a, b, ops::BinaryKind::Add); }
Variable sub(const Variable& a, const Variable& b) { return binary(a, b, ops::BinaryKind::Sub); }
Variable mul(const Variable& a, const Variable& b) { return binary(a, b, ops::BinaryKind::Mul); }

}  // namespace sad
