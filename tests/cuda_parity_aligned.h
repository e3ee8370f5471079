// Placement helpers for the parity tests of the hand-written CUDA kernels
// (tests/test_cuda_parity_elementwise.cpp, tests/test_cuda_parity_shape.cpp).
//
// Those kernels take a float4 path only when every pointer is 16-byte aligned and a
// scalar path otherwise (a view_at() into an arena may start anywhere). GuardedCuda of
// cuda_parity_util.h always places its view 67 elements into the buffer, i.e. never
// aligned, so on its own it would test only the scalar path. GuardedCudaAt takes the
// number of leading guard elements: kLeadAligned (a multiple of 4: the view is 16-byte
// aligned, since device buffers are) or kLeadMisaligned. Same sentinel, same checks.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "cuda_parity_util.h"

namespace sad::test {

inline constexpr int64_t kLeadAligned = 64;
inline constexpr int64_t kLeadMisaligned = 67;

// GuardedCuda with a chosen number of leading guard elements.
class GuardedCudaAt : public GuardedCuda {
 public:
  GuardedCudaAt(const Shape& shape, int64_t lead, const Tensor* init = nullptr) : GuardedCuda(shape, init, lead) {}
};

// A CUDA copy of the CPU float32 tensor t, `lead` elements into a larger buffer (an
// input that is not 16-byte aligned when lead % 4 != 0).
inline Tensor cuda_input_at(const Tensor& t, int64_t lead) {
  Tensor host = Tensor::zeros({lead + t.numel()}, DType::F32, Device::cpu());
  std::vector<float> v = t.to_vector();
  if (!v.empty()) std::memcpy(host.data<float>() + lead, v.data(), v.size() * sizeof(float));
  return host.to(cuda_device()).view_at(lead, t.shape());
}

// Named tolerances of the CUDA kernels against the float64 CPU reference.
struct Tol {
  double atol, rtol;
};
// Copies and selections (relu, abs, concat, upsample forward, fill): the same floats.
inline constexpr Tol kExact{0.0, 0.0};
// A value computed exactly or in double, then rounded once to float32: at most half an
// ulp, 2^-24 = 6e-8 relative; 2.4e-7 leaves 4x margin. atol covers the double
// computation's own rounding when the value cancels (~1e-16 of the terms).
inline constexpr Tol kRoundedOnce{1e-9, 2.4e-7};
// Double sums of up to ~1M terms in another order than the reference, then rounded
// once: the double error is at most len * 2^-53 * |partial sums| ~ 7e-8 for 1M terms
// of magnitude ~1 (partial sums ~600), hence atol 1e-7 on top of the rounding.
inline constexpr Tol kSummedOnce{1e-7, 2.4e-7};
// A few float32 operations in a row on values |v| <= ~5 (affine, axpy, a derivative
// times dout): each rounds by 2^-24 relative; with cancellation (alpha x + beta ~ 0)
// the error is relative to the terms, hence the absolute part.
inline constexpr Tol kFewRoundings{1e-6, 1e-6};
// CUDA's expf / tanhf / log1pf are within 2 ulp, glibc's within 1, and the kernels
// chain them with 2 or 3 roundings: < 8 ulp = 1e-6 relative; 10x margin, and an
// absolute part for results near zero (sigmoid of -8 is 3e-4).
inline constexpr Tol kTranscendental{1e-6, 1e-5};

inline bool check_parity(const Tensor& cuda_out, const Tensor& cpu_ref, Tol tol, const std::string& context) {
  return check_parity(cuda_out, cpu_ref, tol.atol, tol.rtol, context);
}

}  // namespace sad::test
