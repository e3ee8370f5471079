// The trainer end to end on a tiny synthetic set: it writes the model, config, log and
// checkpoint; the model file loads back and scores; the same seed gives the same model
// bit for bit; an interrupted run resumed gives exactly the uninterrupted result; the
// residual and mask-supervised modes train too.
#include <atomic>
#include <filesystem>
#include <sstream>

#include "data/synth.h"
#include "data_test_util.h"
#include "model/trainer.h"
#include "test_util.h"

using namespace sad;
namespace fs = std::filesystem;

namespace {

// 16 train images of 32 x 32 gray: fast enough for a unit test on one core.
std::string make_tiny_dataset(const std::string& root) {
  data::SynthConfig sc;
  sc.seed = 3;
  sc.size = 32;
  sc.channels = 1;
  sc.train = 16;
  sc.test_good = 2;
  sc.per_defect = 1;
  std::string dir = root + "/ds";
  data::generate_synthetic_dataset(sc, dir);
  return dir;
}

Config tiny_config(const std::string& mode) {
  Config c;
  c.image_size = 32;
  c.width = 4;
  c.batch = 4;
  c.epochs_gan = 2;
  c.epochs_seg = 2;
  c.mode = mode;
  c.seed = 5;
  c.channels = 1;
  c.val_fraction = 0.2;
  c.finalise();
  return c;
}

TrainResult run(const std::string& data_dir, const std::string& out, const std::string& mode,
                const std::atomic<bool>* stop = nullptr, bool resume = false) {
  TrainOptions o;
  o.dataset = data::read_mvtec(data_dir);
  o.out_dir = out;
  o.cfg = tiny_config(mode);
  o.quiet = true;
  o.stop = stop;
  o.resume = resume;
  return train(o);
}

// train_log.csv's rows without the last column (images per second, a measured rate).
std::vector<std::string> log_without_rates(const std::string& run_dir) {
  std::vector<std::string> rows;
  std::istringstream in(test::read_bytes(run_dir + "/train_log.csv"));
  std::string line;
  while (std::getline(in, line)) rows.push_back(line.substr(0, line.rfind(',')));
  return rows;
}

}  // namespace

TEST_CASE("trainer: sparse-kl writes its files and the model loads back and scores") {
  test::TempDir tmp("trainer");
  std::string ds = make_tiny_dataset(tmp.path().string());
  TrainResult r = run(ds, tmp.path().string() + "/run", "sparse-kl");
  REQUIRE(r.completed);
  for (const char* f : {"model.safetensors", "config.json", "train_log.csv", "checkpoint.safetensors"})
    CHECK_MESSAGE(fs::exists(tmp.path().string() + "/run/" + f), f);
  CHECK(fs::exists(tmp.path().string() + "/run/samples/gan_epoch_002.png"));
  AnomalyModel m = AnomalyModel::load(r.model_path, Device::cpu());
  CHECK(m.config().mode == "sparse-kl");
  CHECK(m.has_segmenter());
  CHECK(m.config().image_score_max >= m.config().image_score_min);
  Prediction p = m.predict_file(ds + "/test/crack/000.png");
  CHECK(p.map.shape() == Shape{32, 32});
  CHECK(p.score >= 0.0);
  CHECK(p.score <= 1.0);
  CHECK(std::isfinite(p.raw_score));
}

TEST_CASE("trainer: the same seed gives the same model bit for bit") {
  test::TempDir tmp("trainer-det");
  std::string ds = make_tiny_dataset(tmp.path().string());
  run(ds, tmp.path().string() + "/a", "sparse-kl");
  run(ds, tmp.path().string() + "/b", "sparse-kl");
  CHECK(test::read_bytes(tmp.path().string() + "/a/model.safetensors") == test::read_bytes(tmp.path().string() + "/b/model.safetensors"));
}

TEST_CASE("trainer: an interrupted run resumed equals the uninterrupted run") {
  test::TempDir tmp("trainer-resume");
  std::string ds = make_tiny_dataset(tmp.path().string());
  run(ds, tmp.path().string() + "/full", "sparse-kl");
  std::atomic<bool> stop{true};  // stops after the first step, with a checkpoint
  TrainResult part = run(ds, tmp.path().string() + "/part", "sparse-kl", &stop);
  CHECK_FALSE(part.completed);
  CHECK_FALSE(fs::exists(tmp.path().string() + "/part/model.safetensors"));
  REQUIRE(fs::exists(tmp.path().string() + "/part/checkpoint.safetensors"));
  TrainResult rest = run(ds, tmp.path().string() + "/part", "sparse-kl", nullptr, /*resume=*/true);
  REQUIRE(rest.completed);
  CHECK(test::read_bytes(tmp.path().string() + "/full/model.safetensors") ==
        test::read_bytes(tmp.path().string() + "/part/model.safetensors"));
  CHECK(log_without_rates(tmp.path().string() + "/full") == log_without_rates(tmp.path().string() + "/part"));
}

TEST_CASE("trainer: a run interrupted after every step and resumed each time equals the uninterrupted run") {
  // Every checkpoint position is visited, including the one after an epoch's last batch
  // (nothing left to run in that epoch on resume): the model and the logged epoch
  // averages must still be those of the uninterrupted run.
  test::TempDir tmp("trainer-resume-each");
  std::string ds = make_tiny_dataset(tmp.path().string());
  const std::string full = tmp.path().string() + "/full", part = tmp.path().string() + "/part";
  run(ds, full, "sparse-kl");
  std::atomic<bool> stop{true};
  TrainResult r = run(ds, part, "sparse-kl", &stop);
  int resumes = 0;
  while (!r.completed && resumes < 100) {
    r = run(ds, part, "sparse-kl", &stop, /*resume=*/true);
    ++resumes;
  }
  REQUIRE(r.completed);
  // 2 + 2 epochs of 3 steps: one stop per step.
  CHECK(resumes == 12);
  CHECK(test::read_bytes(full + "/model.safetensors") == test::read_bytes(part + "/model.safetensors"));
  const std::vector<std::string> a = log_without_rates(full), b = log_without_rates(part);
  CHECK(a.size() == 1 + 2 + 2);
  CHECK(a == b);
}

TEST_CASE("trainer: residual and mask-supervised modes train") {
  test::TempDir tmp("trainer-modes");
  std::string ds = make_tiny_dataset(tmp.path().string());
  TrainResult a = run(ds, tmp.path().string() + "/res", "residual");
  REQUIRE(a.completed);
  AnomalyModel ma = AnomalyModel::load(a.model_path, Device::cpu());
  CHECK_FALSE(ma.has_segmenter());
  CHECK(std::isfinite(ma.predict_file(ds + "/test/hole/000.png").raw_score));
  TrainResult b = run(ds, tmp.path().string() + "/mask", "mask-supervised");
  REQUIRE(b.completed);
  CHECK(AnomalyModel::load(b.model_path, Device::cpu()).has_segmenter());
}

TEST_CASE("trainer: --init-generator takes a model file or a checkpoint past phase 1") {
  test::TempDir tmp("trainer-init-g");
  const std::string root = tmp.path().string();
  std::string ds = make_tiny_dataset(root);
  REQUIRE(run(ds, root + "/kl", "sparse-kl").completed);
  const std::vector<std::pair<std::string, Tensor>> g_model =
      AnomalyModel::load(root + "/kl/model.safetensors", Device::cpu()).generator().state();

  // The finished run's checkpoint holds phase 1's generator, as does its model file.
  GeneratorSource from_ckpt = load_generator_source(root + "/kl/checkpoint.safetensors");
  REQUIRE(from_ckpt.state.size() == g_model.size());
  for (size_t i = 0; i < g_model.size(); ++i) {
    CAPTURE(g_model[i].first);
    CHECK(from_ckpt.state[i].first == g_model[i].first);
    CHECK(from_ckpt.state[i].second.to_vector() == g_model[i].second.to_vector());
  }
  CHECK(from_ckpt.cfg.width == 4);

  TrainOptions o;
  o.dataset = data::read_mvtec(ds);
  o.out_dir = root + "/res";
  o.cfg = tiny_config("residual");
  o.quiet = true;
  o.init_generator = root + "/kl/checkpoint.safetensors";
  REQUIRE(train(o).completed);
  const std::vector<std::pair<std::string, Tensor>> g_res =
      AnomalyModel::load(root + "/res/model.safetensors", Device::cpu()).generator().state();
  for (size_t i = 0; i < g_model.size(); ++i) CHECK(g_res[i].second.to_vector() == g_model[i].second.to_vector());
  // A residual run has no phase 2: its last checkpoint is the one after the last GAN epoch,
  // and its generator is the same phase 1 (same seed).
  REQUIRE(run(ds, root + "/res_own", "residual").completed);
  GeneratorSource res_ckpt = load_generator_source(root + "/res_own/checkpoint.safetensors");
  REQUIRE(res_ckpt.state.size() == g_model.size());
  for (size_t i = 0; i < g_model.size(); ++i) CHECK(res_ckpt.state[i].second.to_vector() == g_model[i].second.to_vector());

  // A checkpoint taken inside phase 1 has no trained generator yet.
  std::atomic<bool> stop{true};
  CHECK_FALSE(run(ds, root + "/early", "sparse-kl", &stop).completed);
  CHECK_THROWS_WITH_AS(load_generator_source(root + "/early/checkpoint.safetensors"),
                       doctest::Contains("still in phase 1"), Error);
}
