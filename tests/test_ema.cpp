// The ema_g and ema_s levers: G's weights averaged over phase 1, S's over phase 2. The average
// follows its formula step by step, becomes the network's weights at the end of its phase, is
// carried by the checkpoints (a run stopped at every step and resumed equals the uninterrupted
// one), and changes nothing when off.
#include <atomic>
#include <cmath>
#include <filesystem>

#include "data/synth.h"
#include "data_test_util.h"
#include "layers/layers.h"
#include "layers/safetensors.h"
#include "model/train_parts.h"
#include "model/trainer.h"
#include "test_util.h"
#include "train_test_util.h"

using namespace sad;
namespace fs = std::filesystem;

TEST_CASE("ema: the decay warms up as (1 + t) / (10 + t) and is capped by the setting") {
  CHECK(ema_decay(0.999, 1) == doctest::Approx(2.0 / 11.0));
  CHECK(ema_decay(0.999, 90) == doctest::Approx(91.0 / 100.0));
  CHECK(ema_decay(0.9, 1000) == 0.9);  // (1001 / 1010 > 0.9): the cap
  CHECK(ema_decay(0.5, 1) == doctest::Approx(2.0 / 11.0));
  CHECK(ema_decay(0.5, 9) == 0.5);
}

TEST_CASE("ema: the average follows d ema + (1 - d) w after each step and becomes the weights") {
  Rng rng(3);
  Conv2d conv(2, 3, 3, 1, 1);
  conv.reset_parameters(rng);
  Optimised o(conv, AdamConfig{0.05, 0.9, 0.999, 1e-8, 0.0});
  std::vector<float> w0 = o.arena->data().to_vector();
  o.start_ema();
  std::vector<double> ref(w0.begin(), w0.end());
  const double decay = 0.7;
  for (int t = 1; t <= 12; ++t) {
    // A gradient that differs per element and per step, so the weights keep moving.
    std::vector<float> g(static_cast<size_t>(o.arena->total()));
    for (size_t i = 0; i < g.size(); ++i) g[i] = std::sin(0.37f * static_cast<float>(i) + 0.9f * static_cast<float>(t));
    o.arena->grad().copy_from(Tensor::from_vector(g, o.arena->grad().shape()));
    o.adam->step();
    o.update_ema(decay);
    const double d = ema_decay(decay, t);
    const std::vector<float> w = o.arena->data().to_vector();
    for (size_t i = 0; i < ref.size(); ++i) ref[i] = d * ref[i] + (1 - d) * w[i];
  }
  const std::vector<float> ema = o.ema.to_vector(), w = o.arena->data().to_vector();
  double worst = 0, apart = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    worst = std::max(worst, std::abs(ema[i] - ref[i]));
    apart = std::max(apart, std::abs(ema[i] - static_cast<double>(w[i])));
  }
  CHECK(worst < 1e-6);
  CHECK(apart > 1e-3);  // the average lags the weights: the test can tell them apart
  o.adopt_ema();
  CHECK_FALSE(o.ema.defined());
  CHECK(o.arena->data().to_vector() == ema);
  // The module's parameters are views of the arena: the layer now holds the average.
  CHECK(conv.weight.data().to_vector() ==
        std::vector<float>(ema.begin(), ema.begin() + static_cast<std::ptrdiff_t>(conv.weight.data().numel())));
}

namespace {

TrainResult run_tiny(const std::string& ds, const std::string& out, double ema, const std::atomic<bool>* stop = nullptr,
                     bool resume = false, double ema_s = 0) {
  Config c;
  c.image_size = 32, c.width = 4, c.batch = 4, c.seed = 5, c.channels = 1, c.val_fraction = 0.2;
  c.steps_gan = 5, c.steps_seg = 3;
  c.ema_g = ema;
  c.ema_s = ema_s;
  c.finalise();
  return test::train_quietly(ds, out, c, stop, resume);
}

}  // namespace

TEST_CASE("ema: a run stopped at every step and resumed equals the uninterrupted run and differs from no average") {
  test::TempDir tmp("ema-trainer");
  const std::string ds = test::tiny_gray_dataset(tmp.path().string());
  const std::string full = tmp.path().string() + "/full", part = tmp.path().string() + "/part";
  REQUIRE(run_tiny(ds, full, 0.9, nullptr, false, 0.8).completed);
  std::atomic<bool> stop{true};
  TrainResult r = run_tiny(ds, part, 0.9, &stop, false, 0.8);
  int resumes = 0;
  while (!r.completed && resumes < 100) {
    // While its phase runs a checkpoint carries the average; after it, the network holds it.
    const SafetensorsFile ck = load_safetensors(part + "/checkpoint.safetensors");
    bool has_g = false, has_s = false;
    for (auto& [name, t] : ck.tensors) has_g = has_g || name == "ema.g", has_s = has_s || name == "ema.s";
    CHECK(has_g == (ck.metadata.at("phase1_done") == "0"));
    CHECK(has_s == !(ck.metadata.at("phase") == "2" && ck.metadata.at("step") == "3"));
    r = run_tiny(ds, part, 0.9, &stop, /*resume=*/true, 0.8);
    ++resumes;
  }
  REQUIRE(r.completed);
  CHECK(resumes == 8);  // 5 + 3 steps, one stop after each (the last resume only finishes the run)
  CHECK(test::read_bytes(full + "/model.safetensors") == test::read_bytes(part + "/model.safetensors"));

  // Each average changes its own network: G with ema_g, S with ema_s.
  const std::string off = tmp.path().string() + "/off", g_only = tmp.path().string() + "/g-only";
  REQUIRE(run_tiny(ds, off, 0.0).completed);
  REQUIRE(run_tiny(ds, g_only, 0.9).completed);
  const auto avg = test::tensors_of(full + "/model.safetensors", "G."),
             none = test::tensors_of(off + "/model.safetensors", "G.");
  REQUIRE(avg.size() == none.size());
  CHECK(avg != none);
  CHECK(test::tensors_of(g_only + "/model.safetensors", "G.") == avg);
  CHECK(test::tensors_of(g_only + "/model.safetensors", "S.") != test::tensors_of(full + "/model.safetensors", "S."));
}

TEST_CASE("ema: a decay of 1 or below 0 is refused by name") {
  Config c;
  c.set("ema_g", "1");
  CHECK_THROWS_WITH_AS(c.finalise(), doctest::Contains("ema_g must lie in [0, 1)"), Error);
  c.set("ema_g", "-0.1");
  CHECK_THROWS_WITH_AS(c.finalise(), doctest::Contains("ema_g must lie in [0, 1)"), Error);
  c.set("ema_g", "0");
  c.set("ema_s", "1");
  CHECK_THROWS_WITH_AS(c.finalise(), doctest::Contains("ema_s must lie in [0, 1)"), Error);
}
