// Differentiable batch_norm2d. The forward updates the running statistics in place in
// training mode (and reads them in eval mode); the node keeps the input, gamma and the
// saved statistics, and its backward uses the training- or eval-mode formula to match
// the forward it came from. With a fused activation (p.act) it keeps the output instead of
// an activation node keeping the normalised tensor: one activation-sized tensor less.
#include "autograd/functions.h"
#include "autograd/node_util.h"

namespace sad {

namespace {

class BatchNorm2dNode final : public Node {
 public:
  const char* name() const override { return "batch_norm2d"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor dx = detail::grad_buffer(*this, 0, x);
    Tensor dgamma = detail::grad_buffer(*this, 1, gamma);
    Tensor dbeta = detail::grad_buffer(*this, 2, gamma);
    ops::batch_norm2d_backward(p, x, gamma, save_mean, save_invstd, detail::ptr_or_null(out), g[0],
                               detail::ptr_or_null(dx), detail::ptr_or_null(dgamma), detail::ptr_or_null(dbeta));
    return {dx, dgamma, dbeta};
  }
  void release() override {
    x = {};
    gamma = {};
    save_mean = {};
    save_invstd = {};
    out = {};
  }

  ops::BatchNormParams p;
  Tensor x;            // (N, C, H, W)
  Tensor gamma;        // (C)
  Tensor save_mean;    // (C)
  Tensor save_invstd;  // (C)
  Tensor out;          // (N, C, H, W) with a fused activation (its slope), else undefined
};

}  // namespace

Variable batch_norm2d(const Variable& x, const Variable& gamma, const Variable& beta, Tensor& running_mean,
                      Tensor& running_var, const ops::BatchNormParams& p) {
  const Tensor& xd = x.data();
  SAD_CHECK(xd.ndim() == 4, "batch_norm2d: input ", shape_str(xd.shape()), " must be (N, C, H, W)");
  Tensor y = empty_like(xd);
  Tensor save_mean = Tensor::empty({xd.dim(1)}, xd.dtype(), xd.device());
  Tensor save_invstd = Tensor::empty({xd.dim(1)}, xd.dtype(), xd.device());
  ops::batch_norm2d_forward(p, xd, gamma.data(), beta.data(), running_mean, running_var, y, save_mean, save_invstd);
  if (!any_requires_grad({&x, &gamma, &beta})) return Variable(y);
  auto n = detail::make_node<BatchNorm2dNode>({&x, &gamma, &beta});
  n->p = p;
  n->x = xd;
  n->gamma = gamma.data();
  n->save_mean = save_mean;
  n->save_invstd = save_invstd;
  if (p.act != ops::BnAct::None) n->out = y;
  return Variable::make_output(y, n, 0);
}

}  // namespace sad
