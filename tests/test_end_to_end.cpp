// The method end to end, measured: the demo (scripts/demo.sh, its own commands read from
// the script so the two cannot drift apart) must reach image and pixel AUROC >= 0.95, and
// a brief training run on the real MTD set must beat chance (skipped when ../shared is
// absent). These are the slowest cases of the suite: minutes, not seconds.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli_test_util.h"
#include "data_test_util.h"
#include "tensor/json.h"
#include "test_util.h"

using namespace sad;
using sad::test::Run;
using sad::test::sparsead;
using sad::test::TempDir;
namespace fs = std::filesystem;

namespace {

// The words of the bash array `name=(...)` in scripts/demo-config.sh (one line, blanks
// between words, no quoting: anything else is refused).
std::vector<std::string> demo_config_array(const std::string& name) {
  const std::string path = std::string(SPARSEAD_SOURCE_DIR) + "/scripts/demo-config.sh";
  std::ifstream in(path);
  REQUIRE_MESSAGE(in, "cannot read ", path);
  std::string line;
  const std::string head = name + "=(";
  while (std::getline(in, line)) {
    if (line.rfind(head, 0) != 0) continue;
    REQUIRE_MESSAGE(line.back() == ')', path, ": ", name, " must be one line ending in ')'");
    std::istringstream words(line.substr(head.size(), line.size() - head.size() - 1));
    std::vector<std::string> out;
    std::string w;
    while (words >> w) {
      REQUIRE_MESSAGE(w.find_first_of("$`'\"*?()") == std::string::npos, path, ": cannot follow the word ", w);
      out.push_back(w);
    }
    return out;
  }
  FAIL(path, " has no ", head, "...) line");
  return {};
}

// The arguments of the `"$sparsead" <verb> ...` command in scripts/demo.sh: continuation
// lines joined, split on blanks, quotes dropped, "$demo" replaced by `dir` and
// "${NAME[@]}" by the array NAME of scripts/demo-config.sh. The script uses no other
// quoting or expansion on these lines; anything else is refused, so a change to the
// script that this reader cannot follow fails loudly here.
std::vector<std::string> demo_command(const std::string& verb, const std::string& dir) {
  const std::string path = std::string(SPARSEAD_SOURCE_DIR) + "/scripts/demo.sh";
  std::ifstream in(path);
  REQUIRE_MESSAGE(in, "cannot read ", path);
  std::string line, joined;
  const std::string head = "\"$sparsead\" " + verb + " ";
  while (std::getline(in, line)) {
    const size_t first = line.find_first_not_of(' ');
    if (joined.empty() && (first == std::string::npos || line.compare(first, head.size(), head) != 0)) continue;
    if (!line.empty() && line.back() == '\\') {
      joined += line.substr(0, line.size() - 1) + " ";
      continue;
    }
    joined += line;
    break;
  }
  REQUIRE_MESSAGE(!joined.empty(), path, " has no `", head, "...` line");
  std::vector<std::string> args;
  std::istringstream words(joined);
  std::string w;
  words >> w;  // "$sparsead"
  while (words >> w) {
    std::string a;
    for (char ch : w)
      if (ch != '"') a += ch;
    if (a.rfind("$demo", 0) == 0) a = dir + a.substr(5);
    if (a.rfind("${", 0) == 0 && a.size() > 6 && a.compare(a.size() - 4, 4, "[@]}") == 0) {
      for (const std::string& v : demo_config_array(a.substr(2, a.size() - 6))) args.push_back(v);
      continue;
    }
    REQUIRE_MESSAGE(a.find_first_of("$`'*?") == std::string::npos, "demo.sh: cannot follow the word ", w);
    args.push_back(a);
  }
  return args;
}

double metric(const Json& m, const char* key) {
  const Json& v = m.get(key, "metrics.json");
  REQUIRE_MESSAGE(v.is_number(), key, " is not a number in metrics.json");
  return v.as_number();
}

}  // namespace

#ifdef SPARSEAD_SANITIZED
// Under AddressSanitizer the demo's full budget takes over 20 minutes on 2 cores, most of
// CI's time, and checks no code that a tenth of it does not: the sanitizer build runs the
// demo's own commands with a tenth of each phase's steps and checks that every stage
// succeeds and writes metrics in [0, 1]. The 0.95 bar is the Release build's.
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

// The demo's train command with its phase 1 budget cut to a tenth and phase 2's to 80 steps.
void shorten_for_sanitizer(std::vector<std::string>& train) {
  const auto it = std::find(train.begin(), train.end(), "--epochs-gan");
  REQUIRE_MESSAGE(it != train.end(), "demo.sh's train command has no --epochs-gan");
  REQUIRE(it + 1 != train.end());
  const int epochs = std::stoi(*(it + 1));
  *(it + 1) = std::to_string(std::max(epochs / 10, 1));
  train.insert(train.end(), {"--steps-seg", "80"});
}

TEST_CASE("end to end: the demo's commands are read with scripts/demo-config.sh's settings spliced in") {
  const std::vector<std::string> synth = demo_command("synth", "/d"), train = demo_command("train", "/d");
  const std::vector<std::string> sa = demo_config_array("DEMO_SYNTH_ARGS"), ta = demo_config_array("DEMO_TRAIN_ARGS");
  REQUIRE(!sa.empty());
  REQUIRE(!ta.empty());
  CHECK(std::search(synth.begin(), synth.end(), sa.begin(), sa.end()) != synth.end());
  CHECK(std::search(train.begin(), train.end(), ta.begin(), ta.end()) != train.end());
  CHECK(synth.front() == "synth");
  CHECK(train.front() == "train");
  CHECK(std::find(train.begin(), train.end(), "/d/data") != train.end());
  for (const std::string& w : train) CHECK_MESSAGE(w.find('$') == std::string::npos, "unexpanded word ", w);
}

TEST_CASE("end to end: the demo's data and training reach image and pixel AUROC of at least 0.95") {
  TempDir d("demo");
  const std::string demo = d.path().string();
  const std::vector<std::string> synth = demo_command("synth", demo);
  std::vector<std::string> train = demo_command("train", demo);
  CAPTURE(train.size());
  if (kSanitized) shorten_for_sanitizer(train);
  train.push_back("--quiet");
  train.push_back("--device");
  train.push_back("cpu");

  Run s = sparsead(synth);
  INFO(s.err);
  REQUIRE(s.rc == 0);
  Run t = sparsead(train);
  INFO(t.err);
  REQUIRE(t.rc == 0);
  Run e = sparsead({"test", "--model", demo + "/run/model.safetensors", "--data", demo + "/data", "--out",
                    demo + "/test", "--quiet", "--no-panels", "--device", "cpu"});
  INFO(e.err);
  REQUIRE(e.rc == 0);
  const Json m = Json::parse(sad::test::read_bytes(demo + "/test/metrics.json"));
  const double image_auroc = metric(m, "image_auroc"), pixel_auroc = metric(m, "pixel_auroc");
  MESSAGE("demo: image AUROC ", image_auroc, ", pixel AUROC ", pixel_auroc, ", AUPRO ", metric(m, "aupro"));
  if (kSanitized) {
    MESSAGE("sanitizer build: a tenth of the demo's budget, so only the metrics' range is checked");
    CHECK(image_auroc >= 0.0);
    CHECK(image_auroc <= 1.0);
    CHECK(pixel_auroc >= 0.0);
    CHECK(pixel_auroc <= 1.0);
    return;
  }
  CHECK(image_auroc >= 0.95);
  CHECK(pixel_auroc >= 0.95);
}

namespace {

// Every k-th of the sorted regular files in `dir` (k = count / n), at most n of them: a
// fixed, evenly spread subset.
std::vector<fs::path> spread_subset(const fs::path& dir, size_t n) {
  std::vector<fs::path> all;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) all.push_back(e.path());
  std::sort(all.begin(), all.end());
  std::vector<fs::path> out;
  const size_t k = std::max<size_t>(all.size() / n, 1);
  for (size_t i = 1; i <= all.size() && out.size() < n; ++i)
    if (i % k == 0) out.push_back(all[i - 1]);
  return out;
}

// An MVTec-layout view of MTD made of symbolic links: `n_train` normal training images,
// 5 x `n_per_type` good test images and `n_per_type` of each defect type with its mask.
void link_mtd_subset(const std::string& mtd, const std::string& out, size_t n_train, size_t n_per_type) {
  fs::create_directories(out + "/train/good");
  for (const fs::path& p : spread_subset(mtd + "/train/good", n_train))
    fs::create_symlink(p, out + "/train/good/" + p.filename().string());
  for (const auto& t : fs::directory_iterator(mtd + "/test")) {
    const std::string type = t.path().filename().string();
    fs::create_directories(out + "/test/" + type);
    const bool good = type == "good";
    for (const fs::path& p : spread_subset(t.path(), good ? 5 * n_per_type : n_per_type)) {
      fs::create_symlink(p, out + "/test/" + type + "/" + p.filename().string());
      if (good) continue;
      const std::string mask = p.stem().string() + "_mask.png";
      fs::create_directories(out + "/ground_truth/" + type);
      fs::create_symlink(mtd + "/ground_truth/" + type + "/" + mask, out + "/ground_truth/" + type + "/" + mask);
    }
  }
}

const bool kHaveMtd = !sad::test::mtd_root().empty();

}  // namespace

// Brief training on real data must find real defects better than chance. The cheapest
// honest check is phase 1 (the GAN) and the residual map: after 10 short epochs the
// segmenter of phase 2 is not yet reliable (measured: image AUROC 0.40 to 0.57 over three
// seeds), while the residual map already localises. Over seeds 0 to 5 at this config the
// residual map gave pixel AUROC 0.57 to 0.68 and AUPRO 0.33 to 0.54 (chance: 0.5 and about
// 0.15; twelve runs: before and after the golden checks' numerics fixes), but image AUROC
// 0.47 to 0.62 on these 80 test images, too close to chance to assert. The floors sit
// below the lowest run, so they hold on another machine's arithmetic; the test itself
// uses seed 0 (pixel AUROC 0.574, AUPRO 0.328, the lowest of the twelve).
TEST_CASE("end to end: brief training on MTD finds its defects better than chance" * doctest::skip(!kHaveMtd)) {
  const std::string mtd = sad::test::mtd_root();
  if (mtd.empty()) {  // run with --no-skip
    MESSAGE("SKIPPED: ../shared/data/mtd not found (a clone without shared/ beside it)");
    return;
  }
  TempDir d("mtd");
  const std::string data = d / "mtd";
  link_mtd_subset(mtd, data, 200, 8);  // 200 train; test: 40 good, 8 of each of 5 defect types
  Run t = sparsead({"train", "--data", data, "--out", d / "run", "--mode", "residual", "--seed", "0", "--set",
                    "image_size=64", "width=8", "--epochs-gan", "10", "--batch", "16", "--quiet", "--device", "cpu"});
  INFO(t.err);
  REQUIRE(t.rc == 0);
  Run e = sparsead({"test", "--model", d / "run/model.safetensors", "--data", data, "--out", d / "test", "--quiet",
                    "--no-panels", "--device", "cpu"});
  INFO(e.err);
  REQUIRE(e.rc == 0);
  const Json m = Json::parse(sad::test::read_bytes(d / "test/metrics.json"));
  const double pixel_auroc = metric(m, "pixel_auroc"), aupro = metric(m, "aupro");
  MESSAGE("MTD brief: image AUROC ", metric(m, "image_auroc"), ", pixel AUROC ", pixel_auroc, ", AUPRO ", aupro);
  CHECK(pixel_auroc >= 0.55);
  CHECK(aupro >= 0.25);
}
