// adam_step: the first step by hand, three steps against the textbook formula (with
// m_hat and v_hat) evaluated here in double, float32 against the same, bit-identical
// replays (same seed, any thread count), and bad calls.
#include <cmath>
#include <cstring>
#include <string>

#include "kernels/ops.h"
#include "kernels/runtime.h"
#include "test_util.h"

using namespace sad;
using sad::test::check_close;
using sad::test::random_tensor;

namespace {

struct AdamState {
  std::vector<double> param, m, v;
};

// torch.optim.Adam as its documentation writes it, in double, from the same (float)
// hyperparameters the kernel receives.
void reference_step(const ops::AdamParams& hp, AdamState& s, const std::vector<double>& grad) {
  const double b1 = hp.beta1, b2 = hp.beta2, lr = hp.lr, eps = hp.eps, wd = hp.weight_decay;
  const double t = static_cast<double>(hp.step);
  for (size_t i = 0; i < s.param.size(); ++i) {
    double g = grad[i] + wd * s.param[i];
    s.m[i] = b1 * s.m[i] + (1 - b1) * g;
    s.v[i] = b2 * s.v[i] + (1 - b2) * g * g;
    double m_hat = s.m[i] / (1 - std::pow(b1, t));
    double v_hat = s.v[i] / (1 - std::pow(b2, t));
    s.param[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
  }
}

// Three steps of the kernel in `dtype` and of the reference from the same start.
void run_three_steps(const ops::AdamParams& base, DType dtype, double atol, double rtol, const std::string& ctx) {
  const Shape shape{3, 5, 7};  // odd sizes; the arena is flat anyway
  // Start from float32-representable values so that both precisions start alike.
  Tensor param = random_tensor(shape, 301, -1, 1, DType::F32).to(dtype);
  Tensor m = Tensor::zeros(shape, dtype), v = Tensor::zeros(shape, dtype);
  AdamState ref{param.to_vector_f64(), std::vector<double>(param.numel(), 0.0),
                std::vector<double>(param.numel(), 0.0)};
  for (int64_t step = 1; step <= 3; ++step) {
    Tensor grad = random_tensor(shape, 310 + static_cast<uint64_t>(step), -2, 2, DType::F32).to(dtype);
    ops::AdamParams hp = base;
    hp.step = step;
    ops::adam_step(hp, param, grad, m, v, Tensor());
    reference_step(hp, ref, grad.to_vector_f64());
    std::string at = ctx + " step " + std::to_string(step);
    check_close(param.to_vector_f64(), ref.param, atol, rtol, at + " param");
    check_close(m.to_vector_f64(), ref.m, atol, rtol, at + " m");
    check_close(v.to_vector_f64(), ref.v, atol, rtol, at + " v");
  }
}

}  // namespace

TEST_CASE("adam_step: first step by hand (lr * sign(g)) and weight decay") {
  // From m = v = 0 the first step has m_hat = g and v_hat = g^2, so the update is
  // lr * g / (|g| + eps): lr * sign(g) up to lr * eps / |g| <= 4e-11.
  Tensor p = Tensor::from_vector_f64({1, -1, 0.5, 0}, {4});
  Tensor g = Tensor::from_vector_f64({0.5, -0.25, 2, -1}, {4});
  Tensor m = Tensor::zeros({4}, DType::F64), v = Tensor::zeros({4}, DType::F64);
  ops::AdamParams hp;  // lr 1e-3
  ops::adam_step(hp, p, g, m, v, Tensor());
  check_close(p.to_vector_f64(), {0.999, -0.999, 0.499, 0.001}, 2e-10, 0, "param");
  // m = (1 - b1) g, v = (1 - b2) g^2 with b1, b2 exactly as given (double, like PyTorch's).
  const double b1 = 0.9, b2 = 0.999;
  check_close(m.to_vector_f64(), {(1 - b1) * 0.5, (1 - b1) * -0.25, (1 - b1) * 2, (1 - b1) * -1}, 1e-17, 0, "m");
  check_close(v.to_vector_f64(), {(1 - b2) * 0.25, (1 - b2) * 0.0625, (1 - b2) * 4, (1 - b2) * 1}, 1e-17, 0, "v");

  // Weight decay is an L2 gradient: with g = 0 and wd 0.1 at p = 2 the step sees g = 0.2.
  Tensor p2 = Tensor::from_vector_f64({2}, {1}), g2 = Tensor::zeros({1}, DType::F64);
  Tensor m2 = Tensor::zeros({1}, DType::F64), v2 = Tensor::zeros({1}, DType::F64);
  hp.weight_decay = 0.1;
  ops::adam_step(hp, p2, g2, m2, v2, Tensor());
  CHECK(std::abs(p2.item() - (2 - 1e-3)) < 2e-10);
  CHECK(std::abs(m2.item() - (1 - b1) * 2 * 0.1) < 1e-15);
}

TEST_CASE("adam_step: three steps match the formula in double") {
  ops::AdamParams plain;                                   // PyTorch's defaults
  ops::AdamParams gan{2e-4, 0.5, 0.999, 1e-8, 0.0, 1};     // METHOD.md's G/D betas
  ops::AdamParams decay{1e-2, 0.9, 0.999, 1e-8, 0.05, 1};  // with weight decay
  // float64: the kernel's (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps) is the formula
  // rearranged, so the two differ by a few ulps of each quantity (O(1) values).
  run_three_steps(plain, DType::F64, 1e-15, 1e-14, "f64 defaults");
  run_three_steps(gan, DType::F64, 1e-15, 1e-14, "f64 betas (0.5, 0.999)");
  run_three_steps(decay, DType::F64, 1e-15, 1e-14, "f64 weight decay");
  // float32: the stored param, m and v are rounded to float after each step (relative
  // 6e-8 of values <= 2 in magnitude), so a few float ulps over three steps.
  run_three_steps(plain, DType::F32, 1e-6, 1e-6, "f32 defaults");
  run_three_steps(decay, DType::F32, 1e-6, 1e-6, "f32 weight decay");
}

TEST_CASE("adam_step: same seed and steps give bit-identical parameters / any thread count") {
  // 40000 parameters: enough for the parallel path.
  auto train = [](uint64_t seed) {
    const Shape shape{40000};
    Tensor param = random_tensor(shape, seed, -1, 1, DType::F32);
    Tensor m = Tensor::zeros(shape), v = Tensor::zeros(shape);
    ops::AdamParams hp{1e-3, 0.9, 0.999, 1e-8, 1e-4, 1};
    for (int64_t step = 1; step <= 5; ++step) {
      hp.step = step;
      Tensor grad = random_tensor(shape, seed * 1000 + static_cast<uint64_t>(step), -1, 1, DType::F32);
      ops::adam_step(hp, param, grad, m, v, Tensor());
    }
    return param.to_vector();
  };
  int before = num_threads();
  set_num_threads(2);
  auto a = train(7), b = train(7);
  set_num_threads(1);
  auto c = train(7);
  set_num_threads(before);
  auto d = train(8);
  REQUIRE(a.size() == b.size());
  CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(a.data(), c.data(), a.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(a.data(), d.data(), a.size() * sizeof(float)) != 0);  // the seed matters
}

TEST_CASE("adam_step: step 0 and mismatched shapes throw") {
  Tensor p = Tensor::zeros({4}), g = Tensor::zeros({4}), m = Tensor::zeros({4}), v = Tensor::zeros({4});
  ops::AdamParams hp;
  hp.step = 0;  // no bias correction for step 0 (division by zero)
  CHECK_THROWS_AS(ops::adam_step(hp, p, g, m, v, Tensor()), sad::Error);
  hp.step = 1;
  Tensor g5 = Tensor::zeros({5});
  CHECK_THROWS_AS(ops::adam_step(hp, p, g5, m, v, Tensor()), sad::Error);
}
