// Entry points of kernels/ops.h for the losses, the method's own ops (fusion, kl_sparsity)
// and the optimiser's (adam, axpy, fill): validate once, then run on the tensors' device.
#include <cmath>
#include <string>
#include <vector>

#include "kernels/dispatch_util.h"

namespace sad::ops {

using namespace detail;

// ---- losses ------------------------------------------------------------------------------------------

static void check_scalar(const char* op, const char* name, const Tensor& t) { check_shape(op, name, t, {1}); }

void pointwise_loss_forward(const PointwiseLossParams& p, const Tensor& a, const Tensor& b, Tensor& loss) {
  const char* op = p.kind == PointwiseLossKind::Mse ? "mse_loss" : "l1_loss";
  check_defined(op, "a", a);
  check_alike(op, a, {{"b", &b}, {"loss", &loss}});
  check_supported(OpId::PointwiseLoss, a);
  check_shape(op, "b", b, a.shape());
  SAD_CHECK(a.numel() > 0, op, ": empty input");
  check_scalar(op, "loss", loss);
  SAD_RUN(a, pointwise_loss_forward, p, a, b, loss);
}

void pointwise_loss_backward(const PointwiseLossParams& p, const Tensor& a, const Tensor& b, const Tensor& dloss,
                             Tensor* da, Tensor* db) {
  const char* op = p.kind == PointwiseLossKind::Mse ? "mse_loss_backward" : "l1_loss_backward";
  check_defined(op, "a", a);
  check_alike(op, a, {{"b", &b}, {"dloss", &dloss}, {"da", da}, {"db", db}});
  check_supported(OpId::PointwiseLoss, a);
  check_shape(op, "b", b, a.shape());
  check_scalar(op, "dloss", dloss);
  if (da) check_shape(op, "da", *da, a.shape());
  if (db) check_shape(op, "db", *db, a.shape());
  SAD_RUN(a, pointwise_loss_backward, p, a, b, dloss, da, db);
}

void bce_with_logits_forward(const Tensor& logits, const Tensor& target, Tensor& loss) {
  const char* op = "bce_with_logits";
  check_defined(op, "logits", logits);
  check_alike(op, logits, {{"target", &target}, {"loss", &loss}});
  check_supported(OpId::BceWithLogits, logits);
  check_shape(op, "target", target, logits.shape());
  SAD_CHECK(logits.numel() > 0, op, ": empty input");
  check_scalar(op, "loss", loss);
  SAD_RUN(logits, bce_with_logits_forward, logits, target, loss);
}

void bce_with_logits_backward(const Tensor& logits, const Tensor& target, const Tensor& dloss, Tensor& dlogits) {
  const char* op = "bce_with_logits_backward";
  check_defined(op, "logits", logits);
  check_alike(op, logits, {{"target", &target}, {"dloss", &dloss}, {"dlogits", &dlogits}});
  check_supported(OpId::BceWithLogits, logits);
  check_shape(op, "target", target, logits.shape());
  check_shape(op, "dlogits", dlogits, logits.shape());
  check_scalar(op, "dloss", dloss);
  SAD_RUN(logits, bce_with_logits_backward, logits, target, dloss, dlogits);
}

std::vector<double> gaussian_taps(int window, double sigma) {
  SAD_CHECK(window >= 1 && sigma > 0, "gaussian_taps: window must be >= 1 and sigma > 0, got ", window, ", ", sigma);
  std::vector<double> g(static_cast<size_t>(window));
  double sum = 0;
  for (int k = 0; k < window; ++k) {
    const double d = k - window / 2;
    g[static_cast<size_t>(k)] = std::exp(-d * d / (2 * sigma * sigma));
    sum += g[static_cast<size_t>(k)];
  }
  for (double& v : g) v /= sum;
  return g;
}

Shape ssim_map_shape(const SsimParams& p, const Shape& in) {
  SAD_CHECK(in.size() == 4, "ssim: input must be (N, C, H, W), got ", shape_str(in));
  SAD_CHECK(p.window >= 1 && p.window % 2 == 1 && p.sigma > 0, "ssim: window ", p.window, " (odd) / sigma ", p.sigma);
  if (p.same_size) return in;
  SAD_CHECK(in[2] >= p.window && in[3] >= p.window, "ssim: image ", shape_str(in), " smaller than the window ",
            p.window);
  return {in[0], in[1], in[2] - p.window + 1, in[3] - p.window + 1};
}

void ssim_forward(const SsimParams& p, const Tensor& x, const Tensor& y, Tensor& map) {
  const char* op = "ssim";
  check_defined(op, "x", x);
  check_alike(op, x, {{"y", &y}, {"map", &map}});
  check_supported(OpId::Ssim, x);
  check_shape(op, "y", y, x.shape());
  check_shape(op, "map", map, ssim_map_shape(p, x.shape()));
  SAD_RUN(x, ssim_forward, p, x, y, map);
}

void ssim_backward(const SsimParams& p, const Tensor& x, const Tensor& y, const Tensor& dmap, Tensor* dx, Tensor* dy) {
  const char* op = "ssim_backward";
  check_defined(op, "x", x);
  check_alike(op, x, {{"y", &y}, {"dmap", &dmap}, {"dx", dx}, {"dy", dy}});
  check_supported(OpId::Ssim, x);
  check_shape(op, "y", y, x.shape());
  check_shape(op, "dmap", dmap, ssim_map_shape(p, x.shape()));
  if (dx) check_shape(op, "dx", *dx, x.shape());
  if (dy) check_shape(op, "dy", *dy, x.shape());
  SAD_RUN(x, ssim_backward, p, x, y, dmap, dx, dy);
}

void focal_loss_forward(const FocalParams& p, const Tensor& logits, const Tensor& target, Tensor& loss) {
  const char* op = "focal_loss";
  check_defined(op, "logits", logits);
  check_alike(op, logits, {{"target", &target}, {"loss", &loss}});
  check_supported(OpId::FocalLoss, logits);
  check_shape(op, "target", target, logits.shape());
  SAD_CHECK(logits.numel() > 0 && p.gamma >= 0, op, ": empty input or negative gamma");
  check_scalar(op, "loss", loss);
  SAD_RUN(logits, focal_loss_forward, p, logits, target, loss);
}

void focal_loss_backward(const FocalParams& p, const Tensor& logits, const Tensor& target, const Tensor& dloss,
                         Tensor& dlogits) {
  const char* op = "focal_loss_backward";
  check_defined(op, "logits", logits);
  check_alike(op, logits, {{"target", &target}, {"dloss", &dloss}, {"dlogits", &dlogits}});
  check_supported(OpId::FocalLoss, logits);
  check_shape(op, "target", target, logits.shape());
  check_shape(op, "dlogits", dlogits, logits.shape());
  check_scalar(op, "dloss", dloss);
  SAD_RUN(logits, focal_loss_backward, p, logits, target, dloss, dlogits);
}

// ---- fusion -----------------------------------------------------------------------------------------

void fusion_forward(const Tensor& a, const Tensor& b, Tensor& out) {
  const char* op = "fusion_forward";
  check_defined(op, "a", a);
  check_alike(op, a, {{"b", &b}, {"output", &out}});
  check_supported(OpId::Fusion, a);
  check_ndim(op, "a", a, 4);
  check_shape(op, "b", b, a.shape());
  check_shape(op, "output", out, {a.dim(0), 3 * a.dim(1), a.dim(2), a.dim(3)});
  SAD_RUN(a, fusion_forward, a, b, out);
}

void fusion_backward(const Tensor& a, const Tensor& b, const Tensor& dout, Tensor* da, Tensor* db) {
  const char* op = "fusion_backward";
  check_defined(op, "a", a);
  check_alike(op, a, {{"b", &b}, {"dout", &dout}, {"da", da}, {"db", db}});
  check_supported(OpId::Fusion, a);
  check_ndim(op, "a", a, 4);
  check_shape(op, "b", b, a.shape());
  check_shape(op, "dout", dout, {a.dim(0), 3 * a.dim(1), a.dim(2), a.dim(3)});
  if (da) check_shape(op, "da", *da, a.shape());
  if (db) check_shape(op, "db", *db, a.shape());
  SAD_RUN(a, fusion_backward, a, b, dout, da, db);
}

// ---- kl_sparsity ------------------------------------------------------------------------------------

static void check_kl_inputs(const char* op, const KlSparsityParams& p, const Tensor& logits, const Tensor& residual,
                            const Tensor& labels) {
  check_ndim(op, "logits", logits, 4);
  SAD_CHECK(logits.dim(1) == 1, op, ": logits must have one channel, got ", shape_str(logits.shape()));
  SAD_CHECK(logits.dim(0) > 0 && logits.dim(2) * logits.dim(3) > 0, op, ": empty logits ", shape_str(logits.shape()));
  check_shape(op, "residual", residual, logits.shape());
  check_shape(op, "labels", labels, {logits.dim(0)});
  SAD_CHECK(p.rho > 0 && p.rho < 1, op, ": rho must lie in (0, 1), got ", p.rho);
}

void kl_sparsity_forward(const KlSparsityParams& p, const Tensor& logits, const Tensor& residual, const Tensor& labels,
                         Tensor& loss, Tensor& stats) {
  const char* op = "kl_sparsity_forward";
  check_defined(op, "logits", logits);
  check_alike(op, logits, {{"residual", &residual}, {"labels", &labels}, {"loss", &loss}, {"stats", &stats}});
  check_supported(OpId::KlSparsity, logits);
  check_kl_inputs(op, p, logits, residual, labels);
  check_scalar(op, "loss", loss);
  check_shape(op, "stats", stats, {logits.dim(0), 4});
  SAD_RUN(logits, kl_sparsity_forward, p, logits, residual, labels, loss, stats);
}

void kl_sparsity_backward(const KlSparsityParams& p, const Tensor& logits, const Tensor& residual, const Tensor& labels,
                          const Tensor& stats, const Tensor& dloss, Tensor& dlogits) {
  const char* op = "kl_sparsity_backward";
  check_defined(op, "logits", logits);
  check_alike(
      op, logits,
      {{"residual", &residual}, {"labels", &labels}, {"stats", &stats}, {"dloss", &dloss}, {"dlogits", &dlogits}});
  check_supported(OpId::KlSparsity, logits);
  check_kl_inputs(op, p, logits, residual, labels);
  check_shape(op, "stats", stats, {logits.dim(0), 4});
  check_scalar(op, "dloss", dloss);
  check_shape(op, "dlogits", dlogits, logits.shape());
  SAD_RUN(logits, kl_sparsity_backward, p, logits, residual, labels, stats, dloss, dlogits);
}

// ---- adam / axpy / fill -------------------------------------------------------------------------------

void adam_step(const AdamParams& p, Tensor& param, const Tensor& grad, Tensor& m, Tensor& v) {
  const char* op = "adam_step";
  check_defined(op, "param", param);
  check_alike(op, param, {{"grad", &grad}, {"m", &m}, {"v", &v}});
  check_supported(OpId::Adam, param);
  for (const Tensor* t : {&grad, static_cast<const Tensor*>(&m), static_cast<const Tensor*>(&v)})
    check_shape(op, "grad/m/v", *t, param.shape());
  SAD_CHECK(p.step >= 1, op, ": step must be >= 1 (bias correction), got ", p.step);
  SAD_RUN(param, adam_step, p, param, grad, m, v);
}

void axpy(float alpha, const Tensor& x, Tensor& y) {
  const char* op = "axpy";
  check_defined(op, "x", x);
  check_alike(op, x, {{"y", &y}});
  check_supported(OpId::Axpy, x);
  check_shape(op, "y", y, x.shape());
  SAD_RUN(x, axpy, alpha, x, y);
}

void fill(Tensor& t, float value) {
  check_defined("fill", "tensor", t);
  check_supported(OpId::Fill, t);
  SAD_RUN(t, fill, t, value);
}

}  // namespace sad::ops
