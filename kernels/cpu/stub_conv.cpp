// TEMPORARY: not yet implemented CPU ops (delete each function as it lands; delete the file when empty).
#include "kernels/cpu/cpu_ops.h"

namespace sad::cpu {

void conv2d_forward(const ops::Conv2dParams& p, const Tensor& inp, const Tensor& weight, const Tensor* bias, Tensor& out) { SAD_FAIL("cpu::conv2d_forward: not implemented yet"); }
void conv2d_backward(const ops::Conv2dParams& p, const Tensor& inp, const Tensor& weight, const Tensor& dout, Tensor* dinp, Tensor* dweight, Tensor* dbias) { SAD_FAIL("cpu::conv2d_backward: not implemented yet"); }
void gemm(const ops::GemmParams& p, const Tensor& a, const Tensor& b, Tensor& c) { SAD_FAIL("cpu::gemm: not implemented yet"); }
void batch_norm2d_forward(const ops::BatchNormParams& p, const Tensor& inp, const Tensor& gamma, const Tensor& beta, Tensor& running_mean, Tensor& running_var, Tensor& out, Tensor& save_mean, Tensor& save_invstd) { SAD_FAIL("cpu::batch_norm2d_forward: not implemented yet"); }
void batch_norm2d_backward(const ops::BatchNormParams& p, const Tensor& inp, const Tensor& gamma, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dout, Tensor* dinp, Tensor* dgamma, Tensor* dbeta) { SAD_FAIL("cpu::batch_norm2d_backward: not implemented yet"); }

}  // namespace sad::cpu
