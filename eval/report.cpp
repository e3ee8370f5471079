// The per-defect-type metric table and its JSON text (written by tensor/json, the project's
// one JSON writer).
#include "eval/report.h"

#include <cmath>
#include <set>
#include <utility>
#include <vector>

#include "tensor/check.h"
#include "tensor/json.h"

namespace sad::eval {

namespace {

// The metrics of the images whose indices are listed.
MetricSet evaluate_subset(const std::vector<size_t>& idx, std::span<const float> scores,
                          std::span<const uint8_t> labels, std::span<const ScoreMap> maps, double fpr_limit) {
  std::vector<float> s;
  std::vector<uint8_t> l;
  std::vector<ScoreMap> m;
  for (size_t i : idx) {
    s.push_back(scores[i]);
    l.push_back(labels[i]);
    if (!maps.empty()) m.push_back(maps[i]);
  }
  MetricSet r;
  r.image_auroc = roc_auc(s, l);
  if (auto f1 = f1_max(s, l)) r.image_f1 = f1->f1;
  if (!m.empty()) {
    PixelMetrics p = pixel_metrics(m, fpr_limit);
    r.pixel_auroc = p.auroc;
    r.aupro = p.aupro;
    r.pixel_ap = p.ap;
  }
  return r;
}

// A metric set as a JSON object: the five metrics in a fixed order, null where undefined.
Json set_json(const MetricSet& m) {
  const std::pair<const char*, const std::optional<double>*> fields[] = {{"image_auroc", &m.image_auroc},
                                                                         {"pixel_auroc", &m.pixel_auroc},
                                                                         {"aupro", &m.aupro},
                                                                         {"pixel_ap", &m.pixel_ap},
                                                                         {"image_f1", &m.image_f1}};
  Json o = Json::object();
  for (const auto& [key, value] : fields)
    o.set(key, *value && std::isfinite(**value) ? Json(**value) : Json());  // JSON has no NaN/Inf
  return o;
}

}  // namespace

MetricsReport evaluate(std::span<const std::string> types, std::span<const float> scores,
                       std::span<const uint8_t> labels, std::span<const ScoreMap> maps, double fpr_limit) {
  const size_t n = types.size();
  SAD_CHECK(scores.size() == n && labels.size() == n, "evaluate: ", n, " types, ", scores.size(), " scores, ",
            labels.size(), " labels");
  SAD_CHECK(maps.empty() || maps.size() == n, "evaluate: ", maps.size(), " maps for ", n, " images");
  SAD_CHECK(fpr_limit > 0 && fpr_limit <= 1, "evaluate: fpr_limit must be in (0, 1], got ", fpr_limit);
  std::set<std::string> defect_types;
  for (size_t i = 0; i < n; ++i) {
    const bool good = types[i] == kGoodType;
    SAD_CHECK(labels[i] == (good ? 0 : 1), "evaluate: image ", i, " of type '", types[i], "' has label ",
              int(labels[i]), " (expected ", good ? 0 : 1, ")");
    if (!good) defect_types.insert(types[i]);
    if (good && !maps.empty()) {
      for (uint8_t px : maps[i].mask) SAD_CHECK(px == 0, "evaluate: good image ", i, " has defect pixels in its mask");
    }
  }
  std::vector<size_t> all(n);
  for (size_t i = 0; i < n; ++i) all[i] = i;
  MetricsReport report;
  report.all = evaluate_subset(all, scores, labels, maps, fpr_limit);
  for (const std::string& type : defect_types) {
    std::vector<size_t> idx;
    for (size_t i = 0; i < n; ++i)
      if (types[i] == kGoodType || types[i] == type) idx.push_back(i);
    report.per_type[type] = evaluate_subset(idx, scores, labels, maps, fpr_limit);
  }
  return report;
}

std::string report_json(const MetricsReport& report) {
  Json j = set_json(report.all);
  Json per_type = Json::object();
  for (const auto& [type, set] : report.per_type) per_type.set(type, set_json(set));
  j.set("per_type", std::move(per_type));
  return j.dump(2) + "\n";
}

}  // namespace sad::eval
