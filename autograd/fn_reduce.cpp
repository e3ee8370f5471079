// Differentiable reductions: sum and mean over the whole tensor (-> shape (1)) and mean
// over one axis kept with size 1. Backward broadcasts the upstream gradient back and
// needs only the input's shape.
#include "autograd/functions.h"
#include "autograd/node_util.h"

namespace sad {

namespace {

class ReduceNode final : public Node {
 public:
  const char* name() const override {
    if (p.axis >= 0) return p.kind == ops::ReduceKind::Sum ? "sum_axis" : "mean_axis";
    return p.kind == ops::ReduceKind::Sum ? "sum" : "mean";
  }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor dx = Tensor::empty(in_shape, g[0].dtype(), g[0].device());
    ops::reduce_backward(p, g[0], dx);
    return {dx};
  }

  ops::ReduceParams p;
  Shape in_shape;
};

Variable reduce(const Variable& x, const ops::ReduceParams& p) {
  Tensor out = Tensor::empty(ops::reduce_shape(p, x.shape()), x.dtype(), x.device());
  ops::reduce_forward(p, x.data(), out);
  if (!any_requires_grad({&x})) return Variable(out);
  auto n = detail::make_node<ReduceNode>({&x});
  n->p = p;
  n->in_shape = x.shape();
  return Variable::make_output(out, n, 0);
}

}  // namespace

Variable sum(const Variable& x) { return reduce(x, {ops::ReduceKind::Sum, -1}); }
Variable mean(const Variable& x) { return reduce(x, {ops::ReduceKind::Mean, -1}); }
Variable mean_axis(const Variable& x, int axis) {
  SAD_CHECK(axis >= 0, "mean_axis: axis ", axis, " must be >= 0 (a negative axis means 'all' in ops::reduce)");
  return reduce(x, {ops::ReduceKind::Mean, axis});
}

}  // namespace sad
