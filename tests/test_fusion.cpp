// fusion ([a, b, |a - b|] along channels): forward against hand-computed and naive
// values, the subgradient 0 at a == b, finite-difference gradients (float64), errors.
#include <cmath>

#include "autograd/functions.h"
#include "test_util.h"

using namespace sad;
using sad::test::check_close;
using sad::test::gradcheck;
using sad::test::random_tensor;

TEST_CASE("fusion forward: hand-computed") {
  // (1, 2, 1, 2): channel 0 = [1, -2], channel 1 = [0.5, 3].
  Tensor a = Tensor::from_vector_f64({1, -2, 0.5, 3}, {1, 2, 1, 2});
  Tensor b = Tensor::from_vector_f64({0, -1, 0.5, 4}, {1, 2, 1, 2});
  Tensor out = fusion(Variable(a), Variable(b)).data();
  CHECK(out.shape() == Shape{1, 6, 1, 2});
  check_close(out.to_vector_f64(), {1, -2, 0.5, 3, 0, -1, 0.5, 4, 1, 1, 0, 1}, 0, 0, "fusion");
}

TEST_CASE("fusion forward: naive per-image concatenation / batch > 1") {
  const uint64_t seed = 201;
  const int64_t n = 3, c = 2, h = 5, w = 3;
  Tensor a = random_tensor({n, c, h, w}, seed, -1, 1, DType::F32),
         b = random_tensor({n, c, h, w}, seed + 1, -1, 1, DType::F32);
  auto av = a.to_vector_f64(), bv = b.to_vector_f64();
  std::vector<double> expect;
  const int64_t chw = c * h * w;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < chw; ++k) expect.push_back(av[i * chw + k]);
    for (int64_t k = 0; k < chw; ++k) expect.push_back(bv[i * chw + k]);
    for (int64_t k = 0; k < chw; ++k) expect.push_back(std::abs(static_cast<float>(av[i * chw + k] - bv[i * chw + k])));
  }
  check_close(fusion(Variable(a), Variable(b)).data().to_vector_f64(), expect, 0, 0, "fusion float32");
}

TEST_CASE("fusion backward: da = d0 + sign(a - b) d2 / db = d1 - sign(a - b) d2 / sign 0 at a == b") {
  Tensor a = Tensor::from_vector_f64({1, 2, 3}, {1, 1, 1, 3});
  Tensor b = Tensor::from_vector_f64({0, 2, 5}, {1, 1, 1, 3});
  // dout channels: d0 = [1, 2, 3], d1 = [10, 20, 30], d2 = [100, 200, 300].
  Tensor dout = Tensor::from_vector_f64({1, 2, 3, 10, 20, 30, 100, 200, 300}, {1, 3, 1, 3});
  Tensor da = Tensor::full({1, 1, 1, 3}, 9.0, DType::F64), db = Tensor::full({1, 1, 1, 3}, 9.0, DType::F64);
  ops::fusion_backward(a, b, dout, &da, &db);  // overwrites the 9s
  check_close(da.to_vector_f64(), {101, 2, -297}, 0, 0, "fusion da");
  check_close(db.to_vector_f64(), {-90, 20, 330}, 0, 0, "fusion db");
}

TEST_CASE("fusion gradcheck (float64)") {
  uint64_t seed = 211;
  for (Shape s : {Shape{1, 1, 1, 1}, Shape{1, 3, 5, 7}, Shape{2, 2, 3, 1}}) {
    Tensor a = random_tensor(s, seed), b = random_tensor(s, seed + 1);
    gradcheck("fusion " + shape_str(s), [](auto& v) { return fusion(v[0], v[1]); }, {a, b}, {true, true});
    gradcheck("fusion b only " + shape_str(s), [](auto& v) { return fusion(v[0], v[1]); }, {a, b}, {false, true});
    seed += 2;
  }
}

TEST_CASE("fusion errors: shapes") {
  Variable a(Tensor::zeros({1, 2, 3, 3})), b(Tensor::zeros({1, 3, 3, 3}));
  CHECK_THROWS_AS(fusion(a, b), sad::Error);
  Variable flat(Tensor::zeros({2, 3}));
  CHECK_THROWS_AS(fusion(flat, flat), sad::Error);
  Tensor t = Tensor::zeros({1, 2, 3, 3}), da = Tensor::zeros({1, 2, 3, 3});
  CHECK_THROWS_AS(ops::fusion_backward(t, t, Tensor::zeros({1, 4, 3, 3}), &da, nullptr), sad::Error);
}
