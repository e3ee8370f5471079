// The lr_schedule_g and lr_schedule_s levers: a phase's learning rates follow a cosine from
// the set rate at its first step towards 0 at its last. The factor is a function of the step
// alone (a run stopped at every step and resumed equals the uninterrupted one), each schedule
// changes only its own phase's networks, and constant (the default) changes nothing.
#include <atomic>
#include <cmath>
#include <filesystem>
#include <numbers>

#include "data_test_util.h"
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
  c.lr_schedule_g = g;
  c.lr_schedule_s = s;
  c.finalise();
  return test::train_quietly(ds, out, c, stop, resume);
}

std::map<std::string, std::vector<float>> tensors_of(const std::string& model_path, const std::string& prefix) {
  std::map<std::string, std::vector<float>> m;
  for (auto& [name, t] : load_safetensors(model_path).tensors)
    if (name.rfind(prefix, 0) == 0) m[name] = t.to_vector();
  return m;
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
  CHECK(tensors_of(m_g, "G.") != tensors_of(m_const, "G."));
  CHECK(tensors_of(m_s, "G.") == tensors_of(m_const, "G."));
  CHECK(tensors_of(m_s, "S.") != tensors_of(m_const, "S."));

  // A one-step phase 1 takes its only step at the full rate: cosine equals constant there,
  // so the schedule starts at factor 1 on step 0 (not 1 step late).
  REQUIRE(run_tiny(ds, dir + "/const1", C, C, 1).completed);
  REQUIRE(run_tiny(ds, dir + "/g1", K, C, 1).completed);
  CHECK(tensors_of(dir + "/g1/model.safetensors", "G.") == tensors_of(dir + "/const1/model.safetensors", "G."));

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

TEST_CASE("lr_schedule: an unknown schedule is refused by name") {
  Config c;
  CHECK_THROWS_WITH_AS(c.set("lr_schedule_g", "linear"),
                       doctest::Contains("option 'lr_schedule_g' must be constant or cosine, got 'linear'"), Error);
  c.set("lr_schedule_s", "cosine");
  CHECK(c.lr_schedule_s == LrSchedule::Cosine);
  CHECK(c.to_json().get_string("lr_schedule_s", "config") == "cosine");
}
