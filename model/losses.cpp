// GAN losses and the residual evidence.
#include "model/losses.h"

#include "model/networks.h"

namespace sad {

ops::SsimParams ssim_loss_params() {
  ops::SsimParams p;
  p.same_size = false;
  return p;
}

ops::SsimParams ssim_map_params() {
  ops::SsimParams p;
  p.same_size = true;  // zero padding 5: a map the size of the image
  return p;
}

GeneratorLoss generator_loss(const Variable& x_hat, const Variable& x, const Variable& d_fake_logits,
                             const GanLossWeights& w) {
  Variable mse = mse_loss(x_hat, x);
  Variable s = ssim(x_hat, x, ssim_loss_params());
  Variable adv = bce_with_logits(d_fake_logits,
                                 ops::full(d_fake_logits.shape(), 1.0f, d_fake_logits.dtype(), d_fake_logits.device()));
  // l_mse MSE + l_ssim (1 - SSIM) + l_adv BCE, as one scalar graph.
  Variable total = add(add(affine(mse, w.l_mse, 0.0f), affine(s, -w.l_ssim, w.l_ssim)), affine(adv, w.l_adv, 0.0f));
  return {total, mse.data(), s.data(), adv.data()};
}

Variable discriminator_loss(const Variable& d_real_logits, const Variable& d_fake_logits) {
  const Tensor& r = d_real_logits.data();
  Variable real = bce_with_logits(d_real_logits, ops::full(r.shape(), 1.0f, r.dtype(), r.device()));
  const Tensor& f = d_fake_logits.data();
  Variable fake = bce_with_logits(d_fake_logits, ops::full(f.shape(), 0.0f, f.dtype(), f.device()));
  return add(real, fake);
}

Tensor residual_evidence(const Tensor& x_tilde, const Tensor& x_hat, ResidualKind kind, bool normalise) {
  SAD_CHECK(x_tilde.shape() == x_hat.shape() && x_tilde.ndim() == 4, "residual_evidence: images ",
            shape_str(x_tilde.shape()), " and ", shape_str(x_hat.shape()), " must be equal (B, C, S, S)");
  const ops::ReduceParams channel_mean{ops::ReduceKind::Mean, 1};
  Tensor out = Tensor::empty(ops::reduce_shape(channel_mean, x_tilde.shape()), x_tilde.dtype(), x_tilde.device());
  Tensor l1, dssim;
  if (kind != ResidualKind::Ssim) {
    Tensor diff = empty_like(x_tilde);
    ops::binary_forward({ops::BinaryKind::Sub}, x_tilde, x_hat, diff);
    ops::unary_forward({ops::UnaryKind::Abs}, diff, diff);
    l1 = empty_like(out);
    ops::reduce_forward(channel_mean, diff, l1);
  }
  if (kind != ResidualKind::L1) {
    Tensor map = empty_like(x_tilde);
    ops::ssim_forward(ssim_map_params(), x_tilde, x_hat, map);
    ops::unary_forward({ops::UnaryKind::Affine, -0.5f, 0.5f}, map, map);  // (1 - SSIM) / 2
    dssim = empty_like(out);
    ops::reduce_forward(channel_mean, map, dssim);
  }
  if (kind == ResidualKind::L1) {
    out = l1;
  } else if (kind == ResidualKind::Ssim) {
    out = dssim;
  } else {
    ops::unary_forward({ops::UnaryKind::Affine, 0.5f, 0.0f}, l1, out);
    ops::axpy(0.5f, dssim, out);
  }
  if (normalise) {
    Tensor m = Tensor::empty({1}, out.dtype(), out.device());
    ops::reduce_forward({ops::ReduceKind::Mean, -1}, out, m);
    ops::scale_by_inverse(out, m, 1e-6, out);  // r / (mean r + 1e-6), the mean never read by the host
  }
  return out;
}

Tensor residual_excess(const Tensor& residual, const Tensor& floor) {
  SAD_CHECK(residual.ndim() == 4 && residual.dim(1) == 1 && floor.ndim() == 4 && floor.dim(0) == 1 &&
                floor.dim(1) == 1 && floor.dim(2) == residual.dim(2) && floor.dim(3) == residual.dim(3),
            "residual_excess: residual ", shape_str(residual.shape()), " and floor ", shape_str(floor.shape()),
            " must be (B, 1, H, W) and (1, 1, H, W)");
  Tensor out = empty_like(residual);
  ops::binary_forward({ops::BinaryKind::Sub}, residual, floor, out);
  ops::unary_forward({ops::UnaryKind::Relu}, out, out);
  return out;
}

Tensor mean_residual(Generator& g, int64_t count, const std::function<Tensor(int64_t)>& batch, ResidualKind kind) {
  SAD_CHECK(count > 0, "mean_residual: no batches");
  g.eval();
  NoGradGuard ng;
  std::vector<double> sum;
  int64_t images = 0, h = 0, w = 0;
  for (int64_t i = 0; i < count; ++i) {
    const Tensor x = batch(i);
    const Tensor r = residual_evidence(x, g.forward(Variable(x)).data(), kind, true);
    h = r.dim(2), w = r.dim(3);
    const std::vector<double> v = r.to_vector_f64();  // (B, 1, H, W)
    if (sum.empty()) sum.assign(static_cast<size_t>(h * w), 0.0);
    SAD_CHECK(static_cast<int64_t>(v.size()) == r.dim(0) * h * w && static_cast<int64_t>(sum.size()) == h * w,
              "mean_residual: batches of different sizes");
    for (int64_t b = 0; b < r.dim(0); ++b)
      for (int64_t p = 0; p < h * w; ++p) sum[static_cast<size_t>(p)] += v[static_cast<size_t>(b * h * w + p)];
    images += r.dim(0);
  }
  std::vector<float> mean(sum.size());
  for (size_t p = 0; p < sum.size(); ++p) mean[p] = static_cast<float>(sum[p] / static_cast<double>(images));
  return Tensor::from_vector(mean, {1, 1, h, w});
}

ContrastLabels contrast_labels(const Tensor& residual, const Tensor& mask, const Tensor& labels, double contrast) {
  const int64_t b = labels.numel();
  SAD_CHECK(residual.ndim() == 4 && residual.dim(0) == b && mask.shape() == residual.shape(),
            "contrast_labels: residual ", shape_str(residual.shape()), ", mask ", shape_str(mask.shape()), " and ", b,
            " labels do not match");
  const std::vector<double> r = residual.to(Device::cpu()).to_vector_f64(), m = mask.to(Device::cpu()).to_vector_f64();
  std::vector<float> y = labels.to(Device::cpu()).to_vector();
  const size_t hw = static_cast<size_t>(residual.numel() / b);
  ContrastLabels out;
  for (size_t i = 0; i < static_cast<size_t>(b); ++i) {
    if (y[i] < 0.5f) continue;
    ++out.perturbed;
    double in = 0, outside = 0, n_in = 0;
    for (size_t k = i * hw; k < (i + 1) * hw; ++k) {
      const bool inside = m[k] >= 0.5;
      (inside ? in : outside) += r[k];
      n_in += inside;
    }
    const double n_out = static_cast<double>(hw) - n_in;
    const bool stands_out = n_in > 0 && (n_out == 0 || in / n_in >= contrast * (outside / n_out));
    y[i] = stands_out ? 1.0f : 0.0f;
    out.kept += stands_out;
  }
  out.labels = Tensor::from_vector(y, {b}).to(labels.device());
  return out;
}

}  // namespace sad
