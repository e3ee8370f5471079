// ssim_map and ssim: forward against an independent direct 2-D window sum written here
// (both padding modes), hand-computed constant images, SSIM(x, x) = 1, and gradients by
// finite differences (float64) through ssim_map and through the mean, ssim.
#include <cmath>

#include "autograd/functions.h"
#include "test_util.h"

using namespace sad;
using sad::test::check_close;
using sad::test::gradcheck;
using sad::test::random_tensor;

namespace {

// SSIM map by the definition, with a 2-D Gaussian window built directly (not as an outer
// product) and every window summed in place; zeros outside the image for same_size.
std::vector<double> naive_ssim_map(const Tensor& x, const Tensor& y, const ops::SsimParams& p) {
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3), k = p.window, half = k / 2;
  const int64_t ho = p.same_size ? h : h - k + 1, wo = p.same_size ? w : w - k + 1;
  const int64_t off = p.same_size ? half : 0;
  std::vector<double> win(k * k);
  double total = 0;
  for (int64_t u = 0; u < k; ++u)
    for (int64_t v = 0; v < k; ++v) {
      double du = u - half, dv = v - half, s = p.sigma;
      win[u * k + v] = std::exp(-(du * du + dv * dv) / (2 * s * s));
      total += win[u * k + v];
    }
  for (double& v : win) v /= total;
  const double c1 = std::pow(double(p.k1) * p.data_range, 2), c2 = std::pow(double(p.k2) * p.data_range, 2);
  auto xv = x.to_vector_f64(), yv = y.to_vector_f64();
  std::vector<double> out;
  for (int64_t pl = 0; pl < n * c; ++pl)
    for (int64_t i = 0; i < ho; ++i)
      for (int64_t j = 0; j < wo; ++j) {
        double mx = 0, my = 0, exx = 0, eyy = 0, exy = 0;
        for (int64_t u = 0; u < k; ++u)
          for (int64_t v = 0; v < k; ++v) {
            int64_t r = i + u - off, q = j + v - off;
            if (r < 0 || r >= h || q < 0 || q >= w) continue;
            double a = xv[pl * h * w + r * w + q], b = yv[pl * h * w + r * w + q], g = win[u * k + v];
            mx += g * a;
            my += g * b;
            exx += g * a * a;
            eyy += g * b * b;
            exy += g * a * b;
          }
        double sxx = exx - mx * mx, syy = eyy - my * my, sxy = exy - mx * my;
        out.push_back((2 * mx * my + c1) * (2 * sxy + c2) / ((mx * mx + my * my + c1) * (sxx + syy + c2)));
      }
  return out;
}

ops::SsimParams params(int window, bool same_size) {
  ops::SsimParams p;
  p.window = window;
  p.same_size = same_size;
  return p;
}

}  // namespace

TEST_CASE("ssim_map forward: direct window sum / both padding modes") {
  struct Case {
    Shape shape;
    int window;
    bool same_size;
  };
  uint64_t seed = 101;
  for (const Case& c : {Case{{2, 3, 13, 11}, 11, true}, Case{{2, 3, 13, 12}, 11, false}, Case{{1, 2, 9, 8}, 5, true},
                        Case{{1, 1, 5, 7}, 3, false}, Case{{1, 1, 1, 1}, 11, true}, Case{{1, 1, 4, 3}, 11, true}}) {
    Tensor x = random_tensor(c.shape, seed), y = random_tensor(c.shape, seed + 1);
    ops::SsimParams p = params(c.window, c.same_size);
    Tensor map = ssim_map(Variable(x), Variable(y), p).data();
    CHECK(map.shape() == ops::ssim_map_shape(p, c.shape));
    std::string ctx = "ssim_map " + shape_str(c.shape) + " window " + std::to_string(c.window) +
                      (c.same_size ? " same" : " valid") + " seed " + std::to_string(seed);
    // 1e-12: both sum the same terms in double, in different orders and groupings.
    check_close(map.to_vector_f64(), naive_ssim_map(x, y, p), 1e-12, 1e-12, ctx);
    // float32 in, double inside: agrees to float rounding of inputs and output.
    Tensor m32 = ssim_map(Variable(x.to(DType::F32)), Variable(y.to(DType::F32)), p).data();
    check_close(m32.to_vector_f64(), map.to_vector_f64(), 1e-5, 1e-5, ctx + " float32");
    seed += 2;
  }
}

TEST_CASE("ssim_map forward: constant images / hand-computed") {
  // Constant x = a and y = b, valid positions: the window sees no variance, so
  // map = (2ab + C1) / (a^2 + b^2 + C1) everywhere; C1 = (0.01 * 2)^2 = 4e-4.
  const double a = 0.5, b = -0.25;
  Tensor x = Tensor::full({1, 2, 12, 11}, a, DType::F64), y = Tensor::full({1, 2, 12, 11}, b, DType::F64);
  double c1 = std::pow(double(0.01f) * 2.0, 2);
  double expect = (2 * a * b + c1) / (a * a + b * b + c1);  // about -0.7977
  CHECK(expect == doctest::Approx(-0.797699).epsilon(1e-5));
  Tensor map = ssim_map(Variable(x), Variable(y), params(11, false)).data();
  CHECK(map.shape() == Shape{1, 2, 2, 1});
  // 1e-10: the "zero" variances are differences of equal-ish doubles, O(1e-17), next to C2 = 3.6e-3.
  check_close(map.to_vector_f64(), std::vector<double>(4, expect), 1e-10, 0, "constant images");
}

TEST_CASE("ssim_map of an image with itself is 1 - ssim is the mean of the map") {
  uint64_t seed = 111;
  for (bool same : {true, false}) {
    Tensor x = random_tensor({2, 3, 13, 11}, seed);
    ops::SsimParams p = params(11, same);
    Tensor map = ssim_map(Variable(x), Variable(x), p).data();
    check_close(map.to_vector_f64(), std::vector<double>(map.numel(), 1.0), 1e-14, 0, "ssim_map(x, x)");
    CHECK(ssim(Variable(x), Variable(x), p).data().item() == doctest::Approx(1.0).epsilon(1e-14));
    Tensor y = random_tensor({2, 3, 13, 11}, seed + 1);
    auto m = ssim_map(Variable(x), Variable(y), p).data().to_vector_f64();
    double mean = 0;
    for (double v : m) mean += v;
    mean /= static_cast<double>(m.size());
    CHECK(ssim(Variable(x), Variable(y), p).data().item() == doctest::Approx(mean).epsilon(1e-14));
    // Symmetric in its two arguments.
    check_close(ssim_map(Variable(y), Variable(x), p).data().to_vector_f64(), m, 1e-15, 1e-14, "symmetry");
  }
}

TEST_CASE("ssim_map gradcheck (float64)") {
  struct Case {
    Shape shape;
    int window;
    bool same_size;
  };
  uint64_t seed = 121;
  for (const Case& c : {Case{{1, 1, 13, 11}, 11, true}, Case{{1, 1, 13, 11}, 11, false}, Case{{2, 2, 7, 9}, 5, true},
                        Case{{1, 1, 5, 5}, 3, false}, Case{{1, 1, 1, 1}, 3, true}}) {
    Tensor x = random_tensor(c.shape, seed), y = random_tensor(c.shape, seed + 1);
    ops::SsimParams p = params(c.window, c.same_size);
    std::string name =
        "ssim_map " + shape_str(c.shape) + " window " + std::to_string(c.window) + (c.same_size ? " same" : " valid");
    gradcheck(name, [&](auto& v) { return ssim_map(v[0], v[1], p); }, {x, y}, {true, true});
    seed += 2;
  }
  // Only y needing a gradient (x^ against a fixed x, as in L_G).
  Tensor x = random_tensor({1, 2, 6, 5}, seed), y = random_tensor({1, 2, 6, 5}, seed + 1);
  gradcheck("ssim_map y only", [&](auto& v) { return ssim_map(v[0], v[1], params(3, true)); }, {x, y}, {false, true});
}

TEST_CASE("ssim gradcheck (float64): mean of the map") {
  uint64_t seed = 131;
  Tensor x = random_tensor({1, 1, 13, 11}, seed), y = random_tensor({1, 1, 13, 11}, seed + 1);
  gradcheck("ssim window 11 same", [&](auto& v) { return ssim(v[0], v[1], params(11, true)); }, {x, y}, {true, true});
  gradcheck("ssim window 11 valid", [&](auto& v) { return ssim(v[0], v[1], params(11, false)); }, {x, y}, {true, true});
  Tensor a = random_tensor({2, 3, 5, 7}, seed + 2), b = random_tensor({2, 3, 5, 7}, seed + 3);
  gradcheck("ssim window 5 same", [&](auto& v) { return ssim(v[0], v[1], params(5, true)); }, {a, b}, {false, true});
}

TEST_CASE("ssim_map errors: shapes / window") {
  Variable x(Tensor::zeros({1, 1, 8, 8})), y(Tensor::zeros({1, 1, 8, 7}));
  CHECK_THROWS_AS(ssim_map(x, y, params(3, true)), sad::Error);    // x and y differ
  CHECK_THROWS_AS(ssim_map(x, x, params(11, false)), sad::Error);  // image smaller than the window
  CHECK_THROWS_AS(ssim_map(x, x, params(4, true)), sad::Error);    // even window
  CHECK_THROWS_AS(ssim(Variable(Tensor::zeros({8, 8})), Variable(Tensor::zeros({8, 8})), params(3, true)),
                  sad::Error);  // not (N, C, H, W)
  // Backward with a dmap of the wrong size.
  Tensor t = Tensor::zeros({1, 1, 8, 8}), dx = Tensor::zeros({1, 1, 8, 8});
  CHECK_THROWS_AS(ops::ssim_backward(params(3, false), t, t, Tensor::zeros({1, 1, 8, 8}), &dx, nullptr), sad::Error);
}
