// Differentiable matrix products on ops::gemm: matmul (A @ B) and linear (x W^T + b).
// The bias of linear is broadcast over rows by a rank-1 GEMM with a ones vector (and
// its gradient is the column sums, again a GEMM), so nothing here needs the binary ops.
#include "autograd/functions.h"
#include "autograd/node_util.h"

namespace sad {

namespace {

// C = A @ B  =>  dA = dC @ B^T, dB = A^T @ dC.
class MatmulNode final : public Node {
 public:
  const char* name() const override { return "matmul"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor da = detail::grad_buffer(*this, 0, a);
    Tensor db = detail::grad_buffer(*this, 1, b);
    if (da.defined()) ops::gemm({.trans_b = true}, g[0], b, da);
    if (db.defined()) ops::gemm({.trans_a = true}, a, g[0], db);
    return {da, db};
  }
  void release() override {
    a = {};
    b = {};
  }

  Tensor a;  // (M, K)
  Tensor b;  // (K, N)
};

// y = x W^T + b  =>  dx = dy @ W, dW = dy^T @ x, db = ones(1, N) @ dy.
class LinearNode final : public Node {
 public:
  const char* name() const override { return "linear"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    const Tensor& dy = g[0];  // (N, M)
    Tensor dx = detail::grad_buffer(*this, 0, x);
    Tensor dw = detail::grad_buffer(*this, 1, w);
    Tensor db;
    if (dx.defined()) ops::gemm({}, dy, w, dx);
    if (dw.defined()) ops::gemm({.trans_a = true}, dy, x, dw);
    if (has_bias && detail::wants_grad(*this, 2)) {
      Tensor ones = ops::full({1, x.dim(0)}, 1.0f, x.dtype(), x.device());
      db = Tensor::empty({1, w.dim(0)}, w.dtype(), w.device());
      ops::gemm({}, ones, dy, db);
      db = db.reshape({w.dim(0)});
    }
    return {dx, dw, db};
  }
  void release() override {
    x = {};
    w = {};
  }

  Tensor x;  // (N, K)
  Tensor w;  // (M, K)
  bool has_bias = false;
};

}  // namespace

Variable matmul(const Variable& a, const Variable& b) {
  const Tensor& ad = a.data();
  const Tensor& bd = b.data();
  SAD_CHECK(ad.ndim() == 2 && bd.ndim() == 2, "matmul: A ", shape_str(ad.shape()), " and B ", shape_str(bd.shape()),
            " must be matrices");
  Tensor c = Tensor::empty({ad.dim(0), bd.dim(1)}, ad.dtype(), ad.device());
  ops::gemm({}, ad, bd, c);
  if (!any_requires_grad({&a, &b})) return Variable(c);
  auto n = detail::make_node<MatmulNode>({&a, &b});
  n->a = ad;
  n->b = bd;
  return Variable::make_output(c, n, 0);
}

Variable linear(const Variable& x, const Variable& weight, const Variable& bias) {
  const Tensor& xd = x.data();
  const Tensor& wd = weight.data();
  SAD_CHECK(xd.ndim() == 2 && wd.ndim() == 2, "linear: input ", shape_str(xd.shape()), " and weight ",
            shape_str(wd.shape()), " must be matrices");
  SAD_CHECK(xd.dim(1) == wd.dim(1), "linear: input ", shape_str(xd.shape()), " has ", xd.dim(1),
            " features but weight ", shape_str(wd.shape()), " expects ", wd.dim(1));
  const int64_t n_rows = xd.dim(0), m = wd.dim(0);
  Tensor y = Tensor::empty({n_rows, m}, xd.dtype(), xd.device());
  float beta = 0.0f;
  if (bias.defined()) {
    const Tensor& bd = bias.data();
    SAD_CHECK(bd.shape() == Shape{m}, "linear: bias ", shape_str(bd.shape()), " does not match weight ",
              shape_str(wd.shape()), " (expected (", m, "))");
    // y = ones (N, 1) @ b (1, M): every row starts as the bias.
    Tensor ones = ops::full({n_rows, 1}, 1.0f, xd.dtype(), xd.device());
    ops::gemm({}, ones, bd.reshape({1, m}), y);
    beta = 1.0f;
  }
  ops::gemm({.trans_b = true, .beta = beta}, xd, wd, y);
  if (!any_requires_grad({&x, &weight, &bias})) return Variable(y);
  auto n = detail::make_node<LinearNode>({&x, &weight, &bias});
  n->x = xd;
  n->w = wd;
  n->has_bias = bias.defined();
  return Variable::make_output(y, n, 0);
}

}  // namespace sad
