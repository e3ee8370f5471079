// report.html: plain strings, inline SVG plots, no dependency.
#include "eval/html_report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "tensor/check.h"

namespace sad::eval {

namespace {

std::string num(double v, int digits = 4) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}
std::string metric(const std::optional<double>& v) { return v ? num(*v) : "n/a"; }

// Tick label digits for an axis spanning `range`.
int digits(double range) {
  range = std::abs(range);
  return range >= 10 ? 0 : range >= 0.99 ? 2 : 3;
}

struct Series {
  std::string name, color;
  std::vector<CurvePoint> points;
  bool dashed = false;
};

// A line plot of `series` over [x0, x1] x [y0, y1], 420 x 300 user units, scaled to the page.
std::string line_plot(const std::string& id, const std::string& title, const std::string& xlabel,
                      const std::string& ylabel, const std::vector<Series>& series, double x0, double x1, double y0,
                      double y1) {
  const double W = 420, H = 300, L = 52, R = 12, T = 28, B = 40;
  auto sx = [&](double x) { return L + (x - x0) / (x1 - x0 == 0 ? 1 : x1 - x0) * (W - L - R); };
  auto sy = [&](double y) { return H - B - (y - y0) / (y1 - y0 == 0 ? 1 : y1 - y0) * (H - T - B); };
  std::ostringstream o;
  o << "<svg class=\"plot\" id=\"" << id << "\" viewBox=\"0 0 " << W << ' ' << H
    << "\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\">";
  o << "<title>" << html_escape(title) << "</title>";
  o << "<text x=\"" << W / 2 << "\" y=\"18\" text-anchor=\"middle\" class=\"pt\">" << html_escape(title) << "</text>";
  for (int k = 0; k <= 4; ++k) {  // grid and tick labels
    const double fx = x0 + (x1 - x0) * k / 4, fy = y0 + (y1 - y0) * k / 4;
    o << "<line x1=\"" << sx(fx) << "\" y1=\"" << T << "\" x2=\"" << sx(fx) << "\" y2=\"" << H - B
      << "\" class=\"grid\"/>";
    o << "<line x1=\"" << L << "\" y1=\"" << sy(fy) << "\" x2=\"" << W - R << "\" y2=\"" << sy(fy)
      << "\" class=\"grid\"/>";
    o << "<text x=\"" << sx(fx) << "\" y=\"" << H - B + 14 << "\" text-anchor=\"middle\">" << num(fx, digits(x1 - x0))
      << "</text>";
    o << "<text x=\"" << L - 4 << "\" y=\"" << sy(fy) + 4 << "\" text-anchor=\"end\">" << num(fy, digits(y1 - y0))
      << "</text>";
  }
  o << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 6 << "\" text-anchor=\"middle\">" << html_escape(xlabel)
    << "</text>";
  o << "<text x=\"12\" y=\"" << (T + H - B) / 2 << "\" text-anchor=\"middle\" transform=\"rotate(-90 12 "
    << (T + H - B) / 2 << ")\">" << html_escape(ylabel) << "</text>";
  double ly = T + 12;
  for (const Series& s : series) {
    if (s.points.empty()) continue;
    o << "<polyline fill=\"none\" stroke=\"" << s.color << "\" stroke-width=\"1.8\""
      << (s.dashed ? " stroke-dasharray=\"5 4\"" : "") << " points=\"";
    for (const CurvePoint& p : s.points)
      o << num(sx(std::clamp(p.x, x0, x1)), 1) << ',' << num(sy(std::clamp(p.y, y0, y1)), 1) << ' ';
    o << "\"/>";
    if (!s.name.empty()) {
      o << "<line x1=\"" << W - R - 120 << "\" y1=\"" << ly - 4 << "\" x2=\"" << W - R - 104 << "\" y2=\"" << ly - 4
        << "\" stroke=\"" << s.color << "\" stroke-width=\"2\"/>";
      o << "<text x=\"" << W - R - 100 << "\" y=\"" << ly << "\">" << html_escape(s.name) << "</text>";
      ly += 14;
    }
  }
  o << "</svg>";
  return o.str();
}

// Histograms of good and defective images' raw scores, the threshold drawn.
std::string histogram(const std::vector<ReportImage>& images, double raw_threshold) {
  const int bins = 30;
  double lo = raw_threshold, hi = raw_threshold;
  for (const ReportImage& im : images) {
    lo = std::min(lo, im.raw_score);
    hi = std::max(hi, im.raw_score);
  }
  if (hi - lo < 1e-12) hi = lo + 1;
  const double pad = (hi - lo) * 0.02;
  lo -= pad, hi += pad;
  std::vector<int> good(bins, 0), bad(bins, 0);
  for (const ReportImage& im : images) {
    const int b = std::clamp(static_cast<int>(std::floor((im.raw_score - lo) / (hi - lo) * bins)), 0, bins - 1);
    (im.anomalous ? bad : good)[static_cast<size_t>(b)] += 1;
  }
  int peak = 1;
  for (int b = 0; b < bins; ++b) peak = std::max({peak, good[static_cast<size_t>(b)], bad[static_cast<size_t>(b)]});
  const double W = 420, H = 300, L = 40, R = 12, T = 28, B = 40, bw = (W - L - R) / bins;
  auto sx = [&](double v) { return L + (v - lo) / (hi - lo) * (W - L - R); };
  auto sy = [&](double c) { return H - B - c / peak * (H - T - B); };
  std::ostringstream o;
  o << "<svg class=\"plot\" id=\"hist\" viewBox=\"0 0 " << W << ' ' << H
    << "\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\"><title>image scores</title>";
  o << "<text x=\"" << W / 2 << "\" y=\"18\" text-anchor=\"middle\" class=\"pt\">image scores</text>";
  for (int b = 0; b < bins; ++b) {
    const double x = L + b * bw;
    const auto g = static_cast<double>(good[static_cast<size_t>(b)]);
    const auto d = static_cast<double>(bad[static_cast<size_t>(b)]);
    if (g > 0)
      o << "<rect x=\"" << num(x + 1, 1) << "\" y=\"" << num(sy(g), 1) << "\" width=\"" << num(bw / 2 - 1, 1)
        << "\" height=\"" << num(H - B - sy(g), 1) << "\" class=\"good\"><title>good: " << g << "</title></rect>";
    if (d > 0)
      o << "<rect x=\"" << num(x + bw / 2, 1) << "\" y=\"" << num(sy(d), 1) << "\" width=\"" << num(bw / 2 - 1, 1)
        << "\" height=\"" << num(H - B - sy(d), 1) << "\" class=\"bad\"><title>defective: " << d << "</title></rect>";
  }
  const double tx = sx(raw_threshold);
  o << "<line x1=\"" << tx << "\" y1=\"" << T << "\" x2=\"" << tx << "\" y2=\"" << H - B
    << "\" stroke=\"#000\" stroke-dasharray=\"4 3\"/><text x=\"" << tx + 3 << "\" y=\"" << T + 10 << "\">threshold "
    << num(raw_threshold, 3) << "</text>";
  for (int k = 0; k <= 4; ++k)
    o << "<text x=\"" << L + k * (W - L - R) / 4 << "\" y=\"" << H - B + 14 << "\" text-anchor=\"middle\">"
      << num(lo + (hi - lo) * k / 4, 2) << "</text>";
  o << "<text x=\"" << L - 4 << "\" y=\"" << T + 4 << "\" text-anchor=\"end\">" << peak << "</text>";
  o << "<rect x=\"" << L + 6 << "\" y=\"" << T + 20 << "\" width=\"10\" height=\"10\" class=\"good\"/><text x=\""
    << L + 20 << "\" y=\"" << T + 29 << "\">good</text><rect x=\"" << L + 6 << "\" y=\"" << T + 36
    << "\" width=\"10\" height=\"10\" class=\"bad\"/><text x=\"" << L + 20 << "\" y=\"" << T + 45
    << "\">defective</text>";
  o << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 6 << "\" text-anchor=\"middle\">raw image score ("
    << images.size() << " images)</text></svg>";
  return o.str();
}

// train_log.csv -> per column, the (step, value) points of one phase ("gan" or "seg").
std::map<std::string, std::vector<CurvePoint>> log_columns(const std::string& csv, const std::string& phase) {
  std::map<std::string, std::vector<CurvePoint>> out;
  std::istringstream in(csv);
  std::string line;
  std::vector<std::string> header;
  auto split = [](const std::string& s) {
    std::vector<std::string> f;
    std::string cur;
    for (char c : s) {
      if (c == ',') {
        f.push_back(cur);
        cur.clear();
      } else if (c != '\r') {
        cur += c;
      }
    }
    f.push_back(cur);
    return f;
  };
  if (!std::getline(in, line)) return out;
  header = split(line);
  if (header.size() < 3) return out;  // not a training log: phase, step, epoch, then the columns
  while (std::getline(in, line)) {
    const std::vector<std::string> f = split(line);
    if (f.size() != header.size() || f[0] != phase) continue;
    char* end = nullptr;
    const double step = std::strtod(f[1].c_str(), &end);
    if (end == f[1].c_str()) continue;
    for (size_t k = 3; k < f.size(); ++k) {
      if (f[k].empty()) continue;
      const double v = std::strtod(f[k].c_str(), &end);
      if (end != f[k].c_str() && std::isfinite(v)) out[header[k]].push_back({step, v});
    }
  }
  return out;
}

std::string training_plots(const HtmlReportInput& in) {
  if (in.train_log_csv.empty()) return "<p>No training log: no train_log.csv beside the model file.</p>";
  std::ostringstream o;
  const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"};
  struct Panel {
    const char *phase, *id, *title;
    std::vector<const char*> columns;
  };
  for (const Panel& p : {Panel{"gan", "train-gan", "phase 1: G and D", {"loss_d", "loss_g", "mse", "ssim"}},
                         Panel{"seg", "train-seg", "phase 2: S", {"loss_s", "val_image_auroc"}}}) {
    const auto cols = log_columns(in.train_log_csv, p.phase);
    std::vector<Series> series;
    double x1 = 1, y0 = 0, y1 = 1;
    for (size_t k = 0; k < p.columns.size(); ++k) {
      auto it = cols.find(p.columns[k]);
      if (it == cols.end() || it->second.empty()) continue;
      series.push_back({p.columns[k], colors[k % 5], it->second});
      for (const CurvePoint& q : it->second) {
        x1 = std::max(x1, q.x);
        y0 = std::min(y0, q.y);
        y1 = std::max(y1, q.y);
      }
    }
    if (series.empty()) continue;
    o << "<figure>" << line_plot(p.id, p.title, "step", "value", series, 0, x1, y0, y1) << "</figure>";
  }
  o << "<p class=\"note\">From " << html_escape(in.train_log_source) << ".</p>";
  return o.str();
}

// A relative path as a URL: every byte but unreserved characters and '/' percent-encoded, so
// that '#', '?', '%' or a space in a file name do not break the link.
std::string url_path(const std::string& path) {
  static const char* hex = "0123456789ABCDEF";
  std::string o;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      o += static_cast<char>(c);
    } else {
      o += '%';
      o += hex[c >> 4];
      o += hex[c & 15];
    }
  }
  return o;
}

std::string image_link(const ReportImage& im, bool thumb) {
  std::ostringstream o;
  if (im.panel.empty()) return html_escape(im.path);
  const std::string url = html_escape(url_path(im.panel));
  o << "<a href=\"" << url << "\">";
  if (thumb) o << "<img src=\"" << url << "\" alt=\"panel\" loading=\"lazy\"><br>";
  o << html_escape(im.path) << "</a>";
  return o.str();
}

// The `worst` images of one class, most wrong first: defective images by lowest score (false
// negatives are those below the threshold), good images by highest (false positives above).
std::string worst_table(const std::vector<ReportImage>& images, bool anomalous, double threshold, size_t worst,
                        const std::string& id) {
  std::vector<const ReportImage*> v;
  for (const ReportImage& im : images)
    if (im.anomalous == anomalous) v.push_back(&im);
  std::stable_sort(v.begin(), v.end(), [&](const ReportImage* a, const ReportImage* b) {
    return anomalous ? a->raw_score < b->raw_score : a->raw_score > b->raw_score;
  });
  if (v.size() > worst) v.resize(worst);
  if (v.empty()) return "<p>No " + std::string(anomalous ? "defective" : "good") + " test images.</p>";
  std::ostringstream o;
  o << "<table id=\"" << id << "\" class=\"worst\"><tr><th>image</th><th>type</th><th>score</th><th>raw score</th>"
    << "<th>verdict</th></tr>";
  for (const ReportImage* im : v) {
    const bool wrong = anomalous ? im->score < threshold : im->score >= threshold;
    o << "<tr" << (wrong ? " class=\"wrong\"" : "") << "><td>" << image_link(*im, true) << "</td><td>"
      << html_escape(im->type) << "</td><td>" << num(im->score) << "</td><td>" << num(im->raw_score, 6) << "</td><td>"
      << (wrong ? (anomalous ? "false negative" : "false positive") : "correct") << "</td></tr>";
  }
  o << "</table>";
  return o.str();
}

const char* kStyle =
    "body{font-family:sans-serif;margin:1.5em;max-width:1400px;color:#222}"
    "h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;"
    "vertical-align:top}th{background:#f2f2f2}"
    ".plots{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;width:440px;max-width:100%}"
    "svg.plot{width:100%;height:auto;border:1px solid #ddd;background:#fff;font-size:11px}"
    "svg .pt{font-size:13px;font-weight:bold}svg .grid{stroke:#eee}svg .good{fill:#2ca02c}svg .bad{fill:#d62728}"
    "table.worst img{width:320px;max-width:40vw;height:auto}tr.wrong td{background:#fdecea}"
    ".note{color:#666;font-size:.9em}#layout{display:none}";

}  // namespace

std::string html_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string html_report(const HtmlReportInput& in) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>sparsead report: "
    << html_escape(in.title) << "</title><style>" << kStyle << "</style></head><body>\n";
  o << "<h1>sparsead test report</h1><p>Model: <code>" << html_escape(in.title) << "</code>; " << in.images.size()
    << " test images.</p>\n";

  // Metrics per defect type.
  std::map<std::string, int> count;
  int good = 0;
  for (const ReportImage& im : in.images) {
    count[im.type] += 1;
    if (!im.anomalous) ++good;
  }
  o << "<h2>Metrics</h2><table id=\"metrics\"><tr><th>type</th><th>images</th><th>image AUROC</th>"
       "<th>pixel AUROC</th><th>AUPRO</th><th>pixel AP</th><th>image F1</th></tr>";
  auto row = [&](const std::string& name, int n, const MetricSet& m) {
    o << "<tr><td>" << html_escape(name) << "</td><td>" << n << "</td><td>" << metric(m.image_auroc) << "</td><td>"
      << metric(m.pixel_auroc) << "</td><td>" << metric(m.aupro) << "</td><td>" << metric(m.pixel_ap) << "</td><td>"
      << metric(m.image_f1) << "</td></tr>";
  };
  row("all", static_cast<int>(in.images.size()), in.metrics.all);
  for (const auto& [type, m] : in.metrics.per_type) row(type + " (with good)", count[type] + good, m);
  o << "</table><p class=\"note\">Per type: that type's images against the good ones. AUPRO to FPR "
    << num(in.fpr_limit, 2) << ".</p>\n";

  // Curves and scores.
  o << "<h2>Curves and scores</h2><div class=\"plots\">";
  const Series diagonal{"", "#bbb", {{0, 0}, {1, 1}}, true};
  o << "<figure>"
    << line_plot("roc-image", "image ROC", "false positive rate", "true positive rate",
                 {diagonal, {"image AUROC " + metric(in.metrics.all.image_auroc), "#1f77b4", in.image_roc}}, 0, 1, 0, 1)
    << "</figure>";
  if (!in.pixel.roc.empty())
    o << "<figure>"
      << line_plot("roc-pixel", "pixel ROC", "false positive rate", "true positive rate",
                   {diagonal, {"pixel AUROC " + metric(in.metrics.all.pixel_auroc), "#d62728", in.pixel.roc}}, 0, 1, 0,
                   1)
      << "</figure>";
  if (!in.pixel.pro.empty())
    o << "<figure>"
      << line_plot("pro", "PRO curve", "false positive rate (pixels)", "per-region overlap",
                   {{"AUPRO " + metric(in.metrics.all.aupro), "#2ca02c", in.pixel.pro}}, 0, in.fpr_limit, 0, 1)
      << "</figure>";
  o << "<figure>" << histogram(in.images, in.raw_threshold) << "</figure></div>\n";
  o << "<p class=\"note\">The threshold was set on the validation images at training time; images whose score "
       "reaches it are called defective (normalised score "
    << num(in.threshold, 2) << " and above).</p>";

  // Where it fails.
  o << "<h2>Where it fails</h2><h3>Lowest-scoring defective images (false negatives marked)</h3>"
    << worst_table(in.images, true, in.threshold, in.worst, "worst-fn")
    << "<h3>Highest-scoring good images (false positives marked)</h3>"
    << worst_table(in.images, false, in.threshold, in.worst, "worst-fp");

  // Every image, by score.
  std::vector<const ReportImage*> all;
  for (const ReportImage& im : in.images) all.push_back(&im);
  std::stable_sort(all.begin(), all.end(),
                   [](const ReportImage* a, const ReportImage* b) { return a->raw_score > b->raw_score; });
  o << "<details><summary>All " << all.size()
    << " test images, highest score first</summary><table id=\"all-images\"><tr><th>image</th><th>type</th>"
       "<th>score</th><th>raw score</th></tr>";
  for (const ReportImage* im : all)
    o << "<tr><td>" << image_link(*im, false) << "</td><td>" << html_escape(im->type) << "</td><td>" << num(im->score)
      << "</td><td>" << num(im->raw_score, 6) << "</td></tr>";
  o << "</table></details>\n";

  // Training and settings.
  o << "<h2>Training</h2><div class=\"plots\">" << training_plots(in) << "</div>\n";
  o << "<h2>Model settings and provenance</h2><table id=\"settings\">";
  for (const auto& [k, v] : in.settings)
    o << "<tr><th>" << html_escape(k) << "</th><td>" << html_escape(v) << "</td></tr>";
  o << "</table>\n";

  // The layout record for the browser test: rendered sizes of every plot and table.
  o << "<pre id=\"layout\"></pre><script>(function(){var o={plots:[],tables:[]};"
       "document.querySelectorAll('svg.plot').forEach(function(s){var r=s.getBoundingClientRect();"
       "o.plots.push({id:s.id,w:Math.round(r.width),h:Math.round(r.height)});});"
       "document.querySelectorAll('table').forEach(function(t){var r=t.getBoundingClientRect();"
       "o.tables.push({id:t.id,w:Math.round(r.width),h:Math.round(r.height),rows:t.rows.length});});"
       "o.page={w:document.documentElement.scrollWidth,h:document.documentElement.scrollHeight};"
       "document.getElementById('layout').textContent=JSON.stringify(o);})();</script>\n";
  o << "</body></html>\n";
  return o.str();
}

}  // namespace sad::eval
