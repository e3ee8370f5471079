// Config score_reference = mean: the image score of each smoothed map minus the
// per-position mean of the clean held-out images' smoothed maps (model/validation.h's
// mean_smoothed_map), stored in the model file as tensor `score_reference`; maps unchanged.
#include <filesystem>

#include "cli_test_util.h"
#include "data_test_util.h"
#include "layers/safetensors.h"
#include "model/anomaly_model.h"
#include "model/model_file.h"
#include "model/onnx_export.h"
#include "model/validation.h"
#include "tensor/json.h"
#include "test_util.h"
#include "train_test_util.h"

using namespace sad;
namespace fs = std::filesystem;

namespace {

Config small_config(ScoreReference ref) {
  Config c;
  c.image_size = 32;
  c.width = 4;
  c.batch = 4;
  c.channels = 1;
  c.seed = 3;
  c.set("score_reference", enum_name(ref));  // set, so finalise() keeps it
  c.finalise();
  return c;
}

std::vector<Tensor> random_images(int n, int64_t s, uint64_t seed) {
  std::vector<Tensor> v;
  for (int i = 0; i < n; ++i)
    v.push_back(test::random_tensor({1, s, s}, seed + static_cast<uint64_t>(i), -1.0, 1.0, DType::F32));
  return v;
}

Tensor batch_of(const std::vector<Tensor>& images) {
  const int64_t s = images[0].dim(1);
  Tensor x = Tensor::empty({static_cast<int64_t>(images.size()), 1, s, s});
  for (size_t i = 0; i < images.size(); ++i)
    x.slice0(static_cast<int64_t>(i), static_cast<int64_t>(i) + 1).reshape({1, s, s}).copy_from(images[i]);
  return x;
}

}  // namespace

TEST_CASE("score_reference: the reference is the per-position mean of the held-out images' smoothed maps") {
  AnomalyModel m(small_config(ScoreReference::Mean));
  m.init(3);
  const std::vector<Tensor> imgs = random_images(6, 32, 40);
  const Tensor ref = mean_smoothed_map(m, imgs, 4);  // two batches: 4 + 2
  REQUIRE(ref.shape() == std::vector<int64_t>{32, 32});
  const std::vector<double> maps = m.smoothed_maps(batch_of(imgs)).to_vector_f64(), r = ref.to_vector_f64();
  double worst = 0, spread = 0;
  for (size_t k = 0; k < r.size(); ++k) {
    double sum = 0;
    for (size_t i = 0; i < imgs.size(); ++i) sum += maps[i * r.size() + k];
    worst = std::max(worst, std::abs(sum / 6.0 - r[k]));
    spread = std::max(spread, std::abs(r[k] - r[0]));
  }
  CHECK(worst < 1e-5);
  CHECK(spread > 0);  // not a constant: the test would not see a position mix-up otherwise
}

TEST_CASE("score_reference: the image score subtracts the reference and the maps stay as they were") {
  AnomalyModel plain(small_config(ScoreReference::None)), refd(small_config(ScoreReference::Mean));
  plain.init(3);
  refd.init(3);
  const Tensor x = batch_of(random_images(4, 32, 80));
  const AnomalyModel::Scored before = refd.score_batch(x);  // no reference yet: scored without one
  const AnomalyModel::Scored base = plain.score_batch(x);
  CHECK(before.scores == base.scores);
  // A constant reference c lowers every box mean by c, so lse and max both drop by exactly c.
  refd.set_score_reference(Tensor::full({32, 32}, 0.75f));
  const AnomalyModel::Scored after = refd.score_batch(x);
  for (size_t i = 0; i < base.scores.size(); ++i)
    CHECK(after.scores[i] == doctest::Approx(base.scores[i] - 0.75).epsilon(1e-6));
  CHECK(after.maps.to_vector_f64() == base.maps.to_vector_f64());
  // A reference that is high in one corner lowers the score of a map whose peak sits there.
  Tensor corner = Tensor::zeros({32, 32});
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) corner.data<float>()[i * 32 + j] = 5.0f;
  refd.set_score_reference(corner);
  const AnomalyModel::Scored cornered = refd.score_batch(x);
  for (size_t i = 0; i < base.scores.size(); ++i) CHECK(cornered.scores[i] <= base.scores[i] + 1e-9);
  CHECK_THROWS_WITH_AS(refd.set_score_reference(Tensor::zeros({16, 16})),
                       doctest::Contains("must be a float32 CPU map (32, 32)"), Error);
  CHECK_THROWS_WITH_AS(plain.set_score_reference(corner), doctest::Contains("needs score_reference=mean"), Error);
}

TEST_CASE("score_reference: an image scored against its own smoothed map scores exactly 0 and the others do not") {
  AnomalyModel m(small_config(ScoreReference::Mean));
  m.init(3);
  const std::vector<Tensor> imgs = random_images(3, 32, 120);
  const Tensor x = batch_of(imgs);
  const Tensor own = m.smoothed_maps(x).slice0(1, 2).reshape({32, 32}).clone();
  m.set_score_reference(own);
  const AnomalyModel::Scored sc = m.score_batch(x);
  CHECK(sc.scores[1] == 0.0);  // a zero map: lse and the box max both 0; a flipped or shifted reference is not
  CHECK(sc.scores[0] != 0.0);
  CHECK(sc.scores[2] != 0.0);
}

TEST_CASE("score_reference: validation scores each image against the other held-out images' mean") {
  AnomalyModel m(small_config(ScoreReference::Mean));
  m.init(3);
  const std::vector<Tensor> held = random_images(4, 32, 200);
  const ValidationSet vs = make_validation_set(held, 5, 1);
  REQUIRE(vs.images.size() > held.size());  // some perturbed versions too
  const std::vector<double> loo = leave_one_out_scores(m, vs, 3);
  REQUIRE(loo.size() == vs.images.size());
  for (size_t j = 0; j < vs.images.size(); ++j) {
    std::vector<Tensor> others;
    for (size_t i = 0; i < held.size(); ++i)
      if (static_cast<int64_t>(i) != vs.source[j]) others.push_back(held[i]);
    m.set_score_reference(mean_smoothed_map(m, others, 4));
    const double direct = m.score_batch(batch_of({vs.images[j]})).scores[0];
    CHECK(loo[j] == doctest::Approx(direct).epsilon(1e-5));
  }
}

TEST_CASE("score_reference: the model file keeps it and refuses it missing misshapen or unasked for") {
  test::TempDir d("score-ref");
  AnomalyModel m(small_config(ScoreReference::Mean));
  m.init(3);
  const std::string path = (d.path() / "m.safetensors").string();
  CHECK_THROWS_WITH_AS(m.save(path), doctest::Contains("no reference was computed"), Error);
  CHECK(!fs::exists(path));
  Tensor ref = test::random_tensor({32, 32}, 7, -2.0, 2.0, DType::F32);
  m.set_score_reference(ref);
  m.save(path);
  AnomalyModel back = AnomalyModel::load(path, Device::cpu());
  REQUIRE(back.score_reference().defined());
  CHECK(back.score_reference().to_vector_f64() == ref.to_vector_f64());
  const Tensor x = batch_of(random_images(2, 32, 9));
  CHECK(back.score_batch(x).scores == m.score_batch(x).scores);

  const std::string meta_mean = m.config().to_json().dump();
  Config none_cfg = m.config();
  none_cfg.score_reference = ScoreReference::None;
  const std::string meta_none = none_cfg.to_json().dump();
  auto write = [&](const std::string& name, const std::string& config, const Tensor* r) {
    std::vector<std::pair<std::string, Tensor>> t = m.state();
    if (r) t.emplace_back("score_reference", *r);
    const std::string p = (d.path() / name).string();
    save_safetensors(p, t, {{"config", config}, {"format", "sparsead"}});
    return p;
  };
  CHECK_THROWS_WITH_AS(read_model_file(write("missing.safetensors", meta_mean, nullptr)),
                       doctest::Contains("holds no 'score_reference' tensor"), Error);
  const Tensor small = Tensor::zeros({4, 4});
  CHECK_THROWS_WITH_AS(read_model_file(write("small.safetensors", meta_mean, &small)),
                       doctest::Contains("must be float32 (32, 32)"), Error);
  CHECK_THROWS_WITH_AS(read_model_file(write("unasked.safetensors", meta_none, &ref)),
                       doctest::Contains("unexpected tensor 'score_reference'"), Error);
}

TEST_CASE("score_reference: mean needs whole images (tile_scale 0)") {
  Config c = small_config(ScoreReference::Mean);
  c.tile_scale = 0.5;
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("score_reference=mean works on whole images only"), Error);
}

TEST_CASE("score_reference: training computes it from the held-out images and the file holds it") {
  test::TempDir d("score-ref-train");
  const std::string ds = test::tiny_gray_dataset(d.path().string());
  Config c = small_config(ScoreReference::Mean);
  c.epochs_gan = 1;
  c.epochs_seg = 1;
  c.val_fraction = 0.2;
  c.finalise();
  const TrainResult r = test::train_quietly(ds, (d.path() / "run").string(), c);
  AnomalyModel m = AnomalyModel::load(r.model_path, Device::cpu());
  REQUIRE(m.score_reference().defined());
  // Its mean is the mean logit level of a normal image: finite, and not the zero of "none".
  const std::vector<double> v = m.score_reference().to_vector_f64();
  double mean = 0;
  for (double e : v) mean += e / static_cast<double>(v.size());
  CHECK(std::isfinite(mean));
  CHECK(mean != 0.0);
  // `sparsead test` reports the image AUROC without the reference beside the one with it.
  const std::string out = (d.path() / "test").string();
  const test::Run t = test::sparsead(
      {"test", "--model", r.model_path, "--data", ds, "--out", out, "--quiet", "--no-panels", "--device", "cpu"});
  INFO(t.err);
  REQUIRE(t.rc == 0);
  const Json j = Json::parse(test::read_bytes(out + "/metrics.json"));
  REQUIRE(j.contains("image_auroc_unreferenced"));
  const double u = j.get_number("image_auroc_unreferenced", "metrics.json");
  CHECK(u >= 0.0);
  CHECK(u <= 1.0);
  // It is the AUROC of the scores without the map: the same model with an all-zero
  // reference (subtracting nothing) has that AUROC as its own image_auroc.
  m.set_score_reference(Tensor::zeros(m.score_reference().shape()));
  const std::string zero_model = (d.path() / "zero-ref.safetensors").string();
  m.save(zero_model);
  const std::string out0 = (d.path() / "test0").string();
  const test::Run t0 = test::sparsead(
      {"test", "--model", zero_model, "--data", ds, "--out", out0, "--quiet", "--no-panels", "--device", "cpu"});
  INFO(t0.err);
  REQUIRE(t0.rc == 0);
  const Json j0 = Json::parse(test::read_bytes(out0 + "/metrics.json"));
  CHECK(j0.get_number("image_auroc", "metrics.json") == u);
  CHECK(j0.get_number("image_auroc_unreferenced", "metrics.json") == u);
  // `info` counts the map apart from the networks' parameters.
  const test::Run i = test::sparsead({"info", "--model", r.model_path});
  REQUIRE(i.rc == 0);
  CHECK(i.out.find("score reference: 1024 values") != std::string::npos);
  CHECK(i.out.find("network tensors") != std::string::npos);
}

TEST_CASE("score_reference: onnx export carries the reference as a constant output and says where it goes") {
  AnomalyModel m(small_config(ScoreReference::Mean));
  m.init(3);
  m.set_score_reference(Tensor::full({32, 32}, 0.625f));
  const std::string bytes = onnx_model(m, "m.safetensors");
  CHECK(bytes.find("score_reference_map") != std::string::npos);  // the initializer
  CHECK(bytes.find("1b) Subtract the graph's constant output score_reference") != std::string::npos);
  // Its 1024 values, as float32 little-endian (0.625 = 0x3F200000), in the initializer.
  std::string run;
  for (int i = 0; i < 32 * 32; ++i) run += std::string("\x00\x00\x20\x3f", 4);
  CHECK(bytes.find(run) != std::string::npos);
  AnomalyModel plain(small_config(ScoreReference::None));
  plain.init(3);
  const std::string pb = onnx_model(plain, "p.safetensors");
  CHECK(pb.find("score_reference_map") == std::string::npos);
  CHECK(pb.find("1b) Subtract") == std::string::npos);
}
