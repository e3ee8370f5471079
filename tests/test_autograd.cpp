// The autograd engine: gradient accumulation across paths and across backward calls,
// detach, no-grad scopes, zero_grad, freeing of the graph, and its error cases.
#include "autograd/functions.h"
#include "test_util.h"

using namespace sad;

namespace {
Variable leaf(std::vector<double> v, bool rg = true) {
  Shape s{static_cast<int64_t>(v.size())};
  return Variable(Tensor::from_vector_f64(v, s), rg);
}
}  // namespace

TEST_CASE("autograd: a variable used twice gets the sum of both paths") {
  Variable x = leaf({1, 2, 3});
  // y = sum(x * x + 3 x) -> dy/dx = 2x + 3
  Variable y = sum(add(mul(x, x), affine(x, 3, 0)));
  y.backward();
  CHECK(x.grad().to_vector_f64() == std::vector<double>{5, 7, 9});
}

TEST_CASE("autograd: gradients accumulate across backward calls until zero_grad") {
  Variable x = leaf({1, -2});
  sum(affine(x, 2, 0)).backward();
  sum(affine(x, 2, 0)).backward();
  CHECK(x.grad().to_vector_f64() == std::vector<double>{4, 4});
  x.zero_grad();
  CHECK(x.grad().to_vector_f64() == std::vector<double>{0, 0});
}

TEST_CASE("autograd: detach and no-grad scopes stop the graph") {
  Variable x = leaf({1, 2});
  Variable d = x.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.data().storage() == x.data().storage());
  {
    NoGradGuard ng;
    Variable y = affine(x, 2, 0);
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
  }
  CHECK(grad_mode_enabled());
  Variable z = sum(mul(x, affine(d, 1, 0)));  // d is a constant: dz/dx = d
  z.backward();
  CHECK(x.grad().to_vector_f64() == std::vector<double>{1, 2});
  Variable c = leaf({1, 2}, false);
  CHECK_FALSE(affine(c, 2, 0).requires_grad());
}

TEST_CASE("autograd: backward twice through one graph is an error - the graph is freed") {
  Variable x = leaf({1, 2});
  Variable h = sigmoid(x);
  Variable y = sum(h);
  y.backward();
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("a second time"), Error);
  // The first backward released every node: the saved tensors are gone and the edges
  // that would keep earlier nodes alive are cut.
  CHECK(h.grad_fn()->released);
  CHECK(h.grad_fn()->next.empty());
}

TEST_CASE("autograd: backward needs a scalar or a seed / and something to differentiate") {
  Variable x = leaf({1, 2});
  Variable y = affine(x, 3, 0);
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("needs a one-element output"), Error);
  y.backward(Tensor::from_vector_f64({1, 10}, {2}));
  CHECK(x.grad().to_vector_f64() == std::vector<double>{3, 30});
  Variable c = leaf({1}, false);
  CHECK_THROWS_WITH_AS(c.backward(), doctest::Contains("does not require a gradient"), Error);
  CHECK_THROWS_AS(y.backward(Tensor::from_vector_f64({1, 2, 3}, {3})), Error);
}

TEST_CASE("autograd: only the inputs that need a gradient get one") {
  Variable a = leaf({1, 2});
  Variable b = leaf({3, 4}, false);
  sum(mul(a, b)).backward();
  CHECK(a.grad().to_vector_f64() == std::vector<double>{3, 4});
  CHECK_FALSE(b.grad().defined());
}
