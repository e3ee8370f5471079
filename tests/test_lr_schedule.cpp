// The lr_schedule_g and lr_schedule_s levers: a phase's learning rates follow a cosine from
// the set rate at its first step towards 0 at its last. The factor is a function of the step
// alone (a run stopped at every step and resumed equals the uninterrupted one), each schedule
// changes only its own phase's networks, and constant (the default) changes nothing.
#include <atomic>
#include <cmath>
#include <filesystem>
#include <numbers>

#include "data_test_util.h"
#include "layers/layers.h"
#include "layers/safetensors.h"
#include "model/train_parts.h"
#include "model/trainer.h"
#include "test_util.h"
#include "train_test_util.h"

using namespace sad;

TEST_CASE("lr_schedule: constant is 1 and cosine falls from 1 through 1/2 at mid-phase towards 0") {
  for (int64_t t : {0, 1, 7, 99}) CHECK(lr_factor(LrSchedule::Constant, t, 100) == 1.0);
  CHECK(lr_factor(LrSchedule::Cosine, 0, 100) == 1.0);
  CHECK(lr_factor(LrSchedule::Cosine, 50, 100) == doctest::Approx(0.5).epsilon(1e-15));
  CHECK(lr_factor(LrSchedule::Cosine, 25, 100) == doctest::Approx((1 + std::sqrt(0.5)) / 2).epsilon(1e-15));
  CHECK(lr_factor(LrSchedule::Cosine, 100, 100) == doctest::Approx(0.0).epsilon(1e-15));
  // The last step (99 of 100) still moves, by a small factor.
  const double last = lr_factor(LrSchedule::Cosine, 99, 100);
  CHECK(last > 0);
  CHECK(last == doctest::Approx((1 + std::cos(std::numbers::pi * 0.99)) / 2));
  double prev = 2;
  for (int64_t t = 0; t < 100; ++t) {
    const double f = lr_factor(LrSchedule::Cosine, t, 100);
    CHECK(f < prev);
    prev = f;
  }
  CHECK(lr_factor(LrSchedule::Cosine, 0, 0) == 1.0);  // an empty phase: no step to scale
}

namespace {

TrainResult run_tiny(const std::string& ds, const std::string& out, LrSchedule g, LrSchedule s, int64_t steps_gan = 4,
                     const std::atomic<bool>* stop = nullptr, bool resume = false) {
  Config c;
  c.image_size = 32, c.width = 4, c.batch = 4, c.seed = 7, c.channels = 1, c.val_fraction = 0.2;
  c.steps_gan = steps_gan, c.steps_seg = 3;
  c.set("lr_schedule_g", enum_name(g));  // set, so finalise() keeps them
  c.set("lr_schedule_s", enum_name(s));
  c.finalise();
  return test::train_quietly(ds, out, c, stop, resume);
}

}  // namespace

TEST_CASE("lr_schedule: each schedule changes its own phase and a stopped and resumed run equals the whole one") {
  test::TempDir tmp("lr-schedule");
  const std::string ds = test::tiny_gray_dataset(tmp.path().string());
  const std::string dir = tmp.path().string();
  const auto C = LrSchedule::Constant, K = LrSchedule::Cosine;
  REQUIRE(run_tiny(ds, dir + "/const", C, C).completed);
  REQUIRE(run_tiny(ds, dir + "/g", K, C).completed);
  REQUIRE(run_tiny(ds, dir + "/s", C, K).completed);
  const std::string m_const = dir + "/const/model.safetensors", m_g = dir + "/g/model.safetensors",
                    m_s = dir + "/s/model.safetensors";
  CHECK(test::tensors_of(m_g, "G.") != test::tensors_of(m_const, "G."));
  CHECK(test::tensors_of(m_s, "G.") == test::tensors_of(m_const, "G."));
  CHECK(test::tensors_of(m_s, "S.") != test::tensors_of(m_const, "S."));

  // A one-step phase 1 takes its only step at the full rate: cosine equals constant there
  // (the schedule is not a step early). A two-step one takes its second at half the rate:
  // cosine differs (nor is it a step late).
  REQUIRE(run_tiny(ds, dir + "/const1", C, C, 1).completed);
  REQUIRE(run_tiny(ds, dir + "/g1", K, C, 1).completed);
  CHECK(test::tensors_of(dir + "/g1/model.safetensors", "G.") ==
        test::tensors_of(dir + "/const1/model.safetensors", "G."));
  REQUIRE(run_tiny(ds, dir + "/const2", C, C, 2).completed);
  REQUIRE(run_tiny(ds, dir + "/g2", K, C, 2).completed);
  CHECK(test::tensors_of(dir + "/g2/model.safetensors", "G.") !=
        test::tensors_of(dir + "/const2/model.safetensors", "G."));

  // Stopped after every step and resumed: the schedule continues from the step.
  std::atomic<bool> stop{true};
  TrainResult r = run_tiny(ds, dir + "/part", K, K, 4, &stop);
  int resumes = 0;
  while (!r.completed && resumes < 100) {
    r = run_tiny(ds, dir + "/part", K, K, 4, &stop, /*resume=*/true);
    ++resumes;
  }
  REQUIRE(r.completed);
  CHECK(resumes == 7);  // 4 + 3 steps
  REQUIRE(run_tiny(ds, dir + "/whole", K, K).completed);
  CHECK(test::read_bytes(dir + "/whole/model.safetensors") == test::read_bytes(dir + "/part/model.safetensors"));
}

TEST_CASE("lr_schedule: phase 1 scales G's and D's rates and phase 2 S's each on its own schedule") {
  Rng rng(1);
  Conv2d a(1, 2, 3, 1, 1), b(1, 2, 3, 1, 1), c(1, 2, 3, 1, 1);
  a.reset_parameters(rng), b.reset_parameters(rng), c.reset_parameters(rng);
  Config cfg;
  cfg.lr_g = 2e-4, cfg.lr_d = 3e-4, cfg.lr_s = 1e-3;
  cfg.lr_schedule_g = LrSchedule::Cosine;
  Optimised g(a, AdamConfig{}), d(b, AdamConfig{}), s(c, AdamConfig{});
  schedule_learning_rates(cfg, /*gan_phase=*/true, 50, 100, &g, &d, nullptr);
  CHECK(g.adam->config().lr == doctest::Approx(1e-4).epsilon(1e-12));
  CHECK(d.adam->config().lr == doctest::Approx(1.5e-4).epsilon(1e-12));
  CHECK(s.adam->config().lr == AdamConfig{}.lr);  // phase 1 leaves S alone
  schedule_learning_rates(cfg, /*gan_phase=*/false, 50, 100, nullptr, nullptr, &s);
  CHECK(s.adam->config().lr == 1e-3);  // lr_schedule_s constant: the set rate exactly
  cfg.lr_schedule_s = LrSchedule::Cosine;
  schedule_learning_rates(cfg, /*gan_phase=*/false, 75, 100, nullptr, nullptr, &s);
  CHECK(s.adam->config().lr == doctest::Approx(1e-3 * (1 - std::sqrt(0.5)) / 2).epsilon(1e-12));
  CHECK(g.adam->config().lr == doctest::Approx(1e-4).epsilon(1e-12));  // phase 2 leaves G alone
}

TEST_CASE("lr_schedule: an unknown schedule is refused by name") {
  Config c;
  CHECK_THROWS_WITH_AS(c.set("lr_schedule_g", "linear"),
                       doctest::Contains("option 'lr_schedule_g' must be constant or cosine, got 'linear'"), Error);
  c.set("lr_schedule_s", "cosine");
  CHECK(c.lr_schedule_s == LrSchedule::Cosine);
  CHECK(c.to_json().get_string("lr_schedule_s", "config") == "cosine");
}
