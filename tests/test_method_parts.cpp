// Direct checks of three pieces of METHOD.md that the end-to-end training tests only
// exercise indirectly: the residual evidence r (each kind and the batch normalisation),
// the normalisation of scores with the stored validation statistics, and the derived
// defaults of weak_labels = false.
#include <cmath>

#include "kernels/ops.h"
#include "model/anomaly_model.h"
#include "model/config.h"
#include "model/losses.h"
#include "test_util.h"

using namespace sad;

namespace {

// (B, C, H, W) float32 images in [-1, 1] from a seed.
Tensor image_batch(uint64_t seed, int64_t b = 2, int64_t c = 3, int64_t s = 16) {
  return sad::test::random_tensor({b, c, s, s}, seed, -1.0, 1.0, DType::F32);
}

// METHOD.md's SSIM map (Gaussian 11, sigma 1.5, L = 2), computed by the op that its own
// tests check against a direct window sum.
std::vector<double> ssim_map(const Tensor& a, const Tensor& b) {
  Tensor m = Tensor::empty(a.shape(), a.dtype(), a.device());
  ops::ssim_forward(ssim_map_params(), a, b, m);
  return m.to_vector_f64();
}

}  // namespace

TEST_CASE("residual_evidence: l1 is the channel mean of |x~ - x^|") {
  const Tensor a = image_batch(1), b = image_batch(2);
  const Tensor r = residual_evidence(a, b, ResidualKind::L1, false);
  REQUIRE(r.shape() == Shape{2, 1, 16, 16});
  const std::vector<double> av = a.to_vector_f64(), bv = b.to_vector_f64();
  std::vector<double> expected(2 * 16 * 16, 0.0);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t p = 0; p < 256; ++p) {
        const size_t i = static_cast<size_t>((n * 3 + c) * 256 + p);
        expected[static_cast<size_t>(n * 256 + p)] += std::fabs(av[i] - bv[i]) / 3.0;
      }
  CHECK(sad::test::check_close(r.to_vector_f64(), expected, 1e-6, 1e-6, "residual l1"));
}

TEST_CASE("residual_evidence: ssim is the channel mean of (1 - SSIM) / 2 and mix is their average") {
  const Tensor a = image_batch(3), b = image_batch(4);
  const std::vector<double> map = ssim_map(a, b);
  std::vector<double> expected(2 * 16 * 16, 0.0);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t p = 0; p < 256; ++p)
        expected[static_cast<size_t>(n * 256 + p)] +=
            (1.0 - map[static_cast<size_t>((n * 3 + c) * 256 + p)]) / 2.0 / 3.0;
  const Tensor rs = residual_evidence(a, b, ResidualKind::Ssim, false);
  CHECK(sad::test::check_close(rs.to_vector_f64(), expected, 1e-6, 1e-6, "residual ssim"));

  const std::vector<double> l1 = residual_evidence(a, b, ResidualKind::L1, false).to_vector_f64();
  std::vector<double> mix(expected.size());
  for (size_t i = 0; i < mix.size(); ++i) mix[i] = 0.5 * l1[i] + 0.5 * expected[i];
  CHECK(sad::test::check_close(residual_evidence(a, b, ResidualKind::Mix, false).to_vector_f64(), mix, 1e-6, 1e-6,
                               "residual mix"));
}

TEST_CASE("residual_evidence: identical images give zero evidence in every kind") {
  const Tensor a = image_batch(5);
  for (ResidualKind k : {ResidualKind::L1, ResidualKind::Ssim, ResidualKind::Mix}) {
    CAPTURE(enum_name(k));
    for (double v : residual_evidence(a, a.clone(), k, false).to_vector_f64()) REQUIRE(std::fabs(v) < 1e-6);
  }
}

TEST_CASE("residual_evidence: batch normalisation divides by the batch mean plus 1e-6") {
  const Tensor a = image_batch(6), b = image_batch(7);
  const std::vector<double> raw = residual_evidence(a, b, ResidualKind::Mix, false).to_vector_f64();
  double mean = 0;
  for (double v : raw) mean += v;
  mean /= static_cast<double>(raw.size());
  REQUIRE(mean > 0.1);
  std::vector<double> expected(raw);
  for (double& v : expected) v /= mean + 1e-6;
  const std::vector<double> norm = residual_evidence(a, b, ResidualKind::Mix, true).to_vector_f64();
  CHECK(sad::test::check_close(norm, expected, 1e-5, 1e-5, "residual normalised"));
  // Over the whole batch (not per image): the mean of the normalised map is 1.
  double norm_mean = 0;
  for (double v : norm) norm_mean += v;
  CHECK(norm_mean / static_cast<double>(norm.size()) == doctest::Approx(1.0).epsilon(1e-5));
  // Identical images: 0 / (0 + 1e-6) stays 0, no division by zero.
  for (double v : residual_evidence(a, a.clone(), ResidualKind::Mix, true).to_vector_f64()) REQUIRE(v == 0.0);
}

TEST_CASE("residual_evidence errors: images of different shapes") {
  CHECK_THROWS_WITH_AS(residual_evidence(image_batch(1), image_batch(2, 2, 3, 8), ResidualKind::L1, false),
                       doctest::Contains("residual_evidence"), std::exception);
}

namespace {

// A tiny model's config; the tests set the stored thresholds and ranges on it.
Config tiny_scoring_config() {
  Config c;
  c.image_size = 32;
  c.width = 4;
  c.channels = 1;
  return c;
}

}  // namespace

TEST_CASE("score normalisation: clip((s - t) / max(max - min 1e-6) + 0.5 to [0 1])") {
  Config c = tiny_scoring_config();
  c.image_threshold = 0.3;
  c.image_score_min = 0.1;
  c.image_score_max = 0.9;  // range 0.8
  c.pixel_threshold = 0.2;
  c.pixel_score_min = 0.0;
  c.pixel_score_max = 0.4;  // range 0.4
  c.finalise();
  AnomalyModel m(c);
  // The threshold maps to 0.5 exactly; the scale is the validation range.
  CHECK(m.normalise_image_score(0.3) == doctest::Approx(0.5));
  CHECK(m.normalise_image_score(0.5) == doctest::Approx(0.75));
  CHECK(m.normalise_image_score(0.1) == doctest::Approx(0.25));
  // Clipped to [0, 1].
  CHECK(m.normalise_image_score(5.0) == 1.0);
  CHECK(m.normalise_image_score(-5.0) == 0.0);
  CHECK(m.normalise_pixel(0.2) == doctest::Approx(0.5));
  CHECK(m.normalise_pixel(0.3) == doctest::Approx(0.75));
  CHECK(m.normalise_pixel(0.0) == doctest::Approx(0.0));
  // Monotone: the normalisation never reorders scores (AUROC is computed on raw scores,
  // but the label of predict depends on this order).
  double prev = -1;
  for (double s = -0.2; s <= 1.2; s += 0.05) {
    const double v = m.normalise_image_score(s);
    CHECK(v >= prev);
    prev = v;
  }
}

TEST_CASE("score normalisation: a zero validation range uses 1e-6 and stays finite") {
  Config c = tiny_scoring_config();
  c.image_threshold = 0.4;
  c.image_score_min = 0.4;
  c.image_score_max = 0.4;
  c.finalise();
  AnomalyModel m(c);
  CHECK(m.normalise_image_score(0.4) == doctest::Approx(0.5));
  CHECK(m.normalise_image_score(0.4 + 2e-7) == doctest::Approx(0.7));
  CHECK(m.normalise_image_score(0.41) == 1.0);
  CHECK(m.normalise_image_score(0.39) == 0.0);
}

TEST_CASE("config: weak_labels=false defaults to beta_kl 10 and rho 0.02") {
  SUBCASE("weak labels on: METHOD.md's defaults") {
    Config c;
    c.finalise();
    CHECK(c.weak_labels);
    CHECK(c.beta_kl == 1.0);
    CHECK(c.rho == 0.03);
  }
  SUBCASE("weak labels off: the batch-level prior's defaults") {
    Config c;
    c.set("weak_labels", "false");
    c.finalise();
    CHECK_FALSE(c.weak_labels);
    CHECK(c.beta_kl == 10.0);
    CHECK(c.rho == 0.02);
  }
  SUBCASE("weak labels off: explicit values win over the derived defaults") {
    Config c;
    c.set("weak_labels", "false");
    c.set("beta_kl", "3");
    c.set("rho", "0.05");
    c.finalise();
    CHECK(c.beta_kl == 3.0);
    CHECK(c.rho == 0.05);
  }
  SUBCASE("the derived defaults survive the model file's JSON round trip") {
    Config c;
    c.set("weak_labels", "false");
    c.finalise();
    Config back = Config::from_json(c.to_json(), "test");
    back.finalise();
    CHECK(back.beta_kl == 10.0);
    CHECK(back.rho == 0.02);
  }
}

// docs/RESULTS.md made two levers the defaults of a new training; a config read from a model
// file keeps what it holds, and one written before the keys existed reads METHOD.md's values.
TEST_CASE("config: new sparse-kl trainings default to a cosine lr_s and score_reference=mean on whole images") {
  SUBCASE("whole images: both levers on") {
    Config c;
    c.finalise();
    CHECK(c.lr_schedule_s == LrSchedule::Cosine);
    CHECK(c.score_reference == ScoreReference::Mean);
    CHECK(c.lr_schedule_g == LrSchedule::Constant);  // phase 1 keeps METHOD.md's constant rate
  }
  SUBCASE("tiles: no reference (it needs whole images) and the cosine rate") {
    Config c;
    c.set("tile_scale", "0.5");
    c.finalise();
    CHECK(c.score_reference == ScoreReference::None);
    CHECK(c.lr_schedule_s == LrSchedule::Cosine);
  }
  SUBCASE("residual and mask-supervised keep METHOD.md's until measured") {
    for (const char* mode : {"residual", "mask-supervised"}) {
      CAPTURE(mode);
      Config c;
      c.set("mode", mode);
      c.finalise();
      CHECK(c.lr_schedule_s == LrSchedule::Constant);
      CHECK(c.score_reference == ScoreReference::None);
    }
  }
  SUBCASE("values set explicitly stay, METHOD.md's included") {
    Config c;
    c.set("lr_schedule_s", "constant");
    c.set("score_reference", "none");
    c.finalise();
    CHECK(c.lr_schedule_s == LrSchedule::Constant);
    CHECK(c.score_reference == ScoreReference::None);
    Config t;
    t.set("tile_scale", "0.5");
    t.set("score_reference", "mean");
    CHECK_THROWS_WITH_AS(t.finalise(), doctest::Contains("score_reference=mean works on whole images only"), Error);
  }
  SUBCASE("a stored config keeps its values and one without the keys reads METHOD.md's") {
    Config c;
    c.set("lr_schedule_s", "constant");
    c.set("score_reference", "none");
    c.finalise();
    Config back = Config::from_json(c.to_json(), "test");
    back.finalise();
    CHECK(back.lr_schedule_s == LrSchedule::Constant);
    CHECK(back.score_reference == ScoreReference::None);
    Json old = c.to_json();
    Json pruned = Json::object();
    for (const auto& [key, value] : old.as_object())
      if (key != "lr_schedule_s" && key != "score_reference") pruned.set(key, value);
    const Config older = Config::from_json(pruned, "old.safetensors");
    CHECK(older.lr_schedule_s == LrSchedule::Constant);
    CHECK(older.score_reference == ScoreReference::None);
  }
}

// A run from --init-generator records its generator's phase 1. Adding a phase-1 option means
// adding it here, with a value other than its default.
TEST_CASE("config: adopt_phase1 copies exactly the options phase 1 reads") {
  const std::vector<std::pair<std::string, std::string>> phase1 = {
      {"steps_gan", "123"}, {"epochs_gan", "5"}, {"l_mse", "2"},
      {"l_ssim", "3"},      {"l_adv", "0.5"},    {"lr_g", "0.01"},
      {"lr_d", "0.02"},     {"ema_g", "0.9"},    {"lr_schedule_g", "cosine"},
      {"gan_beta1", "0.1"}, {"gan_beta2", "0.5"}};
  std::vector<std::string> keys;
  for (const auto& kv : phase1) keys.push_back(kv.first);
  CHECK(Config::phase1_keys() == keys);
  Config run, generator;
  for (const auto& [k, v] : phase1) generator.set(k, v);
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"rho", "0.1"}, {"lr_s", "0.02"}, {"width", "8"}, {"p_perturb", "0.9"}, {"lr_schedule_s", "cosine"}})
    generator.set(k, v);
  const Json before = run.to_json();
  run.adopt_phase1(generator);
  const Json after = run.to_json(), g = generator.to_json();
  for (const auto& [key, value] : after.as_object()) {
    CAPTURE(key);
    const bool p1 = std::find(keys.begin(), keys.end(), key) != keys.end();
    CHECK(value == *(p1 ? g : before).find(key));
    if (p1) CHECK_FALSE(value == *before.find(key));  // each test value differs from the default
  }
}

// Every named choice (mode, preset, residual_kind, image_score, map_border): each name goes
// in through --set and comes back out of the JSON, and a bad name is refused, naming the
// option and listing the choices.
template <class E>
void check_named_choice(const std::string& key, E Config::*member) {
  for (size_t i = 0; i < EnumNames<E>::names.size(); ++i) {
    const std::string name = EnumNames<E>::names[i];
    CAPTURE(key);
    CAPTURE(name);
    Config c;
    c.set(key, name);
    CHECK(c.*member == static_cast<E>(i));
    CHECK(enum_name(c.*member) == name);
    const Config back = Config::from_json(c.to_json(), "test");
    CHECK(back.*member == static_cast<E>(i));
    CHECK(back.to_json().get_string(key, "test") == name);
  }
  Config c;
  const std::string expected = "option '" + key + "' must be " + choices_text(EnumNames<E>::names) + ", got 'bogus'";
  CHECK_THROWS_WITH_AS(c.set(key, "bogus"), doctest::Contains(expected.c_str()), Error);
  Json j = Config().to_json();
  j.set(key, Json(std::string("bogus")));
  const std::string stored = "m.safetensors: config '" + key + "' must be " + choices_text(EnumNames<E>::names);
  CHECK_THROWS_WITH_AS(Config::from_json(j, "m.safetensors"), doctest::Contains(stored.c_str()), Error);
}

TEST_CASE("config: named choices round-trip through --set and JSON and a bad name lists the choices") {
  check_named_choice("mode", &Config::mode);
  check_named_choice("preset", &Config::preset);
  check_named_choice("residual_kind", &Config::residual_kind);
  check_named_choice("image_score", &Config::image_score);
  check_named_choice("map_border", &Config::map_border);
  check_named_choice("augment", &Config::augment);
  check_named_choice("score_reference", &Config::score_reference);
  check_named_choice("lr_schedule_g", &Config::lr_schedule_g);
  check_named_choice("lr_schedule_s", &Config::lr_schedule_s);
  CHECK(choices_text(EnumNames<Mode>::names) == "sparse-kl, residual or mask-supervised");
  CHECK(choices_text(EnumNames<MapBorder>::names) == "zero or inside");
}
