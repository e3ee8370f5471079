// What the entry points of kernels/ops.h share (dispatch.cpp: the core ops; dispatch_method.cpp:
// the losses, the method's own ops and the optimiser): the argument checks, and SAD_RUN,
// which runs the CPU or CUDA version of an op. Internal to kernels/.
#pragma once

#include <initializer_list>
#include <utility>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/ops.h"
#include "kernels/runtime.h"
#if SPARSEAD_HAVE_CUDA_OPS
#include "kernels/cuda/cuda_ops.h"
#endif

// Runs the CPU or CUDA version of an op. Without the CUDA ops compiled in, supports_op
// has already refused any CUDA tensor.
#if SPARSEAD_HAVE_CUDA_OPS
#define SAD_RUN(ref, fn, ...)       \
  do {                              \
    if ((ref).device().is_cpu())    \
      ::sad::cpu::fn(__VA_ARGS__);  \
    else                            \
      ::sad::cuda::fn(__VA_ARGS__); \
  } while (0)
#else
#define SAD_RUN(ref, fn, ...) ::sad::cpu::fn(__VA_ARGS__)
#endif

namespace sad::ops::detail {

inline void check_defined(const char* op, const char* name, const Tensor& t) {
  SAD_CHECK(t.defined(), op, ": ", name, " is undefined");
}

// All tensors of one call share dtype and device.
inline void check_alike(const char* op, const Tensor& ref,
                        std::initializer_list<std::pair<const char*, const Tensor*>> ts) {
  for (auto& [name, t] : ts) {
    if (!t) continue;
    check_defined(op, name, *t);
    SAD_CHECK(t->dtype() == ref.dtype() && t->device() == ref.device(), op, ": ", name, " is ", t->str(),
              " but the op runs on ", ref.str());
  }
}

inline void check_shape(const char* op, const char* name, const Tensor& t, const Shape& expected) {
  SAD_CHECK(t.shape() == expected, op, ": ", name, " has shape ", shape_str(t.shape()), ", expected ",
            shape_str(expected));
}

inline void check_ndim(const char* op, const char* name, const Tensor& t, int n) {
  SAD_CHECK(t.ndim() == n, op, ": ", name, " must have ", n, " dimensions, got ", shape_str(t.shape()));
}

inline void check_supported(OpId op, const Tensor& ref) {
  static const int threads_configured = num_threads();  // applies SPARSEAD_THREADS once
  (void)threads_configured;
  SAD_CHECK(supports_op(op, ref.device(), ref.dtype()), op_name(op), ": not supported on ", ref.device().str(), " for ",
            dtype_name(ref.dtype()));
}

}  // namespace sad::ops::detail
