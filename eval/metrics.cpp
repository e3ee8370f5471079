// The public metrics of metrics.h: input validation, then one exact sweep (curve.h).
#include "eval/metrics.h"

#include <cmath>
#include <limits>

#include "eval/curve.h"
#include "tensor/check.h"

namespace sad::eval {

namespace {

using detail::PackedPositive;
using detail::PositiveGroups;

// The positives grouped by distinct score and the negatives counted into the gaps.
struct Sweep {
  PositiveGroups groups;
  std::vector<uint64_t> bins;
};

Sweep sweep_maps(std::span<const ScoreMap> images, bool label_regions, const char* what) {
  detail::check_images(images, what);
  std::vector<PackedPositive> packed;
  std::vector<uint64_t> region_size;
  detail::collect_positives(images, label_regions, packed, region_size);
  Sweep s;
  s.groups = detail::group_positives(packed, region_size);
  s.bins = detail::count_negatives(s.groups, images);
  return s;
}

// Image-level samples are a 1 x n "image" whose mask is the labels.
Sweep sweep_samples(std::span<const float> scores, std::span<const uint8_t> labels, const char* what) {
  SAD_CHECK(scores.size() == labels.size(), what, ": ", scores.size(), " scores but ", labels.size(), " labels");
  SAD_CHECK(scores.size() <= static_cast<size_t>(std::numeric_limits<int>::max()), what, ": too many samples");
  if (scores.empty()) return {};  // no positives and no negatives: every metric is undefined
  const ScoreMap one{scores, labels, static_cast<int>(scores.size()), 1};
  return sweep_maps(std::span<const ScoreMap>(&one, 1), false, what);
}

}  // namespace

std::optional<double> roc_auc(std::span<const float> scores, std::span<const uint8_t> labels) {
  Sweep s = sweep_samples(scores, labels, "roc_auc");
  return detail::auroc_from(s.groups, s.bins);
}

std::optional<double> average_precision(std::span<const float> scores, std::span<const uint8_t> labels) {
  Sweep s = sweep_samples(scores, labels, "average_precision");
  return detail::ap_from(s.groups, s.bins);
}

std::optional<F1Max> f1_max(std::span<const float> scores, std::span<const uint8_t> labels) {
  Sweep s = sweep_samples(scores, labels, "f1_max");
  return detail::f1_from(s.groups, s.bins);
}

std::optional<double> aupro(std::span<const ScoreMap> images, double fpr_limit) {
  SAD_CHECK(fpr_limit > 0 && fpr_limit <= 1, "aupro: fpr_limit must be in (0, 1], got ", fpr_limit);
  Sweep s = sweep_maps(images, true, "aupro");
  return detail::aupro_from(s.groups, s.bins, fpr_limit);
}

PixelMetrics pixel_metrics(std::span<const ScoreMap> images, double fpr_limit) {
  SAD_CHECK(fpr_limit > 0 && fpr_limit <= 1, "pixel_metrics: fpr_limit must be in (0, 1], got ", fpr_limit);
  Sweep s = sweep_maps(images, true, "pixel_metrics");
  return {detail::auroc_from(s.groups, s.bins), detail::ap_from(s.groups, s.bins),
          detail::aupro_from(s.groups, s.bins, fpr_limit)};
}

std::optional<double> pixel_auroc(std::span<const ScoreMap> images) {
  Sweep s = sweep_maps(images, false, "pixel_auroc");
  return detail::auroc_from(s.groups, s.bins);
}

std::optional<double> pixel_ap(std::span<const ScoreMap> images) {
  Sweep s = sweep_maps(images, false, "pixel_ap");
  return detail::ap_from(s.groups, s.bins);
}

std::optional<F1Max> pixel_f1_max(std::span<const ScoreMap> images) {
  Sweep s = sweep_maps(images, false, "pixel_f1_max");
  return detail::f1_from(s.groups, s.bins);
}

namespace {

// Keeps a corner when it moved at least 1 / max_points from the last kept one; always the ends.
std::vector<CurvePoint> thin(const std::vector<CurvePoint>& pts, size_t max_points) {
  if (pts.size() <= 2 || max_points == 0) return pts;
  const double step = 1.0 / static_cast<double>(max_points);
  std::vector<CurvePoint> out{pts.front()};
  for (size_t i = 1; i + 1 < pts.size(); ++i)
    if (std::abs(pts[i].x - out.back().x) >= step || std::abs(pts[i].y - out.back().y) >= step) out.push_back(pts[i]);
  out.push_back(pts.back());
  return out;
}

}  // namespace

std::vector<CurvePoint> roc_curve(std::span<const float> scores, std::span<const uint8_t> labels, size_t max_points) {
  Sweep s = sweep_samples(scores, labels, "roc_curve");
  return thin(detail::roc_points_from(s.groups, s.bins), max_points);
}

PixelCurves pixel_curves(std::span<const ScoreMap> images, double fpr_limit, size_t max_points) {
  SAD_CHECK(fpr_limit > 0 && fpr_limit <= 1, "pixel_curves: fpr_limit must be in (0, 1], got ", fpr_limit);
  Sweep s = sweep_maps(images, true, "pixel_curves");
  return {thin(detail::roc_points_from(s.groups, s.bins), max_points),
          thin(detail::pro_points_from(s.groups, s.bins, fpr_limit), max_points)};
}

}  // namespace sad::eval
