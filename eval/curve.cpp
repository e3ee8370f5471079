// The exact threshold sweep shared by all metrics (see curve.h for the bin layout).
// Exactness: AUROC is one division of exact integer counts; AP and F1 use exact counts per
// threshold; the PRO sums use compensated (Neumaier) summation so that millions of
// 1/size increments do not drift. Results do not depend on the number of threads: threads
// only add integer counts.
#include "eval/curve.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <functional>
#include <limits>

#include "tensor/check.h"

namespace sad::eval::detail {

namespace {

__extension__ typedef unsigned __int128 u128;  // exact products of pixel counts

// Neumaier's compensated sum: error O(eps) instead of O(n eps) over n terms.
struct CompensatedSum {
  double sum = 0, carry = 0;
  void add(double x) {
    double t = sum + x;
    carry += std::abs(sum) >= std::abs(x) ? (sum - t) + x : (x - t) + sum;
    sum = t;
  }
  double value() const { return sum + carry; }
};

uint64_t total_negatives(std::span<const uint64_t> bins) {
  uint64_t n = 0;
  for (uint64_t b : bins) n += b;
  return n;
}

}  // namespace

uint32_t order_key(float f) {
  uint32_t bits = std::bit_cast<uint32_t>(f == 0.0f ? 0.0f : f);  // -0 and +0 are one threshold
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

float from_order_key(uint32_t key) { return std::bit_cast<float>((key & 0x80000000u) ? (key & 0x7fffffffu) : ~key); }

PositiveGroups group_positives(std::vector<PackedPositive>& packed, std::span<const uint64_t> region_size) {
  std::sort(packed.begin(), packed.end(), std::greater<>());
  PositiveGroups g;
  g.total = packed.size();
  g.regions = region_size.size();
  const bool with_regions = !region_size.empty();
  size_t i = 0;
  while (i < packed.size()) {
    const uint64_t key = packed[i] >> 32;
    size_t j = i;
    double pro = 0;  // few runs per group: a plain sum is exact enough here
    while (j < packed.size() && (packed[j] >> 32) == key) {
      size_t k = j;
      while (k < packed.size() && packed[k] == packed[j]) ++k;  // one region at one score
      if (with_regions) pro += static_cast<double>(k - j) / static_cast<double>(region_size[packed[j] & 0xffffffffu]);
      j = k;
    }
    g.value.push_back(from_order_key(static_cast<uint32_t>(key)));
    g.count.push_back(j - i);
    if (with_regions) g.pro.push_back(pro);
    i = j;
  }
  return g;
}

void check_images(std::span<const ScoreMap> images, const char* what) {
  for (size_t i = 0; i < images.size(); ++i) {
    const ScoreMap& im = images[i];
    SAD_CHECK(im.width > 0 && im.height > 0, what, ": image ", i, " has size ", im.width, "x", im.height);
    const size_t n = static_cast<size_t>(im.width) * static_cast<size_t>(im.height);
    SAD_CHECK(im.scores.size() == n, what, ": image ", i, " has ", im.scores.size(), " scores for ", im.width, "x",
              im.height, " pixels");
    SAD_CHECK(im.mask.empty() || im.mask.size() == n, what, ": image ", i, " has a mask of ", im.mask.size(),
              " pixels for ", im.width, "x", im.height);
  }
}

void collect_positives(std::span<const ScoreMap> images, bool label_regions, std::vector<PackedPositive>& packed,
                       std::vector<uint64_t>& region_size) {
  packed.clear();
  region_size.clear();
  std::vector<int32_t> labels;
  for (const ScoreMap& im : images) {
    if (im.mask.empty()) continue;
    const size_t n = im.scores.size();
    if (label_regions) {
      labels.resize(n);
      const int32_t count = label_regions_8(im.mask, im.width, im.height, labels);
      const uint64_t base = region_size.size();
      SAD_CHECK(base + count <= std::numeric_limits<uint32_t>::max(), "too many ground-truth regions");
      region_size.resize(base + count, 0);
      for (size_t i = 0; i < n; ++i) {
        if (labels[i] == 0) continue;
        SAD_CHECK(!std::isnan(im.scores[i]), "NaN anomaly score");
        const uint64_t region = base + static_cast<uint64_t>(labels[i] - 1);
        ++region_size[region];
        packed.push_back((static_cast<uint64_t>(order_key(im.scores[i])) << 32) | region);
      }
    } else {
      for (size_t i = 0; i < n; ++i) {
        if (im.mask[i] == 0) continue;
        SAD_CHECK(!std::isnan(im.scores[i]), "NaN score");
        packed.push_back(static_cast<uint64_t>(order_key(im.scores[i])) << 32);
      }
    }
  }
}

namespace {

// Finds, for a negative's order key k, j = the number of distinct positive keys above k.
// A plain binary search over D keys costs ~log2(D) cache misses per negative pixel; a
// table over the key range [lo, hi] cut into <= 2^16 buckets narrows it to the few keys
// of one bucket, so the whole count stays one streaming pass over the maps.
class KeyIndex {
 public:
  explicit KeyIndex(const std::vector<float>& values) {
    keys_.reserve(values.size());
    for (float v : values) keys_.push_back(order_key(v));  // descending, like values
    if (keys_.empty()) return;
    hi_ = keys_.front(), lo_ = keys_.back();
    while (((hi_ - lo_) >> shift_) >= (1u << 16)) ++shift_;
    const size_t nb = ((hi_ - lo_) >> shift_) + 1;
    ge_.assign(nb + 1, 0);  // ge_[b] = keys in buckets >= b: bucket b is [ge_[b+1], ge_[b])
    for (uint32_t k : keys_) ++ge_[(k - lo_) >> shift_];
    for (size_t b = nb; b-- > 0;) ge_[b] += ge_[b + 1];
  }
  // The bin of key k (see curve.h): 2j, or 2j+1 when k equals the j-th positive key.
  size_t bin(uint32_t k) const {
    if (keys_.empty() || k > hi_) return 0;  // no positive above
    if (k < lo_) return 2 * keys_.size();    // below every positive
    const size_t b = (k - lo_) >> shift_;
    // Branch-free search for the first key <= k in the bucket's [begin, end): the compare
    // selects with a conditional move, so unpredictable scores cost no mispredictions.
    size_t base = ge_[b + 1], n = ge_[b] - ge_[b + 1];
    while (n > 0) {
      const size_t half = n / 2;
      const bool above = keys_[base + half] > k;
      base = above ? base + half + 1 : base;
      n = above ? n - half - 1 : half;
    }
    return 2 * base + (base < keys_.size() && keys_[base] == k ? 1 : 0);
  }

 private:
  std::vector<uint32_t> keys_;  // (D) order keys of the distinct positive scores, descending
  std::vector<uint32_t> ge_;
  uint32_t lo_ = 0, hi_ = 0;
  int shift_ = 0;
};

}  // namespace

std::vector<uint64_t> count_negatives(const PositiveGroups& groups, std::span<const ScoreMap> images) {
  const size_t nbins = 2 * groups.value.size() + 1;
  std::vector<uint64_t> bins(nbins, 0);
  size_t total = 0;
  for (const ScoreMap& im : images) total += im.scores.size();
  const KeyIndex index(groups.value);
  bool nan_seen = false;
  // Each thread counts into its own bins; merging integer counts is order-independent.
#pragma omp parallel if (total > (size_t{1} << 16))
  {
    std::vector<uint64_t> local(nbins, 0);
    bool local_nan = false;
    for (const ScoreMap& im : images) {
      const float* s = im.scores.data();
      const uint8_t* m = im.mask.empty() ? nullptr : im.mask.data();
      const int64_t n = static_cast<int64_t>(im.scores.size());
#pragma omp for schedule(static) nowait
      for (int64_t i = 0; i < n; ++i) {
        if (m && m[i]) continue;
        if (std::isnan(s[i])) {
          local_nan = true;
          continue;
        }
        ++local[index.bin(order_key(s[i]))];
      }
    }
#pragma omp critical(sad_eval_count_negatives)
    {
      for (size_t b = 0; b < nbins; ++b) bins[b] += local[b];
      nan_seen = nan_seen || local_nan;
    }
  }
  SAD_CHECK(!nan_seen, "NaN score");
  return bins;
}

std::optional<double> auroc_from(const PositiveGroups& g, std::span<const uint64_t> bins) {
  const uint64_t p = g.total, n = total_negatives(bins);
  if (p == 0 || n == 0) return std::nullopt;
  // Twice the area under the unnormalised ROC staircase: each step adds dfp * (tp + tp') / 2.
  u128 area2 = 0;
  uint64_t tp = 0;
  for (size_t k = 0; k < bins.size(); ++k) {
    const uint64_t dtp = (k % 2 == 1) ? g.count[k / 2] : 0;
    area2 += static_cast<u128>(bins[k]) * (2 * static_cast<u128>(tp) + dtp);
    tp += dtp;
  }
  return static_cast<double>(area2) / static_cast<double>(2 * static_cast<u128>(p) * n);
}

std::optional<double> ap_from(const PositiveGroups& g, std::span<const uint64_t> bins) {
  const uint64_t p = g.total;
  if (p == 0) return std::nullopt;
  uint64_t tp = 0, fp = 0;
  double ap = 0;
  for (size_t k = 0; k < bins.size(); ++k) {
    fp += bins[k];
    if (k % 2 == 0) continue;  // negatives only: recall does not move
    const uint64_t dtp = g.count[k / 2];
    tp += dtp;
    ap +=
        (static_cast<double>(dtp) / static_cast<double>(p)) * (static_cast<double>(tp) / static_cast<double>(tp + fp));
  }
  return ap;
}

std::optional<F1Max> f1_from(const PositiveGroups& g, std::span<const uint64_t> bins) {
  const uint64_t p = g.total;
  if (p == 0) return std::nullopt;
  // F1 = 2 tp / (tp + fp + p). Only odd bins can win: an even bin adds false positives at
  // the same tp. Ties compare as exact fractions; strict > keeps the highest threshold.
  uint64_t tp = 0, fp = 0, best_num = 0, best_den = 1, best_tp = 0, best_fp = 0;
  size_t best_j = 0;
  for (size_t k = 0; k < bins.size(); ++k) {
    fp += bins[k];
    if (k % 2 == 0) continue;
    tp += g.count[k / 2];
    const uint64_t num = 2 * tp, den = tp + fp + p;
    if (static_cast<u128>(num) * best_den > static_cast<u128>(best_num) * den) {
      best_num = num, best_den = den, best_tp = tp, best_fp = fp, best_j = k / 2;
    }
  }
  F1Max r;
  r.f1 = static_cast<double>(best_num) / static_cast<double>(best_den);
  r.threshold = g.value[best_j];
  r.precision = static_cast<double>(best_tp) / static_cast<double>(best_tp + best_fp);
  r.recall = static_cast<double>(best_tp) / static_cast<double>(p);
  return r;
}

std::optional<double> aupro_from(const PositiveGroups& g, std::span<const uint64_t> bins, double fpr_limit) {
  SAD_CHECK(fpr_limit > 0 && fpr_limit <= 1, "aupro: fpr_limit must be in (0, 1], got ", fpr_limit);
  SAD_CHECK(g.regions == 0 || g.pro.size() == g.count.size(), "aupro: positives were grouped without regions");
  const uint64_t n = total_negatives(bins);
  if (g.regions == 0 || n == 0) return std::nullopt;
  const double nd = static_cast<double>(n), rd = static_cast<double>(g.regions);
  CompensatedSum pro;
  uint64_t fp = 0;
  double x0 = 0, y0 = 0, area = 0;
  for (size_t k = 0; k < bins.size(); ++k) {
    fp += bins[k];
    if (k % 2 == 1) pro.add(g.pro[k / 2]);
    const double x1 = static_cast<double>(fp) / nd, y1 = pro.value() / rd;  // x1 == 1 exactly at the end
    if (x1 >= fpr_limit) {
      // The segment crossing the limit: x0 < fpr_limit <= x1, so x1 > x0.
      const double y = y0 + (y1 - y0) * (fpr_limit - x0) / (x1 - x0);
      area += 0.5 * (y0 + y) * (fpr_limit - x0);
      break;
    }
    area += 0.5 * (y0 + y1) * (x1 - x0);
    x0 = x1, y0 = y1;
  }
  return area / fpr_limit;  // the last bin ends at FPR 1 >= fpr_limit, so the loop broke
}

std::vector<CurvePoint> roc_points_from(const PositiveGroups& g, std::span<const uint64_t> bins) {
  const uint64_t p = g.total, n = total_negatives(bins);
  if (p == 0 || n == 0) return {};
  std::vector<CurvePoint> pts{{0, 0}};
  uint64_t tp = 0, fp = 0;
  for (size_t k = 0; k < bins.size(); ++k) {
    fp += bins[k];
    if (k % 2 == 1) tp += g.count[k / 2];
    if (bins[k] == 0 && k % 2 == 0) continue;  // an empty gap adds no corner
    pts.push_back({static_cast<double>(fp) / static_cast<double>(n), static_cast<double>(tp) / static_cast<double>(p)});
  }
  return pts;
}

std::vector<CurvePoint> pro_points_from(const PositiveGroups& g, std::span<const uint64_t> bins, double fpr_limit) {
  SAD_CHECK(fpr_limit > 0 && fpr_limit <= 1, "pro curve: fpr_limit must be in (0, 1], got ", fpr_limit);
  const uint64_t n = total_negatives(bins);
  if (g.regions == 0 || g.pro.size() != g.count.size() || n == 0) return {};
  const double nd = static_cast<double>(n), rd = static_cast<double>(g.regions);
  CompensatedSum pro;
  uint64_t fp = 0;
  std::vector<CurvePoint> pts{{0, 0}};
  for (size_t k = 0; k < bins.size(); ++k) {
    fp += bins[k];
    if (k % 2 == 1) pro.add(g.pro[k / 2]);
    const CurvePoint next{static_cast<double>(fp) / nd, pro.value() / rd};
    if (next.x >= fpr_limit) {  // the segment crossing the limit, as aupro_from integrates it
      const CurvePoint& last = pts.back();
      pts.push_back({fpr_limit, last.y + (next.y - last.y) * (fpr_limit - last.x) / (next.x - last.x)});
      break;
    }
    pts.push_back(next);
  }
  return pts;
}

}  // namespace sad::eval::detail
