// The method end to end, measured: the demo (scripts/demo.sh, its own commands read from
// the script so the two cannot drift apart) must reach image and pixel AUROC >= 0.95, and
// a brief training run on the real MTD set must beat chance (skipped when ../shared is
// absent). These are the slowest cases of the suite: minutes, not seconds.
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

// The arguments of the `"$sparsead" <verb> ...` command in scripts/demo.sh: continuation
// lines joined, split on blanks, quotes dropped and "$demo" replaced by `dir`. The script
// uses no other quoting or expansion on these lines; anything else is refused, so a
// change to the script that this reader cannot follow fails loudly here.
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

TEST_CASE("end to end: the demo's data and training reach image and pixel AUROC of at least 0.95") {
  TempDir d("demo");
  const std::string demo = d.path().string();
  const std::vector<std::string> synth = demo_command("synth", demo);
  std::vector<std::string> train = demo_command("train", demo);
  CAPTURE(train.size());
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
  CHECK(image_auroc >= 0.95);
  CHECK(pixel_auroc >= 0.95);
}
