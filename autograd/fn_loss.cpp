// Differentiable losses: mse_loss, l1_loss, bce_with_logits, ssim_map, ssim (mean of the
// map) and focal_loss. Each records one Node whose backward calls the op's backward
// entry point; the losses' targets are plain tensors and get no gradient.
#include "autograd/functions.h"
#include "autograd/node_util.h"

namespace sad {

namespace {

class PointwiseLossNode final : public Node {
 public:
  const char* name() const override { return p.kind == ops::PointwiseLossKind::Mse ? "mse_loss" : "l1_loss"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor da = detail::grad_buffer(*this, 0, a), db = detail::grad_buffer(*this, 1, b);
    ops::pointwise_loss_backward(p, a, b, g[0], detail::ptr_or_null(da), detail::ptr_or_null(db));
    return {da, db};
  }
  void release() override {
    a = {};
    b = {};
  }

  ops::PointwiseLossParams p;
  Tensor a, b;  // (any shape, the same)
};

Variable pointwise_loss(const Variable& a, const Variable& b, ops::PointwiseLossKind kind) {
  ops::PointwiseLossParams p{kind};
  Tensor loss = Tensor::empty({1}, a.dtype(), a.device());
  ops::pointwise_loss_forward(p, a.data(), b.data(), loss);
  if (!any_requires_grad({&a, &b})) return Variable(loss);
  auto n = detail::make_node<PointwiseLossNode>({&a, &b});
  n->p = p;
  n->a = a.data();
  n->b = b.data();
  return Variable::make_output(loss, n, 0);
}

class BceWithLogitsNode final : public Node {
 public:
  const char* name() const override { return "bce_with_logits"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor dlogits = empty_like(logits);
    ops::bce_with_logits_backward(logits, target, g[0], dlogits);
    return {dlogits};
  }
  void release() override {
    logits = {};
    target = {};
  }

  Tensor logits, target;  // (any shape, the same)
};

class SsimMapNode final : public Node {
 public:
  const char* name() const override { return "ssim_map"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor dx = detail::grad_buffer(*this, 0, x), dy = detail::grad_buffer(*this, 1, y);
    ops::ssim_backward(p, x, y, g[0], detail::ptr_or_null(dx), detail::ptr_or_null(dy));
    return {dx, dy};
  }
  void release() override {
    x = {};
    y = {};
  }

  ops::SsimParams p;
  Tensor x, y;  // (N, C, H, W)
};

class FocalLossNode final : public Node {
 public:
  const char* name() const override { return "focal_loss"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor dlogits = empty_like(logits);
    ops::focal_loss_backward(p, logits, target, g[0], dlogits);
    return {dlogits};
  }
  void release() override {
    logits = {};
    target = {};
  }

  ops::FocalParams p;
  Tensor logits, target;  // (any shape, the same)
};

}  // namespace

Variable mse_loss(const Variable& a, const Variable& b) { return pointwise_loss(a, b, ops::PointwiseLossKind::Mse); }
Variable l1_loss(const Variable& a, const Variable& b) { return pointwise_loss(a, b, ops::PointwiseLossKind::L1); }

Variable bce_with_logits(const Variable& logits, const Tensor& target) {
  Tensor loss = Tensor::empty({1}, logits.dtype(), logits.device());
  ops::bce_with_logits_forward(logits.data(), target, loss);
  if (!any_requires_grad({&logits})) return Variable(loss);
  auto n = detail::make_node<BceWithLogitsNode>({&logits});
  n->logits = logits.data();
  n->target = target;
  return Variable::make_output(loss, n, 0);
}

Variable ssim_map(const Variable& x, const Variable& y, const ops::SsimParams& p) {
  Tensor map = Tensor::empty(ops::ssim_map_shape(p, x.shape()), x.dtype(), x.device());
  ops::ssim_forward(p, x.data(), y.data(), map);
  if (!any_requires_grad({&x, &y})) return Variable(map);
  auto n = detail::make_node<SsimMapNode>({&x, &y});
  n->p = p;
  n->x = x.data();
  n->y = y.data();
  return Variable::make_output(map, n, 0);
}

// The mean of the map through the reduce op: stays on the device, no host round trip.
Variable ssim(const Variable& x, const Variable& y, const ops::SsimParams& p) { return mean(ssim_map(x, y, p)); }

Variable focal_loss(const Variable& logits, const Tensor& target, const ops::FocalParams& p) {
  Tensor loss = Tensor::empty({1}, logits.dtype(), logits.device());
  ops::focal_loss_forward(p, logits.data(), target, loss);
  if (!any_requires_grad({&logits})) return Variable(loss);
  auto n = detail::make_node<FocalLossNode>({&logits});
  n->p = p;
  n->logits = logits.data();
  n->target = target;
  return Variable::make_output(loss, n, 0);
}

}  // namespace sad
