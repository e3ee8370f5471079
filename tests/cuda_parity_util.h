// Helpers for the CUDA parity tests (tests/test_cuda_parity_*.cpp): the same seeded
// float32 inputs run through the CUDA backend and through the CPU reference in float64,
// and the CUDA results are compared with a per-op tolerance; every CUDA output is a
// view in the middle of a larger buffer whose guard elements must come back untouched
// (out-of-bounds writes), and whose own elements start as a NaN sentinel (an op that
// reads or accumulates into an output it should overwrite turns into NaN).
//
// Without a GPU these tests must be reported as skipped, never as passed: declare them
//   TEST_CASE("cuda parity: <op>" * doctest::skip(!sad::cuda_available()))
// (evaluated once at registration). They compile in every build: without the CUDA
// backend cuda_available() is false and no CUDA tensor is ever made.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "kernels/runtime.h"
#include "test_util.h"
#if SPARSEAD_HAVE_CUDA_OPS
#include "kernels/cuda/cuda_ops.h"
#endif

namespace sad::test {

inline Device cuda_device() { return Device::cuda(0); }

// The sanitizer subset: with SPARSEAD_PARITY_SMALL=1 (gpu-check.sh sets it for
// compute-sanitizer, which slows kernels 10-100x and racecheck far more) a parity case
// whose largest tensor holds more than 2^16 elements returns at once; the small cases
// still cover every kernel's bounds, tails and multi-block paths.
inline bool parity_small() {
  static const bool small = [] {
    const char* v = std::getenv("SPARSEAD_PARITY_SMALL");
    return v && std::string(v) == "1";
  }();
  return small;
}
inline bool skip_large(std::initializer_list<Shape> shapes) {
  if (!parity_small()) return false;
  for (const Shape& s : shapes)
    if (shape_numel(s) > (int64_t{1} << 16)) return true;
  return false;
}

// Uniform float32 values in [lo, hi) from a fixed seed, on the CPU.
inline Tensor random_f32(const Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  return random_tensor(shape, seed, lo, hi, DType::F32);
}

// The CPU float64 copy that the reference runs on (exact: every float is a double).
inline Tensor f64(const Tensor& t) { return t.to(Device::cpu()).to(DType::F64); }

// Tolerance for a float32 sum of `terms` products of magnitude <= 1 (the values these
// tests draw): each rounding is ~2^-24 of a partial sum of size ~sqrt(terms)/3, so the
// typical total error is ~terms * 2e-8; 1e-6 * terms leaves ~50x margin for orderings
// that differ by algorithm (Winograd, FFT, split-K), 1e-5 covers short sums.
inline Tensor on_cuda(const Tensor& t) { return t.to(cuda_device()); }

inline std::string ctx_of(const std::string& op, const Shape& s, uint64_t seed) {
  return op + " " + shape_str(s) + " seed " + std::to_string(seed);
}

inline double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector_f64()) m = std::max(m, std::abs(v));
  return m;
}

inline double sum_atol(int64_t terms) { return 1e-5 + 1e-6 * static_cast<double>(terms); }

// Fast math (TF32) would need tolerances ~1e3 larger: parity tests pin it off.
struct StrictMathGuard {
#if SPARSEAD_HAVE_CUDA_OPS
  bool saved = cuda::fast_math();
  StrictMathGuard() { cuda::set_fast_math(false); }
  ~StrictMathGuard() { cuda::set_fast_math(saved); }
#else
  ~StrictMathGuard() {}  // non-trivial, so that an unused guard is no warning
#endif
};

// A CUDA output tensor with kGuard sentinel elements on each side.
class GuardedCuda {
 public:
  static constexpr int64_t kGuard = 67;               // odd: not a multiple of any vector width
  static constexpr uint32_t kSentinel = 0x7fc0deadu;  // a quiet NaN with a payload no op computes

  // The interior starts as the sentinel, or as `init` (a CPU float32 tensor of this
  // shape) for ops that read their output (gemm with beta != 0, running statistics).
  // lead: guard elements before the view (kGuard by default: never 16-byte aligned);
  // kGuard elements always follow it.
  explicit GuardedCuda(const Shape& shape, const Tensor* init = nullptr, int64_t lead = kGuard)
      : lead_(lead), numel_(shape_numel(shape)) {
    Tensor host = Tensor::empty({lead_ + numel_ + kGuard}, DType::F32, Device::cpu());
    float* h = host.data<float>();
    for (int64_t i = 0; i < host.numel(); ++i) std::memcpy(&h[i], &kSentinel, sizeof(float));
    if (init) {
      REQUIRE(init->shape() == shape);
      std::vector<float> v = init->to_vector();
      if (!v.empty()) std::memcpy(h + lead_, v.data(), v.size() * sizeof(float));
    }
    buffer_ = host.to(cuda_device());
    view_ = buffer_.view_at(lead_, shape);
  }

  Tensor& view() { return view_; }
  Tensor* ptr() { return &view_; }

  // CHECKs that no guard element changed; reports the first few that did.
  void check_guards(const std::string& context) const {
    std::vector<float> all = buffer_.to_vector();
    int64_t bad = 0;
    std::string first;
    for (int64_t i = 0; i < static_cast<int64_t>(all.size()); ++i) {
      if (i >= lead_ && i < lead_ + numel_) continue;
      uint32_t bits;
      std::memcpy(&bits, &all[static_cast<size_t>(i)], sizeof(bits));
      if (bits != kSentinel) {
        if (bad < 3) first += " [" + std::to_string(i - lead_) + "]=" + std::to_string(all[static_cast<size_t>(i)]);
        ++bad;
      }
    }
    CHECK_MESSAGE(bad == 0, context << ": " << bad << " guard elements overwritten (lead " << lead_
                                    << ", index relative to the output):" << first);
  }

 private:
  int64_t lead_, numel_;
  Tensor buffer_, view_;
};

// CUDA result (float32) against the CPU float64 reference.
inline bool check_parity(const Tensor& cuda_out, const Tensor& cpu_ref, double atol, double rtol,
                         const std::string& context) {
  return check_close(cuda_out.to_vector_f64(), cpu_ref.to_vector_f64(), atol, rtol, context);
}

// Bit-identical results of two runs (the determinism promise of the CUDA backend).
inline bool check_bitwise_equal(const Tensor& a, const Tensor& b, const std::string& context) {
  std::vector<float> x = a.to_vector(), y = b.to_vector();
  bool same = x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
  CHECK_MESSAGE(same, context << ": two runs of the same op differ bitwise (nondeterministic)");
  return same;
}

}  // namespace sad::test
