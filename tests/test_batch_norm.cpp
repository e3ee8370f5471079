// batch_norm2d: training-mode normalisation against statistics computed here, running
// statistics after one and two steps against hand-computed values (unbiased variance,
// PyTorch's momentum convention), eval mode, float64 finite-difference gradients in
// both modes, and the bad-shape errors.
#include <cmath>
#include <string>

#include "autograd/functions.h"
#include "test_util.h"

using namespace sad;
using sad::test::check_close;
using sad::test::gradcheck;
using sad::test::random_tensor;

namespace {

// (x - mean) / sqrt(var + eps) * gamma + beta per channel, statistics given.
std::vector<double> normalise(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& var,
                              const std::vector<double>& gamma, const std::vector<double>& beta, double eps) {
  const int64_t N = x.dim(0), C = x.dim(1), HW = x.dim(2) * x.dim(3);
  std::vector<double> xv = x.to_vector_f64(), y(xv.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < HW; ++i) {
        size_t k = static_cast<size_t>((n * C + c) * HW + i);
        y[k] = (xv[k] - mean[c]) / std::sqrt(var[c] + eps) * gamma[c] + beta[c];
      }
  return y;
}

}  // namespace

TEST_CASE("batch_norm2d forward (training): normalises with the batch mean and biased variance") {
  // (3, 2, 5, 7): batch > 1, odd H and W; values shifted off zero so a wrong mean shows.
  Tensor x = random_tensor({3, 2, 5, 7}, 5, 1.0, 4.0);
  Tensor gamma = Tensor::from_vector_f64({1.5, -0.5}, {2}), beta = Tensor::from_vector_f64({0.25, 2.0}, {2});
  Tensor rm = Tensor::zeros({2}, DType::F64), rv = Tensor::full({2}, 1.0, DType::F64);
  const ops::BatchNormParams p{};  // training, momentum 0.1, eps 1e-5
  Variable y = batch_norm2d(Variable(x), Variable(gamma), Variable(beta), rm, rv, p);

  std::vector<double> xv = x.to_vector_f64(), mean(2, 0.0), var(2, 0.0);
  const int64_t m = 3 * 35;
  for (int64_t n = 0; n < 3; ++n)
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t i = 0; i < 35; ++i) mean[c] += xv[static_cast<size_t>((n * 2 + c) * 35 + i)] / m;
  for (int64_t n = 0; n < 3; ++n)
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t i = 0; i < 35; ++i)
        var[c] += std::pow(xv[static_cast<size_t>((n * 2 + c) * 35 + i)] - mean[c], 2) / m;
  // Double sums of 105 values: rounding ~1e-14.
  check_close(y.data().to_vector_f64(), normalise(x, mean, var, {1.5, -0.5}, {0.25, 2.0}, p.eps), 1e-12, 0,
              "batch_norm2d training forward");
}

TEST_CASE("batch_norm2d running statistics after one and two steps (unbiased variance)") {
  // One channel, N = 2, H = 1, W = 2. Step 1 values {1, 2, 3, 4}: mean 2.5, unbiased
  // variance 5/3. Step 2 values {2, 4, 6, 8}: mean 5, unbiased variance 20/3.
  Tensor rm = Tensor::zeros({1}, DType::F64), rv = Tensor::full({1}, 1.0, DType::F64);
  Variable gamma(Tensor::full({1}, 1.0, DType::F64)), beta(Tensor::zeros({1}, DType::F64));
  const ops::BatchNormParams p{.training = true, .momentum = 0.1f};
  const double m = static_cast<double>(0.1f);  // the float momentum, as the kernel sees it
  batch_norm2d(Variable(Tensor::from_vector_f64({1, 2, 3, 4}, {2, 1, 1, 2})), gamma, beta, rm, rv, p);
  double rm1 = (1 - m) * 0 + m * 2.5, rv1 = (1 - m) * 1 + m * 5.0 / 3.0;
  check_close(rm.to_vector_f64(), {rm1}, 1e-15, 0, "running_mean after one step");
  check_close(rv.to_vector_f64(), {rv1}, 1e-15, 0, "running_var after one step");
  batch_norm2d(Variable(Tensor::from_vector_f64({2, 4, 6, 8}, {2, 1, 1, 2})), gamma, beta, rm, rv, p);
  check_close(rm.to_vector_f64(), {(1 - m) * rm1 + m * 5.0}, 1e-15, 0, "running_mean after two steps");
  check_close(rv.to_vector_f64(), {(1 - m) * rv1 + m * 20.0 / 3.0}, 1e-15, 0, "running_var after two steps");
}

TEST_CASE("batch_norm2d eval mode: uses the running statistics and leaves them alone") {
  Tensor x = random_tensor({2, 3, 3, 5}, 9);
  Tensor rm = Tensor::from_vector_f64({0.5, -1.0, 0.0}, {3}), rv = Tensor::from_vector_f64({2.0, 0.25, 1.0}, {3});
  Tensor gamma = Tensor::from_vector_f64({1, 2, 3}, {3}), beta = Tensor::from_vector_f64({0, -1, 1}, {3});
  ops::BatchNormParams p{.training = false};
  Tensor y = empty_like(x), sm = Tensor::empty({3}, DType::F64), si = Tensor::empty({3}, DType::F64);
  ops::batch_norm2d_forward(p, x, gamma, beta, rm, rv, y, sm, si);
  check_close(y.to_vector_f64(), normalise(x, {0.5, -1.0, 0.0}, {2.0, 0.25, 1.0}, {1, 2, 3}, {0, -1, 1}, p.eps), 1e-14,
              0, "batch_norm2d eval forward");
  check_close(rm.to_vector_f64(), {0.5, -1.0, 0.0}, 0, 0, "running_mean untouched");
  check_close(rv.to_vector_f64(), {2.0, 0.25, 1.0}, 0, 0, "running_var untouched");
  // save_* hold the running statistics (mean, 1/sqrt(var + eps)) so backward works.
  check_close(sm.to_vector_f64(), {0.5, -1.0, 0.0}, 0, 0, "save_mean in eval");
  std::vector<double> inv;
  for (double v : {2.0, 0.25, 1.0}) inv.push_back(1 / std::sqrt(v + static_cast<double>(p.eps)));
  check_close(si.to_vector_f64(), inv, 1e-15, 1e-15, "save_invstd in eval");
}

TEST_CASE("batch_norm2d gradients: finite differences (float64)") {
  struct Case {
    const char* name;
    Shape shape;
  };
  uint64_t seed = 60;
  for (const Case& k : {Case{"(2, 3, 5, 7)", {2, 3, 5, 7}}, Case{"batch 1 (1, 2, 3, 3)", {1, 2, 3, 3}},
                        Case{"1x1 images (6, 2, 1, 1)", {6, 2, 1, 1}}}) {
    for (bool training : {true, false}) {
      ++seed;
      INFO(std::string(k.name));
      CAPTURE(training);
      const int64_t C = k.shape[1];
      Tensor x = random_tensor(k.shape, seed, -2.0, 2.0);
      Tensor gamma = random_tensor({C}, seed + 1, 0.5, 1.5), beta = random_tensor({C}, seed + 2);
      // Running statistics: updated by every training-mode call (the output does not
      // depend on them there); fixed and used in eval mode.
      Tensor rm = random_tensor({C}, seed + 3, -0.5, 0.5), rv = random_tensor({C}, seed + 4, 0.5, 2.0);
      ops::BatchNormParams p{.training = training};
      gradcheck(std::string("batch_norm2d ") + k.name + (training ? " training" : " eval"),
                [&](auto& v) { return batch_norm2d(v[0], v[1], v[2], rm, rv, p); }, {x, gamma, beta},
                {true, true, true}, {.seed = seed});
    }
  }
}

TEST_CASE("batch_norm2d float32 matches float64") {
  Tensor x = random_tensor({4, 5, 9, 7}, 70, -3.0, 3.0);
  Tensor gamma = random_tensor({5}, 71, 0.5, 1.5), beta = random_tensor({5}, 72), dy = random_tensor(x.shape(), 73);
  Tensor out[2], dx[2], dg[2], db[2];
  for (int t = 0; t < 2; ++t) {
    DType dt = t == 0 ? DType::F64 : DType::F32;
    Tensor xt = x.to(dt), gt = gamma.to(dt), bt = beta.to(dt);
    Tensor rm = Tensor::zeros({5}, dt), rv = Tensor::full({5}, 1.0, dt), sm = Tensor::empty({5}, dt),
           si = Tensor::empty({5}, dt);
    out[t] = empty_like(xt);
    ops::batch_norm2d_forward({}, xt, gt, bt, rm, rv, out[t], sm, si);
    dx[t] = empty_like(xt), dg[t] = Tensor::empty({5}, dt), db[t] = Tensor::empty({5}, dt);
    ops::batch_norm2d_backward({}, xt, gt, sm, si, nullptr, dy.to(dt), &dx[t], &dg[t], &db[t]);
  }
  // Statistics accumulate in double in both; float32 only rounds the inputs and the
  // outputs (6e-8 relative), |out| <= ~3: 1e-6. dgamma and dbeta sum 252 rounded terms
  // of size <= ~3: 252 * 3 * 6e-8 ~ 5e-5.
  check_close(out[1], out[0], 1e-6, 0, "forward f32 vs f64");
  check_close(dx[1], dx[0], 1e-6, 0, "dinp f32 vs f64");
  check_close(dg[1], dg[0], 5e-5, 0, "dgamma f32 vs f64");
  check_close(db[1], db[0], 5e-5, 0, "dbeta f32 vs f64");
}

TEST_CASE("batch_norm2d: bad shapes are refused") {
  Variable x(Tensor::zeros({2, 3, 4, 4}));
  Variable gamma(Tensor::full({3}, 1.0)), beta(Tensor::zeros({3}));
  Tensor rm = Tensor::zeros({3}), rv = Tensor::full({3}, 1.0);
  try {
    batch_norm2d(x, Variable(Tensor::full({2}, 1.0)), beta, rm, rv, {});
    FAIL("a gamma of the wrong length was accepted");
  } catch (const Error& e) {
    std::string msg = e.what();
    CHECK_MESSAGE(msg.find("gamma") != std::string::npos, msg);
    CHECK_MESSAGE(msg.find("(2)") != std::string::npos, msg);
    CHECK_MESSAGE(msg.find("(3)") != std::string::npos, msg);
  }
  Tensor rm_bad = Tensor::zeros({4});
  CHECK_THROWS_AS(batch_norm2d(x, gamma, beta, rm_bad, rv, {}), Error);
  CHECK_THROWS_AS(batch_norm2d(Variable(Tensor::zeros({2, 3, 4})), gamma, beta, rm, rv, {}), Error);
  // Training statistics of a single value per channel are undefined (unbiased variance
  // divides by zero); eval mode is fine.
  Variable one(Tensor::zeros({1, 3, 1, 1}));
  CHECK_THROWS_AS(batch_norm2d(one, gamma, beta, rm, rv, {.training = true}), Error);
  CHECK_NOTHROW(batch_norm2d(one, gamma, beta, rm, rv, {.training = false}));
}

// ---- the fused activation (BatchNormParams::act) ------------------------------------------

namespace {

// Loss gradients of act(batch_norm(x)) for the three inputs, computed with the fused op or
// with batch_norm2d followed by the relu / leaky_relu op; dy fixed by `seed`.
struct BnActRun {
  std::vector<Tensor> values;  // output, dx, dgamma, dbeta
};
BnActRun bn_act_run(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool training, ops::BnAct act,
                    bool fused) {
  Variable vx(x, true), vg(gamma, true), vb(beta, true);
  Tensor rm = Tensor::zeros({x.dim(1)}, x.dtype()), rv = Tensor::full({x.dim(1)}, 1.0, x.dtype());
  const float alpha = 0.2f;
  Variable y;
  if (fused) {
    y = batch_norm2d(vx, vg, vb, rm, rv, {.training = training, .act = act, .alpha = alpha});
  } else {
    Variable h = batch_norm2d(vx, vg, vb, rm, rv, {.training = training});
    y = act == ops::BnAct::Relu ? relu(h) : leaky_relu(h, alpha);
  }
  Variable dy(random_tensor(x.shape(), 99, -1.0, 1.0).to(x.dtype()));
  sum(mul(y, dy)).backward();
  return {{y.data(), vx.grad(), vg.grad(), vb.grad()}};
}

}  // namespace

TEST_CASE("batch_norm2d fused relu and leaky relu: the same bits as the separate ops (float32)") {
  // Inputs with exact zeros after normalisation are not needed: the slope test reads the
  // sign of the very value both paths compute.
  Tensor x = random_tensor({3, 4, 9, 7}, 80, -2.0, 3.0).to(DType::F32);
  Tensor gamma = random_tensor({4}, 81, -1.5, 1.5).to(DType::F32), beta = random_tensor({4}, 82).to(DType::F32);
  for (ops::BnAct act : {ops::BnAct::Relu, ops::BnAct::LeakyRelu})
    for (bool training : {true, false}) {
      CAPTURE(static_cast<int>(act));
      CAPTURE(training);
      const BnActRun a = bn_act_run(x, gamma, beta, training, act, true);
      const BnActRun b = bn_act_run(x, gamma, beta, training, act, false);
      const char* what[] = {"output", "dinp", "dgamma", "dbeta"};
      for (int k = 0; k < 4; ++k) check_close(a.values[k], b.values[k], 0, 0, what[k]);
    }
}

TEST_CASE("batch_norm2d fused activation gradients: finite differences (float64)") {
  uint64_t seed = 90;
  for (ops::BnAct act : {ops::BnAct::Relu, ops::BnAct::LeakyRelu})
    for (bool training : {true, false}) {
      ++seed;
      CAPTURE(static_cast<int>(act));
      CAPTURE(training);
      Tensor x = random_tensor({2, 3, 4, 5}, seed, -2.0, 2.0);
      Tensor gamma = random_tensor({3}, seed + 1, 0.5, 1.5), beta = random_tensor({3}, seed + 2);
      Tensor rm = random_tensor({3}, seed + 3, -0.5, 0.5), rv = random_tensor({3}, seed + 4, 0.5, 2.0);
      const ops::BatchNormParams p{.training = training, .act = act, .alpha = 0.2f};
      gradcheck(std::string("batch_norm2d + act ") + (training ? "training" : "eval"),
                [&](auto& v) { return batch_norm2d(v[0], v[1], v[2], rm, rv, p); }, {x, gamma, beta},
                {true, true, true}, {.seed = seed});
    }
}

TEST_CASE("batch_norm2d fused activation: a negative slope and a missing output are refused") {
  Tensor x = Tensor::zeros({2, 3, 4, 4}), g = Tensor::full({3}, 1.0), b = Tensor::zeros({3});
  Tensor rm = Tensor::zeros({3}), rv = Tensor::full({3}, 1.0), y = empty_like(x), sm = Tensor::empty({3}),
         si = Tensor::empty({3}), dx = empty_like(x);
  CHECK_THROWS_WITH_AS(
      ops::batch_norm2d_forward({.act = ops::BnAct::LeakyRelu, .alpha = -0.1f}, x, g, b, rm, rv, y, sm, si),
      doctest::Contains("slope >= 0"), Error);
  ops::batch_norm2d_forward({.act = ops::BnAct::Relu}, x, g, b, rm, rv, y, sm, si);
  CHECK_THROWS_WITH_AS(
      ops::batch_norm2d_backward({.act = ops::BnAct::Relu}, x, g, sm, si, nullptr, y, &dx, nullptr, nullptr),
      doctest::Contains("needs the forward's output"), Error);
  CHECK_NOTHROW(ops::batch_norm2d_backward({.act = ops::BnAct::Relu}, x, g, sm, si, &y, y, &dx, nullptr, nullptr));
}
