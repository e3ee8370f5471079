// Native-resolution tiles: the working size, the window grid, crops and the weighted
// stitching (data/tiles.h); tile mode's scoring in the model (one window scores exactly as
// the whole-image path does; a non-square image gets a map of its own size); and tile
// mode's training (crops keyed by seed, phase, epoch and image, so runs replay and resume
// bit for bit).
#include <atomic>
#include <filesystem>
#include <set>

#include "data/image.h"
#include "data/synth.h"
#include "data/tiles.h"
#include "data_test_util.h"
#include "model/anomaly_model.h"
#include "model/trainer.h"
#include "test_util.h"
#include "train_test_util.h"

using namespace sad;
namespace fs = std::filesystem;

TEST_CASE("tiles: the working size keeps the aspect ratio and fits a window") {
  CHECK(data::working_size(1250, 500, 0.5, 128) == data::Size2{625, 250});
  CHECK(data::working_size(1250, 500, 1.0, 128) == data::Size2{1250, 500});
  // The shorter side is raised to S when the scale would leave it smaller.
  CHECK(data::working_size(100, 300, 1.0, 128) == data::Size2{128, 384});
  CHECK(data::working_size(64, 64, 1.0, 128) == data::Size2{128, 128});
  CHECK(data::working_size(300, 200, 0.25, 128) == data::Size2{192, 128});
  CHECK_THROWS_AS(data::working_size(0, 10, 1.0, 16), Error);
}

TEST_CASE("tiles: window origins step by the stride and the last window is flush with the end") {
  CHECK(data::window_starts(128, 128, 64) == std::vector<int64_t>{0});
  CHECK(data::window_starts(250, 128, 64) == std::vector<int64_t>{0, 64, 122});
  CHECK(data::window_starts(256, 128, 64) == std::vector<int64_t>{0, 64, 128});
  CHECK(data::window_starts(300, 128, 128) == std::vector<int64_t>{0, 128, 172});
  CHECK_THROWS_AS(data::window_starts(100, 128, 64), Error);  // the window does not fit
  CHECK_THROWS_AS(data::window_starts(200, 128, 0), Error);
  const data::TileGrid g = data::tile_grid({250, 625}, 128, 64);
  CHECK(g.count() == 3 * 9);
  CHECK(g.y(0) == 0);
  CHECK(g.x(8) == 625 - 128);
  CHECK(g.y(9) == 64);
  CHECK(g.x(9) == 0);
}

TEST_CASE("tiles: the window weight is a positive tent that is 1 in the middle") {
  for (int64_t s : {1, 2, 7, 16}) {
    const std::vector<float> w = data::window_weight(s);
    REQUIRE(w.size() == static_cast<size_t>(s * s));
    for (int64_t i = 0; i < s; ++i)
      for (int64_t j = 0; j < s; ++j) {
        const float v = w[static_cast<size_t>(i * s + j)];
        CHECK(v > 0);
        CHECK(v <= 1);
        CHECK(v == w[static_cast<size_t>((s - 1 - i) * s + (s - 1 - j))]);  // symmetric
      }
    CHECK(w[static_cast<size_t>((s / 2) * s + s / 2)] == doctest::Approx(1.0));
  }
  CHECK(data::window_weight(16)[0] == doctest::Approx(1.0 / 64));
}

TEST_CASE("tiles: stitching the windows of a map gives the map back") {
  // Every window agrees with the map, so any weighted mean of them is the map itself.
  const int64_t h = 40, w = 70, s = 16;
  Tensor map = test::random_tensor({1, h, w}, 11, -3, 3, DType::F32);
  for (int64_t stride : {4, 8, 16}) {
    const data::TileGrid g = data::tile_grid({h, w}, s, stride);
    Tensor windows = Tensor::empty({g.count(), 1, s, s});
    for (int64_t k = 0; k < g.count(); ++k)
      windows.slice0(k, k + 1).reshape({1, s, s}).copy_from(data::crop(map, g.y(k), g.x(k), s));
    Tensor back = data::stitch(windows, g);
    REQUIRE(back.shape() == Shape{h, w});
    test::check_close(back.to_vector_f64(), map.to_vector_f64(), 1e-6, 1e-6, "stitch stride " + std::to_string(stride));
  }
}

TEST_CASE("tiles: overlapping windows are blended towards the window whose middle a pixel is in") {
  // Two windows of 16 side by side with stride 8: the first all 0, the second all 1. Where
  // they overlap the mean weights each by its tent, so it rises from near 0 to near 1.
  const data::TileGrid g = data::tile_grid({16, 24}, 16, 8);
  REQUIRE(g.count() == 2);
  Tensor maps = Tensor::zeros({2, 16, 16});
  maps.slice0(1, 2).copy_from(Tensor::full({1, 16, 16}, 1.0));
  const std::vector<float> v = data::stitch(maps, g).to_vector();
  CHECK(v[8 * 24 + 0] == 0.0f);   // only the first window
  CHECK(v[8 * 24 + 23] == 1.0f);  // only the second
  float prev = -1;
  for (int64_t x = 8; x < 16; ++x) {  // the overlap: monotone rise
    CHECK(v[static_cast<size_t>(8 * 24 + x)] > prev);
    prev = v[static_cast<size_t>(8 * 24 + x)];
  }
  CHECK(v[8 * 24 + 8] < 0.2f);
  CHECK(v[8 * 24 + 15] > 0.8f);
  CHECK_THROWS_AS(data::stitch(Tensor::zeros({3, 16, 16}), g), Error);
}

TEST_CASE("tiles: a crop outside the image is refused") {
  Tensor img = Tensor::zeros({1, 20, 30});
  CHECK(data::crop(img, 4, 14, 16).shape() == Shape{1, 16, 16});
  CHECK_THROWS_AS(data::crop(img, 5, 0, 16), Error);
  CHECK_THROWS_AS(data::crop(img, 0, 15, 16), Error);
  CHECK_THROWS_AS(data::crop(img, -1, 0, 16), Error);
}

TEST_CASE("tiles: the tiled image score is the best window's score") {
  const int64_t s = 32;
  // One window: the same figure as the whole-image score.
  Tensor one = test::random_tensor({s, s}, 3, -2, 0, DType::F32);
  const data::TileGrid g1 = data::tile_grid({s, s}, s, s / 2);
  CHECK(image_score_tiled(one, g1, true, 0.1) == image_score_lse_from_map(one, 0.1));
  CHECK(image_score_tiled(one, g1, false, 0.1) == image_score_from_map(one));
  // A bright spot far right in a 32 x 96 map: the best window is one that holds it.
  Tensor wide = Tensor::full({s, 3 * s}, -4.0);
  float* p = wide.data<float>();
  for (int64_t y = 10; y < 16; ++y)
    for (int64_t x = 80; x < 86; ++x) p[y * 3 * s + x] = 3.0f;
  const data::TileGrid g = data::tile_grid({s, 3 * s}, s, s / 2);
  const double tiled = image_score_tiled(wide, g, true, 0.1);
  CHECK(tiled == doctest::Approx(image_score_lse_from_map(
                     data::crop(wide.reshape({1, s, 3 * s}), 0, 2 * s, s).reshape({s, s}), 0.1)));
  CHECK(tiled > image_score_lse_from_map(data::crop(wide.reshape({1, s, 3 * s}), 0, 0, s).reshape({s, s}), 0.1));
}

namespace {

Config tile_model_config(double tile_scale) {
  Config c;
  c.image_size = 32;
  c.width = 4;
  c.batch = 4;
  c.channels = 1;
  c.tile_scale = tile_scale;
  c.finalise();
  return c;
}

}  // namespace

TEST_CASE("tiles: a tiled model maps a non-square image at its own size and one window as the whole path does") {
  for (const char* mode : {"sparse-kl", "residual"}) {
    CAPTURE(mode);
    Config tiled_cfg = tile_model_config(1.0), whole_cfg = tile_model_config(0);
    tiled_cfg.mode = whole_cfg.mode = parse_mode(mode);
    AnomalyModel tiled(tiled_cfg), whole(whole_cfg);
    tiled.init(7);
    whole.init(7);
    // 40 x 70 at scale 1: a 2 x 4 grid of 32-pixel windows (stride 16, last flush).
    Tensor image = test::random_tensor({1, 40, 70}, 5, 0, 1, DType::F32);
    Prediction p = tiled.predict_image(image);
    CHECK(p.map.shape() == Shape{40, 70});
    CHECK(p.raw_map.shape() == Shape{40, 70});
    CHECK(std::isfinite(p.raw_score));
    // An image of exactly one window: the same raw score and map as the whole-image path.
    Tensor square = test::random_tensor({1, 32, 32}, 6, 0, 1, DType::F32);
    Prediction a = tiled.predict_image(square), b = whole.predict_image(square);
    CHECK(a.raw_score == b.raw_score);
    CHECK(a.raw_map.to_vector() == b.raw_map.to_vector());
    // A small image is enlarged to the window, as the working size says.
    Prediction small = tiled.predict_image(test::random_tensor({1, 20, 50}, 8, 0, 1, DType::F32));
    CHECK(small.map.shape() == Shape{20, 50});
    CHECK(small.raw_map.shape() == Shape{32, 80});
  }
}

TEST_CASE("tiles: config keys are validated and survive the model file's JSON") {
  Config c = tile_model_config(0.5);
  c.tile_stride = 8;
  Config back = Config::from_json(c.to_json(), "test");
  CHECK(back.tile_scale == 0.5);
  CHECK(back.tile_stride == 8);
  CHECK(back.window_stride() == 8);
  CHECK(tile_model_config(1.0).window_stride() == 16);
  for (const char* bad : {"tile_scale=-1", "tile_scale=0.01", "tile_scale=9", "tile_stride=33", "val_crops=0"}) {
    CAPTURE(bad);
    Config d = tile_model_config(0);
    const std::string kv = bad;
    d.set(kv.substr(0, kv.find('=')), kv.substr(kv.find('=') + 1));
    CHECK_THROWS_AS(d.finalise(), Error);
  }
}

namespace {

// The tiny synthetic set with every image resized to 48 x 72: non-square, larger than S = 32.
std::string make_wide_dataset(const std::string& root) {
  const std::string src = test::tiny_gray_dataset(root, "square"), dst = root + "/wide";
  for (const auto& e : fs::recursive_directory_iterator(src)) {
    const fs::path rel = fs::relative(e.path(), src), out = fs::path(dst) / rel;
    if (e.is_directory()) {
      fs::create_directories(out);
    } else if (rel.string().find("ground_truth") != std::string::npos) {
      data::save_png(out.string(), data::resize_mask(data::load_mask(e.path().string()), 48, 72));
    } else {
      data::save_png(out.string(), data::resize(data::load_image(e.path().string(), 1), 48, 72));
    }
  }
  return dst;
}

TrainResult train_tiled(const std::string& data_dir, const std::string& out, const std::atomic<bool>* stop = nullptr,
                        bool resume = false, Augment augment = Augment::None) {
  Config c;
  c.image_size = 32;
  c.width = 4;
  c.batch = 4;
  c.channels = 1;
  c.seed = 2;
  c.steps_gan = 5;
  c.steps_seg = 4;
  c.val_fraction = 0.2;
  c.tile_scale = 1.0;
  c.augment = augment;
  c.finalise();
  return test::train_quietly(data_dir, out, c, stop, resume);
}

}  // namespace

TEST_CASE("tiles: tile-mode training crops windows and replays and resumes bit for bit and maps at native size") {
  test::TempDir tmp("tiles-train");
  const std::string ds = make_wide_dataset(tmp.path().string());
  const std::string a = tmp.path().string() + "/a", b = tmp.path().string() + "/b";
  TrainResult r = train_tiled(ds, a);
  REQUIRE(r.completed);
  AnomalyModel m = AnomalyModel::load(r.model_path, Device::cpu());
  CHECK(m.config().tiled());
  CHECK(m.config().tile_scale == 1.0);
  Prediction p = m.predict_file(ds + "/test/crack/000.png");
  CHECK(p.map.shape() == Shape{48, 72});
  CHECK(p.raw_map.shape() == Shape{48, 72});
  CHECK(std::isfinite(p.raw_score));
  // Interrupted after its first step and resumed: the uninterrupted run's model exactly.
  std::atomic<bool> stop{true};
  TrainResult part = train_tiled(ds, b, &stop);
  CHECK_FALSE(part.completed);
  TrainResult rest = train_tiled(ds, b, nullptr, /*resume=*/true);
  REQUIRE(rest.completed);
  CHECK(test::read_bytes(a + "/model.safetensors") == test::read_bytes(b + "/model.safetensors"));
}

TEST_CASE("augment: the eight symmetries of the square are distinct and each has an inverse") {
  const int64_t s = 5;
  std::vector<float> v(static_cast<size_t>(2 * s * s));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  const Tensor x = Tensor::from_vector(v, {2, s, s});
  CHECK(data::dihedral(x, 0).to_vector() == v);
  // One quarter turn counter-clockwise: out(i, j) = in(j, s - 1 - i); the mirror: in(i, s - 1 - j).
  const std::vector<float> q = data::dihedral(x, 1).to_vector(), m = data::dihedral(x, 4).to_vector();
  for (int64_t i = 0; i < s; ++i)
    for (int64_t j = 0; j < s; ++j) {
      CHECK(q[static_cast<size_t>(i * s + j)] == v[static_cast<size_t>(j * s + (s - 1 - i))]);
      CHECK(m[static_cast<size_t>(i * s + j)] == v[static_cast<size_t>(i * s + (s - 1 - j))]);
    }
  std::set<std::vector<float>> seen;
  for (int k = 0; k < 8; ++k) {
    CAPTURE(k);
    const Tensor y = data::dihedral(x, k);
    seen.insert(y.to_vector());
    int inverses = 0;  // exactly one symmetry undoes k
    for (int j = 0; j < 8; ++j) inverses += data::dihedral(y, j).to_vector() == v;
    CHECK(inverses == 1);
  }
  CHECK(seen.size() == 8);
  CHECK_THROWS_AS(data::dihedral(Tensor::zeros({1, 4, 5}), 1), Error);
}

TEST_CASE("augment: dihedral training replays and resumes bit for bit and changes what is learned") {
  test::TempDir tmp("augment-train");
  const std::string ds = make_wide_dataset(tmp.path().string());
  const std::string a = tmp.path().string() + "/a", b = tmp.path().string() + "/b", c = tmp.path().string() + "/c";
  REQUIRE(train_tiled(ds, a, nullptr, false, Augment::Dihedral).completed);
  std::atomic<bool> stop{true};
  CHECK_FALSE(train_tiled(ds, b, &stop, false, Augment::Dihedral).completed);
  REQUIRE(train_tiled(ds, b, nullptr, /*resume=*/true, Augment::Dihedral).completed);
  CHECK(test::read_bytes(a + "/model.safetensors") == test::read_bytes(b + "/model.safetensors"));
  REQUIRE(train_tiled(ds, c).completed);  // augment none: other samples, another model
  const AnomalyModel ma = AnomalyModel::load(a + "/model.safetensors", Device::cpu());
  const AnomalyModel mc = AnomalyModel::load(c + "/model.safetensors", Device::cpu());
  CHECK(ma.config().augment == Augment::Dihedral);
  CHECK(mc.config().augment == Augment::None);
  CHECK(ma.state()[0].second.to_vector() != mc.state()[0].second.to_vector());
}
