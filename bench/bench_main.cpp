// sparsead-bench: Google Benchmark over the ops and the training steps, on the CPU and,
// when a GPU answers, on the GPU. Without a GPU the CUDA benchmarks are not registered
// and one line on stderr says why; that is not a failure.
//
//   sparsead-bench                                   everything (CPU: several minutes)
//   sparsead-bench --benchmark_filter='^conv2d_forward/cpu/S128'
//   sparsead-bench --benchmark_out=bench.json --benchmark_out_format=json
//
// Threads: SPARSEAD_THREADS (default: OpenMP's). See docs/BENCHMARKS.md.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "bench/bench_registry.h"
#include "kernels/runtime.h"
#if SPARSEAD_HAVE_CUDA_OPS
#include "kernels/cuda/cuda_ops.h"
#endif

namespace sad::bench {

benchmark::internal::Benchmark* add(const std::string& name, std::function<void(benchmark::State&)> fn) {
  auto* b = benchmark::RegisterBenchmark(name.c_str(), [name, fn](benchmark::State& st) {
    try {
      fn(st);
    } catch (const std::exception& e) {
      // A wrong result (or any error) must not turn into a number: stop here.
      std::fprintf(stderr, "sparsead-bench: FAILED: %s: %s\n", name.c_str(), e.what());
      std::fflush(stderr);
      std::_Exit(1);
    }
  });
  return b->UseRealTime()->Unit(benchmark::kMillisecond);
}

}  // namespace sad::bench

int main(int argc, char** argv) {
  using namespace sad;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("sparsead_threads", std::to_string(num_threads()));
  bench::register_op_benchmarks(Device::cpu());
  bench::register_layer_benchmarks(Device::cpu());
  bench::register_model_benchmarks(Device::cpu());
  const std::string why = bench::cuda_unavailable_reason();
  if (why.empty()) {
#if SPARSEAD_HAVE_CUDA_OPS
    benchmark::AddCustomContext("sparsead_cuda_fast_math", cuda::fast_math() ? "on" : "off");
#endif
    bench::register_op_benchmarks(Device::cuda(0));
    bench::register_layer_benchmarks(Device::cuda(0));
    bench::register_model_benchmarks(Device::cuda(0));
  } else {
    std::fprintf(stderr, "sparsead-bench: CUDA benchmarks skipped: %s\n", why.c_str());
    benchmark::AddCustomContext("sparsead_cuda", "skipped: " + why);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
