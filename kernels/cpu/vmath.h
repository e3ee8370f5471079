// Float exp, expm1, log1p, sigmoid, tanh and softplus that the compiler can vectorise
// (issue "CPU speed", item 2).
//
// libm's expf and tanhf are calls: a loop over them stays scalar, one element at a time.
// These are branch-free inline functions of +, -, *, /, fused multiply-adds, selects and
// bit moves, so GCC turns a loop over them into SIMD code on the AVX2 and AVX-512 paths of
// kernels/cpu/isa.h. They are IEEE operations in a fixed order: the build compiles with
// -ffp-contract=off, and every fused multiply-add is an explicit fmadd (one rounding, an
// FMA instruction where the path has one, libm's correctly rounded fmaf on the portable
// path, which is slower there), so each gives the same bits on every path (for a NaN input
// a NaN, whose sign may follow the operand order of an FMA or a select). The polynomials
// as FMAs took a third off the kl_sparsity loss's forward (docs/BENCHMARKS.md).
//
// Accuracy (checked against double libm over a sweep in tests/test_vmath.cpp): within a few
// units in the last place of the float result over the domains below; signs of zero, NaN
// and the saturated ends behave as libm's.
//
// Method:
// - exp(x), x <= 0: x = n ln2 + r with n = round(x / ln2), |r| <= ln2 / 2; ln2 split in a
//   9-bit head and a tail (Cody and Waite), so n * head is exact; exp(r) by its Taylor
//   series to degree 7 (truncation below 1e-8 relative); 2^n from the exponent bits.
// - expm1(x), x <= 0: the same reduction, with 2^n (1 + q) - 1 formed as 2^n q + (2^n - 1)
//   (2^n - 1 is exact), so values near 0 keep their relative accuracy.
// - log1p(e), 0 <= e <= 1: 2 atanh(s) with s = e / (2 + e) <= 1/3, its odd series to s^15
//   (truncation below 2e-9 relative); no 1 + e is formed, so tiny e stay exact.
// - sigmoid(x) from e = exp(-|x|): 1 / (1 + e) on x's side, e times that on the other.
// - tanh(x) = -m / (2 + m) with m = expm1(-2|x|), x's sign copied on.
#pragma once

#include <bit>
#include <cstdint>

namespace sad::cpu::vm {

namespace detail {

// a * b + c rounded once: an FMA instruction on the AVX2 and AVX-512 paths, libm's fmaf
// (correctly rounded too) on the portable one, so every path keeps the same bits.
inline float fmadd(float a, float b, float c) { return __builtin_fmaf(a, b, c); }

constexpr float kExpLo = -87.33654f;  // exp below this is under FLT_MIN: 0 (below) and 2^-126 (at)

// x = n ln2 + r for x in [kExpLo, 0]; returns r and sets two_n = 2^n (n in [-126, 0]).
inline float reduce(float x, float& two_n) {
  constexpr float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float t = fmadd(x, kLog2e, kRound), n = t - kRound;
  // n (-ln2): a NaN x makes n the same NaN, so both NaN operands agree whichever the FMA passes on.
  const float r = fmadd(n, -kLn2Lo, fmadd(n, -kLn2Hi, x));
  // n as an integer from t's bits (no float-to-int conversion, defined even for NaN).
  const uint32_t ni = std::bit_cast<uint32_t>(t) - std::bit_cast<uint32_t>(kRound);
  two_n = std::bit_cast<float>((ni + 127u) << 23);
  return r;
}

// exp(r) - 1 for |r| <= ln2 / 2: r + r^2 (1/2 + r (1/6 + ... + r / 5040)).
inline float expm1_poly(float r) {
  float p = fmadd(r, 1.0f / 5040, 1.0f / 720);
  p = fmadd(r, p, 1.0f / 120);
  p = fmadd(r, p, 1.0f / 24);
  p = fmadd(r, p, 1.0f / 6);
  p = fmadd(r, p, 1.0f / 2);
  return fmadd(r * r, p, r);
}

inline float clamp_lo(float x) { return x < kExpLo ? kExpLo : x; }  // NaN passes through

inline float copy_sign(float magnitude, float sign_of) {
  const uint32_t m = std::bit_cast<uint32_t>(magnitude) & 0x7fffffffu;
  return std::bit_cast<float>(m | (std::bit_cast<uint32_t>(sign_of) & 0x80000000u));
}

inline float abs_f(float x) { return std::bit_cast<float>(std::bit_cast<uint32_t>(x) & 0x7fffffffu); }

}  // namespace detail

// exp(x) for x <= 0 (0 below -87.34; a positive x is not supported).
inline float exp_nonpos(float x) {
  float two_n;
  const float r = detail::reduce(detail::clamp_lo(x), two_n);
  const float e = detail::fmadd(two_n, detail::expm1_poly(r), two_n);
  return x < detail::kExpLo ? 0.0f : e;
}

// exp(x) - 1 for x <= 0 (-1 below -87.34).
inline float expm1_nonpos(float x) {
  float two_n;
  const float r = detail::reduce(detail::clamp_lo(x), two_n);
  return detail::fmadd(two_n, detail::expm1_poly(r), two_n - 1.0f);
}

// log(1 + e) for e in [0, 1].
inline float log1p_01(float e) {
  const float s = e / (2.0f + e), z = s * s;
  using detail::fmadd;
  float p = fmadd(z, 1.0f / 15, 1.0f / 13);
  p = fmadd(z, p, 1.0f / 11);
  p = fmadd(z, p, 1.0f / 9);
  p = fmadd(z, p, 1.0f / 7);
  p = fmadd(z, p, 1.0f / 5);
  p = fmadd(z, p, 1.0f / 3);
  return fmadd(2.0f * s, z * p, 2.0f * s);
}

// sigmoid(x), sigmoid(-x) and exp(-|x|) from one exponential.
struct Logistic {
  float m, m_comp, e;
};
inline Logistic logistic(float x) {
  const float e = exp_nonpos(-detail::abs_f(x));
  const float big = 1.0f / (1.0f + e), small = e * big;  // one division
  return x >= 0.0f ? Logistic{big, small, e} : Logistic{small, big, e};
}

inline float sigmoid(float x) { return logistic(x).m; }

// softplus(x) = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), with e = exp(-|x|) given.
inline float softplus(float x, float e) { return (x > 0.0f ? x : 0.0f) + log1p_01(e); }
inline float softplus(float x) { return softplus(x, exp_nonpos(-detail::abs_f(x))); }

inline float tanh(float x) {
  const float m = expm1_nonpos(-2.0f * detail::abs_f(x));
  return detail::copy_sign(-m / (2.0f + m), x);
}

}  // namespace sad::cpu::vm
