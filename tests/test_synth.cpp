// The procedural dataset: byte-identical files from one seed, non-empty masks exactly for
// defect images, a layout the dataset reader accepts, and the all-or-nothing write.
#include <filesystem>
#include <map>

#include "data/dataset.h"
#include "data/image.h"
#include "data/synth.h"
#include "data_test_util.h"
#include "test_util.h"

using namespace sad;
using namespace sad::data;
using sad::test::has;
using sad::test::TempDir;
namespace fs = std::filesystem;

namespace {

SynthConfig small(SynthKind kind, int channels, uint64_t seed) {
  SynthConfig cfg;
  cfg.seed = seed;
  cfg.kind = kind;
  cfg.size = 40;  // odd multiple of nothing in particular
  cfg.channels = channels;
  cfg.train = 3;
  cfg.test_good = 2;
  cfg.per_defect = 2;
  return cfg;
}

// Relative path -> bytes of every file under root.
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) out[fs::relative(e.path(), root).string()] = sad::test::read_bytes(e.path().string());
  return out;
}

double mask_sum(const Tensor& m) {
  double s = 0;
  for (float v : m.to_vector()) s += v;
  return s;
}

}  // namespace

TEST_CASE("synth: the same seed writes byte-identical files and another seed does not") {
  TempDir d("synth");
  SynthConfig cfg = small(SynthKind::Fabric, 3, 5);
  generate_synthetic_dataset(cfg, d / "a");
  generate_synthetic_dataset(cfg, d / "b");
  auto a = snapshot(d.path() / "a"), b = snapshot(d.path() / "b");
  CHECK(a.size() == 3 + 2 + 4 * 2 * 2);  // train, test/good, and image + mask per defect image
  CHECK(a == b);
  cfg.seed = 6;
  generate_synthetic_dataset(cfg, d / "c");
  auto c = snapshot(d.path() / "c");
  CHECK(c.size() == a.size());
  CHECK(c.at("train/good/000.png") != a.at("train/good/000.png"));
  CHECK(a.count("ground_truth/crack/001_mask.png") == 1);
  CHECK(a.count("test/stain/000.png") == 1);
}

TEST_CASE("synth: masks are non-empty for defect images and empty for normal ones in every kind") {
  for (SynthKind kind : {SynthKind::Fabric, SynthKind::Wood, SynthKind::Disc, SynthKind::Tile}) {
    for (int channels : {1, 3}) {
      SynthConfig cfg = small(kind, channels, 11);
      cfg.size = 64;
      const double pixels = 64.0 * 64.0;
      for (int64_t k = 0; k < 4; ++k) {
        SynthImage good = synth_image(cfg, 0, "", k);
        CHECK(good.image.shape() == Shape{channels, 64, 64});
        CHECK(mask_sum(good.mask) == 0.0);
        const auto gv = good.image.to_vector();
        CHECK(*std::min_element(gv.begin(), gv.end()) >= 0.0f);
        CHECK(*std::max_element(gv.begin(), gv.end()) <= 1.0f);
        CHECK(good.clean.to_vector() == gv);
        for (const std::string& defect : synth_defect_types()) {
          SynthImage bad = synth_image(cfg, 1, defect, k);
          const double area = mask_sum(bad.mask) / pixels;
          CHECK_MESSAGE(area > 0.0, synth_kind_name(kind), " ", defect, " ", k);
          CHECK_MESSAGE(area < 0.15, synth_kind_name(kind), " ", defect, " ", k);  // defects stay sparse
          // Visible: inside the mask the image moved from its clean rendering by at least
          // 0.05 on average (a tenth of the weakest contrast the painters use).
          const auto img = bad.image.to_vector(), cln = bad.clean.to_vector(), m = bad.mask.to_vector();
          double diff = 0;
          for (size_t i = 0; i < img.size(); ++i) diff += m[i % m.size()] * std::abs(img[i] - cln[i]);
          CHECK_MESSAGE(diff / (mask_sum(bad.mask) * channels) >= 0.05, synth_kind_name(kind), " ", defect, " ", k);
          CHECK(synth_image(cfg, 1, defect, k).image.to_vector() == img);  // deterministic per (split, type, index)
        }
      }
    }
  }
  CHECK(parse_synth_kind("wood") == SynthKind::Wood);
  CHECK_THROWS_AS(parse_synth_kind("marble"), Error);
}

TEST_CASE("synth: the layout is read by read_mvtec with masks paired and C detected") {
  TempDir d("synth");
  for (int channels : {1, 3}) {
    const std::string out = d / ("set" + std::to_string(channels));
    SynthConfig cfg = small(SynthKind::Disc, channels, 2);
    cfg.defects = {"hole", "scratch"};
    generate_synthetic_dataset(cfg, out);
    Dataset ds = read_mvtec(out);
    CHECK(ds.train.size() == 3);
    CHECK(ds.test.size() == 2 + 2 * 2);
    CHECK(ds.types == std::vector<std::string>{"good", "hole", "scratch"});
    CHECK(ds.channels == channels);
    CHECK(ds.has_masks);
    for (const ImageItem& it : ds.test) {
      CHECK(it.width == 40);
      if (it.anomalous) CHECK(mask_sum(load_mask(it.mask_path)) > 0);
    }
  }
}

TEST_CASE("synth: refuses a non-empty directory and leaves nothing behind on failure") {
  TempDir d("synth");
  SynthConfig cfg = small(SynthKind::Tile, 1, 3);
  fs::create_directories(d / "full");
  sad::test::write_bytes(d / "full/keep.txt", "mine");
  CHECK_THROWS_WITH_AS(generate_synthetic_dataset(cfg, d / "full"), has("non-empty directory '" + (d / "full") + "'"),
                       Error);
  CHECK(sad::test::read_bytes(d / "full/keep.txt") == "mine");
  // An existing empty directory is fine (and a trailing slash too).
  fs::create_directories(d / "empty");
  generate_synthetic_dataset(cfg, d / "empty/");
  CHECK(fs::exists(d / "empty/train/good/002.png"));
  // A failing configuration leaves neither the target nor a temporary.
  SynthConfig bad = cfg;
  bad.defects = {"scratch", "dent"};
  CHECK_THROWS_WITH_AS(generate_synthetic_dataset(bad, d / "bad"), doctest::Contains("unknown defect type 'dent'"),
                       Error);
  CHECK_FALSE(fs::exists(d / "bad"));
  int entries = 0;
  for (const auto& e : fs::directory_iterator(d.path())) entries += e.path().filename().string()[0] == '.';
  CHECK(entries == 0);  // no hidden temporaries
  SynthConfig tiny = cfg;
  tiny.size = 8;
  CHECK_THROWS_AS(generate_synthetic_dataset(tiny, d / "tiny"), Error);
}
