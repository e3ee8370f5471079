// sum_all: the deterministic whole-tensor sum of cuda_common.cuh behind a plain entry
// point, so that it can be tested (and used) from C++ without CUDA headers.
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace sad::cuda {

void sum_all(const Tensor& x, Tensor& out, double scale) {
  SAD_CHECK(out.numel() == 1, "cuda::sum_all: output must have one element, got ", out.str());
  const float* p = device_ptr(x);
  deterministic_sum(
      x.numel(), [=] __device__(int64_t i) { return p[i]; }, device_ptr(out), scale);
}

}  // namespace sad::cuda
