// kl_sparsity, the sparsity-prior loss L_S of METHOD.md: forward and stats against an
// independent direct computation in double written here (both weak_labels modes, mixed
// labels) and hand-computed values at M = 0.5; gradients by finite differences
// (float64), including images whose rho^ is clamped (the KL term's gradient must vanish
// there); finite values and gradients at logits +-50; the validation errors.
#include <algorithm>
#include <cmath>

#include "autograd/functions.h"
#include "test_util.h"

using namespace sad;
using sad::test::check_close;
using sad::test::gradcheck;
using sad::test::random_tensor;

namespace {

struct Naive {
  double loss;
  std::vector<double> stats;  // (B, 4) row-major: [rho^ before the clamp, KL, fit, neg]
};

// L_S by METHOD.md's formulas, term by term, for moderate logits (plain exp and log).
Naive naive_kl_sparsity(const Tensor& logits, const Tensor& residual, const Tensor& labels,
                        const ops::KlSparsityParams& p) {
  const int64_t nb = logits.dim(0), hw = logits.dim(2) * logits.dim(3);
  auto l = logits.to_vector_f64(), r = residual.to_vector_f64(), y = labels.to_vector_f64();
  const double rho = p.rho;
  auto kl = [&](double q) {
    q = std::min(std::max(q, 1e-6), 1 - 1e-6);
    return rho * std::log(rho / q) + (1 - rho) * std::log((1 - rho) / (1 - q));
  };
  std::vector<double> mean_m(nb), fit(nb), neg(nb);
  double all_m = 0, all_fit = 0;
  for (int64_t b = 0; b < nb; ++b) {
    for (int64_t k = 0; k < hw; ++k) {
      double m = 1 / (1 + std::exp(-l[b * hw + k]));
      mean_m[b] += m / hw;
      fit[b] += (1 - m) * r[b * hw + k] / hw;
      neg[b] += -std::log(1 - m) / hw;
      all_m += m;
      all_fit += (1 - m) * r[b * hw + k];
    }
  }
  Naive out{0, std::vector<double>(nb * 4)};
  if (p.weak_labels) {
    for (int64_t b = 0; b < nb; ++b) {
      double klb = kl(mean_m[b]);
      out.loss += (y[b] * (p.beta_kl * klb + p.lambda_fit * fit[b]) + (1 - y[b]) * neg[b]) / nb;
      out.stats[b * 4 + 0] = mean_m[b];
      out.stats[b * 4 + 1] = klb;
    }
  } else {
    double q = all_m / (nb * hw);
    out.loss = all_fit / (nb * hw) + p.beta_kl * kl(q);
    for (int64_t b = 0; b < nb; ++b) {
      out.stats[b * 4 + 0] = q;
      out.stats[b * 4 + 1] = kl(q);
    }
  }
  for (int64_t b = 0; b < nb; ++b) {
    out.stats[b * 4 + 2] = fit[b];
    out.stats[b * 4 + 3] = neg[b];
  }
  return out;
}

Tensor labels_of(const std::vector<double>& y) { return Tensor::from_vector_f64(y, {static_cast<int64_t>(y.size())}); }

// dL/dlogits through autograd with seed 1.
Tensor kl_grad(const Tensor& logits, const Tensor& residual, const Tensor& labels, const ops::KlSparsityParams& p) {
  Variable v(logits.clone(), true);
  kl_sparsity(v, residual, labels, p).backward();
  return v.grad();
}

}  // namespace

TEST_CASE("kl_sparsity forward and backward: hand-computed at logits 0 (M = 0.5)") {
  // B = 2 images of 3 x 3, residual 1 everywhere, labels [1, 0], defaults rho 0.03,
  // beta_kl 1, lambda_fit 1. Every M is 0.5, so rho^ = 0.5, fit = 0.5, neg = log 2 and
  // KL(0.03 || 0.5) = 0.03 log 0.06 + 0.97 log 1.94 = 0.5584050...
  Tensor l = Tensor::zeros({2, 1, 3, 3}, DType::F64), r = Tensor::full({2, 1, 3, 3}, 1.0, DType::F64);
  Tensor y = labels_of({1, 0});
  const double rho = 0.03f;  // the float parameter as the kernel sees it
  const double kl = rho * std::log(rho / 0.5) + (1 - rho) * std::log((1 - rho) / 0.5);
  CHECK(kl == doctest::Approx(0.5584050).epsilon(1e-7));

  ops::KlSparsityParams p;
  Tensor stats;
  double loss = kl_sparsity(Variable(l), r, y, p, &stats).data().item();
  // L = (1/2) [(KL + 0.5) + log 2]; 1e-14: a handful of double roundings.
  CHECK(loss == doctest::Approx(0.5 * (kl + 0.5 + std::log(2.0))).epsilon(1e-14));
  CHECK(loss == doctest::Approx(0.8757761).epsilon(1e-7));
  REQUIRE(stats.shape() == Shape{2, 4});
  check_close(stats.to_vector_f64(), {0.5, kl, 0.5, std::log(2.0), 0.5, kl, 0.5, std::log(2.0)}, 1e-15, 1e-14,
              "stats at M = 0.5");
  // dL/dl with s = M (1 - M) = 1/4, HW = 9, B = 2, KL'(0.5) = 2 - 4 rho:
  //   labelled image: (1/2) (KL'(0.5) - r) s / 9;   normal image: (1/2) M / 9.
  Tensor g = kl_grad(l, r, y, p);
  auto gv = g.to_vector_f64();
  std::vector<double> expect(18);
  for (int k = 0; k < 9; ++k) {
    expect[k] = 0.5 * ((2 - 4 * rho) - 1) * 0.25 / 9;
    expect[9 + k] = 0.5 * 0.5 / 9;
  }
  check_close(gv, expect, 1e-16, 1e-13, "gradient at M = 0.5");

  // weak_labels = false: L = mean (1 - M) r + beta_kl KL(rho || 0.5) = 0.5 + KL; labels
  // ignored; every gradient is (KL'(0.5) - r) s / (B HW).
  ops::KlSparsityParams q{.rho = 0.03f, .beta_kl = 1.0f, .lambda_fit = 1.0f, .weak_labels = false};
  CHECK(kl_sparsity(Variable(l), r, y, q).data().item() == doctest::Approx(0.5 + kl).epsilon(1e-14));
  check_close(kl_grad(l, r, y, q).to_vector_f64(), std::vector<double>(18, ((2 - 4 * rho) - 1) * 0.25 / 18), 1e-16,
              1e-13, "gradient at M = 0.5, no labels");
}

TEST_CASE("kl_sparsity forward: direct computation / weak labels / mixed labels") {
  uint64_t seed = 301;
  struct Case {
    Shape shape;
    std::vector<double> labels;
    ops::KlSparsityParams p;
  };
  for (const Case& c :
       {Case{{3, 1, 5, 7},
             {1, 0, 1},
             ops::KlSparsityParams{.rho = 0.05f, .beta_kl = 2.0f, .lambda_fit = 0.7f, .weak_labels = true}},
        Case{{1, 1, 1, 1},
             {1},
             ops::KlSparsityParams{.rho = 0.03f, .beta_kl = 1.0f, .lambda_fit = 1.0f, .weak_labels = true}},
        Case{{2, 1, 4, 3},
             {0, 0},
             ops::KlSparsityParams{.rho = 0.03f, .beta_kl = 1.0f, .lambda_fit = 1.0f, .weak_labels = true}},
        Case{{4, 1, 3, 5},
             {0, 1, 1, 0},
             ops::KlSparsityParams{.rho = 0.1f, .beta_kl = 0.5f, .lambda_fit = 3.0f, .weak_labels = true}}}) {
    Tensor l = random_tensor(c.shape, seed, -4, 2), r = random_tensor(c.shape, seed + 1, 0, 2);
    Tensor y = labels_of(c.labels);
    Naive want = naive_kl_sparsity(l, r, y, c.p);
    Tensor stats;
    double got = kl_sparsity(Variable(l), r, y, c.p, &stats).data().item();
    std::string ctx = "kl_sparsity " + shape_str(c.shape) + " seed " + std::to_string(seed);
    // 1e-12: the naive form's log(1 - M) and 1 - M lose a few digits at |l| <= 4.
    CHECK_MESSAGE(got == doctest::Approx(want.loss).epsilon(1e-12), ctx);
    check_close(stats.to_vector_f64(), want.stats, 1e-13, 1e-12, ctx + " stats");
    // float32: double accumulation inside, so within float rounding of the inputs.
    Tensor st32;
    double got32 =
        kl_sparsity(Variable(l.to(DType::F32)), r.to(DType::F32), y.to(DType::F32), c.p, &st32).data().item();
    CHECK_MESSAGE(got32 == doctest::Approx(want.loss).epsilon(1e-5), ctx << " float32");
    check_close(st32.to_vector_f64(), want.stats, 1e-6, 1e-5, ctx + " float32 stats");
    seed += 2;
  }
}

TEST_CASE("kl_sparsity forward: direct computation / weak_labels = false ignores the labels") {
  uint64_t seed = 311;
  for (Shape s : {Shape{3, 1, 5, 7}, Shape{1, 1, 2, 3}}) {
    Tensor l = random_tensor(s, seed, -4, 2), r = random_tensor(s, seed + 1, 0, 2);
    ops::KlSparsityParams p =
        ops::KlSparsityParams{.rho = 0.02f, .beta_kl = 10.0f, .lambda_fit = 1.0f, .weak_labels = false};
    Tensor y1 = Tensor::full({s[0]}, 1.0, DType::F64), y0 = Tensor::zeros({s[0]}, DType::F64);
    Naive want = naive_kl_sparsity(l, r, y1, p);
    Tensor stats;
    double got = kl_sparsity(Variable(l), r, y1, p, &stats).data().item();
    CHECK(got == doctest::Approx(want.loss).epsilon(1e-12));  // as above
    check_close(stats.to_vector_f64(), want.stats, 1e-13, 1e-12, "stats, no labels");
    CHECK(kl_sparsity(Variable(l), r, y0, p).data().item() == got);
    // With weak labels, all-normal labels give a different loss (mean neg): the flag is read.
    ops::KlSparsityParams pw = p;
    pw.weak_labels = true;
    CHECK(std::abs(kl_sparsity(Variable(l), r, y0, pw).data().item() - got) > 1e-2);
    seed += 2;
  }
}

TEST_CASE("kl_sparsity gradcheck (float64)") {
  uint64_t seed = 321;
  struct Case {
    Shape shape;
    std::vector<double> labels;
    ops::KlSparsityParams p;
  };
  for (const Case& c :
       {Case{{1, 1, 1, 1},
             {1},
             ops::KlSparsityParams{.rho = 0.03f, .beta_kl = 1.0f, .lambda_fit = 1.0f, .weak_labels = true}},
        Case{{1, 1, 5, 7},
             {0},
             ops::KlSparsityParams{.rho = 0.03f, .beta_kl = 1.0f, .lambda_fit = 1.0f, .weak_labels = true}},
        Case{{3, 1, 5, 7},
             {1, 0, 1},
             ops::KlSparsityParams{.rho = 0.05f, .beta_kl = 2.0f, .lambda_fit = 0.7f, .weak_labels = true}},
        Case{{2, 1, 3, 4},
             {1, 1},
             ops::KlSparsityParams{.rho = 0.03f, .beta_kl = 1.0f, .lambda_fit = 1.0f, .weak_labels = true}},
        Case{{3, 1, 5, 7},
             {1, 0, 1},
             ops::KlSparsityParams{.rho = 0.02f, .beta_kl = 10.0f, .lambda_fit = 1.0f, .weak_labels = false}},
        Case{{1, 1, 1, 1},
             {0},
             ops::KlSparsityParams{.rho = 0.02f, .beta_kl = 10.0f, .lambda_fit = 1.0f, .weak_labels = false}}}) {
    Tensor l = random_tensor(c.shape, seed, -4, 2), r = random_tensor(c.shape, seed + 1, 0, 2);
    Tensor y = labels_of(c.labels);
    std::string name = "kl_sparsity " + shape_str(c.shape) + (c.p.weak_labels ? " weak" : " no labels");
    gradcheck(name, [&](auto& v) { return kl_sparsity(v[0], r, y, c.p); }, {l}, {true});
    seed += 2;
  }
}

TEST_CASE("kl_sparsity gradcheck with clamped rho^: the KL gradient vanishes there") {
  const uint64_t seed = 331;
  // Image 0: logits in [-21, -19], M ~ 2e-9, rho^ < 1e-6: clamped low. Image 1: logits in
  // [19, 21], 1 - rho^ < 1e-6: clamped high. Image 2: ordinary logits. All labelled 1.
  Tensor lo = random_tensor({1, 1, 5, 7}, seed, -21, -19), hi = random_tensor({1, 1, 5, 7}, seed + 1, 19, 21);
  Tensor mid = random_tensor({1, 1, 5, 7}, seed + 2, -3, 1);
  std::vector<double> lv = lo.to_vector_f64(), v1 = hi.to_vector_f64(), v2 = mid.to_vector_f64();
  lv.insert(lv.end(), v1.begin(), v1.end());
  lv.insert(lv.end(), v2.begin(), v2.end());
  Tensor l = Tensor::from_vector_f64(lv, {3, 1, 5, 7});
  Tensor r = random_tensor({3, 1, 5, 7}, seed + 3, 0, 2), y = labels_of({1, 1, 1});

  Tensor stats;
  kl_sparsity(Variable(l), r, y, {}, &stats);
  auto sv = stats.to_vector_f64();
  REQUIRE(sv[0] < 1e-6);
  REQUIRE(1 - sv[4] < 1e-6);
  REQUIRE(sv[8] > 1e-3);
  // The KL of a clamped image uses rho^ = 1e-6 (or 1 - 1e-6).
  const double rho = 0.03f;
  CHECK(sv[1] == doctest::Approx(rho * std::log(rho / 1e-6) + (1 - rho) * std::log((1 - rho) / (1 - 1e-6))));

  // KL term alone (lambda_fit = 0): exactly zero gradient on the clamped images, not on
  // the third. An unclamped KL' at rho^ ~ 2e-9 would be ~ -rho / rho^ ~ -1e7, times
  // s / HW ~ 6e-11: a gradient of ~ 1e-3, far from zero.
  ops::KlSparsityParams kl_only =
      ops::KlSparsityParams{.rho = 0.03f, .beta_kl = 1.0f, .lambda_fit = 0.0f, .weak_labels = true};
  auto g = kl_grad(l, r, y, kl_only).to_vector_f64();
  for (int k = 0; k < 70; ++k) REQUIRE(g[k] == 0.0);
  double mid_norm = 0;
  for (int k = 70; k < 105; ++k) mid_norm += std::abs(g[k]);
  CHECK(mid_norm > 1e-4);

  // Finite differences agree on every image. atol 1e-9 instead of 1e-6: the fit gradients
  // of the saturated images are ~ 1e-11, and the FD rounding is ~ 1e-16 L / eps ~ 1e-10.
  sad::test::GradCheckOptions opt;
  opt.atol = 1e-9;
  gradcheck(
      "kl_sparsity clamped", [&](auto& v) { return kl_sparsity(v[0], r, y, {}); }, {l}, {true}, opt);
  gradcheck(
      "kl_sparsity clamped, KL only", [&](auto& v) { return kl_sparsity(v[0], r, y, kl_only); }, {l}, {true}, opt);

  // weak_labels = false with the whole batch saturated low: batch rho^ clamped.
  Tensor all_lo = random_tensor({2, 1, 3, 5}, seed + 4, -21, -19), r2 = random_tensor({2, 1, 3, 5}, seed + 5, 0, 2);
  ops::KlSparsityParams nolab =
      ops::KlSparsityParams{.rho = 0.02f, .beta_kl = 10.0f, .lambda_fit = 0.0f, .weak_labels = false};
  auto g2 = kl_grad(all_lo, r2, labels_of({0, 1}), nolab).to_vector_f64();
  // Only the fit term's gradient remains: -r s / (B HW), about 1e-10 here.
  double max_g = 0;
  for (double v : g2) max_g = std::max(max_g, std::abs(v));
  CHECK(max_g < 1e-8);
  gradcheck(
      "kl_sparsity clamped, no labels",
      [&](auto& v) {
        return kl_sparsity(v[0], r2, labels_of({0, 1}), nolab);
      },
      {all_lo}, {true}, opt);
}

TEST_CASE("kl_sparsity stability: logits +-50 give finite values and gradients") {
  // Both signs in every image, and whole images saturated either way.
  std::vector<double> lv = {50, -50, 50, -50, 50, 50, 50, 50, -50, -50, -50, -50};
  Tensor r = Tensor::full({3, 1, 2, 2}, 0.5, DType::F64);
  for (DType dt : {DType::F64, DType::F32}) {
    Tensor l = Tensor::from_vector_f64(lv, {3, 1, 2, 2}, dt), rr = r.to(dt);
    for (bool weak : {true, false}) {
      for (std::vector<double> labels : {std::vector<double>{1, 0, 1}, std::vector<double>{0, 1, 0}}) {
        Tensor y = Tensor::from_vector_f64(labels, {3}, dt);
        ops::KlSparsityParams p{.weak_labels = weak};  // rho 0.03, beta 1, lambda 1
        Variable v(l.clone(), true);
        Tensor stats;
        Variable loss = kl_sparsity(v, rr, y, p, &stats);
        CHECK(std::isfinite(loss.data().item()));
        for (double s : stats.to_vector_f64()) CHECK(std::isfinite(s));
        loss.backward();
        for (double gk : v.grad().to_vector_f64()) CHECK(std::isfinite(gk));
      }
    }
  }
  // Hand value: labels [0, 0, 0], weak labels: L = mean_b neg_b with softplus(50) = 50
  // (+ 2e-22) and softplus(-50) ~ 2e-22: image means 25, 50, 0, so L = 25.
  Tensor l = Tensor::from_vector_f64(lv, {3, 1, 2, 2});
  CHECK(kl_sparsity(Variable(l), r, labels_of({0, 0, 0}), {}).data().item() == doctest::Approx(25.0).epsilon(1e-14));
}

TEST_CASE("kl_sparsity errors: shapes and rho") {
  Variable l(Tensor::zeros({2, 1, 4, 4}));
  Tensor r = Tensor::zeros({2, 1, 4, 4}), y = Tensor::zeros({2});
  CHECK_THROWS_AS(kl_sparsity(l, Tensor::zeros({2, 1, 4, 3}), y, {}), sad::Error);  // residual shape
  CHECK_THROWS_AS(kl_sparsity(l, r, Tensor::zeros({3}), {}), sad::Error);           // labels length
  CHECK_THROWS_AS(kl_sparsity(Variable(Tensor::zeros({2, 2, 4, 4})), Tensor::zeros({2, 2, 4, 4}), y, {}),
                  sad::Error);  // two channels
  CHECK_THROWS_AS(
      kl_sparsity(l, r, y,
                  ops::KlSparsityParams{.rho = 0.0f, .beta_kl = 1.0f, .lambda_fit = 1.0f, .weak_labels = true}),
      sad::Error);                                                                     // rho outside (0, 1)
  CHECK_THROWS_AS(kl_sparsity(l, r, Tensor::zeros({2}, DType::F64), {}), sad::Error);  // dtype differs
}
