// TEMPORARY: CUDA losses (kl_sparsity) not yet written. Each throws a clear
// error; dispatch only reaches them for CUDA tensors. Delete each function as its kernel lands (kernels/cuda/<op>.cu)
// and the file when it is empty.
#include "kernels/cuda/cuda_ops.h"

namespace sad::cuda {

void kl_sparsity_forward(const ops::KlSparsityParams& p, const Tensor& logits, const Tensor& residual,
                         const Tensor& labels, Tensor& loss, Tensor& stats) {
  SAD_FAIL("cuda::kl_sparsity_forward: not implemented yet");
}
void kl_sparsity_backward(const ops::KlSparsityParams& p, const Tensor& logits, const Tensor& residual,
                          const Tensor& labels, const Tensor& stats, const Tensor& dloss, Tensor& dlogits) {
  SAD_FAIL("cuda::kl_sparsity_backward: not implemented yet");
}

}  // namespace sad::cuda
