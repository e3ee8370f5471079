// The metric table of `sparsead eval` (METHOD.md, "Inference and scores"): every metric for
// the whole test set and for each defect type against `good`, and its JSON form. Metrics
// that are undefined for a set (e.g. a type whose masks are all empty has no pixel
// positives) are std::nullopt and written as null.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>

#include "eval/metrics.h"

namespace sad::eval {

inline constexpr const char* kGoodType = "good";  // the defect-free type of MVTec AD

struct MetricSet {
  std::optional<double> image_auroc;  // roc_auc of image scores
  std::optional<double> pixel_auroc;  // roc_auc of all pixels
  std::optional<double> aupro;        // AUPRO to FPR 0.3 (fpr_limit)
  std::optional<double> pixel_ap;     // average_precision of all pixels
  std::optional<double> image_f1;     // f1_max of image scores (its F1 value)
};

struct MetricsReport {
  MetricSet all;                              // the whole set
  std::map<std::string, MetricSet> per_type;  // each defect type with the good images; sorted by name
};

// One entry per test image, in parallel spans: types[i] is "good" or a defect type,
// scores[i] the image score, labels[i] 0 for good and 1 for a defect image (checked against
// the type), maps[i] the anomaly map and mask at the mask's size. maps may be empty, then the
// pixel metrics are null. A good image whose mask has defect pixels is an error.
MetricsReport evaluate(std::span<const std::string> types, std::span<const float> scores,
                       std::span<const uint8_t> labels, std::span<const ScoreMap> maps, double fpr_limit = 0.3);

// The report as a JSON object: {"image_auroc": x, "pixel_auroc": x, "aupro": x, "pixel_ap": x,
// "image_f1": x, "per_type": {"<type>": {same five keys}, ...}}, numbers in shortest
// round-trip form, null for undefined. Ends with a newline.
std::string report_json(const MetricsReport& report);

}  // namespace sad::eval
