// The sanitizer canaries (tests/cuda_canary.cu): run only when SPARSEAD_CANARY names a tool,
// which gpu-check.sh sets in that tool's step, under that tool. The test itself passes
// whenever the kernel ran; the verdict is the sanitizer's report, which gpu-check.sh requires.
#include <cstdlib>
#include <string>

#include "kernels/runtime.h"
#include "test_util.h"

#if SPARSEAD_HAVE_CUDA_OPS
namespace sad::cuda::canary {
std::string run(const std::string& tool);
}
#endif

namespace {
const char* canary_tool() { return std::getenv("SPARSEAD_CANARY"); }
}  // namespace

TEST_CASE("cuda canary: the deliberate defect of the sanitizer named by SPARSEAD_CANARY" *
          doctest::test_suite("canary") * doctest::skip(!sad::cuda_available() || canary_tool() == nullptr)) {
#if SPARSEAD_HAVE_CUDA_OPS
  const std::string error = sad::cuda::canary::run(canary_tool());
  INFO("canary " << canary_tool());
  CHECK(error.empty());
#endif
}
