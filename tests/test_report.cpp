// report.html: the curves behind its plots, the page itself, and the page as a real browser
// (headless Chromium) lays it out.
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli_fixtures.h"
#include "data/image.h"
#include "eval/html_report.h"
#include "eval/metrics.h"
#include "tensor/json.h"
#include "tensor/rng.h"

using namespace sad;
using namespace sad::test;

namespace {

double trapezoids(const std::vector<eval::CurvePoint>& c) {
  double a = 0;
  for (size_t i = 1; i < c.size(); ++i) a += 0.5 * (c[i].y + c[i - 1].y) * (c[i].x - c[i - 1].x);
  return a;
}

bool has_chromium() { return std::system("command -v chromium >/dev/null 2>&1") == 0; }

// Runs headless Chromium on a local file; returns its exit status.
int chromium(const std::string& args, const std::string& out_file) {
  const std::string cmd = "timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars " + args +
                          " > '" + out_file + "' 2>/dev/null";
  return std::system(cmd.c_str());
}

}  // namespace

TEST_CASE("report curves: the ROC and PRO corners integrate to the exact AUROC and AUPRO") {
  Rng rng(7);
  std::vector<float> scores(300);
  std::vector<uint8_t> labels(300);
  for (size_t i = 0; i < scores.size(); ++i) {
    labels[i] = i % 3 == 0;
    // Rounded to tenths: many ties, which the curve must cross diagonally as the AUROC does.
    scores[i] = static_cast<float>(std::round((rng.uniform(0, 1) + 0.4 * labels[i]) * 10) / 10);
  }
  const std::vector<eval::CurvePoint> roc = eval::roc_curve(scores, labels, 0);
  REQUIRE(roc.size() >= 3);
  CHECK(roc.front().x == 0.0);
  CHECK(roc.front().y == 0.0);
  CHECK(roc.back().x == 1.0);
  CHECK(roc.back().y == 1.0);
  CHECK(trapezoids(roc) == doctest::Approx(*eval::roc_auc(scores, labels)).epsilon(1e-12));

  // Two 20 x 20 maps with three defect regions.
  const int w = 20, h = 20;
  std::vector<std::vector<float>> maps(2, std::vector<float>(w * h));
  std::vector<std::vector<uint8_t>> masks(2, std::vector<uint8_t>(w * h, 0));
  for (int k = 0; k < 2; ++k)
    for (int i = 0; i < w * h; ++i) maps[k][i] = static_cast<float>(rng.uniform(0, 1));
  auto region = [&](int k, int x0, int y0, int x1, int y1) {
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) {
        masks[k][y * w + x] = 1;
        maps[k][y * w + x] += 0.5f;
      }
  };
  region(0, 2, 2, 6, 5);
  region(0, 12, 10, 14, 18);
  region(1, 5, 5, 15, 15);
  const std::vector<eval::ScoreMap> sm = {{maps[0], masks[0], w, h}, {maps[1], masks[1], w, h}};
  const eval::PixelCurves pc = eval::pixel_curves(sm, 0.3, 0);
  CHECK(trapezoids(pc.roc) == doctest::Approx(*eval::pixel_auroc(sm)).epsilon(1e-12));
  REQUIRE(!pc.pro.empty());
  CHECK(pc.pro.back().x == doctest::Approx(0.3));
  CHECK(trapezoids(pc.pro) / 0.3 == doctest::Approx(*eval::aupro(sm, 0.3)).epsilon(1e-9));

  // Thinned for drawing: ends kept, fewer points.
  const eval::PixelCurves thin = eval::pixel_curves(sm, 0.3, 20);
  CHECK(thin.roc.size() < pc.roc.size());
  CHECK(thin.roc.size() <= 2 * 20 + 2);
  CHECK(thin.roc.back().x == 1.0);
  CHECK(thin.pro.back().x == doctest::Approx(0.3));
}

TEST_CASE("report page: text is escaped and the worst lists mark false negatives and false positives") {
  eval::HtmlReportInput in;
  in.title = "runs/<a&b>/model.safetensors";
  in.images = {{"t/good/0.png", "good", "panels/good/0.png", false, 0.9, 0.8},  // a false positive
               {"t/good/1.png", "good", "", false, 0.1, 0.2},
               {"t/hole/0.png", "hole", "panels/hole/0.png", true, 0.05, 0.1},  // a false negative
               {"t/hole/1.png", "hole", "", true, 0.95, 0.9},
               {"t/hole/a#b 2.png", "hole", "panels/hole/a#b 2.png", true, 0.01, 0.05}};
  in.image_roc = {{0, 0}, {0.5, 0.5}, {1, 1}};
  in.raw_threshold = 0.5;
  in.settings = {{"mode", "sparse-kl"}, {"note", "x < y"}};
  in.train_log_csv = "phase,step,epoch,loss_d,loss_g\ngan,10,1,0.7,0.6\ngan,20,2,0.6,0.5\n";
  in.train_log_source = "run/train_log.csv";
  const std::string html = eval::html_report(in);
  CHECK(html.find("runs/&lt;a&amp;b&gt;/model.safetensors") != std::string::npos);
  CHECK(html.find("<a&b>") == std::string::npos);
  CHECK(html.find("x &lt; y") != std::string::npos);
  CHECK(html.find("false negative") != std::string::npos);
  CHECK(html.find("false positive") != std::string::npos);
  CHECK(html.find("<img src=\"panels/hole/0.png\"") != std::string::npos);
  CHECK(html.find("id=\"train-gan\"") != std::string::npos);
  CHECK(html.find("id=\"roc-pixel\"") == std::string::npos);  // no masks: no pixel curves
  // Nothing is fetched: no external script, style, font or image.
  for (const char* bad : {"src=\"http", "href=\"http", "<link", "@import", "url("}) {
    CAPTURE(bad);
    CHECK(html.find(bad) == std::string::npos);
  }
  CHECK(eval::html_escape("'\"") == "&#39;&quot;");
  // A panel link is a URL: '#' and ' ' in a file name are percent-encoded.
  CHECK(html.find("href=\"panels/hole/a%23b%202.png\"") != std::string::npos);
}

TEST_CASE("report page: headless Chromium renders sparsead test's report.html with every plot and table laid out" *
          doctest::skip(!has_chromium())) {
  TempDir d("report");
  const std::string ds = tiny_dataset(d);
  const std::string run = d / "run";
  Run t = sparsead(tiny_train(ds, run, 2));
  INFO(t.err);
  REQUIRE(t.rc == 0);
  Run e = sparsead({"test", "--model", run + "/model.safetensors", "--data", ds, "--out", d / "eval", "--quiet"});
  INFO(e.err);
  REQUIRE(e.rc == 0);
  const std::string page = d / "eval/report.html";
  REQUIRE(fs::exists(page));
  CHECK(e.out.find("report: ") != std::string::npos);

  // The inline script writes the rendered sizes into <pre id="layout">; --dump-dom shows it.
  REQUIRE(chromium("--dump-dom 'file://" + page + "'", d / "dom.html") == 0);
  const std::string dom = read_bytes(d / "dom.html");
  const std::string tag = "<pre id=\"layout\">";
  const size_t at = dom.find(tag);
  REQUIRE_MESSAGE(at != std::string::npos, "no layout record in the rendered page");
  const size_t end = dom.find("</pre>", at);
  REQUIRE(end != std::string::npos);
  const Json layout = Json::parse(dom.substr(at + tag.size(), end - at - tag.size()));
  const auto& plots = layout.get("plots", "layout").as_array();
  // image ROC, pixel ROC, PRO, histogram, both training phases.
  CHECK(plots.size() == 6);
  for (const Json& p : plots) {
    CAPTURE(p.dump());
    CHECK(p.get("w", "plot").as_number() >= 200);
    CHECK(p.get("h", "plot").as_number() >= 140);
  }
  bool metrics_seen = false;
  for (const Json& tb : layout.get("tables", "layout").as_array()) {
    if (tb.get("id", "table").as_string() != "metrics") continue;
    metrics_seen = true;
    CHECK(tb.get("rows", "table").as_number() == 4);  // header, all, hole, scratch
    CHECK(tb.get("w", "table").as_number() >= 300);
  }
  CHECK(metrics_seen);

  // The screenshot is not blank: a good share of its pixels are not the white background.
  const std::string shot = d / "shot.png";
  REQUIRE(chromium("--window-size=1200,1600 --screenshot='" + shot + "' 'file://" + page + "'", d / "shot.log") == 0);
  const Tensor img = data::load_image(shot, 3);  // (3, H, W) in [0, 1]
  const std::vector<float> v = img.to_vector();
  const size_t plane = v.size() / 3;
  size_t inked = 0;
  for (size_t i = 0; i < plane; ++i)
    if (v[i] < 0.9f || v[plane + i] < 0.9f || v[2 * plane + i] < 0.9f) ++inked;
  const double share = static_cast<double>(inked) / static_cast<double>(plane);
  MESSAGE("report screenshot: ", img.dim(2), " x ", img.dim(1), ", ", share * 100, " % of the pixels inked");
  CHECK(share > 0.02);
}
