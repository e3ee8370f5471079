// CPU reference for kl_sparsity, the sparsity-prior loss L_S of METHOD.md, on the
// segmentation logits l (B, 1, H, W), with M = sigmoid(l):
//   rho^_b = mean_ij M_bij, clamped to [1e-6, 1 - 1e-6] for the KL only
//   KL_b   = KL(rho || rho^_b) = rho log(rho / rho^_b) + (1 - rho) log((1 - rho) / (1 - rho^_b))
//   fit_b  = mean_ij (1 - M_bij) r_bij        neg_b = mean_ij -log(1 - M_bij) = mean_ij softplus(l_bij)
//   weak_labels = true:  L = mean_b [ y_b (beta_kl KL_b + lambda_fit fit_b) + (1 - y_b) neg_b ]
//   weak_labels = false: L = mean_bij (1 - M) r + beta_kl KL(rho || mean_bij M)   (labels ignored)
// 1 - M is sigmoid(-l) and -log(1 - M) is softplus(l), never 1 - M by subtraction, so
// logits of any size give finite values and exact gradients.
//
// stats (B, 4) = [rho^_b, KL_b, fit_b, neg_b]. The first column holds the mean activation
// BEFORE the clamp (the diagnostic worth printing, 2e-9 rather than 1e-6), so backward can
// tell exactly whether the clamp was active; KL_b is computed from the clamped value. With
// weak_labels = false every row holds the batch-level rho^ and KL, and the image's own fit
// and neg. Backward reads rho^ from stats instead of reducing the logits a second time.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "kernels/checks.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/lane_sum.h"
#include "kernels/cpu/vmath.h"

// ---- the contract: the checks kernels/ops.h runs before either backend ----------------------

namespace sad::ops::contract {

using namespace detail;

static void check_kl_inputs(const char* op, const KlSparsityParams& p, const Tensor& logits, const Tensor& residual,
                            const Tensor& labels) {
  check_ndim(op, "logits", logits, 4);
  SAD_CHECK(logits.dim(1) == 1, op, ": logits must have one channel, got ", shape_str(logits.shape()));
  SAD_CHECK(logits.dim(0) > 0 && logits.dim(2) * logits.dim(3) > 0, op, ": empty logits ", shape_str(logits.shape()));
  check_shape(op, "residual", residual, logits.shape());
  check_shape(op, "labels", labels, {logits.dim(0)});
  SAD_CHECK(p.rho > 0 && p.rho < 1, op, ": rho must lie in (0, 1), got ", p.rho);
}

const Tensor& kl_sparsity_forward(const KlSparsityParams& p, const Tensor& logits, const Tensor& residual,
                                  const Tensor& labels, Tensor& loss, Tensor& stats) {
  const char* op = "kl_sparsity_forward";
  check_call(op, OpId::KlSparsity, "logits", logits,
             {{"residual", &residual}, {"labels", &labels}, {"loss", &loss}, {"stats", &stats}});
  check_kl_inputs(op, p, logits, residual, labels);
  check_scalar(op, "loss", loss);
  check_shape(op, "stats", stats, {logits.dim(0), 4});
  return logits;
}

const Tensor& kl_sparsity_backward(const KlSparsityParams& p, const Tensor& logits, const Tensor& residual,
                                   const Tensor& labels, const Tensor& stats, const Tensor& dloss, Tensor& dlogits) {
  const char* op = "kl_sparsity_backward";
  check_call(
      op, OpId::KlSparsity, "logits", logits,
      {{"residual", &residual}, {"labels", &labels}, {"stats", &stats}, {"dloss", &dloss}, {"dlogits", &dlogits}});
  check_kl_inputs(op, p, logits, residual, labels);
  check_shape(op, "stats", stats, {logits.dim(0), 4});
  check_scalar(op, "dloss", dloss);
  check_shape(op, "dlogits", dlogits, logits.shape());
  return logits;
}

}  // namespace sad::ops::contract

namespace sad::cpu {

namespace {

constexpr double kRhoLo = 1e-6, kRhoHi = 1.0 - 1e-6;

// sigmoid(l), sigmoid(-l) and softplus(l) = -log(1 - sigmoid(l)) from one exponential,
// e = exp(-|l|): the stable forms (1 / (1 + e) on the side where e is small, e / (1 + e) on
// the other, max(l, 0) + log1p(e)), the same values bit for bit as evaluating each with its
// own exp, at a third of the exps.
struct LogitTerms {
  double m, m_comp, e;  // sigmoid(l), sigmoid(-l), exp(-|l|)
};
LogitTerms logit_terms(double l) {
  const double e = std::exp(-std::abs(l)), big = 1.0 / (1.0 + e), small = e / (1.0 + e);
  return l >= 0 ? LogitTerms{big, small, e} : LogitTerms{small, big, e};
}
double softplus(double l, double e) { return std::max(l, 0.0) + std::log1p(e); }

double kl_bernoulli(double rho, double q) {
  return rho * std::log(rho / q) + (1 - rho) * std::log((1 - rho) / (1 - q));
}
// dKL(rho || q)/dq at the clamped q, and 0 where the clamp is active (raw q outside the
// bounds): the clamped value does not move with the logits there.
double kl_slope(double rho, double raw_q) {
  if (raw_q < kRhoLo || raw_q > kRhoHi) return 0.0;
  return -rho / raw_q + (1 - rho) / (1 - raw_q);
}

// float32: the per-element terms in float from one vectorised exponential
// (kernels/cpu/vmath.h). Element i goes to lane i % 16; each lane sums up to 64 terms in
// float (a vector register per sum), then adds that partial sum into its double lane, and
// the 16 double lanes are added in a fixed tree (kernels/cpu/lane_sum.h). The order depends
// on n alone, so the sums are the same bits on every instruction-set path and for any thread
// count. (Converting every term to double cost 2.3x the time.) Each step asks for the cache
// line 4 KiB ahead of l and r (prefetch_ahead): without it this loop, too slow per byte to
// trigger the hardware prefetcher, spent two thirds of its time waiting on memory (217 ms
// against 74 ms for 64 M logits, docs/BENCHMARKS.md). float64 (the gradient checks) keeps
// the libm loop below.
void image_sums_f32(const float* l, const float* r, int64_t n, double& sum_m, double& sum_fit, double& sum_neg) {
  constexpr int kL = LaneSum::kLanes;
  constexpr int64_t kBlock = 64 * kL;  // elements per float partial sum of a lane: 64
  double sm[kL] = {}, sf[kL] = {}, sn[kL] = {};
  int64_t i = 0;
  const int64_t full = n - n % kL;
  while (i < full) {
    float pm[kL] = {}, pf[kL] = {}, pn[kL] = {};
    const int64_t end = std::min(full, i + kBlock);
    for (; i < end; i += kL) {
      prefetch_ahead(l + i);
      prefetch_ahead(r + i);
      for (int lane = 0; lane < kL; ++lane) {
        const vm::Logistic t = vm::logistic(l[i + lane]);
        pm[lane] += t.m;
        pf[lane] += t.m_comp * r[i + lane];
        pn[lane] += vm::softplus(l[i + lane], t.e);
      }
    }
    for (int lane = 0; lane < kL; ++lane) sm[lane] += pm[lane], sf[lane] += pf[lane], sn[lane] += pn[lane];
  }
  for (int lane = 0; i < n; ++i, ++lane) {
    const vm::Logistic t = vm::logistic(l[i]);
    sm[lane] += t.m, sf[lane] += t.m_comp * r[i], sn[lane] += vm::softplus(l[i], t.e);
  }
  sum_m = lane_tree(sm);
  sum_fit = lane_tree(sf);
  sum_neg = lane_tree(sn);
}

// dl = a s + c r s + d M with s = M (1 - M), in float (the weights a, c, d already scaled).
void image_grad_f32(const float* __restrict__ l, const float* __restrict__ r, float* __restrict__ dl, int64_t n,
                    float a, float c, float d) {
  for_lines_prefetched(
      0, n,
      [=](int64_t k) {
        const vm::Logistic t = vm::logistic(l[k]);
        const float s = t.m * t.m_comp;
        dl[k] = a * s + c * r[k] * s + d * t.m;
      },
      l, r);
}

}  // namespace

void kl_sparsity_forward(const ops::KlSparsityParams& p, const Tensor& logits, const Tensor& residual,
                         const Tensor& labels, Tensor& loss, Tensor& stats) {
  dispatch_float(logits.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* l = logits.data<T>();    // (B, 1, H, W)
    const T* r = residual.data<T>();  // (B, 1, H, W)
    const T* y = labels.data<T>();    // (B)
    T* st = stats.data<T>();          // (B, 4)
    const int64_t nb = logits.dim(0), hw = logits.dim(2) * logits.dim(3);
    const double rho = p.rho, beta = p.beta_kl, lambda = p.lambda_fit;

    // Pass 1, per image (independent, so the image loop may run in parallel): the sums
    // of M, (1 - M) r and softplus(l), each in a sequential double accumulator.
    std::vector<double> sum_m(nb), sum_fit(nb), sum_neg(nb);
#pragma omp parallel for schedule(static) if (nb > 1 && nb * hw > 32768)
    for (int64_t b = 0; b < nb; ++b) {
      if constexpr (std::is_same_v<T, float>) {
        isa_run([&] { image_sums_f32(l + b * hw, r + b * hw, hw, sum_m[b], sum_fit[b], sum_neg[b]); });
      } else {
        double sm = 0, sf = 0, sn = 0;
        for (int64_t k = 0; k < hw; ++k) {
          const double li = l[b * hw + k];
          const LogitTerms t = logit_terms(li);
          sm += t.m;
          sf += t.m_comp * static_cast<double>(r[b * hw + k]);
          sn += softplus(li, t.e);
        }
        sum_m[b] = sm;
        sum_fit[b] = sf;
        sum_neg[b] = sn;
      }
    }

    // Pass 2: the per-image terms and the loss, in image order.
    const double n = static_cast<double>(hw);
    double total = 0;
    if (p.weak_labels) {
      for (int64_t b = 0; b < nb; ++b) {
        const double raw = sum_m[b] / n, fit = sum_fit[b] / n, neg = sum_neg[b] / n;
        const double kl = kl_bernoulli(rho, std::clamp(raw, kRhoLo, kRhoHi));
        const double yb = y[b];
        total += yb * (beta * kl + lambda * fit) + (1 - yb) * neg;
        st[b * 4 + 0] = static_cast<T>(raw);
        st[b * 4 + 1] = static_cast<T>(kl);
        st[b * 4 + 2] = static_cast<T>(fit);
        st[b * 4 + 3] = static_cast<T>(neg);
      }
      total /= static_cast<double>(nb);
    } else {
      double all_m = 0, all_fit = 0;
      for (int64_t b = 0; b < nb; ++b) {
        all_m += sum_m[b];
        all_fit += sum_fit[b];
      }
      const double count = n * static_cast<double>(nb);
      const double raw = all_m / count;
      const double kl = kl_bernoulli(rho, std::clamp(raw, kRhoLo, kRhoHi));
      total = all_fit / count + beta * kl;
      for (int64_t b = 0; b < nb; ++b) {
        st[b * 4 + 0] = static_cast<T>(raw);
        st[b * 4 + 1] = static_cast<T>(kl);
        st[b * 4 + 2] = static_cast<T>(sum_fit[b] / n);
        st[b * 4 + 3] = static_cast<T>(sum_neg[b] / n);
      }
    }
    loss.data<T>()[0] = static_cast<T>(total);
  });
}

// dL/dl_ij, with dM/dl = M (1 - M) = sigmoid(l) sigmoid(-l) =: s, and d rho^_b/dl_bij = s / HW:
//   weak_labels = true, image b:
//     dL/dl = (dloss / B) [ y_b (beta_kl KL'(rho^_b) s / HW - lambda_fit r s / HW) + (1 - y_b) M / HW ]
//   weak_labels = false:
//     dL/dl = dloss [ -r s + beta_kl KL'(rho^) s ] / (B HW)
// with KL'(q) = dKL(rho || q)/dq = -rho / q + (1 - rho) / (1 - q), and KL' = 0 where the
// clamp is active. d fit/dl = -r s (through 1 - M); d softplus(l)/dl = M.
void kl_sparsity_backward(const ops::KlSparsityParams& p, const Tensor& logits, const Tensor& residual,
                          const Tensor& labels, const Tensor& stats, const Tensor& dloss, Tensor& dlogits) {
  dispatch_float(logits.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* l = logits.data<T>();    // (B, 1, H, W)
    const T* r = residual.data<T>();  // (B, 1, H, W)
    const T* y = labels.data<T>();    // (B)
    const T* st = stats.data<T>();    // (B, 4) from forward
    T* dl = dlogits.data<T>();        // (B, 1, H, W)
    const int64_t nb = logits.dim(0), hw = logits.dim(2) * logits.dim(3);
    const double rho = p.rho, beta = p.beta_kl, lambda = p.lambda_fit;
    const double scale = static_cast<double>(dloss.data<T>()[0]) / (static_cast<double>(nb) * hw);
#pragma omp parallel for schedule(static) if (nb * hw > 32768)
    for (int64_t b = 0; b < nb; ++b) {
      // Per-image weights of s, of r s and of M in dL/dl (before the common scale).
      const double kl_w = beta * kl_slope(rho, static_cast<double>(st[b * 4 + 0]));
      double w_s, w_rs, w_m;
      if (p.weak_labels) {
        const double yb = y[b];
        w_s = yb * kl_w;
        w_rs = -yb * lambda;
        w_m = 1 - yb;
      } else {
        w_s = kl_w;
        w_rs = -1.0;
        w_m = 0.0;
      }
      if constexpr (std::is_same_v<T, float>) {
        const float a = static_cast<float>(scale * w_s), c = static_cast<float>(scale * w_rs),
                    d = static_cast<float>(scale * w_m);
        isa_run([&] { image_grad_f32(l + b * hw, r + b * hw, dl + b * hw, hw, a, c, d); });
      } else {
        for (int64_t k = 0; k < hw; ++k) {
          const int64_t i = b * hw + k;
          const LogitTerms t = logit_terms(l[i]);
          const double m = t.m, s = m * t.m_comp;
          dl[i] = static_cast<T>(scale * (w_s * s + w_rs * static_cast<double>(r[i]) * s + w_m * m));
        }
      }
    }
  });
}

}  // namespace sad::cpu
