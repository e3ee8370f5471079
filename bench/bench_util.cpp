// Benchmark helpers (bench/bench_util.h).
#include "bench/bench_util.h"

#include <cmath>
#include <sstream>

#include "kernels/runtime.h"
#include "tensor/rng.h"
#if SPARSEAD_HAVE_CUDA_OPS
#include "kernels/cuda/cuda_ops.h"
#endif

namespace sad::bench {

const char* device_tag(Device d) { return d.is_cuda() ? "cuda" : "cpu"; }

void sync(Device d) {
#if SPARSEAD_HAVE_CUDA_OPS
  if (d.is_cuda()) cuda::synchronize();
#else
  (void)d;
#endif
}

std::string cuda_unavailable_reason() {
#if SPARSEAD_HAVE_CUDA_OPS
  return cuda_available() ? "" : "no GPU answered the CUDA probe (no driver or no device)";
#else
  return "this build has no CUDA backend (configure with -DSPARSEAD_CUDA=ON)";
#endif
}

Tensor random_tensor(const Shape& shape, uint64_t seed, Device device, float lo, float hi) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (float& x : v) x = static_cast<float>(rng.uniform(lo, hi));
  return Tensor::from_vector(v, shape, DType::F32, device);
}

void expect_finite(const Tensor& t, const std::string& what) {
  std::vector<float> v = t.to_vector();
  for (size_t i = 0; i < v.size(); ++i)
    SAD_CHECK(std::isfinite(v[i]), "benchmark validation failed: ", what, ": element ", i, " of ", t.str(), " is ",
              v[i]);
}

void expect_close(double got, double want, double atol, double rtol, const std::string& what) {
  SAD_CHECK(std::abs(got - want) <= atol + rtol * std::abs(want), "benchmark validation failed: ", what, ": got ", got,
            ", expected ", want, " (atol ", atol, ", rtol ", rtol, ")");
}

void expect_all_close(const Tensor& got, const Tensor& want, double atol, double rtol, const std::string& what) {
  SAD_CHECK(got.numel() == want.numel(), "benchmark validation failed: ", what, ": ", got.str(), " vs ", want.str());
  std::vector<float> a = got.to_vector(), e = want.to_vector();
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    bool ok = std::abs(static_cast<double>(a[i]) - e[i]) <= atol + rtol * std::abs(static_cast<double>(e[i]));
    if (!ok && bad++ == 0) first = i;  // NaN is never ok
  }
  SAD_CHECK(bad == 0, "benchmark validation failed: ", what, ": ", bad, " of ", a.size(), " elements differ (atol ",
            atol, ", rtol ", rtol, "), first at [", first, "]: got ", a[first], ", expected ", e[first]);
}

double dot(const Tensor& a, const Tensor& b) {
  SAD_CHECK(a.numel() == b.numel(), "dot: ", a.str(), " vs ", b.str());
  std::vector<float> x = a.to_vector(), y = b.to_vector();
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += static_cast<double>(x[i]) * y[i];
  return s;
}

std::shared_ptr<void>& fixture_slot() {
  static std::shared_ptr<void> slot;
  return slot;
}

std::string& fixture_key() {
  static std::string key;
  return key;
}

double conv2d_flops(const Shape& inp, const Shape& weight, const Shape& out) {
  // Multiply-adds of the direct convolution, 2 FLOPs each (padding counted as work,
  // as cuDNN and PyTorch's profilers do).
  return 2.0 * static_cast<double>(out[0]) * static_cast<double>(out[1]) * static_cast<double>(out[2]) *
         static_cast<double>(out[3]) * static_cast<double>(inp[1]) * static_cast<double>(weight[2]) *
         static_cast<double>(weight[3]);
}

}  // namespace sad::bench
