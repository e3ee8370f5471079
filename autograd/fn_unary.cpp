// Differentiable unary element-wise functions: relu, leaky_relu, sigmoid, tanh, abs,
// softplus, affine. One Node type serves them all: backward needs the input, the output
// and the op's parameters.
#include "autograd/functions.h"
#include "autograd/node_util.h"

namespace sad {

namespace {

class UnaryNode final : public Node {
 public:
  const char* name() const override { return ops::unary_name(p.kind); }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor dx = empty_like(x);
    ops::unary_backward(p, x, y, g[0], dx);
    return {dx};
  }
  void release() override {
    x = {};
    y = {};
  }

  ops::UnaryParams p;
  Tensor x, y;  // (any shape)
};

Variable unary(const Variable& x, const ops::UnaryParams& p) {
  Tensor y = empty_like(x.data());
  ops::unary_forward(p, x.data(), y);
  if (!any_requires_grad({&x})) return Variable(y);
  auto n = detail::make_node<UnaryNode>({&x});
  n->p = p;
  n->x = x.data();
  n->y = y;
  return Variable::make_output(y, n, 0);
}

}  // namespace

Variable relu(const Variable& x) { return unary(x, {ops::UnaryKind::Relu}); }
Variable leaky_relu(const Variable& x, float slope) { return unary(x, {ops::UnaryKind::LeakyRelu, slope}); }
Variable sigmoid(const Variable& x) { return unary(x, {ops::UnaryKind::Sigmoid}); }
Variable tanh(const Variable& x) { return unary(x, {ops::UnaryKind::Tanh}); }
Variable abs(const Variable& x) { return unary(x, {ops::UnaryKind::Abs}); }
Variable softplus(const Variable& x) { return unary(x, {ops::UnaryKind::Softplus}); }
Variable affine(const Variable& x, float scale, float shift) {
  return unary(x, {ops::UnaryKind::Affine, scale, shift});
}

}  // namespace sad
