// TEMPORARY: not yet implemented CPU ops (delete each function as it lands; delete the file when empty).
#include "kernels/cpu/cpu_ops.h"

namespace sad::cpu {

void binary_forward(const ops::BinaryParams& p, const Tensor& a, const Tensor& b, Tensor& out) { SAD_FAIL("cpu::binary_forward: not implemented yet"); }
void binary_backward(const ops::BinaryParams& p, const Tensor& a, const Tensor& b, const Tensor& dout, Tensor* da, Tensor* db) { SAD_FAIL("cpu::binary_backward: not implemented yet"); }
void concat(const ops::ConcatParams& p, std::span<const Tensor> inputs, Tensor& out) { SAD_FAIL("cpu::concat: not implemented yet"); }
void split(const ops::ConcatParams& p, const Tensor& inp, std::span<Tensor> outputs) { SAD_FAIL("cpu::split: not implemented yet"); }
void upsample_nearest_forward(const ops::UpsampleParams& p, const Tensor& inp, Tensor& out) { SAD_FAIL("cpu::upsample_nearest_forward: not implemented yet"); }
void upsample_nearest_backward(const ops::UpsampleParams& p, const Tensor& dout, Tensor& dinp) { SAD_FAIL("cpu::upsample_nearest_backward: not implemented yet"); }
void resize_bilinear_forward(const ops::ResizeParams& p, const Tensor& inp, Tensor& out) { SAD_FAIL("cpu::resize_bilinear_forward: not implemented yet"); }
void resize_bilinear_backward(const ops::ResizeParams& p, const Tensor& dout, Tensor& dinp) { SAD_FAIL("cpu::resize_bilinear_backward: not implemented yet"); }
void avg_pool2d_forward(const ops::AvgPoolParams& p, const Tensor& inp, Tensor& out) { SAD_FAIL("cpu::avg_pool2d_forward: not implemented yet"); }
void avg_pool2d_backward(const ops::AvgPoolParams& p, const Tensor& dout, Tensor& dinp) { SAD_FAIL("cpu::avg_pool2d_backward: not implemented yet"); }
void reduce_forward(const ops::ReduceParams& p, const Tensor& inp, Tensor& out) { SAD_FAIL("cpu::reduce_forward: not implemented yet"); }
void reduce_backward(const ops::ReduceParams& p, const Tensor& dout, Tensor& dinp) { SAD_FAIL("cpu::reduce_backward: not implemented yet"); }
void adam_step(const ops::AdamParams& p, Tensor& param, const Tensor& grad, Tensor& m, Tensor& v) { SAD_FAIL("cpu::adam_step: not implemented yet"); }

}  // namespace sad::cpu
