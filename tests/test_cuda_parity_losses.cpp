// CUDA parity of the loss ops (kernels/cuda/losses.cu, ssim.cu): MSE/L1, BCE with logits,
// focal loss and the SSIM map, forward and backward, against the CPU reference in float64
// on the same seeded float32 inputs. Awkward shapes (1 element, odd H and W, batch 1,
// sizes that are not multiples of the 256-thread blocks or the 32 x 16 SSIM tiles, and one
// case above 1M elements per op), guard elements around every CUDA output, optional
// gradient outputs, bitwise determinism of a second run, and dloss read from the device
// (a value != 1, so a kernel that ignores it fails). Skipped (reported) without a GPU.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cuda_parity_util.h"
#include "kernels/ops.h"

// Selected by gpu-check.sh and compute-sanitizer as --test-suite=cuda.
TEST_SUITE_BEGIN("cuda");

using namespace sad;
using namespace sad::test;

namespace {

// A float32 upstream gradient that is not 1 (exactly representable in both precisions).
constexpr double kDloss = 0.75;

}  // namespace

// ---- MSE / L1 -----------------------------------------------------------------------------

namespace {

void pointwise_parity(ops::PointwiseLossKind kind, const Shape& shape, uint64_t seed) {
  if (skip_large({shape})) return;
  const std::string ctx = ctx_of(kind == ops::PointwiseLossKind::Mse ? "mse" : "l1", shape, seed);
  INFO(ctx);
  ops::PointwiseLossParams p;
  p.kind = kind;
  Tensor a = random_f32(shape, seed), b = random_f32(shape, seed + 1);
  Tensor dl = Tensor::scalar(kDloss, DType::F32);

  Tensor a64 = f64(a), b64 = f64(b);
  Tensor loss_ref = Tensor::empty({1}, DType::F64), da_ref = empty_like(a64), db_ref = empty_like(b64);
  ops::pointwise_loss_forward(p, a64, b64, loss_ref);
  ops::pointwise_loss_backward(p, a64, b64, f64(dl), &da_ref, &db_ref);

  Tensor ac = on_cuda(a), bc = on_cuda(b), dlc = on_cuda(dl);
  GuardedCuda loss({1}), da(shape), db(shape);
  ops::pointwise_loss_forward(p, ac, bc, loss.view());
  ops::pointwise_loss_backward(p, ac, bc, dlc, da.ptr(), db.ptr());

  // Forward: each term is formed in double from the float inputs like the reference;
  // only the double summation order and the final float rounding (6e-8) differ.
  check_parity(loss.view(), loss_ref, 0.0, 1e-6, ctx + ": loss");
  // Backward: 2 (a - b) dloss / n in float: three roundings (a - b, the scale, the
  // product), each relative, so no absolute term is needed (a == b gives exactly 0).
  check_parity(da.view(), da_ref, 0.0, 1e-6, ctx + ": da");
  check_parity(db.view(), db_ref, 0.0, 1e-6, ctx + ": db");
  loss.check_guards(ctx + ": loss");
  da.check_guards(ctx + ": da");
  db.check_guards(ctx + ": db");

  GuardedCuda loss2({1}), da2(shape), db2(shape);
  ops::pointwise_loss_forward(p, ac, bc, loss2.view());
  ops::pointwise_loss_backward(p, ac, bc, dlc, da2.ptr(), nullptr);
  ops::pointwise_loss_backward(p, ac, bc, dlc, nullptr, db2.ptr());
  check_bitwise_equal(loss2.view(), loss.view(), ctx + ": loss");
  check_bitwise_equal(da2.view(), da.view(), ctx + ": da alone");
  check_bitwise_equal(db2.view(), db.view(), ctx + ": db alone");
  da2.check_guards(ctx + ": da alone");
  db2.check_guards(ctx + ": db alone");
}

}  // namespace

TEST_CASE("cuda parity: pointwise_loss (mse / l1) forward and backward" * doctest::skip(!sad::cuda_available())) {
  const Shape shapes[] = {
      {1},               // one element: one block, one live thread
      {2, 3, 5, 7},      // odd sizes, 210 elements
      {1, 3, 17, 33},    // batch 1, 1683 = 6.6 blocks of 256
      {5, 3, 257, 271},  // 1.04M elements: the partial-sum grid is capped (1024 blocks)
  };
  uint64_t seed = 2000;
  for (const Shape& s : shapes) {
    pointwise_parity(ops::PointwiseLossKind::Mse, s, seed += 10);
    pointwise_parity(ops::PointwiseLossKind::L1, s, seed += 10);
  }
}

// ---- BCE with logits ------------------------------------------------------------------------

namespace {

void bce_parity(const Shape& shape, uint64_t seed) {
  if (skip_large({shape})) return;
  const std::string ctx = ctx_of("bce_with_logits", shape, seed);
  INFO(ctx);
  // Logits in [-12, 12]: both saturated tails of the stable form; soft targets in [0, 1].
  Tensor x = random_f32(shape, seed, -12.0, 12.0), t = random_f32(shape, seed + 1, 0.0, 1.0);
  Tensor dl = Tensor::scalar(kDloss, DType::F32);

  Tensor x64 = f64(x), t64 = f64(t);
  Tensor loss_ref = Tensor::empty({1}, DType::F64), dx_ref = empty_like(x64);
  ops::bce_with_logits_forward(x64, t64, loss_ref);
  ops::bce_with_logits_backward(x64, t64, f64(dl), dx_ref);

  Tensor xc = on_cuda(x), tc = on_cuda(t), dlc = on_cuda(dl);
  GuardedCuda loss({1}), dx(shape);
  ops::bce_with_logits_forward(xc, tc, loss.view());
  ops::bce_with_logits_backward(xc, tc, dlc, dx.view());

  // Forward: float terms max(x,0) - x t + log1p(exp(-|x|)); x t rounds at ulp(12) ~ 1e-6
  // absolute and the term can be small, so the mean's error is absolute, ~1e-6 at worst
  // (random signs make it far smaller); the double sum adds nothing.
  check_parity(loss.view(), loss_ref, 2e-6, 1e-6, ctx + ": loss");
  // Backward: (sigmoid(x) - t) dloss / n; sigmoid within 2 ulp of values <= 1, and the
  // difference cancels: absolute error ~3e-7 of the scale.
  const double scale = kDloss / static_cast<double>(x.numel());
  check_parity(dx.view(), dx_ref, 1e-6 * scale, 1e-5, ctx + ": dlogits");
  loss.check_guards(ctx + ": loss");
  dx.check_guards(ctx + ": dlogits");

  GuardedCuda loss2({1}), dx2(shape);
  ops::bce_with_logits_forward(xc, tc, loss2.view());
  ops::bce_with_logits_backward(xc, tc, dlc, dx2.view());
  check_bitwise_equal(loss2.view(), loss.view(), ctx + ": loss");
  check_bitwise_equal(dx2.view(), dx.view(), ctx + ": dlogits");
}

}  // namespace

TEST_CASE("cuda parity: bce_with_logits forward and backward" * doctest::skip(!sad::cuda_available())) {
  const Shape shapes[] = {
      {1},                 // one element
      {3, 1, 7, 9},        // odd sizes
      {16, 1, 30, 30},     // the patch discriminator's output at S = 256 (14400 logits)
      {1, 1, 1031, 1031},  // 1.06M elements
  };
  uint64_t seed = 3000;
  for (const Shape& s : shapes) bce_parity(s, seed += 10);
}

// ---- focal loss --------------------------------------------------------------------------------

namespace {

void focal_parity(const ops::FocalParams& p, const Shape& shape, bool binary_targets, uint64_t seed) {
  if (skip_large({shape})) return;
  const std::string ctx = ctx_of("focal_loss", shape, seed) + " gamma " + std::to_string(p.gamma) + " alpha " +
                          std::to_string(p.alpha) + (binary_targets ? " binary" : " soft");
  INFO(ctx);
  Tensor l = random_f32(shape, seed, -10.0, 10.0), t = random_f32(shape, seed + 1, 0.0, 1.0);
  if (binary_targets) {  // masks: about 10% ones, like a sparse defect mask
    std::vector<float> v = t.to_vector();
    for (float& e : v) e = e < 0.1f ? 1.0f : 0.0f;
    t = Tensor::from_vector(v, shape);
  }
  Tensor dl = Tensor::scalar(kDloss, DType::F32);

  Tensor l64 = f64(l), t64 = f64(t);
  Tensor loss_ref = Tensor::empty({1}, DType::F64), dx_ref = empty_like(l64);
  ops::focal_loss_forward(p, l64, t64, loss_ref);
  ops::focal_loss_backward(p, l64, t64, f64(dl), dx_ref);

  Tensor lc = on_cuda(l), tc = on_cuda(t), dlc = on_cuda(dl);
  GuardedCuda loss({1}), dx(shape);
  ops::focal_loss_forward(p, lc, tc, loss.view());
  ops::focal_loss_backward(p, lc, tc, dlc, dx.view());

  // Forward: non-negative float terms (powf, expf, log1pf: a few ulps each), so the mean's
  // relative error is bounded by the terms' (~1e-6); the absolute part covers losses near 0.
  check_parity(loss.view(), loss_ref, 1e-7, 1e-5, ctx + ": loss");
  // Backward: the positive and negative parts have opposite signs and cancel for soft
  // targets: absolute error a few ulps of the larger part (<= ~2) times the scale.
  const double scale = kDloss / static_cast<double>(l.numel());
  check_parity(dx.view(), dx_ref, 2e-6 * scale, 1e-5, ctx + ": dlogits");
  loss.check_guards(ctx + ": loss");
  dx.check_guards(ctx + ": dlogits");

  GuardedCuda loss2({1}), dx2(shape);
  ops::focal_loss_forward(p, lc, tc, loss2.view());
  ops::focal_loss_backward(p, lc, tc, dlc, dx2.view());
  check_bitwise_equal(loss2.view(), loss.view(), ctx + ": loss");
  check_bitwise_equal(dx2.view(), dx.view(), ctx + ": dlogits");
}

}  // namespace

TEST_CASE("cuda parity: focal_loss forward and backward" * doctest::skip(!sad::cuda_available())) {
  auto P = [](float gamma, float alpha) {
    ops::FocalParams p;
    p.gamma = gamma;
    p.alpha = alpha;
    return p;
  };
  uint64_t seed = 4000;
  for (const ops::FocalParams& p : {P(2.0f, -1.0f), P(2.0f, 0.25f), P(0.5f, 0.75f), P(0.0f, -1.0f)}) {
    focal_parity(p, {1}, false, seed += 10);
    focal_parity(p, {2, 1, 13, 11}, true, seed += 10);
    focal_parity(p, {3, 1, 9, 31}, false, seed += 10);
  }
  focal_parity(P(2.0f, -1.0f), {2, 1, 731, 731}, true, seed += 10);  // 1.07M: the ablation's size and more
}

// ---- SSIM map -------------------------------------------------------------------------------------

namespace {

// y = clip(w x + (1 - w) noise, -1, 1): w = 0 gives unrelated images (SSIM near 0), w
// close to 1 a faithful reconstruction (SSIM near 1, the regime of L_G).
Tensor blend(const Tensor& x, const Tensor& noise, double w) {
  std::vector<float> a = x.to_vector(), b = noise.to_vector();
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(std::clamp(w * a[i] + (1.0 - w) * b[i], -1.0, 1.0));
  return Tensor::from_vector(a, x.shape());
}

void ssim_parity(const ops::SsimParams& p, const Shape& shape, double w, uint64_t seed) {
  if (skip_large({shape})) return;
  const std::string ctx = ctx_of("ssim", shape, seed) + (p.same_size ? " same" : " valid") + " window " +
                          std::to_string(p.window) + " blend " + std::to_string(w);
  INFO(ctx);
  const Shape ms = ops::ssim_map_shape(p, shape);
  Tensor x = random_f32(shape, seed), y = blend(x, random_f32(shape, seed + 1), w);
  Tensor dmap = random_f32(ms, seed + 2);

  Tensor x64 = f64(x), y64 = f64(y);
  Tensor map_ref = Tensor::empty(ms, DType::F64), dx_ref = empty_like(x64), dy_ref = empty_like(y64);
  ops::ssim_forward(p, x64, y64, map_ref);
  ops::ssim_backward(p, x64, y64, f64(dmap), &dx_ref, &dy_ref);

  Tensor xc = on_cuda(x), yc = on_cuda(y), dmc = on_cuda(dmap);
  GuardedCuda map(ms), dx(shape), dy(shape);
  ops::ssim_forward(p, xc, yc, map.view());
  ops::ssim_backward(p, xc, yc, dmc, dx.ptr(), dy.ptr());

  // Forward, float32 moments: each is a k^2-term weighted sum (weights sum to 1) with
  // error ~1e-7; sxx = exx - mx^2 cancels, and the map divides by mx^2 + my^2 + C1, which
  // is as small as C1 = 4e-4 where both local means vanish: sensitivity ~10, error ~1e-6.
  check_parity(map.view(), map_ref, 2e-5, 1e-5, ctx + ": map");
  // Backward: the point-wise derivatives carry 1 / (B1 B2) and 1 / B1^2 (up to ~1e6 times
  // the moments' error where B1 ~ C1) before the adjoint filter averages them; relative to
  // the largest gradient the error stays ~1e-5. Normalised tolerance: a wrong tap, offset
  // or border is off by O(1) of that scale.
  const double gx = max_abs(dx_ref), gy = max_abs(dy_ref);
  check_parity(dx.view(), dx_ref, 1e-4 * gx, 1e-4, ctx + ": dx");
  check_parity(dy.view(), dy_ref, 1e-4 * gy, 1e-4, ctx + ": dy");
  map.check_guards(ctx + ": map");
  dx.check_guards(ctx + ": dx");
  dy.check_guards(ctx + ": dy");

  GuardedCuda map2(ms), dx2(shape), dy2(shape);
  ops::ssim_forward(p, xc, yc, map2.view());
  ops::ssim_backward(p, xc, yc, dmc, dx2.ptr(), nullptr);
  ops::ssim_backward(p, xc, yc, dmc, nullptr, dy2.ptr());
  check_bitwise_equal(map2.view(), map.view(), ctx + ": map");
  check_bitwise_equal(dx2.view(), dx.view(), ctx + ": dx alone");
  check_bitwise_equal(dy2.view(), dy.view(), ctx + ": dy alone");
  dx2.check_guards(ctx + ": dx alone");
  dy2.check_guards(ctx + ": dy alone");
}

ops::SsimParams ssim_params(bool same_size, int window = 11, float sigma = 1.5f) {
  ops::SsimParams p;
  p.same_size = same_size;
  p.window = window;
  p.sigma = sigma;
  return p;
}

}  // namespace

TEST_CASE("cuda parity: ssim forward and backward / same_size and valid" * doctest::skip(!sad::cuda_available())) {
  uint64_t seed = 5000;
  for (bool same : {true, false}) {
    ssim_parity(ssim_params(same), {1, 1, 11, 11}, 0.0, seed += 10);           // valid: a 1 x 1 map
    ssim_parity(ssim_params(same), {2, 3, 13, 17}, 0.9, seed += 10);           // odd sizes, partial tiles
    ssim_parity(ssim_params(same), {1, 2, 40, 70}, 0.5, seed += 10);           // 3 x 3 tiles per plane
    ssim_parity(ssim_params(same, 7, 1.0f), {2, 1, 19, 23}, 0.8, seed += 10);  // another window
    ssim_parity(ssim_params(same, 1, 1.0f), {1, 2, 5, 6}, 0.5, seed += 10);    // window 1: no halo
  }
  ssim_parity(ssim_params(true), {1, 1, 1, 1}, 0.5, seed += 10);              // 1 x 1 image, all padding
  ssim_parity(ssim_params(true), {2, 1, 3, 40}, 0.5, seed += 10);             // image smaller than the window
  ssim_parity(ssim_params(true, 31, 5.0f), {1, 1, 50, 45}, 0.7, seed += 10);  // more than 48 KB of shared memory
  ssim_parity(ssim_params(true), {4, 3, 300, 301}, 0.95, seed += 10);         // 1.08M pixels
  ssim_parity(ssim_params(false), {1, 3, 256, 255}, 0.95, seed += 10);        // valid at training size
}

TEST_CASE("cuda parity: ssim refuses a window beyond the kernel's limit" * doctest::skip(!sad::cuda_available())) {
  Tensor x = on_cuda(random_f32({1, 1, 70, 70}, 1)), y = on_cuda(random_f32({1, 1, 70, 70}, 2));
  Tensor map = Tensor::empty({1, 1, 70, 70}, DType::F32, cuda_device());
  CHECK_THROWS_AS(ops::ssim_forward(ssim_params(true, 65, 10.0f), x, y, map), sad::Error);
}

TEST_SUITE_END();
