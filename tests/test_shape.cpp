// shape ops (concat, split, upsample_nearest, resize_bilinear, avg_pool2d): forward
// against hand-computed values, backward as the exact transpose of the (linear)
// forward, gradients by finite differences, thread-count independence of the
// scattering backward passes, and bad-shape errors.
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

double dot(const Tensor& a, const Tensor& b) {
  auto x = a.to_vector_f64(), y = b.to_vector_f64();
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
  return s;
}

// A linear op's backward is its transpose: <forward(x), g> == <x, backward(g)> for any
// x, g. `fwd(x, y)` and `bwd(g, dx)` run the op; shapes are the input's and output's.
template <typename F, typename B>
void check_adjoint(const std::string& ctx, const Shape& in, const Shape& out, uint64_t seed, F fwd, B bwd) {
  Tensor x = random_tensor(in, seed), g = random_tensor(out, seed + 1);
  Tensor y = Tensor::empty(out, DType::F64), dx = Tensor::empty(in, DType::F64);
  fwd(x, y);
  bwd(g, dx);
  double lhs = dot(y, g), rhs = dot(x, dx);
  // Two sums of a few thousand O(1) products in different orders: rounding ~1e-13.
  CHECK_MESSAGE(std::abs(lhs - rhs) <= 1e-11 * (1 + std::abs(lhs)),
                ctx << " seed " << seed << ": <f(x), g> = " << lhs << " but <x, f'(g)> = " << rhs);
}

// Runs fn under 1 and then 2 OpenMP threads and checks the two results bit for bit.
template <typename F>
void check_thread_independent(const std::string& ctx, F fn) {
  int before = num_threads();
  set_num_threads(1);
  std::vector<double> one = fn();
  set_num_threads(2);
  std::vector<double> two = fn();
  set_num_threads(before);
  REQUIRE(one.size() == two.size());
  CHECK_MESSAGE(std::memcmp(one.data(), two.data(), one.size() * sizeof(double)) == 0,
                ctx << ": result depends on the thread count");
}

Tensor ramp(const Shape& s) {  // 0, 1, 2, ... in row-major order
  std::vector<double> v(static_cast<size_t>(shape_numel(s)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
  return Tensor::from_vector_f64(v, s);
}

}  // namespace

// ---- concat / split ----------------------------------------------------------------------

TEST_CASE("concat forward: hand-computed along channels and width") {
  Variable a(Tensor::from_vector_f64({1, 2, 3, 4}, {1, 2, 1, 2}));  // channels [1 2], [3 4]
  Variable b(Tensor::from_vector_f64({5, 6}, {1, 1, 1, 2}));
  Variable c = concat({a, b}, 1);
  CHECK(c.shape() == Shape{1, 3, 1, 2});
  check_close(c.data().to_vector_f64(), {1, 2, 3, 4, 5, 6}, 0, 0, "concat axis 1");
  Variable w = concat({a, a}, 3);
  CHECK(w.shape() == Shape{1, 2, 1, 4});
  check_close(w.data().to_vector_f64(), {1, 2, 1, 2, 3, 4, 3, 4}, 0, 0, "concat axis 3");
}

TEST_CASE("split forward: inverse of concat along every axis") {
  Tensor x = random_tensor({2, 3, 5, 7}, 41);
  for (int axis = 0; axis < 4; ++axis) {
    int64_t n = x.dim(axis);
    std::vector<int64_t> sizes = {1, n - 1};  // uneven parts, one of size 1
    if (n > 2) sizes = {1, 0, n - 2, 1};      // ...and an empty one
    auto parts = split(Variable(x), sizes, axis);
    REQUIRE(parts.size() == sizes.size());
    for (size_t i = 0; i < parts.size(); ++i) CHECK(parts[i].dim(axis) == sizes[i]);
    Variable back = concat(parts, axis);
    check_close(back.data(), x, 0, 0, "split then concat, axis " + std::to_string(axis));
  }
  // The first part of a channel split of a ramp is the first channels' values.
  auto parts = split(Variable(ramp({1, 3, 1, 2})), {2, 1}, 1);
  check_close(parts[0].data().to_vector_f64(), {0, 1, 2, 3}, 0, 0, "split part 0");
  check_close(parts[1].data().to_vector_f64(), {4, 5}, 0, 0, "split part 1");
}

TEST_CASE("concat gradients: finite differences (float64)") {
  Tensor a = random_tensor({2, 3, 5, 7}, 51), b = random_tensor({2, 1, 5, 7}, 52), c = random_tensor({2, 2, 5, 7}, 53);
  gradcheck("concat axis 1", [](auto& v) { return concat({v[0], v[1], v[2]}, 1); }, {a, b, c}, {true, true, true});
  // An input without a gradient in the middle.
  gradcheck("concat axis 1, b fixed",
            [](auto& v) {
              return concat({v[0], v[1], v[2]}, 1);
            },
            {a, b, c}, {true, false, true});
  Tensor d = random_tensor({1, 3, 5, 7}, 54);
  gradcheck("concat axis 0", [](auto& v) { return concat({v[0], v[1]}, 0); }, {a, d}, {true, true});
  Tensor e = random_tensor({2, 3, 5, 2}, 55);
  gradcheck("concat axis 3", [](auto& v) { return concat({v[0], v[1], v[0]}, 3); }, {a, e}, {true, true});
}

TEST_CASE("split gradients: finite differences / with parts unused downstream (float64)") {
  Tensor x = random_tensor({2, 7, 3, 5}, 61);
  // Parts 0 and 2 used, part 1 unused: its gradient must be zero.
  auto f = [](const std::vector<Variable>& v) {
    auto p = split(v[0], {2, 3, 2}, 1);
    return add(mul(p[0], p[0]), p[2]);
  };
  gradcheck("split parts 0 and 2", f, {x}, {true});
  // Only the middle part used.
  gradcheck("split part 1 only", [](auto& v) { return affine(split(v[0], {2, 3, 2}, 1)[1], 2.0f, 0.0f); }, {x}, {true});
  // Every part used, along the width.
  gradcheck("split axis 3",
            [](auto& v) {
              auto p = split(v[0], {2, 3}, 3);
              return concat({p[1], mul(p[0], p[0])}, 3);
            },
            {x}, {true});

  // Explicitly: the unused channels receive exact zeros.
  Variable xv(x.clone(), true);
  auto p = split(xv, {2, 3, 2}, 1);
  sum(add(p[0], p[2])).backward();
  auto g = xv.grad().to_vector_f64();
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 7; ++c)
      for (int64_t k = 0; k < 15; ++k) {
        double expected = (c >= 2 && c < 5) ? 0.0 : 1.0;
        CHECK(g[static_cast<size_t>((n * 7 + c) * 15 + k)] == expected);
      }
}

TEST_CASE("split along axis 0: the parts are views and their gradients are exact") {
  Tensor x = random_tensor({5, 2, 3, 4}, 62);
  auto parts = split(Variable(x), {2, 3}, 0);
  // Views of x's memory: the first element of part 1 is x's element 2 * 24.
  CHECK(parts[0].data().storage() == x.storage());
  CHECK(parts[1].data().storage() == x.storage());
  CHECK(parts[1].data().offset() == x.offset() + 48);
  check_close(concat(parts, 0).data(), x, 0, 0, "split then concat, axis 0");
  // A leading dimension of 1 makes a channel cut a range too.
  Tensor y = random_tensor({1, 5, 3, 4}, 63);
  CHECK(split(Variable(y), {4, 1}, 1)[1].data().storage() == y.storage());
  // A channel cut of a batch is not a range: copies.
  CHECK(split(Variable(x), {1, 1}, 1)[0].data().storage() != x.storage());
  gradcheck("split axis 0",
            [](auto& v) {
              auto p = split(v[0], {2, 3}, 0);
              return concat({mul(p[1], p[1]), p[0]}, 0);
            },
            {x}, {true});
  gradcheck("split axis 0, part 0 unused",
            [](auto& v) {
              return affine(split(v[0], {2, 3}, 0)[1], 3.0f, 0.0f);
            },
            {x}, {true});
  // concat along axis 0 hands its inputs views of its gradient: each input's gradient is its
  // own range of it.
  Variable a(random_tensor({2, 3}, 64), true), b(random_tensor({1, 3}, 65), true);
  Variable w(random_tensor({3, 3}, 66));
  sum(mul(concat({a, b}, 0), w)).backward();
  const std::vector<double> wv = w.data().to_vector_f64();
  check_close(a.grad().to_vector_f64(), std::vector<double>(wv.begin(), wv.begin() + 6), 0, 0, "a's gradient");
  check_close(b.grad().to_vector_f64(), std::vector<double>(wv.begin() + 6, wv.end()), 0, 0, "b's gradient");
}

TEST_CASE("autograd: a gradient added in place where no one else holds it changes nothing else") {
  // x feeds three consumers; the first contribution is taken as is, the others added. The
  // pass-through of add hands the same tensor to two edges: it must not be written to.
  Tensor xd = random_tensor({4, 5}, 67), yd = random_tensor({4, 5}, 68);
  Variable x(xd, true), y(yd, true);
  Variable s = add(x, y);  // passes its gradient to x and y unchanged
  sum(add(add(mul(s, s), mul(x, x)), affine(x, 3.0f, 0.0f))).backward();
  const std::vector<double> xv = xd.to_vector_f64(), yv = yd.to_vector_f64();
  std::vector<double> gx(xv.size()), gy(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) {
    gy[i] = 2 * (xv[i] + yv[i]);
    gx[i] = gy[i] + 2 * xv[i] + 3;
  }
  check_close(x.grad().to_vector_f64(), gx, 1e-12, 1e-12, "x's gradient");
  check_close(y.grad().to_vector_f64(), gy, 1e-12, 1e-12, "y's gradient");
  // The two leaves' gradients are distinct memory.
  CHECK(x.grad().storage() != y.grad().storage());
}

TEST_CASE("split and concat: bad sizes and shapes throw") {
  Variable x(Tensor::zeros({2, 3, 4, 5}, DType::F64));
  CHECK_THROWS_AS(split(x, {1, 1}, 1), sad::Error);                                         // adds up to 2, not 3
  CHECK_THROWS_WITH_AS(split(x, {1, 2}, 0), doctest::Contains("add up to 3"), sad::Error);  // axis 0: views
  CHECK_THROWS_AS(split(x, {3}, 4), sad::Error);                                            // axis out of range
  Variable y(Tensor::zeros({2, 3, 4, 6}, DType::F64));
  CHECK_THROWS_AS(concat({x, y}, 1), sad::Error);  // widths differ outside the axis
  CHECK_THROWS_AS(concat({}, 1), sad::Error);
}

// ---- upsample_nearest ---------------------------------------------------------------------

TEST_CASE("upsample_nearest forward: hand-computed x2 and x3") {
  Variable x(Tensor::from_vector_f64({1, 2, 3, 4}, {1, 1, 2, 2}));
  Variable y = upsample_nearest(x, 2);
  CHECK(y.shape() == Shape{1, 1, 4, 4});
  check_close(y.data().to_vector_f64(), {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, 0, 0, "x2");
  Variable one(Tensor::from_vector_f64({7, -1}, {1, 2, 1, 1}));
  check_close(upsample_nearest(one, 3).data().to_vector_f64(),
              {7, 7, 7, 7, 7, 7, 7, 7, 7, -1, -1, -1, -1, -1, -1, -1, -1, -1}, 0, 0, "1x1 x3, two channels");
}

TEST_CASE("upsample_nearest gradients: finite differences and adjoint") {
  Tensor x = random_tensor({2, 3, 5, 7}, 71);
  gradcheck("upsample_nearest x2", [](auto& v) { return upsample_nearest(v[0], 2); }, {x}, {true});
  gradcheck("upsample_nearest x3 1x1", [](auto& v) { return upsample_nearest(v[0], 3); },
            {random_tensor({1, 1, 1, 1}, 72)}, {true});
  check_adjoint(
      "upsample_nearest x3", {1, 2, 3, 5}, {1, 2, 9, 15}, 73,
      [](const Tensor& a, Tensor& b) { ops::upsample_nearest_forward({3}, a, b); },
      [](const Tensor& g, Tensor& d) { ops::upsample_nearest_backward({3}, g, d); });
  // dout (1, 1, 4, 5) is not a x2 upsampling of dinp (1, 1, 2, 2).
  Tensor dinp = Tensor::zeros({1, 1, 2, 2}, DType::F64);
  CHECK_THROWS_AS(ops::upsample_nearest_backward({2}, Tensor::zeros({1, 1, 4, 5}, DType::F64), dinp), sad::Error);
}

// ---- resize_bilinear ----------------------------------------------------------------------

TEST_CASE("resize_bilinear forward: 2x2 -> 4x4 by hand (align_corners false and true)") {
  Tensor x = Tensor::from_vector_f64({1, 2, 3, 4}, {1, 1, 2, 2});
  // align_corners = false: s = (d + 0.5) / 2 - 0.5 = -0.25 (-> 0), 0.25, 0.75, 1.25 (-> last
  // pixel), so a row [a, b] becomes [a, .75a + .25b, .25a + .75b, b], and likewise down
  // the columns.
  Variable y = resize_bilinear(Variable(x), 4, 4);
  check_close(y.data().to_vector_f64(),
              {1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4}, 1e-15, 0,
              "align_corners=false");
  // align_corners = true: s = d / 3, so a row [a, b] becomes [a, a + (b-a)/3, a + 2(b-a)/3, b].
  Tensor z = Tensor::empty({1, 1, 4, 4}, DType::F64);
  ops::resize_bilinear_forward({true}, x, z);
  const double t = 1.0 / 3.0;
  check_close(
      z.to_vector_f64(),
      {1, 1 + t, 1 + 2 * t, 2, 1 + 2 * t, 2, 2 + t, 2 + 2 * t, 2 + t, 2 + 2 * t, 3, 3 + t, 3, 3 + t, 3 + 2 * t, 4},
      1e-15, 0, "align_corners=true");
}

TEST_CASE("resize_bilinear forward: 1x3 -> 1x5 and 4x4 -> 2x2 by hand") {
  // in 3, out 5: s = 0.6 (d + 0.5) - 0.5 = -0.2 (-> 0), 0.4, 1.0, 1.6, 2.2 (-> last pixel).
  Variable x(Tensor::from_vector_f64({0, 10, 20}, {1, 1, 1, 3}));
  check_close(resize_bilinear(x, 1, 5).data().to_vector_f64(), {0, 4, 10, 16, 20}, 1e-13, 0, "3 -> 5");
  // Halving without align_corners samples at s = 0.5, 2.5: the mean of each 2x2 block.
  Variable r(ramp({1, 1, 4, 4}));
  check_close(resize_bilinear(r, 2, 2).data().to_vector_f64(), {2.5, 4.5, 10.5, 12.5}, 1e-14, 0, "4 -> 2");
  // 1x1 output with align_corners = true takes the first pixel (PyTorch's scale 0).
  Tensor one = Tensor::empty({1, 1, 1, 1}, DType::F64);
  ops::resize_bilinear_forward({true}, ramp({1, 1, 4, 4}), one);
  CHECK(one.item() == 0.0);
}

TEST_CASE("resize_bilinear forward: constants stay constant / ramps stay ramps (odd sizes)") {
  const std::pair<int64_t, int64_t> sizes[] = {{5, 7}, {3, 11}, {9, 4}, {1, 1}, {2, 13}};
  for (auto [ho, wo] : sizes) {
    std::string ctx = "7x5 -> " + std::to_string(ho) + "x" + std::to_string(wo);
    Variable c(Tensor::full({2, 3, 7, 5}, 0.37, DType::F64));
    // Weights of every output pixel sum to 1: only rounding of those sums differs.
    check_close(resize_bilinear(c, ho, wo).data(), Tensor::full({2, 3, ho, wo}, 0.37, DType::F64), 1e-15, 1e-15,
                ctx + " constant");
    // align_corners = true maps the ramp x[j] = j exactly onto d (in - 1) / (out - 1).
    std::vector<double> row(7 * 5);
    for (size_t i = 0; i < row.size(); ++i) row[i] = static_cast<double>(i % 5);
    Tensor out = Tensor::empty({1, 1, ho, wo}, DType::F64);
    ops::resize_bilinear_forward({true}, Tensor::from_vector_f64(row, {1, 1, 7, 5}), out);
    std::vector<double> expected;
    for (int64_t i = 0; i < ho; ++i)
      for (int64_t j = 0; j < wo; ++j) expected.push_back(wo > 1 ? 4.0 * static_cast<double>(j) / (wo - 1) : 0.0);
    check_close(out.to_vector_f64(), expected, 1e-14, 0, ctx + " ramp align_corners");
  }
}

TEST_CASE("resize_bilinear gradients: finite differences up and down / odd sizes (float64)") {
  Tensor x = random_tensor({2, 3, 5, 7}, 81);
  gradcheck("resize_bilinear up 5x7 -> 11x9", [](auto& v) { return resize_bilinear(v[0], 11, 9); }, {x}, {true});
  gradcheck("resize_bilinear down 5x7 -> 3x2", [](auto& v) { return resize_bilinear(v[0], 3, 2); }, {x}, {true});
  gradcheck("resize_bilinear mixed 5x7 -> 7x3", [](auto& v) { return resize_bilinear(v[0], 7, 3); }, {x}, {true});
  gradcheck("resize_bilinear 1x1 -> 3x5", [](auto& v) { return resize_bilinear(v[0], 3, 5); },
            {random_tensor({1, 1, 1, 1}, 82)}, {true});
  gradcheck("resize_bilinear 5x7 -> 1x1", [](auto& v) { return resize_bilinear(v[0], 1, 1); },
            {random_tensor({1, 2, 5, 7}, 83)}, {true});
  // align_corners = true has no differentiable function: its backward is checked as the
  // forward's transpose.
  for (auto [ho, wo] : {std::pair<int64_t, int64_t>{11, 9}, {3, 2}, {1, 1}})
    for (bool ac : {false, true})
      check_adjoint(
          "resize_bilinear 5x7 -> " + std::to_string(ho) + "x" + std::to_string(wo) + (ac ? " align_corners" : ""),
          {2, 3, 5, 7}, {2, 3, ho, wo}, 84,
          [ac](const Tensor& a, Tensor& b) { ops::resize_bilinear_forward({ac}, a, b); },
          [ac](const Tensor& g, Tensor& d) { ops::resize_bilinear_backward({ac}, g, d); });
}

TEST_CASE("resize_bilinear backward: independent of the thread count") {
  Tensor g = random_tensor({2, 4, 67, 61}, 85);  // large enough for the parallel path
  for (bool ac : {false, true})
    check_thread_independent(ac ? "align_corners" : "no align_corners", [&] {
      Tensor d = Tensor::empty({2, 4, 29, 31}, DType::F64);
      ops::resize_bilinear_backward({ac}, g, d);
      return d.to_vector_f64();
    });
}

TEST_CASE("resize_bilinear: N or C mismatch throws") {
  Tensor x = Tensor::zeros({2, 3, 5, 7}, DType::F64), y = Tensor::zeros({2, 4, 10, 14}, DType::F64);
  CHECK_THROWS_AS(ops::resize_bilinear_forward({}, x, y), sad::Error);
  CHECK_THROWS_AS(resize_bilinear(Variable(x), 0, 4), sad::Error);
}

// ---- avg_pool2d ---------------------------------------------------------------------------

TEST_CASE("avg_pool2d forward: border averaging / hand-computed") {
  ops::AvgPoolParams p{3, 1, 1, false};
  // A ones-image stays ones when the border averages only pixels inside the image.
  Variable ones(Tensor::full({1, 1, 3, 3}, 1.0, DType::F64));
  check_close(avg_pool2d(ones, p).data().to_vector_f64(), std::vector<double>(9, 1.0), 1e-15, 0,
              "ones, count_include_pad=false");
  // Counting the padding: corners 4/9, edges 6/9, the centre 9/9.
  ops::AvgPoolParams pin{3, 1, 1, true};
  check_close(avg_pool2d(ones, pin).data().to_vector_f64(),
              {4 / 9., 6 / 9., 4 / 9., 6 / 9., 1, 6 / 9., 4 / 9., 6 / 9., 4 / 9.}, 1e-15, 0,
              "ones, count_include_pad=true");
  // Column ramp x[i][j] = j: border columns average {0, 1} and {1, 2}.
  Variable col(Tensor::from_vector_f64({0, 1, 2, 0, 1, 2, 0, 1, 2}, {1, 1, 3, 3}));
  check_close(avg_pool2d(col, p).data().to_vector_f64(), {0.5, 1, 1.5, 0.5, 1, 1.5, 0.5, 1, 1.5}, 1e-15, 0,
              "column ramp");
  // 4x4 ramp 4i + j, kernel 3, stride 2, pad 1 -> 2x2 windows {0..1}x{0..1}, {0..1}x{1..3},
  // {1..3}x{0..1}, {1..3}x{1..3}.
  Variable r(ramp({1, 1, 4, 4}));
  check_close(avg_pool2d(r, {3, 2, 1, false}).data().to_vector_f64(), {2.5, 4, 8.5, 10}, 1e-14, 0, "ramp stride 2");
  check_close(avg_pool2d(r, {3, 2, 1, true}).data().to_vector_f64(), {10 / 9., 24 / 9., 51 / 9., 10}, 1e-14, 0,
              "ramp stride 2, count_include_pad");
  // Kernel 2, stride 2, no padding: 2x2 block means; the odd last row/column is dropped.
  Variable r5(ramp({1, 1, 5, 5}));
  check_close(avg_pool2d(r5, {2, 2, 0, false}).data().to_vector_f64(), {3, 5, 13, 15}, 1e-14, 0, "2x2 blocks");
}

TEST_CASE("avg_pool2d gradients: finite differences / stride 1 and 2 (float64)") {
  Tensor x = random_tensor({2, 3, 5, 7}, 91);
  for (bool cip : {false, true}) {
    std::string tag = cip ? " count_include_pad" : "";
    for (ops::AvgPoolParams p :
         {ops::AvgPoolParams{3, 1, 1, cip}, ops::AvgPoolParams{3, 2, 1, cip}, ops::AvgPoolParams{2, 2, 0, cip},
          ops::AvgPoolParams{5, 1, 2, cip}, ops::AvgPoolParams{4, 3, 2, cip}}) {
      std::string name = "avg_pool2d k" + std::to_string(p.kernel) + " s" + std::to_string(p.stride) + " p" +
                         std::to_string(p.pad) + tag;
      gradcheck(name, [p](auto& v) { return avg_pool2d(v[0], p); }, {x}, {true});
      check_adjoint(
          name, {2, 3, 5, 7},
          {2, 3, ops::conv2d_out_size(5, p.kernel, p.stride, p.pad),
           ops::conv2d_out_size(7, p.kernel, p.stride, p.pad)},
          92, [p](const Tensor& a, Tensor& b) { ops::avg_pool2d_forward(p, a, b); },
          [p](const Tensor& g, Tensor& d) { ops::avg_pool2d_backward(p, g, d); });
    }
  }
  gradcheck("avg_pool2d 1x1 image",
            [](auto& v) {
              return avg_pool2d(v[0], {3, 1, 1, false});
            },
            {random_tensor({1, 1, 1, 1}, 93)}, {true});
}

TEST_CASE("avg_pool2d backward: independent of the thread count") {
  Tensor g = random_tensor({2, 4, 63, 65}, 94);
  check_thread_independent("avg_pool2d k3 s1 p1", [&] {
    Tensor d = Tensor::empty({2, 4, 63, 65}, DType::F64);
    ops::avg_pool2d_backward({3, 1, 1, false}, g, d);
    return d.to_vector_f64();
  });
}

TEST_CASE("avg_pool2d: padding over half the kernel and wrong output shapes throw") {
  Variable x(Tensor::zeros({1, 1, 5, 5}, DType::F64));
  CHECK_THROWS_AS(avg_pool2d(x, {3, 1, 2, false}), sad::Error);
  Tensor out = Tensor::zeros({1, 1, 4, 4}, DType::F64);
  CHECK_THROWS_AS(ops::avg_pool2d_forward({3, 1, 1, false}, x.data(), out), sad::Error);
}
