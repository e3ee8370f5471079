// Validation, the collapse alarm and the image score: the bootstrap error of an AUROC, the
// held-out share of small sets, the perturbed versions of each held-out image, every
// trigger of the alarm (and its silence on healthy statistics), and the log-sum-exp score
// that ranks maps whose maxima tie.
#include <algorithm>
#include <cmath>
#include <set>

#include "data/dataset.h"
#include "model/validation.h"
#include "test_util.h"

using namespace sad;

TEST_CASE("bootstrap_auroc: perfect separation has no error and chance scores have some") {
  std::vector<float> s;
  std::vector<uint8_t> l;
  for (int i = 0; i < 20; ++i) s.push_back(static_cast<float>(i)), l.push_back(i >= 10);
  AurocWithError a = bootstrap_auroc(s, l, 7);
  CHECK(a.auroc == doctest::Approx(1.0));
  CHECK(a.se == doctest::Approx(0.0));
  // Interleaved labels: AUROC near 0.5 with a visible spread.
  for (int i = 0; i < 20; ++i) l[static_cast<size_t>(i)] = i % 2;
  AurocWithError b = bootstrap_auroc(s, l, 7);
  CHECK(b.auroc == doctest::Approx(0.55));
  CHECK(b.se > 0.05);
  CHECK(b.se < 0.25);
  // Seeded: the same call gives the same error, bit for bit.
  CHECK(bootstrap_auroc(s, l, 7).se == b.se);
  // One class only: undefined.
  std::vector<uint8_t> zeros(20, 0);
  CHECK(bootstrap_auroc(s, zeros, 7).auroc == -1);
}

TEST_CASE("split_validation: small sets hold out at least min(min_count n/4) and large ones 10%") {
  CHECK(data::split_validation(37, 0, 0.1, 6).validation.size() == 6);  // 10 % would be 4
  CHECK(data::split_validation(40, 0, 0.1, 6).validation.size() == 6);
  CHECK(data::split_validation(12, 0, 0.1, 6).validation.size() == 3);  // a quarter at most
  CHECK(data::split_validation(60, 0, 0.1, 6).validation.size() == 6);  // the demo: unchanged
  CHECK(data::split_validation(761, 0, 0.1, 6).validation.size() == 76);
  CHECK(data::split_validation(3, 0, 0.1, 6).validation.size() == 1);
  // The default min_count of 1 keeps the old split exactly.
  CHECK(data::split_validation(37, 5).validation.size() == 4);
}

TEST_CASE("make_validation_set: each held-out image clean once and perturbed in several seeded versions") {
  std::vector<Tensor> val;
  Rng rng(3);
  for (int i = 0; i < 3; ++i) {
    std::vector<float> v(1 * 32 * 32);
    for (float& x : v) x = static_cast<float>(rng.uniform(-0.5, 0.5));
    val.push_back(Tensor::from_vector(v, {1, 32, 32}));
  }
  ValidationSet vs = make_validation_set(val, 11, 4);
  CHECK(vs.clean == 3);
  const auto positives = std::count(vs.labels.begin(), vs.labels.end(), 1);
  CHECK(positives >= 9);  // 12 draws; a draw that gives up after 20 tries adds none
  CHECK(positives <= 12);
  for (size_t i = 0; i < vs.images.size(); ++i) CHECK(vs.masks[i].defined() == (vs.labels[i] == 1));
  // The versions differ from each other, and the set replays exactly.
  std::set<std::vector<float>> distinct;
  for (size_t i = 3; i < vs.images.size(); ++i) distinct.insert(vs.images[i].to_vector());
  CHECK(distinct.size() == vs.images.size() - 3);
  ValidationSet again = make_validation_set(val, 11, 4);
  REQUIRE(again.images.size() == vs.images.size());
  for (size_t i = 0; i < vs.images.size(); ++i) CHECK(again.images[i].to_vector() == vs.images[i].to_vector());
  // Version 0 is the single version of one-version sets.
  ValidationSet one = make_validation_set(val, 11, 1);
  CHECK(one.images[3].to_vector() == vs.images[3].to_vector());
}

namespace {
ValidationStats healthy() {
  ValidationStats st;
  st.image_auroc = 0.93;
  st.image_auroc_se = 0.03;
  st.pixel_auroc = 0.91;
  st.above_threshold = 0.04;
  st.distinct_scores = 40;
  st.images = 40;
  st.g_ssim = 0.8;
  return st;
}
}  // namespace

TEST_CASE("collapse_alarm: silent on healthy statistics and each trigger fires on its own") {
  CHECK(collapse_alarm(healthy(), Mode::SparseKl).empty());
  CHECK(collapse_alarm(healthy(), Mode::Residual).empty());

  ValidationStats chance = healthy();
  chance.image_auroc = 0.58, chance.image_auroc_se = 0.05;  // 0.58 - 2 * 0.05 < 0.5
  CHECK(collapse_alarm(chance, Mode::SparseKl).find("indistinguishable from chance") != std::string::npos);
  chance.image_auroc = 0.40, chance.image_auroc_se = 0.01;  // below chance counts too
  CHECK(collapse_alarm(chance, Mode::SparseKl).find("indistinguishable from chance") != std::string::npos);

  ValidationStats pixel = healthy();
  pixel.pixel_auroc = 0.36;
  CHECK(collapse_alarm(pixel, Mode::MaskSupervised).find("pixel AUROC 0.360 is below chance") != std::string::npos);

  ValidationStats flooded = healthy();
  flooded.above_threshold = 0.8;
  CHECK(collapse_alarm(flooded, Mode::SparseKl).find("80 % of validation pixels") != std::string::npos);

  ValidationStats tied = healthy();
  tied.distinct_scores = 9, tied.images = 30;
  CHECK(collapse_alarm(tied, Mode::SparseKl).find("only 9 distinct scores among 30") != std::string::npos);
  CHECK_FALSE(collapse_alarm(tied, Mode::Residual).empty());

  ValidationStats plateau = healthy();
  plateau.g_ssim = 0.2;
  const std::string line = collapse_alarm(plateau, Mode::Residual);
  CHECK(line.find("G is still on its plateau") != std::string::npos);
  CHECK(line.find("Try: more steps") != std::string::npos);
  CHECK(line.find('\n') == std::string::npos);  // one line

  // The segmenter's triggers say nothing about a residual model, which has no segmenter.
  CHECK(collapse_alarm(pixel, Mode::Residual).empty());
  CHECK(collapse_alarm(flooded, Mode::Residual).empty());
}

TEST_CASE("image score: the log-sum-exp ranks maps whose maxima tie and approaches the max") {
  // Two 32 x 32 logit maps with the same cap (-0.05) over regions of different size.
  auto map_with_square = [](int side) {
    std::vector<float> v(32 * 32, -8.0f);
    for (int y = 4; y < 4 + side; ++y)
      for (int x = 4; x < 4 + side; ++x) v[static_cast<size_t>(y * 32 + x)] = -0.05f;
    return Tensor::from_vector(v, {32, 32});
  };
  const Tensor small = map_with_square(6), large = map_with_square(12);
  CHECK(image_score_from_map(small) == image_score_from_map(large));  // METHOD.md's max ties
  CHECK(image_score_lse_from_map(small, 0.1) < image_score_lse_from_map(large, 0.1));
  for (double t : {1.0, 0.1, 0.01}) {
    CHECK(image_score_lse_from_map(large, t) <= image_score_from_map(large) + 1e-12);
  }
  // t -> 0: within t log(N) of the max.
  CHECK(image_score_from_map(large) - image_score_lse_from_map(large, 0.01) <= 0.01 * std::log(32.0 * 32.0) + 1e-9);
  CHECK_THROWS_AS(image_score_lse_from_map(large, 0.0), Error);
}

TEST_CASE("config: a model file of format version 1 is refused with a message that says why") {
  Config c;
  Json j = c.to_json();
  j.set("format_version", 1);
  CHECK_THROWS_WITH_AS(Config::from_json(j, "old.safetensors"),
                       doctest::Contains("format version 1 (written by sparsead before"), Error);
  j.set("format_version", 7);
  CHECK_THROWS_WITH_AS(Config::from_json(j, "new.safetensors"), doctest::Contains("this build reads version 2"), Error);
}

TEST_CASE("config: step budgets by default and an epoch budget replaces its phase's steps") {
  Config c;
  c.finalise();
  CHECK(c.planned_steps_gan(13) == 2000);
  CHECK(c.planned_steps_seg(13) == 800);
  c.set("epochs_gan", "3");
  c.finalise();
  CHECK(c.planned_steps_gan(13) == 39);
  CHECK(c.planned_steps_seg(13) == 800);
  c.mode = Mode::Residual;
  CHECK(c.planned_steps_seg(13) == 0);  // no segmenter
  Config both;
  both.set("steps_seg", "100");
  both.set("epochs_seg", "2");
  CHECK_THROWS_WITH_AS(both.finalise(), doctest::Contains("give steps_seg or epochs_seg, not both"), Error);
  Config mode;
  CHECK_THROWS_WITH_AS(mode.set("mode", "bogus"), doctest::Contains("sparse-kl, residual or mask-supervised"), Error);
  CHECK(mode_name(parse_mode("mask-supervised")) == std::string("mask-supervised"));
}

TEST_CASE("gaussian_blur: zero padding pulls a constant map's border towards 0 and inside_only keeps it") {
  // A logit map of -5 everywhere (normal texture): zero padding raises its border towards 0,
  // an anomaly the segmenter never saw; averaging only inside the image keeps -5 everywhere.
  Tensor map = Tensor::full({30, 40}, -5.0);
  const std::vector<float> zero = gaussian_blur(map, 2.0).to_vector();
  const std::vector<float> inside = gaussian_blur(map, 2.0, true).to_vector();
  for (float v : inside) CHECK(v == doctest::Approx(-5.0).epsilon(1e-6));
  CHECK(zero[0] > -2.0f);                                            // a corner keeps about a quarter of the kernel
  CHECK(zero[15 * 40 + 20] == doctest::Approx(-5.0).epsilon(1e-5));  // the middle is far from it
  // Away from the border both rules agree on any map.
  Tensor r = test::random_tensor({30, 30}, 4, -3, 3, DType::F32);
  const std::vector<float> a = gaussian_blur(r, 1.0).to_vector(), b = gaussian_blur(r, 1.0, true).to_vector();
  CHECK(a[15 * 30 + 15] == b[15 * 30 + 15]);
  CHECK(a[0] != b[0]);
}
