// TEMPORARY: CUDA element-wise ops (unary, binary, axpy, fill, adam_step) not yet written. Each throws a clear error;
// dispatch only reaches them for CUDA tensors. Delete each function as its kernel lands
// (kernels/cuda/<op>.cu) and the file when it is empty.
#include "kernels/cuda/cuda_ops.h"

namespace sad::cuda {

void unary_forward(const ops::UnaryParams& p, const Tensor& inp, Tensor& out) {
  SAD_FAIL("cuda::unary_forward: not implemented yet");
}
void unary_backward(const ops::UnaryParams& p, const Tensor& inp, const Tensor& out, const Tensor& dout, Tensor& dinp) {
  SAD_FAIL("cuda::unary_backward: not implemented yet");
}
void binary_forward(const ops::BinaryParams& p, const Tensor& a, const Tensor& b, Tensor& out) {
  SAD_FAIL("cuda::binary_forward: not implemented yet");
}
void binary_backward(const ops::BinaryParams& p, const Tensor& a, const Tensor& b, const Tensor& dout, Tensor* da,
                     Tensor* db) {
  SAD_FAIL("cuda::binary_backward: not implemented yet");
}
void axpy(float alpha, const Tensor& x, Tensor& y) { SAD_FAIL("cuda::axpy: not implemented yet"); }
void fill(Tensor& t, float value) { SAD_FAIL("cuda::fill: not implemented yet"); }
void adam_step(const ops::AdamParams& p, Tensor& param, const Tensor& grad, Tensor& m, Tensor& v) {
  SAD_FAIL("cuda::adam_step: not implemented yet");
}

}  // namespace sad::cuda
