// Differentiable functions for the method's own ops: fusion ([a, b, |a - b|] along
// channels, the input of each fusion block) and kl_sparsity (the sparsity-prior loss L_S
// on the segmentation logits; residual and labels carry no gradient).
#include "autograd/functions.h"
#include "autograd/node_util.h"

namespace sad {

namespace {

class FusionNode final : public Node {
 public:
  const char* name() const override { return "fusion"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor da = detail::grad_buffer(*this, 0, a), db = detail::grad_buffer(*this, 1, b);
    ops::fusion_backward(a, b, g[0], detail::ptr_or_null(da), detail::ptr_or_null(db));
    return {da, db};
  }
  void release() override {
    a = {};
    b = {};
  }

  Tensor a, b;  // (N, C, H, W)
};

class KlSparsityNode final : public Node {
 public:
  const char* name() const override { return "kl_sparsity"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor dlogits = empty_like(logits);
    ops::kl_sparsity_backward(p, logits, residual, labels, stats, g[0], dlogits);
    return {dlogits};
  }
  void release() override {
    logits = {};
    residual = {};
    labels = {};
    stats = {};
  }

  ops::KlSparsityParams p;
  Tensor logits, residual;  // (B, 1, H, W)
  Tensor labels;            // (B)
  Tensor stats;             // (B, 4), backward reads rho^ from it
};

}  // namespace

Variable fusion(const Variable& a, const Variable& b) {
  SAD_CHECK(a.data().ndim() == 4, "fusion: a must be (N, C, H, W), got ", shape_str(a.shape()));
  Tensor out = Tensor::empty({a.dim(0), 3 * a.dim(1), a.dim(2), a.dim(3)}, a.dtype(), a.device());
  ops::fusion_forward(a.data(), b.data(), out);
  if (!any_requires_grad({&a, &b})) return Variable(out);
  auto n = detail::make_node<FusionNode>({&a, &b});
  n->a = a.data();
  n->b = b.data();
  return Variable::make_output(out, n, 0);
}

Variable kl_sparsity(const Variable& logits, const Tensor& residual, const Tensor& labels,
                     const ops::KlSparsityParams& p, Tensor* stats) {
  Tensor loss = Tensor::empty({1}, logits.dtype(), logits.device());
  Tensor st = Tensor::empty({logits.dim(0), 4}, logits.dtype(), logits.device());
  ops::kl_sparsity_forward(p, logits.data(), residual, labels, loss, st);
  // The caller gets its own copy: the node's must stay as forward wrote it.
  if (stats) *stats = st.clone();
  if (!any_requires_grad({&logits})) return Variable(loss);
  auto n = detail::make_node<KlSparsityNode>({&logits});
  n->p = p;
  n->logits = logits.data();
  n->residual = residual;
  n->labels = labels;
  n->stats = st;
  return Variable::make_output(loss, n, 0);
}

}  // namespace sad
