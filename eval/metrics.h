// Evaluation metrics on plain arrays: image AUROC, average precision, best F1, and the
// pixel metrics of MVTec AD (pixel AUROC, pixel AP, AUPRO over 8-connected regions).
// They exist so that `sparsead eval` reports the numbers of METHOD.md ("Inference and
// scores") exactly as scikit-learn and the published MVTec AUPRO procedure define them:
// every distinct score is a threshold (no fixed grid), ties are grouped, and a metric that
// is undefined (one class missing) is std::nullopt, written as null in JSON.
// Independent of tensors: the model layer copies maps to host vectors and calls these.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace sad::eval {

// ---- Image-level metrics: one score and one label per sample -----------------------------
// labels: nonzero = positive (anomalous). Scores must not be NaN (sad::Error otherwise).
// A higher score means more anomalous.

// Area under the ROC curve, identical to sklearn.metrics.roc_auc_score: the trapezoid over
// all distinct thresholds, so tied scores count one half. Computed from exact integer
// counts with one final division. nullopt when either class is absent.
std::optional<double> roc_auc(std::span<const float> scores, std::span<const uint8_t> labels);

// Average precision, identical to sklearn.metrics.average_precision_score: the sum over
// distinct thresholds t (descending) of (R(t) - R(previous t)) * P(t), no interpolation.
// nullopt without positives (recall undefined); 1.0 when every sample is positive.
std::optional<double> average_precision(std::span<const float> scores, std::span<const uint8_t> labels);

struct F1Max {
  double f1 = 0;         // best F1 = 2 TP / (2 TP + FP + FN)
  float threshold = 0;   // predict positive when score >= threshold; one of the scores
  double precision = 0;  // at that threshold
  double recall = 0;
};
// The best F1 over all distinct thresholds, predicting positive when score >= threshold.
// Tie rule: among thresholds with exactly the same best F1 (compared as exact fractions)
// the HIGHEST threshold wins, i.e. the one flagging the fewest samples. nullopt without
// positives (F1 is 0 at every threshold, no threshold is meaningful).
std::optional<F1Max> f1_max(std::span<const float> scores, std::span<const uint8_t> labels);

// ---- Pixel-level metrics: one anomaly map and one ground-truth mask per image -------------
struct ScoreMap {
  std::span<const float> scores;  // (H, W) row-major anomaly map at the mask's size
  std::span<const uint8_t> mask;  // (H, W) nonzero = defect; may be empty = no defect pixels
  int width = 0;
  int height = 0;
};

struct PixelMetrics {
  std::optional<double> auroc;  // roc_auc over all pixels of all images
  std::optional<double> ap;     // average_precision over all pixels of all images
  std::optional<double> aupro;  // see aupro() below
};

// AUPRO as published with MVTec AD: ground-truth regions are the 8-connected components of
// each mask; at threshold t the PRO is the mean over all regions of all images of the
// fraction of the region's pixels with score >= t, and the FPR is the fraction of normal
// pixels (in no region, over all images) with score >= t. The curve (0,0), then one point per
// distinct score from the highest down, is integrated by trapezoids over FPR in
// [0, fpr_limit], linearly interpolated at fpr_limit, and divided by fpr_limit.
// nullopt when there is no region at all, or no normal pixel. 0 < fpr_limit <= 1.
std::optional<double> aupro(std::span<const ScoreMap> images, double fpr_limit = 0.3);

// Pixel AUROC, pixel AP and AUPRO in one pass: the defect pixels are sorted once and every
// normal pixel is counted into the gaps between the D distinct defect scores (a bucketed
// search, ~O(1) per pixel; no copy or sort of the normal pixels; memory O(D) per thread),
// which is exact for all three metrics.
PixelMetrics pixel_metrics(std::span<const ScoreMap> images, double fpr_limit = 0.3);

std::optional<double> pixel_auroc(std::span<const ScoreMap> images);
std::optional<double> pixel_ap(std::span<const ScoreMap> images);
// f1_max over all pixels of all images (the deployment pixel threshold of METHOD.md).
std::optional<F1Max> pixel_f1_max(std::span<const ScoreMap> images);

// ---- Curves, for plots (eval/html_report.h) ----------------------------------------------
// A curve's corners from the highest threshold down: x = FPR, y = TPR (ROC) or PRO. Thinned
// for drawing: a corner is kept when it lies at least 1 / max_points from the last kept one
// in x or y; the first and last are always kept. The metrics above stay exact.
struct CurvePoint {
  double x = 0, y = 0;
};
// Image-level ROC, (0, 0) to (1, 1); empty when either class is missing.
std::vector<CurvePoint> roc_curve(std::span<const float> scores, std::span<const uint8_t> labels,
                                  size_t max_points = 400);
struct PixelCurves {
  std::vector<CurvePoint> roc;  // pixel ROC, (0, 0) to (1, 1); empty without defect or normal pixels
  std::vector<CurvePoint> pro;  // PRO over FPR, (0, 0) to FPR = fpr_limit; empty without regions
};
PixelCurves pixel_curves(std::span<const ScoreMap> images, double fpr_limit = 0.3, size_t max_points = 400);

// ---- Connected components --------------------------------------------------------------
// Labels the 8-connected components of the nonzero pixels of mask (H, W): labels[i] = 0 for
// background, 1..R for the regions, numbered in raster order of their first pixel. Returns R.
// An empty mask span means an all-zero mask.
int32_t label_regions_8(std::span<const uint8_t> mask, int width, int height, std::span<int32_t> labels);

}  // namespace sad::eval
