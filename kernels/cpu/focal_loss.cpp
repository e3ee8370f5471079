// CPU reference for the binary focal loss on logits (mean), the loss of METHOD.md's
// `mask-supervised` ablation (gamma 2):
//   FL = -[a+ t (1-p)^gamma log p + a- (1-t) p^gamma log(1-p)],   p = sigmoid(l),
// with a+ = alpha, a- = 1 - alpha when alpha >= 0, else a+ = a- = 1.
// Every factor comes from the logit without forming 1 - p by subtraction:
// 1 - p = sigmoid(-l), log p = -softplus(-l), log(1 - p) = -softplus(l), so logits of
// any size give finite values and gradients.
#include <algorithm>
#include <cmath>

#include "kernels/checks.h"
#include "kernels/cpu/cpu_ops.h"

// ---- the contract: the checks kernels/ops.h runs before either backend ----------------------

namespace sad::ops::contract {

using namespace detail;

const Tensor& focal_loss_forward(const FocalParams& p, const Tensor& logits, const Tensor& target, Tensor& loss) {
  const char* op = "focal_loss";
  check_call(op, OpId::FocalLoss, "logits", logits, {{"target", &target}, {"loss", &loss}});
  check_shape(op, "target", target, logits.shape());
  SAD_CHECK(logits.numel() > 0 && p.gamma >= 0, op, ": empty input or negative gamma");
  check_scalar(op, "loss", loss);
  return logits;
}

const Tensor& focal_loss_backward(const FocalParams& p, const Tensor& logits, const Tensor& target, const Tensor& dloss,
                                  Tensor& dlogits) {
  const char* op = "focal_loss_backward";
  check_call(op, OpId::FocalLoss, "logits", logits, {{"target", &target}, {"dloss", &dloss}, {"dlogits", &dlogits}});
  check_shape(op, "target", target, logits.shape());
  check_shape(op, "dlogits", dlogits, logits.shape());
  check_scalar(op, "dloss", dloss);
  return logits;
}

}  // namespace sad::ops::contract

namespace sad::cpu {

namespace {

double softplus(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); }
double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  double e = std::exp(x);
  return e / (1.0 + e);
}

struct FocalTerms {
  double p, q;          // sigmoid(l), 1 - sigmoid(l)
  double log_p, log_q;  // log p, log(1 - p)
  double w_pos, w_neg;  // class weights a+ t, a- (1 - t)
};

FocalTerms focal_terms(const ops::FocalParams& prm, double l, double t) {
  FocalTerms f;
  f.p = sigmoid(l);
  f.q = sigmoid(-l);
  f.log_p = -softplus(-l);
  f.log_q = -softplus(l);
  const double a_pos = prm.alpha >= 0 ? prm.alpha : 1.0;
  const double a_neg = prm.alpha >= 0 ? 1.0 - prm.alpha : 1.0;
  f.w_pos = a_pos * t;
  f.w_neg = a_neg * (1.0 - t);
  return f;
}

}  // namespace

void focal_loss_forward(const ops::FocalParams& p, const Tensor& logits, const Tensor& target, Tensor& loss) {
  dispatch_float(logits.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* l = logits.data<T>();  // (any shape)
    const T* t = target.data<T>();  // (same shape), values in [0, 1]
    const double gamma = p.gamma;
    int64_t n = logits.numel();
    double sum = 0;  // sequential: independent of the thread count
    for (int64_t i = 0; i < n; ++i) {
      FocalTerms f = focal_terms(p, l[i], t[i]);
      sum -= f.w_pos * std::pow(f.q, gamma) * f.log_p + f.w_neg * std::pow(f.p, gamma) * f.log_q;
    }
    loss.data<T>()[0] = static_cast<T>(sum / static_cast<double>(n));
  });
}

// Derivatives, with dp/dl = p q, dq/dl = -p q, d log p/dl = q, d log q/dl = -p:
//   d/dl [q^g log p] = q^g [q - g p log p]
//   d/dl [p^g log q] = p^g [g q log q - p]
// (no negative power of p or q appears, so gamma < 1 and saturated logits are safe).
void focal_loss_backward(const ops::FocalParams& p, const Tensor& logits, const Tensor& target, const Tensor& dloss,
                         Tensor& dlogits) {
  dispatch_float(logits.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* l = logits.data<T>();
    const T* t = target.data<T>();
    T* dl = dlogits.data<T>();
    const double gamma = p.gamma;
    int64_t n = logits.numel();
    const double scale = static_cast<double>(dloss.data<T>()[0]) / static_cast<double>(n);
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; ++i) {
      FocalTerms f = focal_terms(p, l[i], t[i]);
      double d_pos = std::pow(f.q, gamma) * (f.q - gamma * f.p * f.log_p);
      double d_neg = std::pow(f.p, gamma) * (gamma * f.q * f.log_q - f.p);
      dl[i] = static_cast<T>(-scale * (f.w_pos * d_pos + f.w_neg * d_neg));
    }
  });
}

}  // namespace sad::cpu
