// Deliberately broken kernels: the planted canaries of gpu-check.sh's sanitizer steps. Each
// tool (memcheck, racecheck, initcheck, synccheck) must report its canary, or the step fails:
// a sanitizer that reports nothing has then provably checked something. The kernels live in
// namespace sad::cuda like the real ones, so the same --kernel-regex filter (kns=3sad4cuda)
// that restricts the real runs to our kernels must match them too.
// Run only by the test "cuda canary: ..." when SPARSEAD_CANARY names the tool; without a
// sanitizer their defects are silent (one float past an allocation that cudaMalloc rounds up).
#include <cuda_runtime.h>

#include <string>

namespace sad::cuda::canary {

namespace {

// memcheck: thread n writes one element past an n-element allocation.
__global__ void out_of_bounds_write(float* p, int n) {
  const int i = static_cast<int>(threadIdx.x);
  if (i <= n) p[i] = 1.0f;
}

// racecheck: every thread writes one shared word, then reads it, without a barrier.
__global__ void shared_race(float* out) {
  __shared__ float word;
  word = static_cast<float>(threadIdx.x);
  out[threadIdx.x] = word;
}

// initcheck: reads device memory nothing has written.
__global__ void uninitialised_read(const float* never_written, float* out) {
  out[threadIdx.x] = never_written[threadIdx.x];
}

// synccheck: a barrier only half the block reaches.
__global__ void divergent_barrier(float* out) {
  if (threadIdx.x < 16) __syncthreads();
  out[threadIdx.x] = 1.0f;
}

}  // namespace

// Launches the canary of `tool` and waits for it; returns "" or a CUDA error string.
std::string run(const std::string& tool) {
  constexpr int n = 64;
  float *a = nullptr, *b = nullptr;
  if (cudaMalloc(&a, n * sizeof(float)) != cudaSuccess || cudaMalloc(&b, n * sizeof(float)) != cudaSuccess)
    return "cudaMalloc failed";
  if (tool == "memcheck")
    out_of_bounds_write<<<1, n + 1>>>(a, n);
  else if (tool == "racecheck")
    shared_race<<<1, n>>>(a);
  else if (tool == "initcheck")
    uninitialised_read<<<1, n>>>(b, a);
  else if (tool == "synccheck")
    divergent_barrier<<<1, 32>>>(a);
  else
    return "unknown canary '" + tool + "' (memcheck, racecheck, initcheck, synccheck)";
  const cudaError_t err = cudaDeviceSynchronize();
  cudaFree(a);
  cudaFree(b);
  return err == cudaSuccess ? "" : cudaGetErrorString(err);
}

}  // namespace sad::cuda::canary
