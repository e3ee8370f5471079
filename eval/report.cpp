// The per-defect-type metric table and its JSON text. The JSON writer is deliberately tiny
// and private: five keys, numbers or null, and escaped type names are all it must emit.
#include "eval/report.h"

#include <charconv>
#include <cmath>
#include <set>
#include <utility>
#include <vector>

#include "tensor/check.h"

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

void append_escaped(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      static const char* hex = "0123456789abcdef";
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);  // UTF-8 bytes pass through unchanged
    }
  }
  out += '"';
}

void append_number(std::string& out, const std::optional<double>& v) {
  if (!v || !std::isfinite(*v)) {  // JSON has no NaN/Inf; the metrics never produce them
    out += "null";
    return;
  }
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, *v);  // shortest form that round-trips
  out.append(buf, res.ptr);
}

void append_set(std::string& out, const MetricSet& m, const std::string& indent) {
  const std::pair<const char*, const std::optional<double>*> fields[] = {{"image_auroc", &m.image_auroc},
                                                                         {"pixel_auroc", &m.pixel_auroc},
                                                                         {"aupro", &m.aupro},
                                                                         {"pixel_ap", &m.pixel_ap},
                                                                         {"image_f1", &m.image_f1}};
  bool first = true;
  for (const auto& [key, value] : fields) {
    if (!first) out += ",\n";
    first = false;
    out += indent;
    out += '"';
    out += key;
    out += "\": ";
    append_number(out, *value);
  }
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
  std::string out = "{\n";
  append_set(out, report.all, "  ");
  out += ",\n  \"per_type\": {";
  bool first = true;
  for (const auto& [type, set] : report.per_type) {
    out += first ? "\n    " : ",\n    ";
    first = false;
    append_escaped(out, type);
    out += ": {\n";
    append_set(out, set, "      ");
    out += "\n    }";
  }
  out += first ? "}\n}\n" : "\n  }\n}\n";
  return out;
}

}  // namespace sad::eval
