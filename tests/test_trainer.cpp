// The trainer end to end on a tiny synthetic set: it writes the model, config, log and
// checkpoint; the model file loads back and scores; the same seed gives the same model
// bit for bit; an interrupted run resumed gives exactly the uninterrupted result; the
// residual and mask-supervised modes train too.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <sstream>

#include "data/synth.h"
#include "data_test_util.h"
#include "kernels/cpu/isa.h"
#include "model/build_info.h"
#include "model/train_step.h"
#include "model/trainer.h"
#include "test_util.h"
#include "train_test_util.h"

using namespace sad;
namespace fs = std::filesystem;

namespace {

std::string make_tiny_dataset(const std::string& root) { return test::tiny_gray_dataset(root); }

Config tiny_config(const std::string& mode) {
  Config c;
  c.image_size = 32;
  c.width = 4;
  c.batch = 4;
  c.epochs_gan = 2;
  c.epochs_seg = 2;
  c.mode = parse_mode(mode);
  c.seed = 5;
  c.channels = 1;
  c.val_fraction = 0.2;
  c.finalise();
  return c;
}

TrainResult run(const std::string& data_dir, const std::string& out, const std::string& mode,
                const std::atomic<bool>* stop = nullptr, bool resume = false) {
  return test::train_quietly(data_dir, out, tiny_config(mode), stop, resume);
}

// train_log.csv's rows without the last column (images per second, a measured rate).
std::vector<std::string> log_without_rates(const std::string& run_dir) {
  REQUIRE(fs::exists(run_dir + "/train_log.csv"));
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
  CHECK(fs::exists(tmp.path().string() + "/run/samples/gan_step_0000006.png"));
  AnomalyModel m = AnomalyModel::load(r.model_path, Device::cpu());
  CHECK(m.config().mode == Mode::SparseKl);
  CHECK(m.config().commit == build_commit());  // provenance: the tree this binary was built from
  if (fs::exists(fs::path(SPARSEAD_SOURCE_DIR) / ".git")) CHECK(std::string(build_commit()) != "unknown");
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
  CHECK(test::read_bytes(tmp.path().string() + "/a/model.safetensors") ==
        test::read_bytes(tmp.path().string() + "/b/model.safetensors"));
}

// kernels/cpu/isa.h: the AVX2 / AVX-512 copies of the hot loops do the same operations in
// the same order as the portable one. On a CPU without them both runs take the portable
// path, and the test says so.
TEST_CASE("trainer: the portable and the widest instruction-set path give the same model bit for bit") {
  test::TempDir tmp("trainer-isa");
  std::string ds = make_tiny_dataset(tmp.path().string());
  const cpu::Isa best = cpu::best_cpu_isa();
  const cpu::ScopedIsa restore(cpu::cpu_isa());  // whatever the test sets, the path before comes back
  const std::string paths = std::string("instruction-set paths compared: portable and ") + cpu::isa_name(best);
  MESSAGE(paths);
  cpu::set_cpu_isa(cpu::Isa::Portable);
  run(ds, tmp.path().string() + "/portable", "sparse-kl");
  cpu::set_cpu_isa(best);
  run(ds, tmp.path().string() + "/best", "sparse-kl");
  CHECK(test::read_bytes(tmp.path().string() + "/portable/model.safetensors") ==
        test::read_bytes(tmp.path().string() + "/best/model.safetensors"));
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

TEST_CASE("trainer: fit_excess trains and resumes inside phase 2 bit for bit") {
  test::TempDir tmp("trainer-fit-excess");
  std::string ds = make_tiny_dataset(tmp.path().string());
  Config c = tiny_config("sparse-kl");
  c.fit_excess = 1.0;
  const std::string full = tmp.path().string() + "/full", part = tmp.path().string() + "/part";
  REQUIRE(test::train_quietly(ds, full, c).completed);
  // Stopped after every step, phase 2's included: each resume inside phase 2 makes G's mean
  // residual again, and must make the same one.
  std::atomic<bool> stop{true};
  CHECK_FALSE(test::train_quietly(ds, part, c, &stop).completed);
  for (int tries = 0; tries < 100 && !fs::exists(part + "/model.safetensors"); ++tries) {
    std::atomic<bool> again{true};
    test::train_quietly(ds, part, c, &again, /*resume=*/true);
  }
  CHECK(test::read_bytes(full + "/model.safetensors") == test::read_bytes(part + "/model.safetensors"));
  // And the lever changes the model.
  REQUIRE(run(ds, tmp.path().string() + "/plain", "sparse-kl").completed);
  CHECK(test::read_bytes(full + "/model.safetensors") !=
        test::read_bytes(tmp.path().string() + "/plain/model.safetensors"));
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
  AnomalyModel mb = AnomalyModel::load(b.model_path, Device::cpu());
  REQUIRE(mb.has_segmenter());
  // The mode picks the loss: from the same seed and data, the focal loss on the masks and
  // sparse-kl on the weak labels must leave different segmenters (the same G: phase 1 does
  // not depend on the mode). Without this, a trainer ignoring the mode would pass.
  TrainResult c = run(ds, tmp.path().string() + "/kl", "sparse-kl");
  REQUIRE(c.completed);
  AnomalyModel mc = AnomalyModel::load(c.model_path, Device::cpu());
  CHECK(mb.generator().state()[0].second.to_vector() == mc.generator().state()[0].second.to_vector());
  CHECK(mb.segmenter()->state()[0].second.to_vector() != mc.segmenter()->state()[0].second.to_vector());
  CHECK(seg_loss_settings(mb.config()).mask_supervised);
  CHECK_FALSE(seg_loss_settings(mc.config()).mask_supervised);
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
  // Phase-1 settings of this run's own: phase 1 does not run, and the model file records the
  // generator's instead.
  o.cfg.epochs_gan = 7, o.cfg.lr_g = 0.01, o.cfg.l_adv = 0.5, o.cfg.lr_schedule_g = LrSchedule::Cosine;
  o.quiet = true;
  o.init_generator = root + "/kl/checkpoint.safetensors";
  REQUIRE(train(o).completed);
  AnomalyModel res = AnomalyModel::load(root + "/res/model.safetensors", Device::cpu());
  const std::vector<std::pair<std::string, Tensor>> g_res = res.generator().state();
  for (size_t i = 0; i < g_model.size(); ++i) CHECK(g_res[i].second.to_vector() == g_model[i].second.to_vector());
  const Json mine = res.config().to_json(), theirs = from_ckpt.cfg.to_json();
  for (const std::string& k : Config::phase1_keys()) {
    CAPTURE(k);
    CHECK(*mine.find(k) == *theirs.find(k));
  }
  CHECK(res.config().epochs_gan == 2);
  CHECK(res.config().mode == Mode::Residual);  // the run's own settings stay

  // Stopped after its first step and resumed without naming the generator (as the CLI
  // requires), a segmenter run takes its phase 1 from the checkpoint and ends as the
  // uninterrupted run.
  auto seg_run = [&](const std::string& out) {
    TrainOptions t;
    t.dataset = data::read_mvtec(ds);
    t.out_dir = root + out;
    t.cfg = tiny_config("sparse-kl");
    t.cfg.epochs_gan = 7, t.cfg.lr_g = 0.01;
    t.quiet = true;
    t.init_generator = root + "/kl/model.safetensors";
    return t;
  };
  REQUIRE(train(seg_run("/s_whole")).completed);
  std::atomic<bool> halt{true};
  TrainOptions part = seg_run("/s_part");
  part.stop = &halt;
  REQUIRE_FALSE(train(part).completed);
  TrainOptions rest = seg_run("/s_part");
  rest.init_generator.clear();
  rest.resume = true;
  const TrainResult done = train(rest);
  REQUIRE(done.completed);
  CHECK(done.steps_gan == 0);
  CHECK(test::tensors_of(root + "/s_part/model.safetensors", "S.") ==
        test::tensors_of(root + "/s_whole/model.safetensors", "S."));
  // A residual run has no phase 2: its last checkpoint is the one after the last GAN epoch,
  // and its generator is the same phase 1 (same seed).
  REQUIRE(run(ds, root + "/res_own", "residual").completed);
  GeneratorSource res_ckpt = load_generator_source(root + "/res_own/checkpoint.safetensors");
  REQUIRE(res_ckpt.state.size() == g_model.size());
  for (size_t i = 0; i < g_model.size(); ++i)
    CHECK(res_ckpt.state[i].second.to_vector() == g_model[i].second.to_vector());

  // A checkpoint taken inside phase 1 has no trained generator yet.
  std::atomic<bool> stop{true};
  CHECK_FALSE(run(ds, root + "/early", "sparse-kl", &stop).completed);
  CHECK_THROWS_WITH_AS(load_generator_source(root + "/early/checkpoint.safetensors"),
                       doctest::Contains("still in phase 1"), Error);
}

namespace {

// A step budget that ends inside an epoch (3 steps an epoch here).
Config step_config() {
  Config c = tiny_config("sparse-kl");
  c.epochs_gan = c.epochs_seg = -1;
  c.steps_gan = 7;
  c.steps_seg = 4;
  c.finalise();
  return c;
}

}  // namespace

TEST_CASE("trainer: a step budget of two epochs' steps gives the epoch budget's model bit for bit") {
  test::TempDir tmp("trainer-steps");
  std::string ds = make_tiny_dataset(tmp.path().string());
  REQUIRE(run(ds, tmp / "epochs", "sparse-kl").completed);
  Config c = tiny_config("sparse-kl");
  c.epochs_gan = c.epochs_seg = -1;
  c.steps_gan = c.steps_seg = 6;  // 2 epochs of 3 steps
  c.finalise();
  TrainResult r = test::train_quietly(ds, tmp / "steps", c);
  REQUIRE(r.completed);
  CHECK(r.steps_gan == 6);
  CHECK(r.steps_seg == 6);
  CHECK(test::read_bytes(tmp / "epochs/checkpoint.safetensors").size() > 0);
  // The models' tensors agree bit for bit (their configs differ in the budget keys).
  AnomalyModel a = AnomalyModel::load(tmp / "epochs/model.safetensors", Device::cpu());
  AnomalyModel b = AnomalyModel::load(tmp / "steps/model.safetensors", Device::cpu());
  const auto sa = a.state(), sb = b.state();
  REQUIRE(sa.size() == sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    CAPTURE(sa[i].first);
    CHECK(sa[i].second.to_vector() == sb[i].second.to_vector());
  }
}

TEST_CASE("trainer: a step budget ending inside an epoch resumes bit for bit after a stop at every step") {
  test::TempDir tmp("trainer-steps-resume");
  std::string ds = make_tiny_dataset(tmp.path().string());
  const Config c = step_config();
  TrainResult full = test::train_quietly(ds, tmp / "full", c);
  REQUIRE(full.completed);
  CHECK(full.steps_gan == 7);
  std::atomic<bool> stop{true};
  TrainResult r = test::train_quietly(ds, tmp / "part", c, &stop);
  int resumes = 0;
  while (!r.completed && resumes < 100) {
    r = test::train_quietly(ds, tmp / "part", c, &stop, /*resume=*/true);
    ++resumes;
  }
  REQUIRE(r.completed);
  CHECK(resumes == 7 + 4);
  CHECK(test::read_bytes(tmp / "full/model.safetensors") == test::read_bytes(tmp / "part/model.safetensors"));
  CHECK(log_without_rates(tmp / "full") == log_without_rates(tmp / "part"));
  CHECK(log_without_rates(tmp / "full").size() == 1 + 7 + 4);  // a row a step at this size
}

TEST_CASE("trainer: the resumed log is the checkpoint's and a dead process's temporary files go") {
  test::TempDir tmp("trainer-crash");
  std::string ds = make_tiny_dataset(tmp.path().string());
  const Config c = step_config();
  REQUIRE(test::train_quietly(ds, tmp / "full", c).completed);
  std::atomic<bool> stop{true};
  const std::string part = tmp / "part";
  REQUIRE_FALSE(test::train_quietly(ds, part, c, &stop).completed);
  REQUIRE_FALSE(test::train_quietly(ds, part, c, &stop, true).completed);
  // What a kill -9 at the wrong moment leaves: log rows the checkpoint does not know (the
  // old order wrote the log first), and half-written temporaries of the dead process.
  std::string log = test::read_bytes(part + "/train_log.csv");
  test::write_bytes(part + "/train_log.csv", log + "gan,3,1,9,9,9,9,9,,,,1\ngan,3,1,9,9,9,9,9,,,,1\n");
  test::write_bytes(part + "/checkpoint.safetensors.tmp.99999", "half");
  test::write_bytes(part + "/train_log.csv.tmp.4242", "half");
  fs::create_directories(part + "/samples");
  test::write_bytes(part + "/samples/gan_step_0000003.png.tmp.77", "half");
  test::write_bytes(part + "/samples/gan_step_0000004.png.tmp.77.12", "half");  // the image writer's form
  test::write_bytes(part + "/notes.tmp.txt", "a user's file");                  // not ours: kept
  REQUIRE(test::train_quietly(ds, part, c, nullptr, true).completed);
  CHECK(log_without_rates(tmp / "full") == log_without_rates(part));
  CHECK_FALSE(fs::exists(part + "/checkpoint.safetensors.tmp.99999"));
  CHECK_FALSE(fs::exists(part + "/train_log.csv.tmp.4242"));
  CHECK_FALSE(fs::exists(part + "/samples/gan_step_0000003.png.tmp.77"));
  CHECK_FALSE(fs::exists(part + "/samples/gan_step_0000004.png.tmp.77.12"));
  CHECK(fs::exists(part + "/notes.tmp.txt"));
  CHECK(test::read_bytes(tmp / "full/model.safetensors") == test::read_bytes(part + "/model.safetensors"));
}

TEST_CASE("trainer: a second process is kept out of a run directory by its lock") {
  test::TempDir tmp("trainer-lock");
  std::string ds = make_tiny_dataset(tmp.path().string());
  const std::string run_dir = tmp / "run";
  fs::create_directories(run_dir);
  // flock locks belong to an open file description: this one conflicts with the trainer's
  // as another process's would.
  int fd = ::open((run_dir + "/.lock").c_str(), O_RDWR | O_CREAT, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);
  CHECK_THROWS_WITH_AS(run(ds, run_dir, "sparse-kl"), doctest::Contains("another sparsead process is training"), Error);
  ::flock(fd, LOCK_UN);
  ::close(fd);
  CHECK(run(ds, run_dir, "sparse-kl").completed);  // released: the run goes ahead
}

TEST_CASE("trainer: validation statistics and the alarm are recorded in the model file and config.json") {
  test::TempDir tmp("trainer-alarm");
  std::string ds = make_tiny_dataset(tmp.path().string());
  TrainResult r = run(ds, tmp / "run", "sparse-kl");
  REQUIRE(r.completed);
  AnomalyModel m = AnomalyModel::load(r.model_path, Device::cpu());
  const Config& c = m.config();
  CHECK(c.alarm == r.alarm);
  CHECK(c.val_image_auroc >= 0);
  CHECK(c.val_image_auroc_se >= 0);
  CHECK(c.g_val_ssim > -1);
  CHECK(c.val_distinct_scores >= 1);
  const Json j = Json::parse(test::read_bytes(tmp / "run/config.json"));
  CHECK(j.get_string("alarm", "config.json") == r.alarm);
  // Two GAN epochs on 12 images leave G on its plateau: the alarm must say so.
  CHECK(r.alarm.find("G is still on its plateau") != std::string::npos);
  const Json s = Json::parse(test::read_bytes(tmp / "run/summary.json"));
  CHECK(s.get_int("steps_gan", "summary.json") == 6);
}

namespace {
// Keeps the trainer's log lines.
class LineSink final : public TrainProgress {
 public:
  std::vector<std::string> lines;
  void start(const std::string&, int64_t, const std::string&) override {}
  void advance(int64_t, const std::string&) override {}
  void finish() override {}
  void line(const std::string& text) override { lines.push_back(text); }
};
}  // namespace

TEST_CASE("trainer: label_contrast reports how many perturbed images kept their label") {
  test::TempDir tmp("trainer-contrast");
  std::string ds = make_tiny_dataset(tmp.path().string());
  for (double contrast : {0.0, 1e-3, 1000.0}) {
    CAPTURE(contrast);
    LineSink sink;
    TrainOptions o;
    o.dataset = data::read_mvtec(ds);
    o.out_dir = tmp.path().string() + "/run" + std::to_string(static_cast<int>(contrast * 1000));
    o.cfg = tiny_config("sparse-kl");
    o.cfg.label_contrast = contrast;
    o.quiet = true;
    o.progress = &sink;
    REQUIRE(train(o).completed);
    int64_t kept = 0, perturbed = 0, rows = 0;
    for (const std::string& l : sink.lines) {
      const size_t at = l.find("label_contrast kept ");
      if (at == std::string::npos) continue;
      long long k = 0, n = 0;
      REQUIRE(std::sscanf(l.c_str() + at, "label_contrast kept %lld of %lld", &k, &n) == 2);
      kept += k, perturbed += n, ++rows;
    }
    if (contrast == 0.0) {
      CHECK(rows == 0);  // the option off: no line
    } else {
      CHECK(rows > 0);
      CHECK(perturbed > 0);
      // A tiny contrast keeps every label with some residual inside; 1000 keeps none.
      CHECK(kept == (contrast < 1 ? perturbed : 0));
    }
  }
}

// The step guard (model/train_step.h): steps read no loss; the host reads a log period's
// losses at its row, and the first non-finite one fails the run naming its own step, not
// the row's. Learning rates of 1e30 blow up at step 1; rows come every 3 steps here.
TEST_CASE("trainer: a diverging run fails at its log row naming the first non-finite loss and its step") {
  test::TempDir tmp("trainer-diverge");
  std::string ds = make_tiny_dataset(tmp.path().string());
  TrainOptions o;
  o.dataset = data::read_mvtec(ds);
  o.out_dir = tmp.path().string() + "/run";
  o.cfg = tiny_config("sparse-kl");
  o.cfg.epochs_gan = o.cfg.epochs_seg = -1;
  o.cfg.steps_gan = 100, o.cfg.steps_seg = 3;  // a log row every 3 steps
  o.cfg.lr_g = o.cfg.lr_d = 1e30;
  o.quiet = true;
  CHECK_THROWS_WITH_AS(train(o), doctest::Contains("training diverged: L_G is"), Error);
  try {
    train(o);
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK_MESSAGE(msg.find("at epoch 0, step 1 (try a lower learning rate)") != std::string::npos, msg);
  }
  CHECK_FALSE(fs::exists(o.out_dir + "/model.safetensors"));
}
