// unary ops: forward against hand-computed values, gradients by finite differences.
#include "autograd/functions.h"
#include "kernels/ops.h"
#include "test_util.h"

using namespace sad;
using sad::test::check_close;
using sad::test::gradcheck;
using sad::test::random_tensor;

TEST_CASE("unary forward: hand-computed values") {
  Tensor x = Tensor::from_vector_f64({-2.0, -0.5, 0.0, 0.5, 3.0}, {5});
  Variable v(x);
  check_close(relu(v).data().to_vector_f64(), {0, 0, 0, 0.5, 3}, 0, 0, "relu");
  check_close(leaky_relu(v, 0.2f).data().to_vector_f64(), {-0.4, -0.1, 0, 0.5, 3}, 1e-7, 0, "leaky_relu");
  check_close(abs(v).data().to_vector_f64(), {2, 0.5, 0, 0.5, 3}, 0, 0, "abs");
  check_close(affine(v, 2.0f, 1.0f).data().to_vector_f64(), {-3, 0, 1, 2, 7}, 0, 0, "affine");
  std::vector<double> sig, th, sp;
  for (double a : {-2.0, -0.5, 0.0, 0.5, 3.0}) {
    sig.push_back(1 / (1 + std::exp(-a)));
    th.push_back(std::tanh(a));
    sp.push_back(std::log(1 + std::exp(a)));
  }
  check_close(sigmoid(v).data().to_vector_f64(), sig, 1e-15, 1e-14, "sigmoid");
  check_close(tanh(v).data().to_vector_f64(), th, 1e-15, 1e-14, "tanh");
  check_close(softplus(v).data().to_vector_f64(), sp, 1e-15, 1e-14, "softplus");
}

TEST_CASE("unary: sigmoid and softplus stay finite at large |x|") {
  Variable v(Tensor::from_vector({-1000.f, 1000.f}, {2}));
  auto s = sigmoid(v).data().to_vector();
  CHECK(s[0] == 0.0f);
  CHECK(s[1] == 1.0f);
  auto sp = softplus(v).data().to_vector();
  CHECK(sp[0] == 0.0f);
  CHECK(sp[1] == 1000.0f);
}

TEST_CASE("unary gradients: finite differences (float64)") {
  const uint64_t seed = 11;
  // (2, 3, 5, 7): odd sizes; values in [-2, 2], kinks at 0 detected and skipped.
  Tensor x = random_tensor({2, 3, 5, 7}, seed, -2.0, 2.0);
  gradcheck("relu", [](auto& v) { return relu(v[0]); }, {x}, {true});
  gradcheck("leaky_relu", [](auto& v) { return leaky_relu(v[0], 0.2f); }, {x}, {true});
  gradcheck("sigmoid", [](auto& v) { return sigmoid(v[0]); }, {x}, {true});
  gradcheck("tanh", [](auto& v) { return tanh(v[0]); }, {x}, {true});
  gradcheck("abs", [](auto& v) { return abs(v[0]); }, {x}, {true});
  gradcheck("softplus", [](auto& v) { return softplus(v[0]); }, {x}, {true});
  gradcheck("affine", [](auto& v) { return affine(v[0], -1.5f, 0.25f); }, {x}, {true});
}

// The CPU loops run vectorised (and threaded past 32768 elements) with a scalar remainder:
// a float32 tensor of odd length larger than that threshold, against each element's
// formula in double, for every kind; forward out of place and in place (out = inp, as
// model/losses.cpp uses it), backward from dy.
TEST_CASE("unary kernels: vectorised and threaded loops match the per-element formulas") {
  const int64_t n = 100003;
  Tensor x = random_tensor({n}, 31, -3.0, 3.0, DType::F32);
  Tensor dy = random_tensor({n}, 32, -1.0, 1.0, DType::F32);
  const std::vector<float> xv = x.to_vector(), dyv = dy.to_vector();
  struct Kind {
    ops::UnaryParams p;
    double (*value)(double, double, double);  // (x, alpha, beta)
    double (*slope)(double, double, double);  // (x, y, alpha)
  };
  const Kind kinds[] = {
      {{ops::UnaryKind::Relu},
       [](double v, double, double) { return v > 0 ? v : 0.0; },
       [](double v, double, double) { return v > 0 ? 1.0 : 0.0; }},
      {{ops::UnaryKind::LeakyRelu, 0.2f},
       [](double v, double a, double) { return v > 0 ? v : a * v; },
       [](double v, double, double a) { return v > 0 ? 1.0 : a; }},
      {{ops::UnaryKind::Sigmoid},
       [](double v, double, double) { return 1 / (1 + std::exp(-v)); },
       [](double, double y, double) { return y * (1 - y); }},
      {{ops::UnaryKind::Tanh},
       [](double v, double, double) { return std::tanh(v); },
       [](double, double y, double) { return 1 - y * y; }},
      {{ops::UnaryKind::Abs},
       [](double v, double, double) { return std::abs(v); },
       [](double v, double, double) { return v > 0 ? 1.0 : (v < 0 ? -1.0 : 0.0); }},
      {{ops::UnaryKind::Affine, -0.5f, 0.25f},
       [](double v, double a, double b) { return a * v + b; },
       [](double, double, double a) { return a; }},
      {{ops::UnaryKind::Softplus},
       [](double v, double, double) { return std::log1p(std::exp(v)); },
       [](double v, double, double) { return 1 / (1 + std::exp(-v)); }},
  };
  for (const Kind& k : kinds) {
    CAPTURE(static_cast<int>(k.p.kind));
    const double alpha = k.p.alpha, beta = k.p.beta;
    Tensor y = Tensor::empty({n}, DType::F32);
    ops::unary_forward(k.p, x, y);
    Tensor in_place = x.clone();
    ops::unary_forward(k.p, in_place, in_place);
    Tensor dx = Tensor::empty({n}, DType::F32);
    ops::unary_backward(k.p, x, y, dy, dx);
    const std::vector<float> yv = y.to_vector(), iv = in_place.to_vector(), dxv = dx.to_vector();
    int bad = 0;
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
      const double v = xv[i], want = k.value(v, alpha, beta);
      // float32 rounding of the value (and of libm's float functions: a few ulps).
      if (std::abs(yv[i] - want) > 1e-6 + 1e-6 * std::abs(want)) ++bad;
      if (iv[i] != yv[i]) ++bad;
      const double want_dx = dyv[i] * k.slope(v, yv[i], alpha);
      if (std::abs(dxv[i] - want_dx) > 1e-6 + 1e-5 * std::abs(want_dx)) ++bad;
    }
    CHECK(bad == 0);
  }
}

// Where the slope is 0 (ReLU, abs at 0) the gradient is selected, not multiplied by the
// slope: a non-finite upstream gradient there gives 0, as PyTorch's threshold_backward.
TEST_CASE("unary backward: a zero slope gives 0 even for a non-finite upstream gradient") {
  Tensor x = Tensor::from_vector({-1.0f, 0.0f, 2.0f}, {3});
  Tensor dy = Tensor::from_vector({NAN, INFINITY, 3.0f}, {3});
  for (ops::UnaryKind k : {ops::UnaryKind::Relu, ops::UnaryKind::Abs}) {
    CAPTURE(static_cast<int>(k));
    Tensor y = Tensor::empty({3}, DType::F32), dx = Tensor::empty({3}, DType::F32);
    ops::unary_forward({k}, x, y);
    ops::unary_backward({k}, x, y, dy, dx);
    const std::vector<float> d = dx.to_vector();
    CHECK(d[1] == 0.0f);  // x = 0: slope 0 for both kinds
    CHECK(d[2] == 3.0f);
    if (k == ops::UnaryKind::Relu)
      CHECK(d[0] == 0.0f);
    else
      CHECK(std::isnan(d[0]));  // abs: slope -1, so -NaN
  }
}
