// Loss ops mse_loss, l1_loss, bce_with_logits and focal_loss: forward against
// hand-computed values and naive formulas written here, gradients by finite differences
// (float64), stability at saturated logits, and the validation errors.
#include <cmath>

#include "autograd/functions.h"
#include "test_util.h"

using namespace sad;
using sad::test::check_close;
using sad::test::gradcheck;
using sad::test::random_tensor;

namespace {

double naive_sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Focal loss by its definition, for moderate logits only (naive log of sigmoid).
double naive_focal(const std::vector<double>& l, const std::vector<double>& t, double gamma, double alpha) {
  double s = 0;
  for (size_t i = 0; i < l.size(); ++i) {
    double p = naive_sigmoid(l[i]);
    double ap = alpha >= 0 ? alpha : 1.0, an = alpha >= 0 ? 1.0 - alpha : 1.0;
    s += -(ap * t[i] * std::pow(1 - p, gamma) * std::log(p) + an * (1 - t[i]) * std::pow(p, gamma) * std::log(1 - p));
  }
  return s / static_cast<double>(l.size());
}

// The gradient of a loss with respect to one input, through autograd with seed 1.
Tensor grad_of(const std::function<Variable(const Variable&)>& f, const Tensor& x) {
  Variable v(x.clone(), true);
  f(v).backward();
  return v.grad();
}

}  // namespace

TEST_CASE("mse_loss forward: hand-computed") {
  // Differences 1, 0, -2, 0.5: squares sum to 5.25 over 4 elements.
  Tensor a = Tensor::from_vector_f64({1, 2, 3, 4}, {1, 1, 2, 2});
  Tensor b = Tensor::from_vector_f64({0, 2, 5, 3.5}, {1, 1, 2, 2});
  CHECK(mse_loss(Variable(a), Variable(b)).data().item() == doctest::Approx(1.3125).epsilon(1e-15));
  // float32 takes the same path with double accumulation: exact for these values.
  Tensor a32 = a.to(DType::F32), b32 = b.to(DType::F32);
  CHECK(mse_loss(Variable(a32), Variable(b32)).data().item() == 1.3125);
  CHECK_FALSE(mse_loss(Variable(a), Variable(b)).requires_grad());
}

TEST_CASE("mse_loss gradcheck (float64)") {
  const uint64_t seed = 21;
  for (Shape s : {Shape{1}, Shape{1, 1, 1, 1}, Shape{2, 3, 5, 7}}) {
    Tensor a = random_tensor(s, seed), b = random_tensor(s, seed + 1);
    gradcheck("mse_loss " + shape_str(s), [](auto& v) { return mse_loss(v[0], v[1]); }, {a, b}, {true, true});
  }
  // Only one side needing a gradient.
  Tensor a = random_tensor({1, 2, 3, 5}, seed + 2), b = random_tensor({1, 2, 3, 5}, seed + 3);
  gradcheck("mse_loss a only", [](auto& v) { return mse_loss(v[0], v[1]); }, {a, b}, {true, false});
}

TEST_CASE("l1_loss forward: hand-computed") {
  Tensor a = Tensor::from_vector_f64({1, 2, 3, 4}, {4});
  Tensor b = Tensor::from_vector_f64({0, 2, 5, 3.5}, {4});
  // |1| + |0| + |-2| + |0.5| = 3.5 over 4 elements.
  CHECK(l1_loss(Variable(a), Variable(b)).data().item() == doctest::Approx(0.875).epsilon(1e-15));
}

TEST_CASE("l1_loss backward: sign(a - b) / n / 0 where a == b") {
  Tensor a = Tensor::from_vector_f64({1, 2, 3, 4}, {4});
  Tensor b = Tensor::from_vector_f64({0, 2, 5, 3.5}, {4});
  Tensor dloss = Tensor::scalar(2.0, DType::F64);
  Tensor da = empty_like(a), db = empty_like(b);
  ops::pointwise_loss_backward({ops::PointwiseLossKind::L1}, a, b, dloss, &da, &db);
  check_close(da.to_vector_f64(), {0.5, 0, -0.5, 0.5}, 0, 0, "l1 da");
  check_close(db.to_vector_f64(), {-0.5, 0, 0.5, -0.5}, 0, 0, "l1 db");
  // Backward overwrites: a buffer full of garbage gives the same result.
  Tensor junk = Tensor::full({4}, 7.0, DType::F64);
  ops::pointwise_loss_backward({ops::PointwiseLossKind::L1}, a, b, dloss, &junk, nullptr);
  check_close(junk.to_vector_f64(), {0.5, 0, -0.5, 0.5}, 0, 0, "l1 da overwrite");
}

TEST_CASE("l1_loss gradcheck (float64)") {
  // Random values in [-1, 1): a == b is improbable; the kink filter skips any tie.
  const uint64_t seed = 31;
  for (Shape s : {Shape{1, 1, 1, 1}, Shape{1, 3, 5, 7}}) {
    Tensor a = random_tensor(s, seed), b = random_tensor(s, seed + 1);
    gradcheck("l1_loss " + shape_str(s), [](auto& v) { return l1_loss(v[0], v[1]); }, {a, b}, {true, true});
  }
}

TEST_CASE("mse_loss/l1_loss errors: shape mismatch / empty") {
  Variable a(Tensor::zeros({2, 3})), b(Tensor::zeros({3, 2})), e(Tensor::zeros({0}));
  CHECK_THROWS_AS(mse_loss(a, b), sad::Error);
  CHECK_THROWS_AS(l1_loss(a, b), sad::Error);
  CHECK_THROWS_AS(mse_loss(e, e), sad::Error);
  Variable a64(Tensor::zeros({2, 3}, DType::F64));
  CHECK_THROWS_AS(mse_loss(a, a64), sad::Error);  // dtypes differ
}

TEST_CASE("bce_with_logits forward: naive formula / soft targets") {
  const uint64_t seed = 41;
  Tensor l = random_tensor({2, 1, 3, 5}, seed, -4, 4), t = random_tensor({2, 1, 3, 5}, seed + 1, 0, 1);
  auto lv = l.to_vector_f64(), tv = t.to_vector_f64();
  double expect = 0;
  for (size_t i = 0; i < lv.size(); ++i) {
    double p = naive_sigmoid(lv[i]);
    expect -= tv[i] * std::log(p) + (1 - tv[i]) * std::log(1 - p);
  }
  expect /= static_cast<double>(lv.size());
  // 1e-13: the naive log(1 - p) loses a few digits against log1p at |l| <= 4.
  CHECK(bce_with_logits(Variable(l), t).data().item() == doctest::Approx(expect).epsilon(1e-13));
}

TEST_CASE("bce_with_logits stability: logits +-100 give exact finite values") {
  Tensor l = Tensor::from_vector_f64({100, -100, 100, -100}, {4});
  Tensor t = Tensor::from_vector_f64({0, 1, 1, 0}, {4});
  // Wrong-side logits cost |l| each (up to e^-100), right-side ones e^-100 ~ 0.
  CHECK(bce_with_logits(Variable(l), t).data().item() == doctest::Approx(50.0).epsilon(1e-14));
  Tensor g = grad_of([&](const Variable& v) { return bce_with_logits(v, t); }, l);
  // sigmoid(l) - t over n = 4: +1/4, -1/4, ~0, ~0.
  check_close(g.to_vector_f64(), {0.25, -0.25, 0, 0}, 1e-15, 1e-14, "bce grad at +-100");
  Tensor l32 = l.to(DType::F32), t32 = t.to(DType::F32);
  double v32 = bce_with_logits(Variable(l32), t32).data().item();
  CHECK(std::isfinite(v32));
  CHECK(v32 == doctest::Approx(50.0).epsilon(1e-6));
}

TEST_CASE("bce_with_logits gradcheck (float64)") {
  const uint64_t seed = 51;
  for (Shape s : {Shape{1}, Shape{1, 1, 1, 1}, Shape{2, 1, 5, 3}}) {
    Tensor l = random_tensor(s, seed, -3, 3), t = random_tensor(s, seed + 1, 0, 1);
    gradcheck("bce_with_logits " + shape_str(s), [&](auto& v) { return bce_with_logits(v[0], t); }, {l}, {true});
  }
}

TEST_CASE("bce_with_logits errors: target shape mismatch") {
  Variable l(Tensor::zeros({2, 1, 3, 3}));
  CHECK_THROWS_AS(bce_with_logits(l, Tensor::zeros({2, 1, 3, 2})), sad::Error);
}

TEST_CASE("focal_loss forward: naive formula (gamma / alpha)") {
  const uint64_t seed = 61;
  Tensor l = random_tensor({2, 1, 5, 3}, seed, -4, 4), t = random_tensor({2, 1, 5, 3}, seed + 1, 0, 1);
  auto lv = l.to_vector_f64(), tv = t.to_vector_f64();
  struct Case {
    float gamma, alpha;
  };
  for (Case c : {Case{2.0f, -1.0f}, Case{2.0f, 0.25f}, Case{0.5f, -1.0f}, Case{0.0f, -1.0f}}) {
    ops::FocalParams p{c.gamma, c.alpha};
    double got = focal_loss(Variable(l), t, p).data().item();
    // 1e-12: the naive form's log(1 - p) loses a few digits at |l| <= 4.
    CHECK_MESSAGE(got == doctest::Approx(naive_focal(lv, tv, c.gamma, c.alpha)).epsilon(1e-12),
                  "gamma " << c.gamma << " alpha " << c.alpha);
  }
  // gamma 0 without class weights is exactly BCE.
  CHECK(focal_loss(Variable(l), t, {0.0f, -1.0f}).data().item() ==
        doctest::Approx(bce_with_logits(Variable(l), t).data().item()).epsilon(1e-13));
}

TEST_CASE("focal_loss gradcheck (float64)") {
  const uint64_t seed = 71;
  struct Case {
    Shape shape;
    float gamma, alpha;
  };
  for (const Case& c : {Case{{1, 1, 1, 1}, 2.0f, -1.0f}, Case{{2, 1, 5, 7}, 2.0f, -1.0f},
                        Case{{1, 1, 3, 5}, 2.0f, 0.25f}, Case{{1, 1, 4, 3}, 0.5f, 0.75f}}) {
    Tensor l = random_tensor(c.shape, seed, -4, 4);
    // Hard {0, 1} targets like the masks, and soft ones.
    Tensor t = random_tensor(c.shape, seed + 1, 0, 1);
    std::vector<double> hard = t.to_vector_f64();
    for (double& v : hard) v = v > 0.5 ? 1.0 : 0.0;
    Tensor th = Tensor::from_vector_f64(hard, c.shape);
    ops::FocalParams p{c.gamma, c.alpha};
    std::string name = "focal_loss " + shape_str(c.shape) + " gamma " + std::to_string(c.gamma);
    gradcheck(name + " soft", [&](auto& v) { return focal_loss(v[0], t, p); }, {l}, {true});
    gradcheck(name + " hard", [&](auto& v) { return focal_loss(v[0], th, p); }, {l}, {true});
  }
}

TEST_CASE("focal_loss stability: logits +-50 give finite values and gradients") {
  Tensor l = Tensor::from_vector_f64({50, -50, 50, -50}, {1, 1, 2, 2});
  Tensor t = Tensor::from_vector_f64({1, 1, 0, 0}, {1, 1, 2, 2});
  ops::FocalParams p{2.0f, -1.0f};
  // Wrong-side logits: (1 - e^-50)^2 * 50 each; right-side ones ~ e^-150.
  double expect = 2 * 50.0 * std::pow(1 - std::exp(-50.0), 2) / 4;
  CHECK(focal_loss(Variable(l), t, p).data().item() == doctest::Approx(expect).epsilon(1e-14));
  Tensor g = grad_of([&](const Variable& v) { return focal_loss(v, t, p); }, l);
  // Wrong side: d/dl -> -1 (t = 1) or +1 (t = 0), over n = 4; right side ~ 0.
  check_close(g.to_vector_f64(), {0, -0.25, 0.25, 0}, 1e-15, 1e-12, "focal grad at +-50");
  // float32: the same, finite.
  Tensor l32 = l.to(DType::F32), t32 = t.to(DType::F32);
  Tensor g32 = grad_of([&](const Variable& v) { return focal_loss(v, t32, p); }, l32);
  for (double v : g32.to_vector_f64()) CHECK(std::isfinite(v));
  CHECK(std::isfinite(focal_loss(Variable(l32), t32, p).data().item()));
}

TEST_CASE("focal_loss errors: target shape mismatch / negative gamma") {
  Variable l(Tensor::zeros({1, 1, 3, 3}));
  CHECK_THROWS_AS(focal_loss(l, Tensor::zeros({1, 1, 3, 4}), {}), sad::Error);
  CHECK_THROWS_AS(focal_loss(l, Tensor::zeros({1, 1, 3, 3}), {-1.0f, -1.0f}), sad::Error);
}
