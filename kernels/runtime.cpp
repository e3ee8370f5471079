// Device selection and CPU thread control.
#include "kernels/runtime.h"

#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "tensor/check.h"
#include "tensor/text.h"

#if SPARSEAD_HAVE_CUDA_OPS
#include "kernels/cuda/cuda_ops.h"
#endif

namespace sad {

bool cuda_available() {
#if SPARSEAD_HAVE_CUDA_OPS
  return cuda::probe_and_register();
#else
  return false;
#endif
}

Device resolve_device(std::string_view spec) {
  if (spec == "cpu") return Device::cpu();
  if (spec == "cuda") {
#if SPARSEAD_HAVE_CUDA_OPS
    SAD_CHECK(cuda_available(), "--device cuda: no usable GPU (the CUDA driver reports none)");
#else
    SAD_FAIL("--device cuda: this build has no CUDA backend (configure with SPARSEAD_CUDA=ON)");
#endif
    return Device::cuda(0);
  }
  SAD_CHECK(spec == "auto", "unknown device '", std::string(spec), "' (expected auto, cpu or cuda)");
  if (cuda_available()) return Device::cuda(0);
#if SPARSEAD_HAVE_CUDA_OPS
  static std::once_flag once;
  std::call_once(once, [] { std::fprintf(stderr, "info: no usable GPU found, running on the CPU\n"); });
#endif
  return Device::cpu();
}

namespace {
int initial_threads() {
  if (const char* env = std::getenv("SPARSEAD_THREADS")) {
    const std::optional<int64_t> n = parse_int64(env);
    SAD_CHECK(n && *n >= 1 && *n <= 1024, "SPARSEAD_THREADS='", env, "' is not a thread count in [1, 1024]");
    omp_set_num_threads(static_cast<int>(*n));
  }
  return omp_get_max_threads();
}
}  // namespace

void set_num_threads(int n) {
  SAD_CHECK(n >= 1, "thread count must be >= 1, got ", n);
  // SPARSEAD_THREADS is applied once, at the first call of num_threads() (the first op):
  // apply it now, so that the count set here (--threads) wins over the environment.
  (void)num_threads();
  omp_set_num_threads(n);
}

int num_threads() {
  static const int once = initial_threads();
  (void)once;
  return omp_get_max_threads();
}

}  // namespace sad
