// kernels/cpu/vmath.h: the vectorisable float functions against double libm, in units in
// the last place of the float result, over dense sweeps of their domains; special values;
// and the same bits on every instruction-set path.
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/vmath.h"
#include "test_util.h"

using namespace sad::cpu;

namespace {

// Distance in float ulps between f and the double reference, measured at the reference's
// scale (a reference below FLT_MIN counts in FLT_MIN's ulp).
double ulps(float f, double ref) {
  const double mag = std::max(std::abs(ref), static_cast<double>(std::numeric_limits<float>::min()));
  const double ulp = std::ldexp(1.0, std::ilogb(mag) - 23);
  return std::abs(static_cast<double>(f) - ref) / ulp;
}

// The largest ulp error of f against ref over n points spread evenly on [lo, hi].
template <typename F, typename R>
double max_ulps(F f, R ref, double lo, double hi, int n) {
  double worst = 0;
  for (int i = 0; i <= n; ++i) {
    const float x = static_cast<float>(lo + (hi - lo) * i / n);
    worst = std::max(worst, ulps(f(x), ref(static_cast<double>(x))));
  }
  return worst;
}

double sigmoid_ref(double x) { return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x)); }

}  // namespace

TEST_CASE("vmath: float functions within a few ulps of double libm") {
  const int n = 200000;
  const auto ex = [](double x) { return std::exp(x); };
  CHECK(max_ulps(vm::exp_nonpos, ex, -87.3, 0.0, n) <= 2.0);
  CHECK(max_ulps(vm::exp_nonpos, ex, -1.0, 0.0, n) <= 2.0);
  const auto em = [](double x) { return std::expm1(x); };
  CHECK(max_ulps(vm::expm1_nonpos, em, -30.0, 0.0, n) <= 2.0);
  CHECK(max_ulps(vm::expm1_nonpos, em, -1e-3, 0.0, n) <= 2.0);
  const auto lp = [](double x) { return std::log1p(x); };
  CHECK(max_ulps(vm::log1p_01, lp, 0.0, 1.0, n) <= 2.5);
  CHECK(max_ulps(vm::log1p_01, lp, 0.0, 1e-6, n) <= 2.5);
  const auto th = [](double x) { return std::tanh(x); };
  const auto vth = [](float x) { return vm::tanh(x); };
  CHECK(max_ulps(vth, th, -12.0, 12.0, n) <= 3.0);
  CHECK(max_ulps(vth, th, -1e-3, 1e-3, n) <= 3.0);
  const auto sg = [](float x) { return vm::sigmoid(x); };
  CHECK(max_ulps(sg, sigmoid_ref, -80.0, 30.0, n) <= 3.0);
  const auto sp = [](float x) { return vm::softplus(x); };
  const auto spr = [](double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); };
  CHECK(max_ulps(sp, spr, -80.0, 30.0, n) <= 3.0);
}

TEST_CASE("vmath: special values") {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  CHECK(vm::exp_nonpos(0.0f) == 1.0f);
  CHECK(vm::exp_nonpos(-0.0f) == 1.0f);
  CHECK(vm::exp_nonpos(-100.0f) == 0.0f);
  CHECK(vm::exp_nonpos(-inf) == 0.0f);
  CHECK(std::isnan(vm::exp_nonpos(nan)));
  CHECK(vm::expm1_nonpos(0.0f) == 0.0f);
  CHECK(vm::expm1_nonpos(-inf) == -1.0f);
  CHECK(vm::log1p_01(0.0f) == 0.0f);
  CHECK(vm::tanh(inf) == 1.0f);
  CHECK(vm::tanh(-inf) == -1.0f);
  CHECK(vm::tanh(20.0f) == 1.0f);
  CHECK(std::signbit(vm::tanh(-0.0f)));
  CHECK(!std::signbit(vm::tanh(0.0f)));
  CHECK(vm::tanh(1e-30f) == 1e-30f);
  CHECK(std::isnan(vm::tanh(nan)));
  CHECK(vm::sigmoid(-1000.0f) == 0.0f);
  CHECK(vm::sigmoid(1000.0f) == 1.0f);
  CHECK(vm::sigmoid(0.0f) == 0.5f);
  CHECK(std::isnan(vm::sigmoid(nan)));
  CHECK(vm::softplus(-1000.0f) == 0.0f);
  CHECK(vm::softplus(1000.0f) == 1000.0f);
  CHECK(vm::softplus(-20.0f) == doctest::Approx(2.0611536e-9).epsilon(1e-6));
}

TEST_CASE("vmath: the same bits on every instruction-set path") {
  std::vector<float> x(4099);
  for (size_t i = 0; i < x.size(); ++i) x[i] = -30.0f + 60.0f * static_cast<float>(i) / 4098.0f;
  // The edges too: NaN of either sign, infinities, signed zeros, the exp's underflow edge,
  // far below it, and subnormals.
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (float v : {nan, -nan, inf, -inf, 0.0f, -0.0f, -87.3f, -87.33654f, -87.34f, -88.0f, -100.0f, 100.0f, 1e-40f,
                  -1e-40f, 1e-45f, std::numeric_limits<float>::max(), -std::numeric_limits<float>::max()})
    x.push_back(v);
  const auto run = [&](Isa isa) {
    ScopedIsa scope(isa);
    std::vector<float> y(x.size() * 4);
    isa_run([&] {
      const float* xs = x.data();
      float* ys = y.data();
      const int64_t n = static_cast<int64_t>(x.size());
      for (int64_t i = 0; i < n; ++i) ys[i] = vm::tanh(xs[i]);
      for (int64_t i = 0; i < n; ++i) ys[n + i] = vm::sigmoid(xs[i]);
      for (int64_t i = 0; i < n; ++i) ys[2 * n + i] = vm::softplus(xs[i]);
      for (int64_t i = 0; i < n; ++i) ys[3 * n + i] = vm::expm1_nonpos(-std::abs(xs[i]));
    });
    return y;
  };
  const std::vector<float> ref = run(Isa::Portable);
  for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
    if (static_cast<int>(isa) > static_cast<int>(best_cpu_isa())) continue;
    const std::vector<float> y = run(isa);
    int64_t differ = 0;
    std::string first;
    // Bits equal, except that a NaN matches any NaN: the sign of a NaN result may follow the
    // operand order the compiler picked for an FMA or a select, which no caller reads.
    for (size_t i = 0; i < y.size(); ++i)
      if (std::bit_cast<uint32_t>(y[i]) != std::bit_cast<uint32_t>(ref[i]) &&
          !(std::isnan(y[i]) && std::isnan(ref[i]))) {
        if (differ++ == 0)
          first = "function " + std::to_string(i / x.size()) + " at x = " + std::to_string(x[i % x.size()]) + ": " +
                  std::to_string(y[i]) + " against " + std::to_string(ref[i]);
      }
    INFO(std::string(isa_name(isa)), ", first difference: ", first);
    CHECK(differ == 0);
  }
}
