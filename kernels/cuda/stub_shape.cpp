// TEMPORARY: CUDA shape ops (concat, split, upsample, resize, avg_pool, reduce) not yet written. Each throws a clear
// error; dispatch only reaches them for CUDA tensors. Delete each function as its kernel lands (kernels/cuda/<op>.cu)
// and the file when it is empty.
#include "kernels/cuda/cuda_ops.h"

namespace sad::cuda {

void concat(const ops::ConcatParams& p, std::span<const Tensor> inputs, Tensor& out) {
  SAD_FAIL("cuda::concat: not implemented yet");
}
void split(const ops::ConcatParams& p, const Tensor& inp, std::span<Tensor> outputs) {
  SAD_FAIL("cuda::split: not implemented yet");
}
void upsample_nearest_forward(const ops::UpsampleParams& p, const Tensor& inp, Tensor& out) {
  SAD_FAIL("cuda::upsample_nearest_forward: not implemented yet");
}
void upsample_nearest_backward(const ops::UpsampleParams& p, const Tensor& dout, Tensor& dinp) {
  SAD_FAIL("cuda::upsample_nearest_backward: not implemented yet");
}
void resize_bilinear_forward(const ops::ResizeParams& p, const Tensor& inp, Tensor& out) {
  SAD_FAIL("cuda::resize_bilinear_forward: not implemented yet");
}
void resize_bilinear_backward(const ops::ResizeParams& p, const Tensor& dout, Tensor& dinp) {
  SAD_FAIL("cuda::resize_bilinear_backward: not implemented yet");
}
void avg_pool2d_forward(const ops::AvgPoolParams& p, const Tensor& inp, Tensor& out) {
  SAD_FAIL("cuda::avg_pool2d_forward: not implemented yet");
}
void avg_pool2d_backward(const ops::AvgPoolParams& p, const Tensor& dout, Tensor& dinp) {
  SAD_FAIL("cuda::avg_pool2d_backward: not implemented yet");
}
void reduce_forward(const ops::ReduceParams& p, const Tensor& inp, Tensor& out) {
  SAD_FAIL("cuda::reduce_forward: not implemented yet");
}
void reduce_backward(const ops::ReduceParams& p, const Tensor& dout, Tensor& dinp) {
  SAD_FAIL("cuda::reduce_backward: not implemented yet");
}

}  // namespace sad::cuda
