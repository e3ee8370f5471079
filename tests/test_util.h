// Shared test helpers: seeded random tensors, element-wise comparison that prints the
// seed, the first mismatches and the worst index, and a double-precision
// finite-difference gradient check with automatic kink detection.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/variable.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"

namespace sad::test {

// Uniform values in [lo, hi) from a fixed seed.
inline Tensor random_tensor(const Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0,
                            DType dtype = DType::F64) {
  Rng rng(seed);
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (double& x : v) x = rng.uniform(lo, hi);
  return Tensor::from_vector_f64(v, shape, dtype);
}

// Compares element-wise with |a - e| <= atol + rtol |e|. On failure reports the context
// (op, seed), the number of mismatches, the first few and the worst one.
inline bool check_close(const std::vector<double>& actual, const std::vector<double>& expected, double atol,
                        double rtol, const std::string& context) {
  if (actual.size() != expected.size()) {
    FAIL_CHECK(context << ": sizes differ: " << actual.size() << " vs " << expected.size());
    return false;
  }
  size_t bad = 0, worst = 0;
  double worst_excess = -1;
  std::ostringstream first;
  for (size_t i = 0; i < actual.size(); ++i) {
    double tol = atol + rtol * std::abs(expected[i]);
    double err = std::abs(actual[i] - expected[i]);
    bool ok = err <= tol;  // NaN compares false: counted as bad
    if (!ok) {
      if (bad < 5) first << "\n  [" << i << "] got " << actual[i] << " expected " << expected[i];
      ++bad;
    }
    double excess = std::isnan(err) ? 1e300 : err - tol;
    if (excess > worst_excess) {
      worst_excess = excess;
      worst = i;
    }
  }
  if (bad) {
    FAIL_CHECK(context << ": " << bad << " of " << actual.size() << " elements differ (atol " << atol << ", rtol "
                       << rtol << ")" << first.str() << "\n  worst at [" << worst << "]: got " << actual[worst]
                       << " expected " << expected[worst]);
    return false;
  }
  return true;
}

inline bool check_close(const Tensor& actual, const Tensor& expected, double atol, double rtol,
                        const std::string& context) {
  if (actual.shape() != expected.shape()) {
    FAIL_CHECK(context << ": shapes differ: " << shape_str(actual.shape()) << " vs " << shape_str(expected.shape()));
    return false;
  }
  return check_close(actual.to_vector_f64(), expected.to_vector_f64(), atol, rtol, context);
}

struct GradCheckOptions {
  double eps = 1e-6;   // central-difference step, in double precision
  double atol = 1e-6;  // FD error is O(eps^2) ~ 1e-12 plus rounding ~ 1e-16/eps ~ 1e-10
  double rtol = 1e-5;
  uint64_t seed = 1;  // for the output projection weights
  // Fraction of elements allowed to be skipped as kinks (left and right derivatives
  // disagree: relu at 0, |x| at 0, a clamp boundary). More means the test is not testing.
  double max_kink_fraction = 0.1;
};

// Checks d/dx of L(x) = sum(w * f(x)) for fixed random weights w, for every input with
// check[i] true, against central differences. Inputs are float64 CPU tensors.
inline void gradcheck(const std::string& name, const std::function<Variable(const std::vector<Variable>&)>& f,
                      const std::vector<Tensor>& inputs, const std::vector<bool>& check,
                      const GradCheckOptions& opt = {}) {
  INFO("gradcheck '" << name << "' (projection seed " << opt.seed << ")");
  std::vector<Variable> vars;
  for (size_t i = 0; i < inputs.size(); ++i) {
    REQUIRE_MESSAGE(inputs[i].dtype() == DType::F64, name << ": gradcheck inputs must be float64");
    vars.emplace_back(inputs[i].clone(), static_cast<bool>(check[i]));
  }
  Variable out = f(vars);
  Tensor w = random_tensor(out.shape(), opt.seed, -1.0, 1.0);
  std::vector<double> wv = w.to_vector_f64();
  out.backward(w);

  auto loss_at = [&](const std::vector<Variable>& xs) {
    NoGradGuard ng;
    std::vector<double> y = f(xs).data().to_vector_f64();
    double s = 0;
    for (size_t k = 0; k < y.size(); ++k) s += wv[k] * y[k];
    return s;
  };

  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!check[i]) continue;
    REQUIRE_MESSAGE(vars[i].grad().defined(), name << ": input " << i << " received no gradient");
    std::vector<double> analytic = vars[i].grad().to_vector_f64();
    std::vector<double> numeric(analytic.size());
    std::vector<Variable> xs;
    for (size_t j = 0; j < inputs.size(); ++j) xs.emplace_back(inputs[j].clone(), false);
    double* xi = xs[i].data().data<double>();
    double l0 = loss_at(xs);
    size_t kinks = 0;
    for (size_t k = 0; k < analytic.size(); ++k) {
      double orig = xi[k];
      xi[k] = orig + opt.eps;
      double lp = loss_at(xs);
      xi[k] = orig - opt.eps;
      double lm = loss_at(xs);
      xi[k] = orig;
      numeric[k] = (lp - lm) / (2 * opt.eps);
      double right = (lp - l0) / opt.eps, left = (l0 - lm) / opt.eps;
      // A kink: the one-sided slopes disagree far beyond their O(eps) error.
      if (std::abs(right - left) > 1e-3 * (1 + std::abs(right) + std::abs(left))) {
        numeric[k] = analytic[k];
        ++kinks;
      }
    }
    CHECK_MESSAGE(kinks <= opt.max_kink_fraction * static_cast<double>(analytic.size()) + 0.5,
                  name << ": input " << i << ": " << kinks << " of " << analytic.size()
                       << " points skipped as kinks (too many: move the test points off the kinks)");
    check_close(analytic, numeric, opt.atol, opt.rtol, name + ": gradient of input " + std::to_string(i));
  }
}

}  // namespace sad::test
