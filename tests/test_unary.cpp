// unary ops: forward against hand-computed values, gradients by finite differences.
#include "autograd/functions.h"
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
