// reduce ops (sum, mean over everything; sum and mean over one axis): forward against
// hand-computed values, double accumulation in float32, thread-count independence,
// gradients by finite differences, and bad axes.
#include <cstring>
#include <string>

#include "autograd/functions.h"
#include "kernels/ops.h"
#include "kernels/runtime.h"
#include "test_util.h"

using namespace sad;
using sad::test::check_close;
using sad::test::gradcheck;
using sad::test::random_tensor;

namespace {
Tensor ramp(const Shape& s, double start) {  // start, start + 1, ... in row-major order
  std::vector<double> v(static_cast<size_t>(shape_numel(s)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = start + static_cast<double>(i);
  return Tensor::from_vector_f64(v, s);
}
}  // namespace

TEST_CASE("reduce forward: sum / mean and mean_axis by hand") {
  Variable x(ramp({2, 3, 4}, 1));  // 1 .. 24
  Variable s = sum(x), m = mean(x);
  CHECK(s.shape() == Shape{1});
  CHECK(s.data().item() == 300.0);
  CHECK(m.data().item() == 12.5);
  // Over axis 1 (3 rows of 4): for batch 0 the column means of [1..4; 5..8; 9..12].
  Variable m1 = mean_axis(x, 1);
  CHECK(m1.shape() == Shape{2, 1, 4});
  check_close(m1.data().to_vector_f64(), {5, 6, 7, 8, 17, 18, 19, 20}, 0, 0, "mean_axis 1");
  check_close(mean_axis(x, 2).data().to_vector_f64(), {2.5, 6.5, 10.5, 14.5, 18.5, 22.5}, 0, 0, "mean_axis 2");
  check_close(mean_axis(x, 0).data().to_vector_f64(), {7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}, 0, 0,
              "mean_axis 0");
  // Sum over an axis through the op interface.
  Tensor out = Tensor::empty({2, 3, 1}, DType::F64);
  ops::reduce_forward({ops::ReduceKind::Sum, 2}, x.data(), out);
  check_close(out.to_vector_f64(), {10, 26, 42, 58, 74, 90}, 0, 0, "sum axis 2");
}

TEST_CASE("reduce backward: broadcast back / by hand") {
  Tensor dout = Tensor::from_vector_f64({1, -2, 4, 8}, {2, 1, 2});
  Tensor dinp = Tensor::empty({2, 3, 2}, DType::F64);
  ops::reduce_backward({ops::ReduceKind::Mean, 1}, dout, dinp);
  check_close(dinp.to_vector_f64(),
              {1 / 3., -2 / 3., 1 / 3., -2 / 3., 1 / 3., -2 / 3., 4 / 3., 8 / 3., 4 / 3., 8 / 3., 4 / 3., 8 / 3.},
              1e-16, 0, "mean axis 1");
  ops::reduce_backward({ops::ReduceKind::Sum, 1}, dout, dinp);
  check_close(dinp.to_vector_f64(), {1, -2, 1, -2, 1, -2, 4, 8, 4, 8, 4, 8}, 0, 0, "sum axis 1");
  Tensor d1 = Tensor::from_vector_f64({6}, {1});
  ops::reduce_backward({ops::ReduceKind::Mean, -1}, d1, dinp);
  check_close(dinp.to_vector_f64(), std::vector<double>(12, 0.5), 0, 0, "mean all");
}

TEST_CASE("reduce forward: float32 accumulates in double") {
  // 1e8 + 1 == 1e8 in float32: a float accumulator would lose every 1 and return 0.
  std::vector<float> v(1002, 1.0f);
  v.front() = 1e8f;
  v.back() = -1e8f;
  Variable x(Tensor::from_vector(v, {1002}));
  CHECK(sum(x).data().item() == 1000.0);
  // Along an axis too: two columns with the same cancellation.
  std::vector<float> w;
  for (size_t i = 0; i < v.size(); ++i) {
    w.push_back(v[i]);
    w.push_back(v[i]);
  }
  Tensor out = Tensor::empty({1, 2});
  ops::reduce_forward({ops::ReduceKind::Sum, 0}, Tensor::from_vector(w, {1002, 2}), out);
  check_close(out.to_vector_f64(), {1000, 1000}, 0, 0, "sum axis 0 float32");
}

TEST_CASE("reduce forward: large sums independent of the thread count") {
  // Several chunks of the whole-tensor sum and a parallel axis reduction.
  Tensor x = random_tensor({3, 5, 97, 101}, 201);
  auto run = [&] {
    std::vector<double> r;
    Tensor all = Tensor::empty({1}, DType::F64), ax = Tensor::empty({3, 1, 97, 101}, DType::F64);
    ops::reduce_forward({ops::ReduceKind::Sum, -1}, x, all);
    ops::reduce_forward({ops::ReduceKind::Mean, 1}, x, ax);
    r.push_back(all.item());
    for (double d : ax.to_vector_f64()) r.push_back(d);
    return r;
  };
  int before = num_threads();
  set_num_threads(1);
  auto one = run();
  set_num_threads(2);
  auto two = run();
  set_num_threads(before);
  REQUIRE(one.size() == two.size());
  CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(double)) == 0);
  // And the chunked sum agrees with a plain sequential one up to rounding: 147k terms of
  // magnitude <= 1, running sums of a few hundred, so at most n * 1.1e-16 * 300 ~ 5e-9.
  double seq = 0;
  for (double d : x.to_vector_f64()) seq += d;
  CHECK(std::abs(one[0] - seq) <= 1e-8);
}

TEST_CASE("reduce gradients: finite differences (float64)") {
  Tensor x = random_tensor({2, 3, 5, 7}, 211);
  gradcheck("sum", [](auto& v) { return sum(v[0]); }, {x}, {true});
  gradcheck("mean", [](auto& v) { return mean(v[0]); }, {x}, {true});
  for (int axis = 0; axis < 4; ++axis)
    gradcheck("mean_axis " + std::to_string(axis), [axis](auto& v) { return mean_axis(v[0], axis); }, {x}, {true});
  Tensor one = random_tensor({1, 1, 1, 1}, 212);
  gradcheck("mean 1x1", [](auto& v) { return mean(v[0]); }, {one}, {true});
  gradcheck("mean_axis 1 of 1x1", [](auto& v) { return mean_axis(v[0], 1); }, {one}, {true});
  // Inside a graph: mean of a product, so the seed gradient is not uniform.
  gradcheck("sum of x*x", [](auto& v) { return sum(mul(v[0], v[0])); }, {x}, {true});
}

TEST_CASE("reduce: bad axis or output shape throws") {
  Variable x(Tensor::zeros({2, 3}, DType::F64));
  CHECK_THROWS_AS(mean_axis(x, 2), sad::Error);
  CHECK_THROWS_AS(mean_axis(x, -1), sad::Error);
  Tensor out = Tensor::empty({2}, DType::F64);  // should be (2, 1)
  CHECK_THROWS_AS(ops::reduce_forward({ops::ReduceKind::Sum, 1}, x.data(), out), sad::Error);
  Tensor empty = Tensor::empty({0}, DType::F64), m = Tensor::empty({1}, DType::F64);
  CHECK_THROWS_AS(ops::reduce_forward({ops::ReduceKind::Mean, -1}, empty, m), sad::Error);
}
