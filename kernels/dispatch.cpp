// The entry points of kernels/ops.h, generated from its entry lists: each runs its op's
// contract (the checks, kernels/cpu/<op>.cpp), then the CPU reference or the CUDA version
// on the device of the tensor the contract returned. Nothing here is written per op.
#include "kernels/checks.h"
#include "kernels/cpu/cpu_ops.h"
#if SPARSEAD_HAVE_CUDA_OPS
#include "kernels/cuda/cuda_ops.h"
#endif

namespace sad::ops {

bool supports_op(OpId op, Device device, DType dtype) {
  if (op == OpId::Count) return false;
  if (device.is_cpu()) return true;
#if SPARSEAD_HAVE_CUDA_OPS
  return dtype == DType::F32 && device_api_registered(DeviceType::CUDA);
#else
  return false;
#endif
}

// Without the CUDA ops compiled in, supports_op has already refused any CUDA tensor.
#if SPARSEAD_HAVE_CUDA_OPS
#define SAD_DEFINE_ENTRY(name, params, args)   \
  void name params {                           \
    if (contract::name args.device().is_cpu()) \
      ::sad::cpu::name args;                   \
    else                                       \
      ::sad::cuda::name args;                  \
  }
#else
#define SAD_DEFINE_ENTRY(name, params, args) \
  void name params {                         \
    (void)contract::name args;               \
    ::sad::cpu::name args;                   \
  }
#endif

SAD_OP_ENTRIES(SAD_DEFINE_ENTRY)

}  // namespace sad::ops
