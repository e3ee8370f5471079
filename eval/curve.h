// Internal to eval/: the one exact threshold sweep behind every metric of metrics.h.
// Positives (anomalous samples or defect pixels) are few: they are sorted and grouped by
// distinct score v_0 > v_1 > ... > v_{D-1}. Negatives are many: each is only counted into
// one of 2D+1 bins by binary search, never sorted or copied:
//   bin 2j     negatives strictly between v_{j-1} and v_j (v_{-1} = +inf),
//   bin 2j+1   negatives equal to v_j,
//   bin 2D     negatives below v_{D-1}.
// Walking the bins in order visits the ROC / PR / PRO curve from the highest threshold
// down. An even bin only adds false positives (a horizontal stretch of the curve that may
// hide many distinct negative-only thresholds; no metric needs its inner points), an odd bin
// is the threshold v_j itself, where positives and tied negatives switch together.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "eval/metrics.h"

namespace sad::eval::detail {

// Maps a float (not NaN; -0 canonicalised to +0 first) to a uint32 with the same order.
uint32_t order_key(float f);
float from_order_key(uint32_t key);

// One positive: (order_key << 32) | region id, so that sorting the packed values sorts by
// score and keeps the pixels of one region and one score next to each other.
using PackedPositive = uint64_t;

struct PositiveGroups {
  std::vector<float> value;     // (D) distinct positive scores, descending
  std::vector<uint64_t> count;  // (D) positives at each value
  std::vector<double> pro;      // (D) sum of 1 / region size over them; empty without regions
  uint64_t total = 0;           // all positives
  uint64_t regions = 0;         // number of regions (0 without regions)
};

// Sorts `packed` (destroyed) and groups it. region_size: pixels per region id; empty for
// image-level metrics, where the region id is ignored and no PRO sums are made.
PositiveGroups group_positives(std::vector<PackedPositive>& packed, std::span<const uint64_t> region_size);

// Counts every negative (mask pixel == 0, or every pixel when the mask span is empty) of
// all images into the 2D+1 bins above. Throws sad::Error on a NaN score.
std::vector<uint64_t> count_negatives(const PositiveGroups& groups, std::span<const ScoreMap> images);

// Collects the positives of all images. With label_regions the ids are global 8-connected
// region ids and region_size is filled; otherwise every id is 0 and region_size is empty.
void collect_positives(std::span<const ScoreMap> images, bool label_regions, std::vector<PackedPositive>& packed,
                       std::vector<uint64_t>& region_size);

// Validates the spans and sizes of every image (sad::Error on a mismatch).
void check_images(std::span<const ScoreMap> images, const char* what);

// The metrics from one sweep; nullopt where undefined (see metrics.h).
std::optional<double> auroc_from(const PositiveGroups& g, std::span<const uint64_t> bins);
std::optional<double> ap_from(const PositiveGroups& g, std::span<const uint64_t> bins);
std::optional<F1Max> f1_from(const PositiveGroups& g, std::span<const uint64_t> bins);
std::optional<double> aupro_from(const PositiveGroups& g, std::span<const uint64_t> bins, double fpr_limit);
// The curves' corners from the same sweep (every bin, unthinned): ROC (FPR, TPR) and PRO
// (FPR, PRO) up to fpr_limit, its last point interpolated at fpr_limit. Empty where the
// matching metric is undefined.
std::vector<CurvePoint> roc_points_from(const PositiveGroups& g, std::span<const uint64_t> bins);
std::vector<CurvePoint> pro_points_from(const PositiveGroups& g, std::span<const uint64_t> bins, double fpr_limit);

}  // namespace sad::eval::detail
