// The CUDA backend's process-wide state: the probe (is there a usable GPU?), the one
// stream, device properties, error formatting for the checked-call macros, the
// SPARSEAD_SYNC debugging switch and the fast-math option.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/cuda_ops.h"

namespace sad::cuda {

namespace {

struct BackendState {
  bool ok = false;
  cudaStream_t stream = nullptr;
  int sm_count = 0;
};

// Every failure means "no GPU": the runtime's error is cleared so that it cannot
// surface later at an unrelated call.
BackendState probe_once() noexcept {
  BackendState s;
  auto fail = [&] {
    (void)cudaGetLastError();
    return BackendState{};
  };
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n < 1) return fail();
  if (cudaSetDevice(0) != cudaSuccess) return fail();
  if (cudaDeviceGetAttribute(&s.sm_count, cudaDevAttrMultiProcessorCount, 0) != cudaSuccess) return fail();
  // A real allocation: a device that enumerates but cannot hold memory is no device.
  void* p = nullptr;
  if (cudaMalloc(&p, 256) != cudaSuccess) return fail();
  if (cudaFree(p) != cudaSuccess) return fail();
  // Non-blocking: no implicit ordering with the legacy default stream that other
  // libraries in the process might use; our own work is ordered on this one stream.
  if (cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking) != cudaSuccess) return fail();
  s.ok = true;
  return s;
}

const BackendState& state() {
  static const BackendState s = probe_once();
  return s;
}

const BackendState& ready_state() {
  const BackendState& s = state();
  SAD_CHECK(s.ok, "cuda: the backend was used without a usable GPU (call resolve_device first)");
  return s;
}

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v && std::strcmp(v, "1") == 0;
}

// A function-local static: safe to use during other translation units' static
// initialisation (doctest evaluates skip decorators then).
std::atomic<bool>& fast_math_flag() {
  static std::atomic<bool> flag{env_flag("SPARSEAD_FAST_MATH")};
  return flag;
}

}  // namespace

bool probe_and_register() {
  try {
    const BackendState& s = state();
    if (!s.ok) return false;
    static std::once_flag once;
    std::call_once(once, [] { register_device_api(DeviceType::CUDA, detail::device_api_impl()); });
    return true;
  } catch (...) {  // promised: never throws
    return false;
  }
}

cudaStream_t stream() { return ready_state().stream; }
int sm_count() { return ready_state().sm_count; }

void synchronize() { SAD_CUDA_CHECK(cudaStreamSynchronize(stream())); }

void set_fast_math(bool on) { fast_math_flag().store(on); }
bool fast_math() { return fast_math_flag().load(); }

bool sync_after_launch() {
  static const bool on = env_flag("SPARSEAD_SYNC");
  return on;
}

namespace detail {

[[noreturn]] void fail_cuda(cudaError_t err, const char* call, const char* file, int line) {
  (void)cudaGetLastError();  // clear a non-sticky error so the next call starts clean
  fail_check(
      nullptr, file, line,
      sad::detail::concat("cuda: ", call, " failed: ", cudaGetErrorName(err), " (", cudaGetErrorString(err), ")"));
}

[[noreturn]] void fail_cublas(cublasStatus_t st, const char* call, const char* file, int line) {
  fail_check(nullptr, file, line,
             sad::detail::concat("cublas: ", call, " failed: ", cublasGetStatusName(st), " (",
                                 cublasGetStatusString(st), ")"));
}

[[noreturn]] void fail_cudnn(cudnnStatus_t st, const char* call, const char* file, int line) {
  fail_check(nullptr, file, line, sad::detail::concat("cudnn: ", call, " failed: ", cudnnGetErrorString(st)));
}

void check_launch(const char* file, int line) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) fail_cuda(err, "kernel launch", file, line);
  if (sync_after_launch()) {
    err = cudaStreamSynchronize(stream());
    if (err != cudaSuccess) fail_cuda(err, "kernel execution (SPARSEAD_SYNC=1)", file, line);
  }
}

}  // namespace detail

}  // namespace sad::cuda
