// The verbs that use a trained model: `test` (score a labelled test set, evaluate, draw
// panels) and `predict` (score any images, write heatmaps and a CSV, time each one).
// Both go through the embeddable inference API (model/anomaly_model.h).
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "apps/cli_panels.h"
#include "apps/cli_verbs.h"
#include "apps/progress.h"
#include "data/image.h"
#include "eval/html_report.h"
#include "eval/metrics.h"
#include "eval/report.h"
#include "model/anomaly_model.h"
#include "model/build_info.h"
#include "tensor/json.h"

namespace sad::cli {

namespace fs = std::filesystem;

namespace {

// A prediction whose failure (a non-finite map or score) names the image.
Prediction predict_named(AnomalyModel& model, const Tensor& image, double threshold, const std::string& path) {
  try {
    return model.predict_image(image, threshold);
  } catch (const Error& e) {
    throw Error(path + ": " + user_message(e.what()));
  }
}

std::string fmt_metric(const std::optional<double>& v) {
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", *v);
  return buf;
}

std::string fmt_double(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// The metrics as a fixed-width table: one row for the whole set, one per defect type.
std::string metrics_table(const eval::MetricsReport& r, const std::map<std::string, int>& counts, int total) {
  std::ostringstream os;
  char line[256];
  std::snprintf(line, sizeof line, "%-16s %6s %11s %11s %8s %8s %8s\n", "type", "images", "image_auroc", "pixel_auroc",
                "aupro", "pixel_ap", "image_f1");
  os << line;
  auto row = [&](const std::string& name, int n, const eval::MetricSet& m) {
    std::snprintf(line, sizeof line, "%-16s %6d %11s %11s %8s %8s %8s\n", name.c_str(), n,
                  fmt_metric(m.image_auroc).c_str(), fmt_metric(m.pixel_auroc).c_str(), fmt_metric(m.aupro).c_str(),
                  fmt_metric(m.pixel_ap).c_str(), fmt_metric(m.image_f1).c_str());
    os << line;
  };
  row("all", total, r.all);
  const int good = counts.count(eval::kGoodType) ? counts.at(eval::kGoodType) : 0;
  for (const auto& [type, m] : r.per_type) row(type, (counts.count(type) ? counts.at(type) : 0) + good, m);
  return os.str();
}

// (H, W) or (1, H, W) CPU float tensor -> its values.
std::vector<float> plane_values(const Tensor& t) { return t.to_vector(); }

// report.html's input: the curves, the model's settings and provenance, and the run's
// train_log.csv when it lies beside the model file.
eval::HtmlReportInput report_input(const std::string& model_path, const AnomalyModel& model,
                                   const eval::MetricsReport& report, std::span<const float> scores,
                                   std::span<const uint8_t> labels, std::span<const eval::ScoreMap> maps,
                                   std::vector<eval::ReportImage> images) {
  eval::HtmlReportInput in;
  in.title = model_path;
  in.metrics = report;
  in.image_roc = eval::roc_curve(scores, labels);
  if (!maps.empty()) in.pixel = eval::pixel_curves(maps, in.fpr_limit);
  in.images = std::move(images);
  in.threshold = 0.5;
  in.raw_threshold = model.config().image_threshold;
  in.settings.emplace_back("model file", model_path);
  in.settings.emplace_back("sparsead build (this report)", build_commit());
  const Json config = model.config().to_json();  // held: as_object() refers into it
  for (const auto& [key, value] : config.as_object())
    in.settings.emplace_back(key, value.is_string() ? value.as_string() : value.dump());
  const fs::path log = fs::path(model_path).parent_path() / "train_log.csv";
  std::error_code ec;
  if (fs::is_regular_file(log, ec)) {
    std::ifstream f(log, std::ios::binary);
    std::ostringstream text;
    text << f.rdbuf();
    in.train_log_csv = text.str();
    in.train_log_source = log.string();
  }
  return in;
}

}  // namespace

// ---- test --------------------------------------------------------------------------------

int run_test(const Args& a, Streams& io) {
  const std::string out = a.require("--out");
  a.require("--model");
  const bool quiet = a.has("--quiet");
  const bool panels = !a.has("--no-panels");
  const Device device = setup_runtime(a);
  check_output_dir("--out", out, a.has("--overwrite"), "pass --overwrite to replace its files");
  AnomalyModel model = load_model(a, device, io);
  data::Dataset ds = read_dataset(a, /*training=*/false);
  if (ds.test.empty()) throw Error("dataset '" + ds.root + "': no test images");
  const int channels = static_cast<int>(model.config().channels);
  check_decodable(ds.test, channels);

  // Everything is valid: from here on files are written, into a staging directory that
  // replaces `out` only when everything is written.
  StagedOutput staged(out);
  const fs::path dir_out(staged.path());
  const size_t n = ds.test.size();
  std::vector<std::string> types(n);
  std::vector<float> scores(n), unreferenced(n);
  std::vector<uint8_t> labels(n);
  std::vector<std::vector<float>> maps(n);
  std::vector<std::vector<uint8_t>> masks(n);
  std::vector<eval::ScoreMap> score_maps(n);
  std::map<std::string, int> counts;
  std::vector<eval::ReportImage> report_images(n);
  std::string csv = "path,type,label,raw_score,score,predicted\n";
  // Panels by stem; test images of one type that share a stem (000.png, 000.jpg) keep their
  // extension in the name, so neither panel replaces the other.
  std::map<std::string, int> stem_count;
  for (const data::ImageItem& it : ds.test) stem_count[it.type + "/" + fs::path(it.path).stem().string()] += 1;
  auto panel_name = [&](const data::ImageItem& it) {
    const fs::path p(it.path);
    std::string name = p.stem().string();
    if (stem_count[it.type + "/" + name] > 1) {
      name += '_';
      name += p.extension().string().substr(1);
    }
    return name + ".png";
  };
  ProgressBar bar("test", static_cast<long>(n), "img", quiet);
  for (size_t i = 0; i < n; ++i) {
    const data::ImageItem& it = ds.test[i];
    Tensor image = data::load_image(it.path, channels);  // (C, H, W) in [0, 1]
    const int64_t h = image.dim(1), w = image.dim(2);
    Prediction p = predict_named(model, image, 0.5, it.path);
    // Metrics use the raw map at the mask's (= image's) size: normalisation clips, which
    // would create ties.
    const int64_t s = p.raw_map.dim(-1);
    maps[i] = plane_values(
        data::resize(p.raw_map.reshape({1, p.raw_map.dim(-2), s}), static_cast<int>(h), static_cast<int>(w)));
    Tensor mask;                                         // undefined: no mask known (the panel shows a gray tile)
    if (!it.anomalous) mask = Tensor::zeros({1, h, w});  // a good image has no defect pixels
    if (!it.mask_path.empty()) {
      mask = data::load_mask(it.mask_path);  // (1, H, W) {0, 1}
      std::vector<float> mv = mask.to_vector();
      masks[i].resize(mv.size());
      for (size_t k = 0; k < mv.size(); ++k) masks[i][k] = mv[k] >= 0.5f ? 1 : 0;
    }
    types[i] = it.type;
    scores[i] = static_cast<float>(p.raw_score);
    unreferenced[i] = static_cast<float>(p.raw_score_unreferenced);
    labels[i] = it.anomalous ? 1 : 0;
    score_maps[i] = {maps[i], masks[i], static_cast<int>(w), static_cast<int>(h)};
    counts[it.type] += 1;
    report_images[i] = {it.path, it.type, "", it.anomalous, p.raw_score, p.score};
    if (panels) {
      const fs::path dir = dir_out / "panels" / it.type;
      fs::create_directories(dir);
      data::save_png((dir / panel_name(it)).string(), make_panel(image, mask, p.map));
      report_images[i].panel = "panels/" + it.type + "/" + panel_name(it);
    }
    csv += csv_field(it.path) + "," + csv_field(it.type) + "," + (it.anomalous ? "1" : "0") + "," +
           fmt_double(p.raw_score) + "," + fmt_double(p.score) + "," + (p.anomalous ? "1" : "0") + "\n";
    bar.advance(1);
  }
  const double seconds = bar.finish();

  std::span<const eval::ScoreMap> map_span;
  if (ds.has_masks) map_span = score_maps;  // without masks the pixel metrics are null
  eval::MetricsReport report = eval::evaluate(types, scores, labels, map_span);
  std::string metrics = eval::report_json(report);
  if (model.score_reference().defined()) {
    // A model with score_reference=mean: the image AUROC its scores would have without the
    // reference map, so that one test run shows what the reference did.
    Json j = Json::parse(metrics);
    const std::optional<double> a = eval::roc_auc(unreferenced, labels);
    j.set("image_auroc_unreferenced", a ? Json(*a) : Json());
    metrics = j.dump(2) + "\n";
  }
  write_file_atomic((dir_out / "metrics.json").string(), metrics);
  write_file_atomic((dir_out / "scores.csv").string(), csv);
  write_file_atomic((dir_out / "report.html").string(),
                    eval::html_report(report_input(a.require("--model"), model, report, scores, labels, map_span,
                                                   std::move(report_images))),
                    "report");
  staged.commit();

  std::fprintf(io.out, "%s", metrics_table(report, counts, static_cast<int>(n)).c_str());
  std::fprintf(io.out, "test: %zu images in %s (%.1f img/s); metrics: %s\n", n, format_duration(seconds).c_str(),
               seconds > 0 ? static_cast<double>(n) / seconds : 0.0, (fs::path(out) / "metrics.json").c_str());
  if (panels) std::fprintf(io.out, "panels: %s/<type>/<image>.png\n", (fs::path(out) / "panels").c_str());
  std::fprintf(io.out, "report: %s\n", (fs::path(out) / "report.html").c_str());
  return 0;
}

// ---- predict -----------------------------------------------------------------------------

int run_predict(const Args& a, Streams& io) {
  const std::string out = a.require("--out");
  const std::string input = a.require("--input");
  a.require("--model");
  const double threshold = a.get_double("--threshold", 0.0, 1.0).value_or(0.5);
  const bool quiet = a.has("--quiet");
  const Device device = setup_runtime(a);
  check_output_dir("--out", out, a.has("--overwrite"), "pass --overwrite to replace its files");
  AnomalyModel model = load_model(a, device, io);

  std::error_code ec;
  std::vector<data::ImageItem> items;
  auto add = [&](const std::string& path) {
    data::ImageItem it;
    it.path = path;
    items.push_back(it);
  };
  if (fs::is_directory(input, ec)) {
    for (const std::string& p : data::list_images(input)) add(p);
    if (items.empty()) throw Error("--input '" + input + "': no images (.png, .jpg, .jpeg, .bmp) in this directory");
  } else if (fs::exists(input, ec)) {
    add(input);
  } else {
    throw Error("--input '" + input + "': no such file or directory");
  }
  const int channels = static_cast<int>(model.config().channels);
  check_decodable(items, channels);
  // Output names by stem; inputs that share a stem (a.png, a.jpg) keep their extension.
  std::map<std::string, int> stem_count;
  for (const auto& it : items) stem_count[fs::path(it.path).stem().string()] += 1;
  auto out_name = [&](const std::string& path) {
    const fs::path p(path);
    std::string stem = p.stem().string();
    if (stem_count[stem] > 1) {
      // Appended piecewise: GCC 12 raises a false -Wrestrict on "_" + std::string.
      stem += '_';
      stem += p.extension().string().substr(1);
    }
    return stem + "_heatmap.png";
  };

  StagedOutput staged(out);  // replaces `out` only when everything is written
  const fs::path dir_out(staged.path());
  std::string csv = "path,raw_score,score,label,latency_ms\n";
  std::vector<double> latencies;
  int anomalous = 0;
  for (const data::ImageItem& it : items) {
    Tensor image = data::load_image(it.path, channels);
    const auto t0 = std::chrono::steady_clock::now();
    Prediction p = predict_named(model, image, threshold, it.path);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    latencies.push_back(ms);
    anomalous += p.anomalous ? 1 : 0;
    data::save_png((dir_out / out_name(it.path)).string(), heatmap_overlay(image, p.map));
    const char* label = p.anomalous ? "anomalous" : "normal";
    csv += csv_field(it.path) + "," + fmt_double(p.raw_score) + "," + fmt_double(p.score) + "," + label + "," +
           fmt_double(ms) + "\n";
    if (!quiet) std::fprintf(io.out, "%s  score %.4f  %-9s  %.1f ms\n", it.path.c_str(), p.score, label, ms);
  }
  write_file_atomic((dir_out / "predictions.csv").string(), csv);
  staged.commit();

  std::vector<double> sorted = latencies;
  std::sort(sorted.begin(), sorted.end());
  double sum = 0;
  for (double v : latencies) sum += v;
  const double median = sorted[sorted.size() / 2];
  std::fprintf(io.out,
               "predict: %zu images, %d anomalous (threshold %.3g); latency per image on %s: median %.1f ms, "
               "mean %.1f ms, min %.1f ms, max %.1f ms (the first includes warm-up); %s\n",
               items.size(), anomalous, threshold, model.device().str().c_str(), median,
               sum / static_cast<double>(latencies.size()), sorted.front(), sorted.back(),
               (fs::path(out) / "predictions.csv").c_str());
  return 0;
}

}  // namespace sad::cli
