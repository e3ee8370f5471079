// Dataset indexing: MVTec trees built in a temp dir (pairing by both mask name rules,
// the up-front errors, channel detection, Folder mode), the validation hold-out, and the
// real MTD set when ../shared is present.
#include <filesystem>
#include <map>
#include <set>

#include "data/dataset.h"
#include "data_test_util.h"
#include "test_util.h"

using namespace sad;
using namespace sad::data;
using sad::test::has;
using sad::test::TempDir;
using sad::test::write_png;

namespace {

// A small valid category: 3 gray train images, 1 good test image, 2 scratch images with a
// mask under each name rule, and non-image litter that must be ignored.
void build_tree(const TempDir& d, int train_channels = 1) {
  write_png(d / "cat/train/good/b.png", train_channels, 8, 10);
  write_png(d / "cat/train/good/a.png", train_channels, 8, 10);
  write_png(d / "cat/train/good/c.png", 1, 8, 10);
  sad::test::write_bytes(d / "cat/train/good/notes.txt", "not an image");
  sad::test::write_bytes(d / "cat/train/good/.hidden.png", "ignored");
  write_png(d / "cat/test/good/g1.png", 1, 8, 10);
  write_png(d / "cat/test/scratch/s2.png", 1, 6, 4);
  write_png(d / "cat/test/scratch/s1.png", 1, 8, 10);
  write_png(d / "cat/ground_truth/scratch/s1_mask.png", 1, 8, 10);
  write_png(d / "cat/ground_truth/scratch/s2.png", 1, 6, 4);
  write_png(d / "cat/ground_truth/scratch/orphan_mask.png", 1, 3, 3);  // no image: ignored
}

std::string name_of(const std::string& p) { return std::filesystem::path(p).filename().string(); }

}  // namespace

TEST_CASE("read_mvtec: sorted items with masks paired by both name rules and headers read") {
  TempDir d("dataset");
  build_tree(d);
  Dataset ds = read_mvtec(d / "cat");
  REQUIRE(ds.train.size() == 3);
  CHECK(name_of(ds.train[0].path) == "a.png");
  CHECK(name_of(ds.train[2].path) == "c.png");
  CHECK(ds.train[0].width == 10);
  CHECK(ds.train[0].height == 8);
  CHECK_FALSE(ds.train[0].anomalous);
  CHECK(ds.channels == 1);
  REQUIRE(ds.test.size() == 3);
  CHECK(ds.types == std::vector<std::string>{"good", "scratch"});
  CHECK(ds.test[0].type == "good");
  CHECK(ds.test[0].mask_path.empty());
  CHECK_FALSE(ds.test[0].anomalous);
  CHECK(name_of(ds.test[1].path) == "s1.png");
  CHECK(name_of(ds.test[1].mask_path) == "s1_mask.png");
  CHECK(name_of(ds.test[2].mask_path) == "s2.png");
  CHECK(ds.test[2].anomalous);
  CHECK(ds.test[2].width == 4);
  CHECK(ds.has_masks);
  CHECK(list_images(d / "cat/train/good").size() == 3);
}

TEST_CASE("read_mvtec: channel detection (C = 1 only when every training image is gray)") {
  TempDir d("dataset");
  build_tree(d, 3);
  CHECK(read_mvtec(d / "cat").channels == 3);
}

TEST_CASE("read_mvtec: a defect image without a mask is an error naming the image") {
  TempDir d("dataset");
  build_tree(d);
  write_png(d / "cat/test/scratch/s3.png", 1, 8, 10);
  CHECK_THROWS_WITH_AS(read_mvtec(d / "cat"), has("defect image '" + (d / "cat/test/scratch/s3.png") + "' has no mask"),
                       Error);
  // A whole defect type without its ground_truth directory.
  TempDir e("dataset");
  build_tree(e);
  write_png(e / "cat/test/hole/h1.png", 1, 8, 10);
  CHECK_THROWS_WITH_AS(read_mvtec(e / "cat"), has("defect image '" + (e / "cat/test/hole/h1.png") + "' has no mask"),
                       Error);
}

TEST_CASE("read_mvtec: a mask whose size differs from its image names both") {
  TempDir d("dataset");
  build_tree(d);
  write_png(d / "cat/ground_truth/scratch/s1_mask.png", 1, 8, 9);
  CHECK_THROWS_WITH_AS(read_mvtec(d / "cat"),
                       has("mask '" + (d / "cat/ground_truth/scratch/s1_mask.png") + "' is 9 x 8 but its image '" +
                           (d / "cat/test/scratch/s1.png") + "' is 10 x 8"),
                       Error);
}

TEST_CASE("read_mvtec: missing directories and an empty training set and unreadable files") {
  TempDir d("dataset");
  CHECK_THROWS_WITH_AS(read_mvtec(d / "none"), has("missing directory '" + (d / "none") + "'"), Error);
  std::filesystem::create_directories(d / "cat/train");
  // Training needs train/good with images; evaluation (require_test) does not read it.
  CHECK_THROWS_WITH_AS(read_mvtec(d / "cat", false), has("missing directory '" + (d / "cat/train/good") + "'"), Error);
  CHECK_THROWS_WITH_AS(read_mvtec(d / "cat"), has("missing directory '" + (d / "cat/test") + "'"), Error);
  std::filesystem::create_directories(d / "cat/train/good");
  CHECK_THROWS_WITH_AS(read_mvtec(d / "cat", false), has("empty training set"), Error);
  write_png(d / "cat/train/good/a.png", 1, 4, 4);
  CHECK_THROWS_WITH_AS(read_mvtec(d / "cat"), has("missing directory '" + (d / "cat/test") + "'"), Error);
  CHECK(read_mvtec(d / "cat", /*require_test=*/false).train.size() == 1);
  std::filesystem::create_directories(d / "cat/test/good");
  CHECK_THROWS_WITH_AS(read_mvtec(d / "cat"), has("no test images"), Error);
  // A corrupt file is found up front, by name.
  write_png(d / "cat/test/good/g.png", 1, 4, 4);
  sad::test::write_bytes(d / "cat/train/good/bad.png", "garbage bytes");
  CHECK_THROWS_WITH_AS(read_mvtec(d / "cat"), has("image '" + (d / "cat/train/good/bad.png") + "'"), Error);
}

TEST_CASE("read_folder: normal / abnormal / mask directories") {
  TempDir d("dataset");
  write_png(d / "normal/n2.png", 3, 5, 5);
  write_png(d / "normal/n1.png", 3, 5, 5);
  write_png(d / "normal_test/t1.png", 3, 5, 5);
  write_png(d / "bad/x.png", 3, 5, 5);
  write_png(d / "bad/y.png", 3, 5, 5);
  write_png(d / "masks/x_mask.png", 1, 5, 5);
  write_png(d / "masks/y.png", 1, 5, 5);

  Dataset ds = read_folder({d / "normal", d / "normal_test", d / "bad", d / "masks"});
  REQUIRE(ds.train.size() == 2);
  CHECK(name_of(ds.train[0].path) == "n1.png");
  CHECK(ds.channels == 3);
  REQUIRE(ds.test.size() == 3);
  CHECK(ds.types == std::vector<std::string>{"abnormal", "good"});
  CHECK(name_of(ds.test[0].mask_path) == "x_mask.png");
  CHECK(name_of(ds.test[1].mask_path) == "y.png");
  CHECK(ds.test[2].type == "good");
  CHECK(ds.has_masks);

  Dataset nomask = read_folder({d / "normal", "", d / "bad", ""});
  CHECK(nomask.test.size() == 2);
  CHECK_FALSE(nomask.has_masks);

  std::filesystem::remove(d / "masks/y.png");
  CHECK_THROWS_WITH_AS(read_folder({d / "normal", "", d / "bad", d / "masks"}),
                       has("defect image '" + (d / "bad/y.png") + "' has no mask"), Error);
  CHECK_THROWS_AS(read_folder({d / "normal", "", "", d / "masks"}), Error);  // masks without abnormal images
  CHECK_THROWS_WITH_AS(read_folder({d / "nothing", "", "", ""}), has("missing directory"), Error);
}

TEST_CASE("split_validation: 10% held out (seeded and deterministic) and at least one") {
  for (int64_t n : {2, 5, 9, 10, 761}) {
    Split s = split_validation(n, 42);
    const int64_t expected = std::max<int64_t>(1, static_cast<int64_t>(std::floor(0.1 * n + 0.5)));
    CHECK(static_cast<int64_t>(s.validation.size()) == expected);
    CHECK(static_cast<int64_t>(s.train.size()) == n - expected);
    std::set<int64_t> all(s.train.begin(), s.train.end());
    all.insert(s.validation.begin(), s.validation.end());
    CHECK(static_cast<int64_t>(all.size()) == n);  // disjoint and complete
    CHECK(std::is_sorted(s.validation.begin(), s.validation.end()));
    Split again = split_validation(n, 42);
    CHECK(again.validation == s.validation);
  }
  CHECK(split_validation(761, 42).validation.size() == 76);
  CHECK(split_validation(761, 1).validation != split_validation(761, 2).validation);
  CHECK_THROWS_AS(split_validation(1, 0), Error);
  CHECK_THROWS_AS(split_validation(10, 0, 1.5), Error);
}

// The real set lives beside the repository (../shared); without it the case is reported
// as skipped, decided at registration.
const bool kHaveMtd = !sad::test::mtd_root().empty();

TEST_CASE("read_mvtec: the real MTD set matches its README" * doctest::skip(!kHaveMtd)) {
  const std::string root = sad::test::mtd_root();
  if (root.empty()) {  // run with --no-skip
    MESSAGE("SKIPPED: ../shared/data/mtd not found (run from the source root with shared/ beside it)");
    return;
  }
  Dataset ds = read_mvtec(root);
  CHECK(ds.train.size() == 761);
  CHECK(ds.channels == 1);
  CHECK(ds.types == std::vector<std::string>{"blowhole", "break", "crack", "fray", "good", "uneven"});
  std::map<std::string, int> count;
  for (const ImageItem& it : ds.test) {
    ++count[it.type];
    CHECK(it.anomalous == (it.type != "good"));
    CHECK(it.mask_path.empty() == (it.type == "good"));
  }
  CHECK(count == std::map<std::string, int>{
                     {"good", 191}, {"blowhole", 115}, {"break", 85}, {"crack", 57}, {"fray", 32}, {"uneven", 103}});
  CHECK(ds.has_masks);
  // A real gray JPEG decodes to one channel at its header's size.
  Tensor img = load_image(ds.train[0].path, 1);
  CHECK(img.shape() == Shape{1, ds.train[0].height, ds.train[0].width});
  Tensor mask = load_mask(ds.test[0].mask_path);
  CHECK(mask.shape() == Shape{1, ds.test[0].height, ds.test[0].width});
}
