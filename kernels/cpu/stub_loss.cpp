// TEMPORARY: not yet implemented CPU ops (delete each function as it lands; delete the file when empty).
#include "kernels/cpu/cpu_ops.h"

namespace sad::cpu {

void pointwise_loss_forward(const ops::PointwiseLossParams& p, const Tensor& a, const Tensor& b, Tensor& loss) { SAD_FAIL("cpu::pointwise_loss_forward: not implemented yet"); }
void pointwise_loss_backward(const ops::PointwiseLossParams& p, const Tensor& a, const Tensor& b, const Tensor& dloss, Tensor* da, Tensor* db) { SAD_FAIL("cpu::pointwise_loss_backward: not implemented yet"); }
void bce_with_logits_forward(const Tensor& logits, const Tensor& target, Tensor& loss) { SAD_FAIL("cpu::bce_with_logits_forward: not implemented yet"); }
void bce_with_logits_backward(const Tensor& logits, const Tensor& target, const Tensor& dloss, Tensor& dlogits) { SAD_FAIL("cpu::bce_with_logits_backward: not implemented yet"); }
void ssim_forward(const ops::SsimParams& p, const Tensor& x, const Tensor& y, Tensor& map) { SAD_FAIL("cpu::ssim_forward: not implemented yet"); }
void ssim_backward(const ops::SsimParams& p, const Tensor& x, const Tensor& y, const Tensor& dmap, Tensor* dx, Tensor* dy) { SAD_FAIL("cpu::ssim_backward: not implemented yet"); }
void focal_loss_forward(const ops::FocalParams& p, const Tensor& logits, const Tensor& target, Tensor& loss) { SAD_FAIL("cpu::focal_loss_forward: not implemented yet"); }
void focal_loss_backward(const ops::FocalParams& p, const Tensor& logits, const Tensor& target, const Tensor& dloss, Tensor& dlogits) { SAD_FAIL("cpu::focal_loss_backward: not implemented yet"); }
void fusion_forward(const Tensor& a, const Tensor& b, Tensor& out) { SAD_FAIL("cpu::fusion_forward: not implemented yet"); }
void fusion_backward(const Tensor& a, const Tensor& b, const Tensor& dout, Tensor* da, Tensor* db) { SAD_FAIL("cpu::fusion_backward: not implemented yet"); }
void kl_sparsity_forward(const ops::KlSparsityParams& p, const Tensor& logits, const Tensor& residual, const Tensor& labels, Tensor& loss, Tensor& stats) { SAD_FAIL("cpu::kl_sparsity_forward: not implemented yet"); }
void kl_sparsity_backward(const ops::KlSparsityParams& p, const Tensor& logits, const Tensor& residual, const Tensor& labels, const Tensor& stats, const Tensor& dloss, Tensor& dlogits) { SAD_FAIL("cpu::kl_sparsity_backward: not implemented yet"); }

}  // namespace sad::cpu
