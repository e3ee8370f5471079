// gemm, matmul and linear: gemm against a naive triple loop for every transpose
// combination and alpha/beta, linear against a hand-computed case, and float64
// finite-difference gradients of matmul and linear.
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "autograd/functions.h"
#include "kernels/runtime.h"
#include "test_util.h"

using namespace sad;
using sad::test::check_close;
using sad::test::gradcheck;
using sad::test::random_tensor;

namespace {

// alpha op(A) op(B) + beta C in double, straight from the definition.
std::vector<double> naive_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
                               const std::vector<double>& a, const std::vector<double>& b, double beta,
                               const std::vector<double>& c) {
  std::vector<double> out(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t l = 0; l < k; ++l) {
        double av = ta ? a[static_cast<size_t>(l * m + i)] : a[static_cast<size_t>(i * k + l)];
        double bv = tb ? b[static_cast<size_t>(j * k + l)] : b[static_cast<size_t>(l * n + j)];
        s += av * bv;
      }
      size_t o = static_cast<size_t>(i * n + j);
      out[o] = alpha * s + (beta == 0 ? 0.0 : beta * c[o]);
    }
  return out;
}

}  // namespace

TEST_CASE("gemm: every transpose combination with alpha and beta matches a naive product") {
  const int64_t m = 5, n = 7, k = 3;
  uint64_t seed = 40;
  for (DType dt : {DType::F64, DType::F32})
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (auto [alpha, beta] : {std::pair{1.0f, 0.0f}, {1.5f, -0.5f}, {-0.25f, 1.0f}}) {
          ++seed;
          CAPTURE(ta);
          CAPTURE(tb);
          CAPTURE(alpha);
          CAPTURE(beta);
          CAPTURE(seed);
          Tensor a = random_tensor(ta ? Shape{k, m} : Shape{m, k}, seed, -1, 1, dt);
          Tensor b = random_tensor(tb ? Shape{n, k} : Shape{k, n}, seed + 1, -1, 1, dt);
          Tensor c = random_tensor({m, n}, seed + 2, -1, 1, dt);
          std::vector<double> expected =
              naive_gemm(ta, tb, m, n, k, alpha, a.to_vector_f64(), b.to_vector_f64(), beta, c.to_vector_f64());
          ops::gemm({ta, tb, alpha, beta}, a, b, c);
          // float32: 3 products and the beta term, each rounded at 6e-8 relative, |terms| <= 2.
          double tol = dt == DType::F64 ? 1e-15 : 1e-6;
          check_close(c.to_vector_f64(), expected, tol, 0, std::string("gemm ") + dtype_name(dt));
        }
}

TEST_CASE("gemm: beta = 0 does not read C / and an empty inner dimension gives beta C") {
  Tensor a = random_tensor({4, 6}, 1), b = random_tensor({6, 2}, 2);
  Tensor c = Tensor::full({4, 2}, std::numeric_limits<double>::quiet_NaN(), DType::F64);
  ops::gemm({}, a, b, c);
  for (double v : c.to_vector_f64()) CHECK(std::isfinite(v));

  Tensor a0 = Tensor::empty({3, 0}, DType::F64), b0 = Tensor::empty({0, 2}, DType::F64);
  Tensor c0 = Tensor::full({3, 2}, 4.0, DType::F64);
  ops::gemm({.beta = 0.5f}, a0, b0, c0);
  check_close(c0.to_vector_f64(), std::vector<double>(6, 2.0), 0, 0, "gemm with K = 0");
}

TEST_CASE("gemm: mismatched inner dimensions are refused with both shapes named") {
  Tensor a = Tensor::zeros({3, 4}), b = Tensor::zeros({5, 2}), c = Tensor::zeros({3, 2});
  try {
    ops::gemm({}, a, b, c);
    FAIL("an inner dimension mismatch was accepted");
  } catch (const Error& e) {
    std::string msg = e.what();
    CHECK_MESSAGE(msg.find("(3, 4)") != std::string::npos, msg);
    CHECK_MESSAGE(msg.find("(5, 2)") != std::string::npos, msg);
  }
  CHECK_THROWS_AS(matmul(Variable(a), Variable(b)), Error);
  CHECK_THROWS_AS(linear(Variable(a), Variable(Tensor::zeros({2, 5})), Variable()), Error);
  CHECK_THROWS_AS(linear(Variable(a), Variable(Tensor::zeros({2, 4})), Variable(Tensor::zeros({3}))), Error);
}

TEST_CASE("matmul and linear forward: hand-computed") {
  Variable a(Tensor::from_vector_f64({1, 2, 3, 4, 5, 6}, {2, 3}));
  Variable b(Tensor::from_vector_f64({1, 0, 0, 1, 1, 1}, {3, 2}));
  check_close(matmul(a, b).data().to_vector_f64(), {4, 5, 10, 11}, 0, 0, "matmul");

  // x (2, 3), W (2, 3): y = x W^T + b.
  Variable w(Tensor::from_vector_f64({1, 0, -1, 0.5, 0.5, 0.5}, {2, 3}));
  Variable bias(Tensor::from_vector_f64({10, -10}, {2}));
  Variable y = linear(a, w, bias);
  REQUIRE(y.shape() == Shape{2, 2});
  check_close(y.data().to_vector_f64(), {1 - 3 + 10, 3 - 10, 4 - 6 + 10, 7.5 - 10}, 0, 0, "linear");
  check_close(linear(a, w, Variable()).data().to_vector_f64(), {-2, 3, -2, 7.5}, 0, 0, "linear without bias");
}

TEST_CASE("matmul and linear gradients: finite differences (float64)") {
  // Shapes with no dimension equal to another, and a single-row batch.
  gradcheck("matmul", [](auto& v) { return matmul(v[0], v[1]); }, {random_tensor({5, 3}, 1), random_tensor({3, 4}, 2)},
            {true, true});
  gradcheck("matmul 1 row", [](auto& v) { return matmul(v[0], v[1]); },
            {random_tensor({1, 6}, 3), random_tensor({6, 2}, 4)}, {true, true});
  gradcheck("linear", [](auto& v) { return linear(v[0], v[1], v[2]); },
            {random_tensor({5, 3}, 5), random_tensor({4, 3}, 6), random_tensor({4}, 7)}, {true, true, true});
  gradcheck("linear 1 row", [](auto& v) { return linear(v[0], v[1], v[2]); },
            {random_tensor({1, 7}, 8), random_tensor({2, 7}, 9), random_tensor({2}, 10)}, {true, true, true});
  gradcheck("linear without bias", [](auto& v) { return linear(v[0], v[1], Variable()); },
            {random_tensor({3, 2}, 11), random_tensor({5, 2}, 12)}, {true, true});
  // Only the weight needs a gradient: the other inputs' edges stay empty.
  gradcheck("linear weight only", [](auto& v) { return linear(v[0], v[1], v[2]); },
            {random_tensor({3, 4}, 13), random_tensor({2, 4}, 14), random_tensor({2}, 15)}, {false, true, false});
}

TEST_CASE("gemm: identical with 1 and 2 OpenMP threads") {
  // Bit-for-bit; large enough that OpenBLAS would thread the product itself (which
  // changes the bits) and that C is cut into several tiles, one with odd edges.
  const int saved = num_threads();
  for (bool ta : {false, true}) {
    CAPTURE(ta);
    Tensor a = random_tensor(ta ? Shape{300, 301} : Shape{301, 300}, 1, -1, 1, DType::F32);
    Tensor b = random_tensor({300, 700}, 2, -1, 1, DType::F32);
    Tensor c[2] = {Tensor::empty({301, 700}), Tensor::empty({301, 700})};
    for (int t = 0; t < 2; ++t) {
      set_num_threads(t + 1);
      ops::gemm({.trans_a = ta}, a, b, c[t]);
    }
    set_num_threads(saved);
    CHECK(std::memcmp(c[0].raw(), c[1].raw(), c[0].nbytes()) == 0);
  }
}
