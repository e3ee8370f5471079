// eval/metrics against golden values from scikit-learn (roc_auc_score,
// average_precision_score), scipy.ndimage.label (8-connectivity) and a brute-force Python
// rendering of the MVTec AD AUPRO procedure: tests/data/metrics_fixtures.txt, written by
// tools/make_metric_fixtures.py (see there for the format). No Python is needed here.
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "eval/metrics.h"
#include "test_util.h"

using namespace sad::eval;

namespace {

const std::string kFixtureVersion = "sparsead-metric-fixtures 1";
const std::string kRegenerate = "regenerate with: python3 tools/make_metric_fixtures.py";

// scikit-learn and the Python AUPRO sum in other orders (cumsum of floats, np.trapz-like
// sums) and differ from our exact counts by ~1e-15; 1e-9 leaves ample room while any wrong
// tie, threshold or region handling moves a metric by at least 1 / (P N) > 1e-7 here.
constexpr double kTol = 1e-9;

std::string fixture_path() {
  const std::string rel = "tests/data/metrics_fixtures.txt";
#ifdef SPARSEAD_SOURCE_DIR
  return std::string(SPARSEAD_SOURCE_DIR) + "/" + rel;
#else
  return rel;  // ctest runs the suite from the source root
#endif
}

struct Image {
  int w = 0, h = 0;
  std::vector<float> scores;
  std::vector<uint8_t> mask;  // empty for `mask none`
  std::vector<int32_t> regions;
};

struct Case {
  std::string kind, name;
  std::vector<float> scores;  // binary cases
  std::vector<uint8_t> labels;
  std::vector<Image> images;  // pixel cases
  std::vector<std::optional<double>> expect;
};

std::optional<double> parse_expect(const std::string& tok) {
  if (tok == "none") return std::nullopt;
  return std::strtod(tok.c_str(), nullptr);
}

std::vector<Case> load_fixtures() {
  std::ifstream in(fixture_path());
  REQUIRE_MESSAGE(in.good(), "cannot open " << fixture_path() << " (run from the source root; " << kRegenerate << ")");
  std::string line;
  std::getline(in, line);
  REQUIRE_MESSAGE(line == kFixtureVersion,
                  "fixture version '" << line << "', expected '" << kFixtureVersion << "': " << kRegenerate);
  std::vector<Case> cases;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string key, tok;
    ls >> key;
    if (key == "binary" || key == "pixel") {
      cases.push_back({});
      ls >> cases.back().name;
      cases.back().kind = key;
      continue;
    }
    REQUIRE_MESSAGE(!cases.empty(), "fixture record before any case: " << line);
    Case& c = cases.back();
    if (key == "image") {
      c.images.push_back({});
      ls >> c.images.back().w >> c.images.back().h;
    } else if (key == "scores") {
      auto& dst = c.kind == "binary" ? c.scores : c.images.back().scores;
      while (ls >> tok) dst.push_back(std::strtof(tok.c_str(), nullptr));  // shortest float32 form: exact
    } else if (key == "labels") {
      while (ls >> tok) c.labels.push_back(static_cast<uint8_t>(std::stoi(tok)));
    } else if (key == "mask") {
      while (ls >> tok)
        if (tok != "none") c.images.back().mask.push_back(static_cast<uint8_t>(std::stoi(tok)));
    } else if (key == "regions") {
      while (ls >> tok) c.images.back().regions.push_back(std::stoi(tok));
    } else if (key == "expect") {
      while (ls >> tok) c.expect.push_back(parse_expect(tok));
    } else {
      FAIL("unknown fixture record '" << key << "': " << kRegenerate);
    }
  }
  return cases;
}

void check_opt(const std::optional<double>& got, const std::optional<double>& want, const std::string& what) {
  if (!want) {
    CHECK_MESSAGE(!got.has_value(), what << ": expected undefined, got " << *got);
  } else if (!got) {
    CHECK_MESSAGE(false, what << ": undefined, expected " << *want);
  } else {
    CHECK_MESSAGE(std::abs(*got - *want) <= kTol,
                  what << ": got " << *got << " expected " << *want << " (diff " << *got - *want << ")");
  }
}

// Two labellings describe the same regions iff background agrees and the label pairs form a
// bijection (scipy and we may number regions differently in principle).
bool same_partition(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  if (a.size() != b.size()) return false;
  std::map<int32_t, int32_t> ab, ba;
  for (size_t i = 0; i < a.size(); ++i) {
    if ((a[i] == 0) != (b[i] == 0)) return false;
    if (a[i] == 0) continue;
    if (ab.emplace(a[i], b[i]).first->second != b[i]) return false;  // a label split in b
    if (ba.emplace(b[i], a[i]).first->second != a[i]) return false;  // two a labels merged in b
  }
  return true;
}

void check_f1(const std::optional<F1Max>& got, const std::vector<std::optional<double>>& want, size_t at,
              const std::string& what) {
  check_opt(got ? std::optional<double>(got->f1) : std::nullopt, want[at], what + " f1");
  if (got && want[at + 1]) {
    // The threshold is one of the input scores: exact float equality.
    CHECK_MESSAGE(got->threshold == static_cast<float>(*want[at + 1]),
                  what << " f1 threshold: got " << got->threshold << " expected " << *want[at + 1]);
  }
}

}  // namespace

TEST_CASE("metrics fixtures: every case matches scikit-learn and scipy and the Python AUPRO") {
  const std::vector<Case> cases = load_fixtures();
  REQUIRE(cases.size() >= 20);
  int binary = 0, pixel = 0;
  for (const Case& c : cases) {
    const std::string what = c.kind + " " + c.name;
    INFO(what);
    if (c.kind == "binary") {
      ++binary;
      REQUIRE(c.expect.size() == 6);
      REQUIRE(c.scores.size() == c.labels.size());
      check_opt(roc_auc(c.scores, c.labels), c.expect[0], what + " roc_auc");
      check_opt(average_precision(c.scores, c.labels), c.expect[1], what + " average_precision");
      const auto f1 = f1_max(c.scores, c.labels);
      check_f1(f1, c.expect, 2, what);
      if (f1 && c.expect[4] && c.expect[5]) {
        check_opt(f1->precision, c.expect[4], what + " f1 precision");
        check_opt(f1->recall, c.expect[5], what + " f1 recall");
      }
      continue;
    }
    ++pixel;
    REQUIRE(c.expect.size() == 7);
    std::vector<ScoreMap> maps;
    for (size_t i = 0; i < c.images.size(); ++i) {
      const Image& im = c.images[i];
      maps.push_back({im.scores, im.mask, im.w, im.h});
      std::vector<int32_t> ours(im.scores.size());
      label_regions_8(im.mask, im.w, im.h, ours);
      CHECK_MESSAGE(same_partition(ours, im.regions), what << " image " << i << ": regions differ from scipy");
    }
    const PixelMetrics m = pixel_metrics(maps);
    check_opt(m.auroc, c.expect[0], what + " pixel_auroc");
    check_opt(m.ap, c.expect[1], what + " pixel_ap");
    check_opt(m.aupro, c.expect[2], what + " aupro@0.3");
    check_opt(aupro(maps, 0.1), c.expect[3], what + " aupro@0.1");
    check_opt(aupro(maps, 1.0), c.expect[4], what + " aupro@1.0");
    check_opt(pixel_auroc(maps), c.expect[0], what + " pixel_auroc alone");
    check_opt(pixel_ap(maps), c.expect[1], what + " pixel_ap alone");
    check_f1(pixel_f1_max(maps), c.expect, 5, what + " pixel");
  }
  MESSAGE(binary << " binary and " << pixel << " pixel fixture cases");
  CHECK(binary >= 10);
  CHECK(pixel >= 10);
}
