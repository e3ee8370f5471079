// eval/metrics and eval/report: hand-computed cases (each derivation in a comment), undefined cases,
// error paths, and a larger randomised check against naive implementations written here
// (8-bit quantised maps, so that per-level histograms give an independent exact answer).
// The comparison with scikit-learn / scipy / the Python AUPRO is in test_metrics_fixtures.cpp.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "eval/metrics.h"
#include "eval/report.h"
#include "tensor/rng.h"
#include "test_util.h"

using namespace sad;
using namespace sad::eval;

namespace {

using F = std::vector<float>;
using L = std::vector<uint8_t>;

// Exact values (hand fractions) are compared at 1e-15: the code divides exact integer
// counts once or sums a handful of terms, so only the last bits can differ.
constexpr double kExact = 1e-15;

void check_value(const std::optional<double>& got, double expected, const char* what) {
  REQUIRE_MESSAGE(got.has_value(), what << ": undefined, expected " << expected);
  CHECK_MESSAGE(std::abs(*got - expected) <= kExact, what << ": got " << *got << " expected " << expected);
}

ScoreMap one_map(const F& scores, const L& mask, int w, int h) { return ScoreMap{scores, mask, w, h}; }

}  // namespace

TEST_CASE("roc_auc: hand-computed cases") {
  check_value(roc_auc(F{0.1f, 0.2f, 0.7f, 0.9f}, L{0, 0, 1, 1}), 1.0, "perfect");
  check_value(roc_auc(F{0.9f, 0.7f, 0.2f, 0.1f}, L{0, 0, 1, 1}), 0.0, "reversed");
  check_value(roc_auc(F(6, 0.5f), L{0, 1, 1, 0, 0, 1}), 0.5, "all ties");
  // scores (0.1, 0.4, 0.35, 0.8), labels (0, 0, 1, 1): of the 4 (positive, negative) pairs
  // 0.35 > 0.1, 0.35 < 0.4, 0.8 > 0.1, 0.8 > 0.4 are ordered right: 3/4.
  check_value(roc_auc(F{0.1f, 0.4f, 0.35f, 0.8f}, L{0, 0, 1, 1}), 0.75, "4 samples");
  // scores (0.5, 0.5, 0.9, 0.1), labels (1, 0, 1, 0): pairs (0.5|0.5) tie = 1/2, (0.5|0.1),
  // (0.9|0.5), (0.9|0.1) right = 3: 3.5 / 4.
  check_value(roc_auc(F{0.5f, 0.5f, 0.9f, 0.1f}, L{1, 0, 1, 0}), 0.875, "tie across classes");
  // -0 and +0 are one threshold (a tie), and infinities are ordinary extremes.
  check_value(roc_auc(F{-0.0f, 0.0f}, L{1, 0}), 0.5, "signed zeros tie");
  const float inf = std::numeric_limits<float>::infinity();
  check_value(roc_auc(F{inf, -inf, 1.0f, 2.0f}, L{1, 0, 0, 1}), 1.0, "infinities");
  // Nonzero labels other than 1 are positive too.
  check_value(roc_auc(F{0.1f, 0.9f}, L{0, 255}), 1.0, "label 255");
}

TEST_CASE("roc_auc: undefined and invalid input") {
  CHECK_FALSE(roc_auc(F{0.1f, 0.2f}, L{1, 1}).has_value());
  CHECK_FALSE(roc_auc(F{0.1f, 0.2f}, L{0, 0}).has_value());
  CHECK_FALSE(roc_auc(F{}, L{}).has_value());
  CHECK_THROWS_AS(roc_auc(F{0.1f, 0.2f}, L{1}), sad::Error);
  CHECK_THROWS_AS(roc_auc(F{0.1f, std::nanf("")}, L{1, 0}), sad::Error);  // NaN negative
  CHECK_THROWS_AS(roc_auc(F{std::nanf(""), 0.1f}, L{1, 0}), sad::Error);  // NaN positive
}

TEST_CASE("average_precision: hand-computed cases") {
  // scores (0.1, 0.4, 0.35, 0.8), labels (0, 0, 1, 1), thresholds from the top:
  // 0.8: TP 1 FP 0, P = 1, R = 1/2; 0.4: R unchanged; 0.35: TP 2 FP 1, P = 2/3, R = 1.
  // AP = 1/2 * 1 + 1/2 * 2/3 = 5/6.
  check_value(average_precision(F{0.1f, 0.4f, 0.35f, 0.8f}, L{0, 0, 1, 1}), 5.0 / 6.0, "4 samples");
  // All tied: one threshold, R 0 -> 1 at precision 2/5.
  check_value(average_precision(F(5, 0.3f), L{1, 0, 0, 1, 0}), 0.4, "all ties");
  check_value(average_precision(F{0.2f, 0.9f}, L{1, 1}), 1.0, "only positives");
  CHECK_FALSE(average_precision(F{0.2f, 0.9f}, L{0, 0}).has_value());
  CHECK_THROWS_AS(average_precision(F{0.2f}, L{0, 0}), sad::Error);
}

TEST_CASE("f1_max: hand-computed cases and the tie rule") {
  // scores 0.9..0.4, labels (1,0,1,1,0,0), P = 3, F1 = 2TP / (TP + FP + P):
  // t=.9: 2/4, .8: 2/5, .7: 4/6, .6: 6/7, .5: 6/8, .4: 6/9. Best 6/7 at 0.6, P 3/4, R 1.
  auto r = f1_max(F{0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f}, L{1, 0, 1, 1, 0, 0});
  REQUIRE(r.has_value());
  CHECK(r->f1 == doctest::Approx(6.0 / 7.0).epsilon(1e-15));
  CHECK(r->threshold == 0.6f);
  CHECK(r->precision == doctest::Approx(0.75).epsilon(1e-15));
  CHECK(r->recall == 1.0);
  // Tie: scores (0.9, 0.8, 0.7, 0.6), labels (1, 0, 0, 1), P = 2: t=.9: 2/3, .8: 2/4,
  // .7: 2/5, .6: 4/6 = 2/3. Equal best F1 at 0.9 and 0.6: the higher threshold wins.
  r = f1_max(F{0.9f, 0.8f, 0.7f, 0.6f}, L{1, 0, 0, 1});
  REQUIRE(r.has_value());
  CHECK(r->threshold == 0.9f);
  CHECK(r->f1 == doctest::Approx(2.0 / 3.0).epsilon(1e-15));
  CHECK(r->recall == 0.5);
  // A tied group is all-or-nothing: (0.5 x3, labels 1,0,1): only threshold 0.5, F1 = 4/5.
  r = f1_max(F{0.5f, 0.5f, 0.5f}, L{1, 0, 1});
  REQUIRE(r.has_value());
  CHECK(r->threshold == 0.5f);
  CHECK(r->f1 == doctest::Approx(0.8).epsilon(1e-15));
  CHECK_FALSE(f1_max(F{0.5f, 0.1f}, L{0, 0}).has_value());
  CHECK_FALSE(f1_max(F{}, L{}).has_value());
}

TEST_CASE("label_regions_8: diagonal neighbours join and raster numbering") {
  // 5 x 4 mask:            labels:
  //   1 0 0 0 1            1 0 0 0 2
  //   0 1 0 0 0            0 1 0 0 0
  //   0 0 1 1 0            0 0 1 1 0
  //   1 0 0 0 0            3 0 0 0 0
  // The (0,0)-(1,1)-(2,2) chain touches only at corners: one region under 8-connectivity.
  const L mask = {1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0};
  std::vector<int32_t> labels(mask.size(), -1);
  CHECK(label_regions_8(mask, 5, 4, labels) == 3);
  CHECK(labels == std::vector<int32_t>{1, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 3, 0, 0, 0, 0});
  // A 3 x 3 checkerboard is one region (it would be five under 4-connectivity).
  const L checker = {1, 0, 1, 0, 1, 0, 1, 0, 1};
  std::vector<int32_t> l9(9);
  CHECK(label_regions_8(checker, 3, 3, l9) == 1);
  // Empty span = all background; 1x1 images; a full image is one region.
  CHECK(label_regions_8(L{}, 3, 3, l9) == 0);
  CHECK(l9 == std::vector<int32_t>(9, 0));
  std::vector<int32_t> l1(1);
  CHECK(label_regions_8(L{7}, 1, 1, l1) == 1);
  CHECK(label_regions_8(L(9, 1), 3, 3, l9) == 1);
  CHECK_THROWS_AS(label_regions_8(L(8, 1), 3, 3, l9), sad::Error);
  CHECK_THROWS_AS(label_regions_8(L(9, 1), 3, 3, l1), sad::Error);
}

TEST_CASE("aupro: hand-computed curves") {
  // One 4 x 4 image, one 2 x 2 region. A map that is 1 on the region and 0 elsewhere: the
  // first threshold covers the region with no false positive, PRO = 1 from FPR 0: AUPRO 1.
  L mask(16, 0);
  for (int i : {5, 6, 9, 10}) mask[i] = 1;
  F perfect(16, 0.0f);
  for (int i : {5, 6, 9, 10}) perfect[i] = 1.0f;
  std::vector<ScoreMap> im = {one_map(perfect, mask, 4, 4)};
  check_value(aupro(im), 1.0, "perfect map");
  // A uniform map: one threshold, the curve is (0,0) -> (1,1); the area to 0.3 is
  // 0.3^2 / 2 = 0.045, normalised 0.15. To FPR 1: 0.5. Pixel AUROC 0.5, AP = 4/16.
  F uniform(16, 0.25f);
  im = {one_map(uniform, mask, 4, 4)};
  check_value(aupro(im), 0.15, "uniform 0.3");
  check_value(aupro(im, 1.0), 0.5, "uniform 1.0");
  check_value(pixel_auroc(im), 0.5, "uniform pixel auroc");
  check_value(pixel_ap(im), 0.25, "uniform pixel ap");
  // 1 x 4 image, mask (1 1 0 0), scores (0.9 0.3 0.5 0.1). Thresholds from the top:
  // 0.9 -> (FPR 0, PRO 1/2); 0.5 -> (1/2, 1/2); 0.3 -> (1/2, 1); 0.1 -> (1, 1).
  // Area to 0.3: 0.3 * 1/2 -> AUPRO 1/2. To 1: 1/2 * 1/2 + 1/2 * 1 = 3/4.
  const F s4 = {0.9f, 0.3f, 0.5f, 0.1f};
  const L m4 = {1, 1, 0, 0};
  im = {one_map(s4, m4, 4, 1)};
  check_value(aupro(im), 0.5, "1x4 at 0.3");
  check_value(aupro(im, 1.0), 0.75, "1x4 at 1.0");
  // Interpolation inside a diagonal segment: scores (0.9 0.5 0.5 0.1), mask (1 1 0 0): at 0.5
  // one region pixel and one normal pixel switch together, (0, 1/2) -> (1/2, 1). At FPR 0.3
  // the curve is at 1/2 + 0.3 = 0.8: area 0.3 * (1/2 + 0.8) / 2 = 0.195, AUPRO 0.65.
  const F s4t = {0.9f, 0.5f, 0.5f, 0.1f};
  im = {one_map(s4t, m4, 4, 1)};
  check_value(aupro(im), 0.65, "interpolated tie");
}

TEST_CASE("aupro: 8-connected regions weigh as one") {
  // 3 x 2 mask (1 1 0 / 0 0 1): (0,1) and (1,2) touch at a corner, so ONE region of 3
  // pixels (4-connectivity would give {2 pixels} + {1 pixel}). Scores (0.9 0.1 0.5 /
  // 0.3 0.2 0.8): 0.9 -> PRO 1/3, 0.8 -> PRO 2/3, both at FPR 0; the first normal pixel
  // (0.5) comes after, so PRO stays 2/3 up to FPR 1/3 > 0.3: AUPRO = 2/3.
  // (With two regions: (1/2 + 0) / 2 then (1/2 + 1) / 2 = 3/4 instead.)
  const F s = {0.9f, 0.1f, 0.5f, 0.3f, 0.2f, 0.8f};
  const L m = {1, 1, 0, 0, 0, 1};
  std::vector<ScoreMap> im = {one_map(s, m, 3, 2)};
  check_value(aupro(im), 2.0 / 3.0, "one diagonal region");
}

TEST_CASE("aupro: several images and empty masks and undefined cases") {
  // Image A: 1 x 4 from above (AUPRO 1/2 alone). Image B: 2 x 1 without defect, scores
  // (0.95, 0.05): its 0.95 is now the top normal pixel. N = 4 normal pixels: 0.95 -> (1/4, 0),
  // 0.9 -> (1/4, 1/2), 0.5 -> (1/2, 1/2). Area to 0.3: (0.3 - 0.25) * 1/2 = 0.025; AUPRO 1/12.
  const F sa = {0.9f, 0.3f, 0.5f, 0.1f}, sb = {0.95f, 0.05f};
  const L ma = {1, 1, 0, 0}, mb_zero = {0, 0};
  std::vector<ScoreMap> with_zero = {one_map(sa, ma, 4, 1), one_map(sb, mb_zero, 2, 1)};
  std::vector<ScoreMap> with_empty = {one_map(sa, ma, 4, 1), one_map(sb, L{}, 2, 1)};
  check_value(aupro(with_zero), 1.0 / 12.0, "two images");
  check_value(aupro(with_empty), 1.0 / 12.0, "empty mask span");
  PixelMetrics a = pixel_metrics(with_zero), b = pixel_metrics(with_empty);
  CHECK(a.auroc == b.auroc);
  CHECK(a.ap == b.ap);
  CHECK(a.aupro == b.aupro);
  // No region anywhere: every pixel metric is undefined.
  std::vector<ScoreMap> none = {one_map(sb, mb_zero, 2, 1)};
  PixelMetrics n = pixel_metrics(none);
  CHECK_FALSE(n.auroc.has_value());
  CHECK_FALSE(n.ap.has_value());
  CHECK_FALSE(n.aupro.has_value());
  // No normal pixel: FPR undefined, AUROC undefined, AP = 1.
  const L all = {1, 1};
  std::vector<ScoreMap> full = {one_map(sb, all, 2, 1)};
  PixelMetrics f = pixel_metrics(full);
  CHECK_FALSE(f.aupro.has_value());
  CHECK_FALSE(f.auroc.has_value());
  check_value(f.ap, 1.0, "all defect ap");
  CHECK_FALSE(aupro(std::vector<ScoreMap>{}).has_value());
}

TEST_CASE("aupro: invalid input") {
  const F s = {0.1f, 0.2f, 0.3f, 0.4f};
  const L m = {1, 0, 0, 0};
  std::vector<ScoreMap> ok = {one_map(s, m, 2, 2)};
  CHECK_THROWS_AS(aupro(ok, 0.0), sad::Error);
  CHECK_THROWS_AS(aupro(ok, 1.5), sad::Error);
  std::vector<ScoreMap> bad_size = {one_map(s, m, 3, 2)};
  CHECK_THROWS_AS(aupro(bad_size), sad::Error);
  CHECK_THROWS_AS(pixel_metrics(bad_size), sad::Error);
  const L m3 = {1, 0, 0};
  std::vector<ScoreMap> bad_mask = {one_map(s, m3, 2, 2)};
  CHECK_THROWS_AS(pixel_auroc(bad_mask), sad::Error);
  const F nan = {0.1f, std::nanf(""), 0.3f, 0.4f};
  std::vector<ScoreMap> with_nan = {one_map(nan, m, 2, 2)};
  CHECK_THROWS_AS(pixel_metrics(with_nan), sad::Error);
}

namespace {

// Naive references on 8-bit maps (scores k / 255): per-level counts of normal pixels, of
// defect pixels, and of each region's pixels, then the definitions read literally.
struct Naive {
  double auroc, ap, aupro;
};

Naive naive_levels(const std::vector<F>& scores, const std::vector<L>& masks,
                   const std::vector<std::pair<int, int>>& wh, double limit) {
  std::vector<double> neg(256, 0), pos(256, 0);
  std::vector<std::vector<double>> region_hist;  // per region, per level
  for (size_t i = 0; i < scores.size(); ++i) {
    std::vector<int32_t> lab(scores[i].size());
    const int32_t r = label_regions_8(masks[i], wh[i].first, wh[i].second, lab);
    const size_t base = region_hist.size();
    region_hist.resize(base + r, std::vector<double>(256, 0));
    for (size_t p = 0; p < scores[i].size(); ++p) {
      const int k = static_cast<int>(std::lround(scores[i][p] * 255.0f));
      (lab[p] ? pos : neg)[k] += 1;
      if (lab[p]) region_hist[base + lab[p] - 1][k] += 1;
    }
  }
  double np_ = 0, nn = 0;
  for (int k = 0; k < 256; ++k) np_ += pos[k], nn += neg[k];
  // AUROC: P(pos > neg) + P(pos == neg) / 2.
  double wins = 0, neg_below = 0;
  for (int k = 0; k < 256; ++k) {
    wins += pos[k] * (neg_below + 0.5 * neg[k]);
    neg_below += neg[k];
  }
  Naive out{wins / (np_ * nn), 0, 0};
  // AP and the PRO curve from the top level down.
  double tp = 0, fp = 0, x0 = 0, y0 = 0, area = 0;
  std::vector<double> covered(region_hist.size(), 0), size(region_hist.size(), 0);
  for (size_t r = 0; r < region_hist.size(); ++r)
    for (double c : region_hist[r]) size[r] += c;
  bool done = false;
  for (int k = 255; k >= 0; --k) {
    if (pos[k] == 0 && neg[k] == 0) continue;  // not a threshold
    tp += pos[k], fp += neg[k];
    if (pos[k] > 0) out.ap += (pos[k] / np_) * (tp / (tp + fp));
    double pro = 0;
    for (size_t r = 0; r < covered.size(); ++r) pro += (covered[r] += region_hist[r][k]) / size[r];
    const double x1 = fp / nn, y1 = pro / covered.size();
    if (!done && x1 >= limit) {
      area += 0.5 * (y0 + y0 + (y1 - y0) * (limit - x0) / (x1 - x0)) * (limit - x0);
      done = true;
    } else if (!done) {
      area += 0.5 * (y0 + y1) * (x1 - x0);
    }
    x0 = x1, y0 = y1;
  }
  out.aupro = area / limit;
  return out;
}

}  // namespace

TEST_CASE("pixel_metrics: 8-bit maps against naive level counting and thread-count independent") {
  // Three images of odd sizes, ~72k pixels (over the OpenMP threshold), blob-like masks.
  Rng rng(20240611);
  const std::vector<std::pair<int, int>> wh = {{161, 149}, {97, 203}, {31, 17}};
  std::vector<F> scores;
  std::vector<L> masks;
  for (auto [w, h] : wh) {
    L m(static_cast<size_t>(w) * h, 0);
    for (int b = 0; b < 6; ++b) {  // random rectangles and diagonal strokes
      const int x0 = static_cast<int>(rng.uniform(0, w)), y0 = static_cast<int>(rng.uniform(0, h));
      const int len = static_cast<int>(rng.uniform(1, 20));
      for (int t = 0; t < len; ++t) {
        if (b % 2 == 0) {
          for (int dx = 0; dx < len && x0 + dx < w && y0 + t < h; ++dx) m[(y0 + t) * w + x0 + dx] = 1;
        } else if (x0 + t < w && y0 + t < h) {
          m[(y0 + t) * w + x0 + t] = 1;
        }
      }
    }
    F s(m.size());
    for (size_t p = 0; p < s.size(); ++p) {
      const double v = std::clamp(rng.uniform(0, 0.7) + (m[p] ? rng.uniform(0, 0.5) : 0.0), 0.0, 1.0);
      s[p] = static_cast<float>(std::lround(v * 255)) / 255.0f;
    }
    scores.push_back(std::move(s));
    masks.push_back(std::move(m));
  }
  std::vector<ScoreMap> maps;
  for (size_t i = 0; i < wh.size(); ++i) maps.push_back({scores[i], masks[i], wh[i].first, wh[i].second});
  for (double limit : {0.3, 0.05, 1.0}) {
    const Naive want = naive_levels(scores, masks, wh, limit);
    const PixelMetrics got = pixel_metrics(maps, limit);
    // The naive sums run in a different order over ~72k terms: 1e-12 is far above their
    // rounding (~1e-14) and far below any real difference (one pixel moves AUROC ~1e-8).
    INFO("limit " << limit);
    REQUIRE(got.auroc.has_value());
    REQUIRE(got.ap.has_value());
    REQUIRE(got.aupro.has_value());
    CHECK(std::abs(*got.auroc - want.auroc) <= 1e-12);
    CHECK(std::abs(*got.ap - want.ap) <= 1e-12);
    CHECK(std::abs(*got.aupro - want.aupro) <= 1e-12);
  }
  // Bit-identical with one thread and with several.
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const PixelMetrics one = pixel_metrics(maps);
  omp_set_num_threads(std::max(threads, 3));
  const PixelMetrics many = pixel_metrics(maps);
  omp_set_num_threads(threads);
  CHECK(one.auroc == many.auroc);
  CHECK(one.ap == many.ap);
  CHECK(one.aupro == many.aupro);
}

TEST_CASE("evaluate: whole set and each defect type against good") {
  // 5 images: good x2, crack x2, hole x1 (hole's mask empty: its pixel metrics are null).
  // Each image is 2 x 2.
  const std::vector<std::string> types = {"good", "crack", "good", "hole", "crack"};
  const F img_scores = {0.2f, 0.9f, 0.4f, 0.3f, 0.5f};
  const L labels = {0, 1, 0, 1, 1};
  const std::vector<F> s = {{0.1f, 0.2f, 0.3f, 0.1f},
                            {0.9f, 0.2f, 0.1f, 0.3f},
                            {0.4f, 0.1f, 0.2f, 0.2f},
                            {0.3f, 0.3f, 0.1f, 0.1f},
                            {0.1f, 0.5f, 0.5f, 0.2f}};
  const std::vector<L> m = {{}, {1, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}, {0, 1, 0, 1}};
  std::vector<ScoreMap> maps;
  for (size_t i = 0; i < s.size(); ++i) maps.push_back({s[i], m[i], 2, 2});
  const MetricsReport r = evaluate(types, img_scores, labels, maps);

  // The whole set equals the direct calls.
  check_value(r.all.image_auroc, *roc_auc(img_scores, labels), "all image_auroc");
  check_value(r.all.image_f1, f1_max(img_scores, labels)->f1, "all image_f1");
  const PixelMetrics all = pixel_metrics(maps);
  check_value(r.all.pixel_auroc, *all.auroc, "all pixel_auroc");
  check_value(r.all.pixel_ap, *all.ap, "all pixel_ap");
  check_value(r.all.aupro, *all.aupro, "all aupro");
  // Image AUROC by hand: positives 0.9, 0.3, 0.5 vs negatives 0.2, 0.4: 5 of 6 pairs right.
  check_value(r.all.image_auroc, 5.0 / 6.0, "all image_auroc by hand");

  REQUIRE(r.per_type.size() == 2);
  // crack = images 0, 1, 2, 4: positives 0.9, 0.5 vs 0.2, 0.4: AUROC 1.
  const MetricSet& crack = r.per_type.at("crack");
  check_value(crack.image_auroc, 1.0, "crack image_auroc");
  check_value(crack.image_f1, 1.0, "crack image_f1");
  std::vector<ScoreMap> crack_maps = {maps[0], maps[1], maps[2], maps[4]};
  const PixelMetrics cp = pixel_metrics(crack_maps);
  check_value(crack.pixel_auroc, *cp.auroc, "crack pixel_auroc");
  check_value(crack.aupro, *cp.aupro, "crack aupro");
  check_value(crack.pixel_ap, *cp.ap, "crack pixel_ap");
  // hole = images 0, 2, 3: positive 0.3 vs 0.2, 0.4: AUROC 1/2; no defect pixels.
  const MetricSet& hole = r.per_type.at("hole");
  check_value(hole.image_auroc, 0.5, "hole image_auroc");
  CHECK_FALSE(hole.pixel_auroc.has_value());
  CHECK_FALSE(hole.aupro.has_value());
  CHECK_FALSE(hole.pixel_ap.has_value());

  // Without maps the pixel metrics are null; image metrics are unchanged.
  const MetricsReport no_maps = evaluate(types, img_scores, labels, {});
  CHECK(no_maps.all.image_auroc == r.all.image_auroc);
  CHECK_FALSE(no_maps.all.aupro.has_value());
}

TEST_CASE("evaluate: inconsistent input is an error") {
  const std::vector<std::string> types = {"good", "crack"};
  const F scores = {0.1f, 0.9f};
  CHECK_THROWS_AS(evaluate(types, scores, L{1, 1}, {}), sad::Error);  // good labelled 1
  CHECK_THROWS_AS(evaluate(types, scores, L{0, 0}, {}), sad::Error);  // defect labelled 0
  CHECK_THROWS_AS(evaluate(types, F{0.1f}, L{0, 1}, {}), sad::Error);
  const F s = {0.1f};
  const L bad_good_mask = {1}, ok_mask = {1};
  std::vector<ScoreMap> maps = {{s, bad_good_mask, 1, 1}, {s, ok_mask, 1, 1}};
  CHECK_THROWS_AS(evaluate(types, scores, L{0, 1}, maps), sad::Error);  // a good image with defect pixels
  CHECK_THROWS_AS(evaluate(types, scores, L{0, 1}, std::span<const ScoreMap>(maps.data(), 1)), sad::Error);
}

TEST_CASE("report_json: keys and nulls and escaping") {
  MetricsReport r;
  r.all = {0.5, 0.75, std::nullopt, 0.125, 1.0};
  r.per_type["crack"] = {1.0, std::nullopt, 0.25, std::nullopt, 0.5};
  r.per_type["a\"b\\c\n"] = {};
  const std::string want =
      "{\n"
      "  \"image_auroc\": 0.5,\n"
      "  \"pixel_auroc\": 0.75,\n"
      "  \"aupro\": null,\n"
      "  \"pixel_ap\": 0.125,\n"
      "  \"image_f1\": 1,\n"
      "  \"per_type\": {\n"
      "    \"a\\\"b\\\\c\\n\": {\n"
      "      \"image_auroc\": null,\n"
      "      \"pixel_auroc\": null,\n"
      "      \"aupro\": null,\n"
      "      \"pixel_ap\": null,\n"
      "      \"image_f1\": null\n"
      "    },\n"
      "    \"crack\": {\n"
      "      \"image_auroc\": 1,\n"
      "      \"pixel_auroc\": null,\n"
      "      \"aupro\": 0.25,\n"
      "      \"pixel_ap\": null,\n"
      "      \"image_f1\": 0.5\n"
      "    }\n"
      "  }\n"
      "}\n";
  CHECK(report_json(r) == want);
  // Shortest round-trip numbers: 1/3 is written with all the digits it needs.
  MetricsReport t;
  t.all.image_auroc = 1.0 / 3.0;
  const std::string j = report_json(t);
  CHECK(j.find("\"image_auroc\": 0.3333333333333333,") != std::string::npos);
  CHECK(j.find("\"per_type\": {}\n}\n") != std::string::npos);
}
