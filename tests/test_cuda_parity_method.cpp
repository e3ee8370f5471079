// CUDA parity of the method's own ops (kernels/cuda/fusion.cu, kl_sparsity.cu): the
// fusion concat-with-absolute-difference and the sparsity-prior loss, forward and
// backward, against the CPU reference in float64 on the same seeded float32 inputs.
// fusion: exact ties a == b (the sign-0 subgradient), both the float4 and the scalar
// path (aligned and unaligned outputs), odd sizes, > 1M elements.
// kl_sparsity: weak_labels true and false, mixed labels, batch 1, clamped rho^ at both
// bounds, H*W not a multiple of the block size, 16 x 1 x 256 x 256, dloss from the device.
// Guard elements around every CUDA output; bitwise determinism of a second run. Skipped
// (reported) without a GPU.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "cuda_parity_util.h"
#include "kernels/ops.h"

// Selected by gpu-check.sh and compute-sanitizer as --test-suite=cuda.
TEST_SUITE_BEGIN("cuda");

using namespace sad;
using namespace sad::test;

namespace {

// GuardedCuda's odd guard puts the output at an unaligned address (the scalar path of a
// vectorised kernel). This one keeps the view 16-byte aligned (the float4 path): 16 guard
// elements (64 bytes) on each side of a fresh, aligned allocation, same sentinel.
class AlignedGuardedCuda {
 public:
  static constexpr int64_t kGuard = 16;

  explicit AlignedGuardedCuda(const Shape& shape) : numel_(shape_numel(shape)) {
    Tensor host = Tensor::empty({numel_ + 2 * kGuard}, DType::F32, Device::cpu());
    float* h = host.data<float>();
    for (int64_t i = 0; i < host.numel(); ++i) std::memcpy(&h[i], &GuardedCuda::kSentinel, sizeof(float));
    buffer_ = host.to(cuda_device());
    view_ = buffer_.view_at(kGuard, shape);
    REQUIRE_MESSAGE(reinterpret_cast<uintptr_t>(view_.raw()) % 16 == 0, "the aligned guard buffer is not aligned");
  }
  Tensor& view() { return view_; }
  Tensor* ptr() { return &view_; }

  void check_guards(const std::string& context) const {
    std::vector<float> all = buffer_.to_vector();
    int64_t bad = 0;
    for (int64_t i = 0; i < static_cast<int64_t>(all.size()); ++i) {
      if (i >= kGuard && i < kGuard + numel_) continue;
      uint32_t bits;
      std::memcpy(&bits, &all[static_cast<size_t>(i)], sizeof(bits));
      bad += bits != GuardedCuda::kSentinel;
    }
    CHECK_MESSAGE(bad == 0, context << ": " << bad << " guard elements overwritten (aligned output)");
  }

 private:
  int64_t numel_;
  Tensor buffer_, view_;
};

}  // namespace

// ---- fusion ------------------------------------------------------------------------------------

namespace {

void fusion_parity(const Shape& shape, uint64_t seed) {
  if (skip_large({shape})) return;
  const std::string ctx = ctx_of("fusion", shape, seed);
  INFO(ctx);
  const Shape os{shape[0], 3 * shape[1], shape[2], shape[3]};
  Tensor a = random_f32(shape, seed), b = random_f32(shape, seed + 1);
  {  // every 5th element a tie: |a - b|'s subgradient there is 0 on both sides
    std::vector<float> av = a.to_vector(), bv = b.to_vector();
    for (size_t i = 0; i < av.size(); i += 5) bv[i] = av[i];
    b = Tensor::from_vector(bv, shape);
  }
  Tensor dout = random_f32(os, seed + 2);

  Tensor a64 = f64(a), b64 = f64(b);
  Tensor out_ref = Tensor::empty(os, DType::F64), da_ref = empty_like(a64), db_ref = empty_like(b64);
  ops::fusion_forward(a64, b64, out_ref);
  ops::fusion_backward(a64, b64, f64(dout), &da_ref, &db_ref);

  Tensor ac = on_cuda(a), bc = on_cuda(b), dc = on_cuda(dout);
  GuardedCuda out(os), da(shape), db(shape);  // unaligned: the scalar path
  ops::fusion_forward(ac, bc, out.view());
  ops::fusion_backward(ac, bc, dc, da.ptr(), db.ptr());
  // Copies are exact; |a - b| and d0 +- d2 are one float rounding each (<= 2^-24
  // relative) of the reference's exact double values; ties give exactly d0 and d1.
  check_parity(out.view(), out_ref, 0.0, 1.2e-7, ctx + ": out");
  check_parity(da.view(), da_ref, 0.0, 1.2e-7, ctx + ": da");
  check_parity(db.view(), db_ref, 0.0, 1.2e-7, ctx + ": db");
  out.check_guards(ctx + ": out");
  da.check_guards(ctx + ": da");
  db.check_guards(ctx + ": db");

  // Aligned outputs (the float4 path when C*H*W % 4 == 0): the same float operations per
  // element, so bit-identical to the scalar path; each gradient alone.
  AlignedGuardedCuda out4(os), da4(shape), db4(shape);
  ops::fusion_forward(ac, bc, out4.view());
  ops::fusion_backward(ac, bc, dc, da4.ptr(), nullptr);
  ops::fusion_backward(ac, bc, dc, nullptr, db4.ptr());
  check_bitwise_equal(out4.view(), out.view(), ctx + ": out, aligned");
  check_bitwise_equal(da4.view(), da.view(), ctx + ": da alone, aligned");
  check_bitwise_equal(db4.view(), db.view(), ctx + ": db alone, aligned");
  out4.check_guards(ctx + ": out");
  da4.check_guards(ctx + ": da alone");
  db4.check_guards(ctx + ": db alone");
}

}  // namespace

TEST_CASE("cuda parity: fusion forward and backward" * doctest::skip(!sad::cuda_available())) {
  const Shape shapes[] = {
      {1, 1, 1, 1},     // one element (C*H*W = 1: scalar path even when aligned)
      {2, 3, 5, 7},     // C*H*W = 105, odd
      {2, 4, 4, 4},     // C*H*W = 64: float4 path when aligned
      {3, 5, 9, 6},     // C*H*W = 270 = 2 mod 4
      {1, 8, 33, 17},   // batch 1, C*H*W = 4488 = 0 mod 4 across several blocks
      {4, 32, 96, 97},  // 1.19M elements per input, 3.6M outputs
  };
  uint64_t seed = 6000;
  for (const Shape& s : shapes) fusion_parity(s, seed += 10);
}

// ---- kl_sparsity ---------------------------------------------------------------------------------

namespace {

struct KlCase {
  Shape shape;                                   // (B, 1, H, W)
  std::vector<float> labels;                     // (B)
  std::vector<std::pair<double, double>> logit;  // per-image logit range, cycled over the batch
  const char* what;
};

// Image b's logits uniform in case.logit[b % size]; residual uniform in [0, 3] (r is
// non-negative and normalised to mean 1 in METHOD.md).
std::pair<Tensor, Tensor> kl_inputs(const KlCase& c, uint64_t seed) {
  const int64_t nb = c.shape[0], hw = c.shape[2] * c.shape[3];
  std::vector<float> l;
  for (int64_t b = 0; b < nb; ++b) {
    const auto& [lo, hi] = c.logit[static_cast<size_t>(b) % c.logit.size()];
    std::vector<float> v = random_f32({hw}, seed + 100 + static_cast<uint64_t>(b), lo, hi).to_vector();
    l.insert(l.end(), v.begin(), v.end());
  }
  return {Tensor::from_vector(l, c.shape), random_f32(c.shape, seed + 1, 0.0, 3.0)};
}

std::vector<double> column(const Tensor& stats, int col) {
  std::vector<double> all = stats.to_vector_f64(), out;
  for (size_t i = static_cast<size_t>(col); i < all.size(); i += 4) out.push_back(all[i]);
  return out;
}

void kl_parity(const ops::KlSparsityParams& p, const KlCase& c, uint64_t seed) {
  if (skip_large({c.shape})) return;
  const std::string ctx = ctx_of("kl_sparsity", c.shape, seed) + (p.weak_labels ? " weak" : " batch-level") + " rho " +
                          std::to_string(p.rho) + ": " + c.what;
  INFO(ctx);
  REQUIRE(static_cast<int64_t>(c.labels.size()) == c.shape[0]);
  const int64_t nb = c.shape[0];
  auto [l, r] = kl_inputs(c, seed);
  Tensor y = Tensor::from_vector(c.labels, {nb});
  Tensor dl = Tensor::scalar(0.75, DType::F32);

  Tensor l64 = f64(l), r64 = f64(r), y64 = f64(y);
  Tensor loss_ref = Tensor::empty({1}, DType::F64), stats_ref = Tensor::empty({nb, 4}, DType::F64);
  Tensor dl_ref = empty_like(l64);
  ops::kl_sparsity_forward(p, l64, r64, y64, loss_ref, stats_ref);
  ops::kl_sparsity_backward(p, l64, r64, y64, stats_ref, f64(dl), dl_ref);

  Tensor lc = on_cuda(l), rc = on_cuda(r), yc = on_cuda(y), dlc = on_cuda(dl);
  GuardedCuda loss({1}), stats({nb, 4}), dlog(c.shape);
  ops::kl_sparsity_forward(p, lc, rc, yc, loss.view(), stats.view());
  ops::kl_sparsity_backward(p, lc, rc, yc, stats.view(), dlc, dlog.view());

  // rho^: a mean of positive float sigmoids (<= 2 ulp each) summed in double, stored as
  // float: relative error <= ~3e-7 at any magnitude (the clamped cases hold ~1e-8 and
  // 1 - 1e-7).
  check_close(column(stats.view(), 0), column(stats_ref, 0), 0.0, 1e-6, ctx + ": stats rho^");
  // KL, fit, neg: double from those sums (fit and neg are means of positive float
  // terms); KL moves by KL'(rho^) times rho^'s error, tiny in absolute terms.
  for (int col = 1; col < 4; ++col)
    check_close(column(stats.view(), col), column(stats_ref, col), 1e-6, 1e-5,
                ctx + ": stats column " + std::to_string(col));
  check_parity(loss.view(), loss_ref, 1e-6, 1e-5, ctx + ": loss");
  // dL/dl: float arithmetic on per-image weights from the float rho^ (KL' carries
  // ~rho^'s relative error divided by rho^ ~ 1e-5 absolute), and w_s s and w_rs r s can
  // cancel: the error is relative to the image's largest terms, so the tolerance is
  // normalised by the largest gradient (the same float arithmetic run on the host: <= 2e-7).
  check_parity(dlog.view(), dl_ref, 5e-6 * max_abs(dl_ref), 1e-5, ctx + ": dlogits");
  loss.check_guards(ctx + ": loss");
  stats.check_guards(ctx + ": stats");
  dlog.check_guards(ctx + ": dlogits");

  GuardedCuda loss2({1}), stats2({nb, 4}), dlog2(c.shape);
  ops::kl_sparsity_forward(p, lc, rc, yc, loss2.view(), stats2.view());
  ops::kl_sparsity_backward(p, lc, rc, yc, stats2.view(), dlc, dlog2.view());
  check_bitwise_equal(loss2.view(), loss.view(), ctx + ": loss");
  check_bitwise_equal(stats2.view(), stats.view(), ctx + ": stats");
  check_bitwise_equal(dlog2.view(), dlog.view(), ctx + ": dlogits");
}

}  // namespace

TEST_CASE("cuda parity: kl_sparsity forward and backward / weak labels" * doctest::skip(!sad::cuda_available())) {
  // Logits around the head's initial bias log(rho / (1 - rho)) ~ -3.5, and wider.
  const std::vector<std::pair<double, double>> usual{{-6.0, -1.0}, {-4.0, 2.0}, {-8.0, 0.0}};
  const KlCase cases[] = {
      {{4, 1, 32, 32}, {1, 0, 1, 0}, usual, "mixed labels"},
      {{1, 1, 1, 1}, {1}, usual, "batch 1, one pixel, defect"},
      {{1, 1, 5, 3}, {0}, usual, "batch 1, normal"},
      {{3, 1, 17, 23}, {1, 1, 0}, usual, "H*W = 391, not a multiple of the block"},
      {{5, 1, 33, 31}, {0, 0, 0, 0, 0}, usual, "all normal"},
      {{3, 1, 9, 13}, {1, 1, 0}, {{-20.0, -15.0}, {15.0, 20.0}, {-3.0, 3.0}}, "rho^ clamped at both bounds"},
      {{4, 1, 7, 9}, {0, 1, 0, 1}, {{-20.0, -15.0}, {15.0, 20.0}}, "clamped images, labels crossed"},
      {{16, 1, 256, 256}, {1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0}, usual, "paper preset batch"},
  };
  uint64_t seed = 7000;
  for (const KlCase& c : cases)
    kl_parity(ops::KlSparsityParams{.rho = 0.03f, .beta_kl = 1.0f, .lambda_fit = 1.0f, .weak_labels = true}, c,
              seed += 10);
  kl_parity(ops::KlSparsityParams{.rho = 0.1f, .beta_kl = 2.5f, .lambda_fit = 0.5f, .weak_labels = true}, cases[0],
            seed += 10);  // non-default weights
}

TEST_CASE("cuda parity: kl_sparsity forward and backward / batch-level prior" * doctest::skip(!sad::cuda_available())) {
  const std::vector<std::pair<double, double>> usual{{-6.0, -1.0}, {-4.0, 2.0}, {-8.0, 0.0}};
  const KlCase cases[] = {
      {{4, 1, 32, 32}, {1, 0, 1, 0}, usual, "labels ignored"},
      {{1, 1, 1, 1}, {0}, usual, "batch 1, one pixel"},
      {{3, 1, 17, 23}, {1, 1, 0}, usual, "H*W = 391"},
      {{2, 1, 7, 9}, {1, 0}, {{-20.0, -15.0}}, "batch rho^ clamped below"},
      {{2, 1, 5, 5}, {1, 1}, {{15.0, 20.0}}, "batch rho^ clamped above"},
      {{3, 1, 6, 6}, {1, 0, 1}, {{-20.0, -15.0}, {-20.0, -15.0}, {-1.0, 1.0}}, "one image lifts the batch mean"},
      {{16, 1, 256, 256}, std::vector<float>(16, 1.0f), usual, "paper preset batch"},
  };
  uint64_t seed = 8000;
  for (const KlCase& c : cases)
    kl_parity(ops::KlSparsityParams{.rho = 0.02f, .beta_kl = 10.0f, .lambda_fit = 1.0f, .weak_labels = false}, c,
              seed += 10);
}

TEST_SUITE_END();
