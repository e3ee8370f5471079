// Shared helpers of the benchmark programs (sparsead-bench, sparsead-steps): the devices
// to run on, a device synchronisation that the timed loops call, seeded random tensors,
// the checks every benchmark runs once before it times anything, and the per-op napkin
// formulas (FLOPs, bytes) the counters report.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "tensor/tensor.h"

namespace sad::bench {

// "cpu" or "cuda": the device's name in benchmark names and JSON.
const char* device_tag(Device d);

// Waits for all queued work on d (a no-op on the CPU). GPU benchmarks call it at the end
// of every timed iteration, so the measured wall time is the work's, not the launch's.
void sync(Device d);

// Why the CUDA benchmarks are absent, or "" when a GPU answers in this process.
std::string cuda_unavailable_reason();

// Uniform values in [lo, hi) from a fixed seed, float32 on `device`.
Tensor random_tensor(const Shape& shape, uint64_t seed, Device device, float lo = -1.0f, float hi = 1.0f);

// Validation before timing: each throws sad::Error with `what` and the first offending
// index/value, so a wrong result aborts the program with a clear message instead of
// producing a number.
void expect_finite(const Tensor& t, const std::string& what);
void expect_close(double got, double want, double atol, double rtol, const std::string& what);
// Element-wise against a reference (any devices): |a - e| <= atol + rtol |e|.
void expect_all_close(const Tensor& got, const Tensor& want, double atol, double rtol, const std::string& what);
// The dot product of two tensors of equal numel, in double on the host.
double dot(const Tensor& a, const Tensor& b);

// One benchmark fixture (inputs, outputs, a model) alive at a time. Google Benchmark calls
// a benchmark's function several times while it settles the iteration count; the first
// call builds and validates the fixture, later calls with the same key reuse it, and the
// next benchmark's fixture frees it, so the large shapes never pile up in memory.
std::shared_ptr<void>& fixture_slot();
std::string& fixture_key();
template <class F, class Make>
F& fixture(const std::string& key, Make&& make) {
  if (fixture_key() != key || !fixture_slot()) {
    fixture_slot().reset();  // free the previous one before building the next
    fixture_key().clear();
    std::shared_ptr<F> f = make();
    fixture_slot() = f;
    fixture_key() = key;
  }
  return *static_cast<F*>(fixture_slot().get());
}

// Napkin math. conv2d forward: 2 N Co Ho Wo Ci KH KW; backward data + filter: twice that.
double conv2d_flops(const Shape& inp, const Shape& weight, const Shape& out);

}  // namespace sad::bench
