// report.html, the one page `sparsead test` writes beside metrics.json for a person judging a
// model: the metrics per defect type, image and pixel ROC curves, the PRO curve, score
// histograms with the threshold, the worst false negatives and false positives with their
// panels, the training curves and the model's settings. Self-contained: plots are inline
// SVG, no script, font or style is fetched; panels are relative links into panels/. An
// inline script only measures the rendered plots and tables into <pre id="layout"> (a JSON
// object), which the browser test reads.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "eval/metrics.h"
#include "eval/report.h"

namespace sad::eval {

struct ReportImage {
  std::string path;   // the test image, as given
  std::string type;   // "good" or the defect type
  std::string panel;  // relative path of its panel ("" when panels were not written)
  bool anomalous = false;
  double raw_score = 0;  // the model's raw image score
  double score = 0;      // normalised: 0.5 is the image threshold
};

struct HtmlReportInput {
  std::string title;  // e.g. the model's path
  MetricsReport metrics;
  std::vector<CurvePoint> image_roc;
  PixelCurves pixel;       // empty curves: no masks
  double fpr_limit = 0.3;  // the PRO curve's end
  std::vector<ReportImage> images;
  double threshold = 0.5;      // on the normalised score: the verdicts
  double raw_threshold = 0.0;  // the same threshold on the raw score: the histogram's line
  // The model's settings and provenance as key / value rows, in order.
  std::vector<std::pair<std::string, std::string>> settings;
  std::string train_log_csv;  // the run's train_log.csv ("" when not found)
  std::string train_log_source;
  size_t worst = 8;  // false negatives and false positives shown
};

// The whole page. Text is HTML-escaped; numbers are written with fixed precision.
std::string html_report(const HtmlReportInput& in);

// Escapes &, <, >, " and ' for HTML text and attribute values.
std::string html_escape(const std::string& s);

}  // namespace sad::eval
