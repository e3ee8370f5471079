// Differentiable conv2d: forward through ops::conv2d_forward; the node keeps the input
// and the weight (what conv2d_backward needs) and asks only for the gradients whose
// inputs want one.
#include "autograd/functions.h"
#include "autograd/node_util.h"

namespace sad {

namespace {

class Conv2dNode final : public Node {
 public:
  const char* name() const override { return "conv2d"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor dx = detail::grad_buffer(*this, 0, x);
    Tensor dw = detail::grad_buffer(*this, 1, w);
    Tensor db = has_bias && detail::wants_grad(*this, 2) ? Tensor::empty({w.dim(0)}, w.dtype(), w.device()) : Tensor();
    ops::conv2d_backward(p, x, w, g[0], detail::ptr_or_null(dx), detail::ptr_or_null(dw), detail::ptr_or_null(db));
    return {dx, dw, db};
  }
  void release() override {
    x = {};
    w = {};
  }

  ops::Conv2dParams p;
  Tensor x;  // (N, Ci, H, W)
  Tensor w;  // (Co, Ci, KH, KW)
  bool has_bias = false;
};

}  // namespace

Variable conv2d(const Variable& x, const Variable& weight, const Variable& bias, const ops::Conv2dParams& p) {
  const Tensor& xd = x.data();
  const Tensor& wd = weight.data();
  SAD_CHECK(xd.ndim() == 4 && wd.ndim() == 4, "conv2d: input ", shape_str(xd.shape()), " and weight ",
            shape_str(wd.shape()), " must both have 4 dimensions");
  Shape out_shape{xd.dim(0), wd.dim(0), ops::conv2d_out_size(xd.dim(2), wd.dim(2), p.stride_h, p.pad_h),
                  ops::conv2d_out_size(xd.dim(3), wd.dim(3), p.stride_w, p.pad_w)};
  Tensor y = Tensor::empty(out_shape, xd.dtype(), xd.device());
  ops::conv2d_forward(p, xd, wd, bias.defined() ? &bias.data() : nullptr, y);
  if (!any_requires_grad({&x, &weight, &bias})) return Variable(y);
  auto n = detail::make_node<Conv2dNode>({&x, &weight, &bias});
  n->p = p;
  n->x = xd;
  n->w = wd;
  n->has_bias = bias.defined();
  return Variable::make_output(y, n, 0);
}

}  // namespace sad
