// CPU reference implementations: the specification every other backend is checked
// against. Plain loops, double accumulators for reductions, OpenMP at most, OpenBLAS for
// GEMM. Each works on float32 and float64 (for double-precision gradient checks).
// Signatures mirror kernels/ops.h; inputs were validated there, so nothing is checked
// twice here. One file per op: kernels/cpu/<op>.cpp.
#pragma once

#include "kernels/ops.h"

namespace sad::cpu {

void conv2d_forward(const ops::Conv2dParams& p, const Tensor& inp, const Tensor& weight, const Tensor* bias,
                    Tensor& out);
void conv2d_backward(const ops::Conv2dParams& p, const Tensor& inp, const Tensor& weight, const Tensor& dout,
                     Tensor* dinp, Tensor* dweight, Tensor* dbias);
void gemm(const ops::GemmParams& p, const Tensor& a, const Tensor& b, Tensor& c);
void batch_norm2d_forward(const ops::BatchNormParams& p, const Tensor& inp, const Tensor& gamma, const Tensor& beta,
                          Tensor& running_mean, Tensor& running_var, Tensor& out, Tensor& save_mean,
                          Tensor& save_invstd);
void batch_norm2d_backward(const ops::BatchNormParams& p, const Tensor& inp, const Tensor& gamma,
                           const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dout, Tensor* dinp,
                           Tensor* dgamma, Tensor* dbeta);
void unary_forward(const ops::UnaryParams& p, const Tensor& inp, Tensor& out);
void unary_backward(const ops::UnaryParams& p, const Tensor& inp, const Tensor& out, const Tensor& dout,
                    Tensor& dinp);
void binary_forward(const ops::BinaryParams& p, const Tensor& a, const Tensor& b, Tensor& out);
void binary_backward(const ops::BinaryParams& p, const Tensor& a, const Tensor& b, const Tensor& dout, Tensor* da,
                     Tensor* db);
void concat(const ops::ConcatParams& p, std::span<const Tensor> inputs, Tensor& out);
void split(const ops::ConcatParams& p, const Tensor& inp, std::span<Tensor> outputs);
void upsample_nearest_forward(const ops::UpsampleParams& p, const Tensor& inp, Tensor& out);
void upsample_nearest_backward(const ops::UpsampleParams& p, const Tensor& dout, Tensor& dinp);
void resize_bilinear_forward(const ops::ResizeParams& p, const Tensor& inp, Tensor& out);
void resize_bilinear_backward(const ops::ResizeParams& p, const Tensor& dout, Tensor& dinp);
void avg_pool2d_forward(const ops::AvgPoolParams& p, const Tensor& inp, Tensor& out);
void avg_pool2d_backward(const ops::AvgPoolParams& p, const Tensor& dout, Tensor& dinp);
void reduce_forward(const ops::ReduceParams& p, const Tensor& inp, Tensor& out);
void reduce_backward(const ops::ReduceParams& p, const Tensor& dout, Tensor& dinp);
void pointwise_loss_forward(const ops::PointwiseLossParams& p, const Tensor& a, const Tensor& b, Tensor& loss);
void pointwise_loss_backward(const ops::PointwiseLossParams& p, const Tensor& a, const Tensor& b,
                             const Tensor& dloss, Tensor* da, Tensor* db);
void bce_with_logits_forward(const Tensor& logits, const Tensor& target, Tensor& loss);
void bce_with_logits_backward(const Tensor& logits, const Tensor& target, const Tensor& dloss, Tensor& dlogits);
void ssim_forward(const ops::SsimParams& p, const Tensor& x, const Tensor& y, Tensor& map);
void ssim_backward(const ops::SsimParams& p, const Tensor& x, const Tensor& y, const Tensor& dmap, Tensor* dx,
                   Tensor* dy);
void focal_loss_forward(const ops::FocalParams& p, const Tensor& logits, const Tensor& target, Tensor& loss);
void focal_loss_backward(const ops::FocalParams& p, const Tensor& logits, const Tensor& target, const Tensor& dloss,
                         Tensor& dlogits);
void fusion_forward(const Tensor& a, const Tensor& b, Tensor& out);
void fusion_backward(const Tensor& a, const Tensor& b, const Tensor& dout, Tensor* da, Tensor* db);
void kl_sparsity_forward(const ops::KlSparsityParams& p, const Tensor& logits, const Tensor& residual,
                         const Tensor& labels, Tensor& loss, Tensor& stats);
void kl_sparsity_backward(const ops::KlSparsityParams& p, const Tensor& logits, const Tensor& residual,
                          const Tensor& labels, const Tensor& stats, const Tensor& dloss, Tensor& dlogits);
void adam_step(const ops::AdamParams& p, Tensor& param, const Tensor& grad, Tensor& m, Tensor& v);
void axpy(float alpha, const Tensor& x, Tensor& y);
void fill(Tensor& t, float value);

// Runs f with T = float or double according to dtype:
//   dispatch_float(x.dtype(), [&]<typename T>(TypeTag<T>) { ... T* p = x.data<T>(); ... });
// (A lambda rather than a macro, so that OpenMP pragmas may appear in the body.)
template <typename T>
struct TypeTag {
  using type = T;
};
template <typename F>
void dispatch_float(DType dtype, F&& f) {
  if (dtype == DType::F64)
    f(TypeTag<double>{});
  else
    f(TypeTag<float>{});
}

}  // namespace sad::cpu
