// TEMPORARY: CUDA vendor-library ops (conv2d, gemm, batch_norm2d) not yet written. Each throws a clear error;
// dispatch only reaches them for CUDA tensors. Delete each function as its kernel lands
// (kernels/cuda/<op>.cu) and the file when it is empty.
#include "kernels/cuda/cuda_ops.h"

namespace sad::cuda {

void conv2d_forward(const ops::Conv2dParams& p, const Tensor& inp, const Tensor& weight, const Tensor* bias,
                    Tensor& out) {
  SAD_FAIL("cuda::conv2d_forward: not implemented yet");
}
void conv2d_backward(const ops::Conv2dParams& p, const Tensor& inp, const Tensor& weight, const Tensor& dout,
                     Tensor* dinp, Tensor* dweight, Tensor* dbias) {
  SAD_FAIL("cuda::conv2d_backward: not implemented yet");
}
void gemm(const ops::GemmParams& p, const Tensor& a, const Tensor& b, Tensor& c) {
  SAD_FAIL("cuda::gemm: not implemented yet");
}
void batch_norm2d_forward(const ops::BatchNormParams& p, const Tensor& inp, const Tensor& gamma, const Tensor& beta,
                          Tensor& running_mean, Tensor& running_var, Tensor& out, Tensor& save_mean,
                          Tensor& save_invstd) {
  SAD_FAIL("cuda::batch_norm2d_forward: not implemented yet");
}
void batch_norm2d_backward(const ops::BatchNormParams& p, const Tensor& inp, const Tensor& gamma,
                           const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dout, Tensor* dinp,
                           Tensor* dgamma, Tensor* dbeta) {
  SAD_FAIL("cuda::batch_norm2d_backward: not implemented yet");
}

}  // namespace sad::cuda
