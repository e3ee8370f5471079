// The `sparsead` command line, run in-process through sparsead_main: --help for every
// verb, `synth` determinism, one case per kind of bad input (each must exit non-zero with
// one error line naming the file or flag, and leave no output directory behind), the
// panel drawing, Ctrl-C and --resume, and a tiny end-to-end synth -> train -> test ->
// predict -> info.

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <thread>

#include "apps/cli_args.h"
#include "apps/cli_panels.h"
#include "cli_fixtures.h"
#include "cli_test_util.h"
#include "data/synth.h"
#include "data_test_util.h"
#include "kernels/runtime.h"
#include "layers/safetensors.h"
#include "model/anomaly_model.h"
#include "test_util.h"

using namespace sad;
using sad::test::has;
using sad::test::Run;
using sad::test::sparsead;
using sad::test::TempDir;
namespace fs = std::filesystem;

using namespace sad::test;  // the fixtures of cli_fixtures.h

// ---- help and usage ----------------------------------------------------------------------

TEST_CASE("cli help: each verb's --help lists its flags and exits 0") {
  const std::map<std::string, std::vector<std::string>> flags = {
      {"synth", {"--out", "--seed", "--size", "--channels", "--kind"}},
      {"train",
       {"--data", "--out", "--preset", "--mode", "--epochs-gan", "--epochs-seg", "--batch", "--device", "--seed",
        "--resume", "--config", "--set", "--threads", "--quiet", "--init-generator", "--folder-normal",
        "--folder-abnormal", "--folder-mask"}},
      {"test", {"--model", "--data", "--out", "--device", "--folder-normal"}},
      {"predict", {"--model", "--input", "--out", "--threshold", "--device"}},
      {"info", {"--model", "--json"}},
  };
  for (const auto& [verb, names] : flags) {
    CAPTURE(verb);
    Run r = sparsead({verb, "--help"});
    CHECK(r.rc == 0);
    CHECK(r.err.empty());
    CHECK(r.out.rfind("usage: sparsead " + verb, 0) == 0);
    for (const std::string& f : names) CHECK_MESSAGE(r.out.find(f) != std::string::npos, verb, " --help lacks ", f);
  }
  // Every Config option is named in train --help (the --set list).
  Run t = sparsead({"train", "--help"});
  for (const std::string& k : Config::keys()) CHECK_MESSAGE(t.out.find(k) != std::string::npos, "missing ", k);
  // -h anywhere, the overview, and no verb at all.
  CHECK(sparsead({"test", "--model", "x", "-h"}).rc == 0);
  Run o = sparsead({"--help"});
  CHECK(o.rc == 0);
  for (const char* v : {"synth", "train", "test", "predict", "info"}) CHECK(o.out.find(v) != std::string::npos);
  CHECK(sparsead({}).rc == 2);
}

// ---- synth ---------------------------------------------------------------------------------

TEST_CASE("cli synth: the same seed writes byte-identical datasets") {
  TempDir d("cli");
  const std::vector<std::string> common = {"--seed",  "7", "--size",      "32", "--channels",   "1",
                                           "--train", "3", "--test-good", "1",  "--per-defect", "1"};
  auto synth = [&](const std::string& out, const std::string& seed) {
    std::vector<std::string> a = {"synth", "--out", out};
    a.insert(a.end(), common.begin(), common.end());
    a[4] = seed;
    return sparsead(a);
  };
  Run a = synth(d / "a", "7");
  REQUIRE(a.rc == 0);
  CHECK(a.out.find("3 train") != std::string::npos);
  REQUIRE(synth(d / "b", "7").rc == 0);
  REQUIRE(synth(d / "c", "8").rc == 0);
  auto sa = snapshot(d / "a"), sb = snapshot(d / "b"), sc = snapshot(d / "c");
  CHECK(sa.size() == 3 + 1 + 4 * 2);  // train, test/good, image + mask per defect type
  CHECK(sa == sb);
  CHECK(sa.at("train/good/000.png") != sc.at("train/good/000.png"));
  // A second run into the same directory is refused and leaves it as it was.
  Run again = synth(d / "a", "9");
  check_refused(again, 1, d / "a", "");
  CHECK(snapshot(d / "a") == sa);
}

// ---- bad input: one case each ----------------------------------------------------------------

TEST_CASE("cli bad input: missing directories") {
  TempDir d("cli");
  check_refused(sparsead({"train", "--data", d / "nope", "--out", d / "run"}), 1, d / "nope", d / "run");
  check_refused(sparsead({"train", "--folder-normal", d / "nope", "--out", d / "run"}), 1, d / "nope", d / "run");
  // A category without train/good.
  fs::create_directories(d / "cat/test/good");
  check_refused(sparsead({"train", "--data", d / "cat", "--out", d / "run"}), 1, d / "cat/train/good", d / "run");
  // predict on an input that does not exist.
  const std::string ds = tiny_dataset(d);
  model_file(d, "m.safetensors", [](Config&) {});
  check_refused(sparsead({"predict", "--model", d / "m.safetensors", "--input", d / "none.png", "--out", d / "p"}), 1,
                "--input '" + (d / "none.png") + "'", d / "p");
  check_refused(sparsead({"test", "--model", d / "absent.safetensors", "--data", ds, "--out", d / "t"}), 1,
                d / "absent.safetensors", d / "t");
}

TEST_CASE("cli bad input: empty training set") {
  TempDir d("cli");
  fs::create_directories(d / "cat/train/good");
  check_refused(sparsead({"train", "--data", d / "cat", "--out", d / "run"}), 1, "empty training set", d / "run");
  CHECK(sparsead({"train", "--data", d / "cat", "--out", d / "run"}).err.find(d / "cat/train/good") !=
        std::string::npos);
  // Two images are too few to hold one out and still fill a batch of two.
  sad::test::write_png(d / "few/train/good/a.png", 3, 8, 8, 1);
  sad::test::write_png(d / "few/train/good/b.png", 3, 8, 8, 2);
  check_refused(sparsead({"train", "--data", d / "few", "--out", d / "run"}), 1, "need at least 3", d / "run");
}

TEST_CASE("cli bad input: corrupt image") {
  TempDir d("cli");
  const std::string ds = tiny_dataset(d);
  const std::string bad = ds + "/train/good/zz_bad.png";
  sad::test::write_bytes(bad, "this is not an image, just bytes with a .png name");
  check_refused(sparsead({"train", "--data", ds, "--out", d / "run"}), 1, bad, d / "run");
}

TEST_CASE("cli bad input: truncated image") {
  TempDir d("cli");
  const std::string ds = tiny_dataset(d);
  // The header is intact, the pixels stop half way: the container check of the dataset
  // reader's header pass finds the cut chunk (a cut at a chunk boundary, only decoding every
  // image before training would).
  const std::string full = d / "full.png";
  data::save_png(full, sad::test::byte_image(3, 64, 64, 5));  // noise: incompressible
  const std::string bytes = sad::test::read_bytes(full);
  const std::string cut = ds + "/train/good/zz_cut.png";
  sad::test::write_bytes(cut, bytes.substr(0, bytes.size() / 2));
  check_refused(sparsead({"train", "--data", ds, "--out", d / "run"}), 1, cut, d / "run");
  CHECK(sparsead({"train", "--data", ds, "--out", d / "run"}).err.find("truncated") != std::string::npos);
  // The same file among the test images refuses `test` before anything is written.
  fs::rename(cut, ds + "/test/good/zz_cut.png");
  const Config cfg = untrained_config();
  AnomalyModel m(cfg);
  m.init(1);
  m.save(d / "m.safetensors");
  check_refused(sparsead({"test", "--model", d / "m.safetensors", "--data", ds, "--out", d / "t"}), 1,
                ds + "/test/good/zz_cut.png", d / "t");
}

TEST_CASE("cli bad input: mask size mismatch") {
  TempDir d("cli");
  const std::string ds = tiny_dataset(d);
  const std::string mask = ds + "/ground_truth/hole/000_mask.png";
  sad::test::write_png(mask, 1, 16, 16, 4);  // the image is 32 x 32
  check_refused(sparsead({"train", "--data", ds, "--out", d / "run"}), 1, mask, d / "run");
  Run r = sparsead({"train", "--data", ds, "--out", d / "run"});
  CHECK(r.err.find("16 x 16") != std::string::npos);
  CHECK(r.err.find(ds + "/test/hole/000.png") != std::string::npos);
}

TEST_CASE("cli bad input: unknown flag and missing flags") {
  TempDir d("cli");
  const std::string ds = tiny_dataset(d);
  check_refused(sparsead({"train", "--data", ds, "--out", d / "run", "--frobnicate", "3"}), 2, "--frobnicate",
                d / "run");
  check_refused(sparsead({"train", "--data", ds}), 2, "missing required flag --out", "");
  check_refused(sparsead({"train", "--out", d / "run"}), 2, "--data", d / "run");
  check_refused(sparsead({"test", "--model"}), 2, "--model needs a value", "");
  check_refused(sparsead({"predict", "stray", "--out", d / "p"}), 2, "'stray'", d / "p");
  check_refused(sparsead({"frobnicate"}), 2, "unknown command 'frobnicate'", "");
}

TEST_CASE("cli bad input: bad flag values") {
  TempDir d("cli");
  const std::string ds = tiny_dataset(d);
  const std::string run = d / "run";
  auto train_with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = {"train", "--data", ds, "--out", run};
    a.insert(a.end(), extra.begin(), extra.end());
    return sparsead(a);
  };
  check_refused(train_with({"--epochs-gan", "many"}), 2, "--epochs-gan", run);
  check_refused(train_with({"--epochs-seg", "-1"}), 2, "--epochs-seg", run);
  check_refused(train_with({"--batch", "1"}), 2, "--batch", run);
  check_refused(train_with({"--device", "gpu"}), 2, "--device", run);
  check_refused(train_with({"--threads", "0"}), 2, "--threads", run);
  check_refused(train_with({"--preset", "huge"}), 2, "--preset", run);
  check_refused(train_with({"--mode", "magic"}), 2, "--mode", run);
  check_refused(train_with({"--set", "no_such_option=1"}), 2, "no_such_option", run);
  check_refused(train_with({"--set", "rho=lots"}), 2, "rho", run);
  check_refused(train_with({"--set", "image_size=30"}), 2, "image_size", run);
  check_refused(train_with({"--set", "novalue"}), 2, "--set", run);
  // A config file with an unknown key names the file and the key.
  sad::test::write_bytes(d / "cfg.json", "{\"width\": 8, \"widht\": 4}");
  check_refused(train_with({"--config", d / "cfg.json"}), 1, "widht", run);
  CHECK(train_with({"--config", d / "cfg.json"}).err.find(d / "cfg.json") != std::string::npos);
  check_refused(train_with({"--config", d / "none.json"}), 1, d / "none.json", run);
  check_refused(sparsead({"synth", "--out", d / "s", "--channels", "2"}), 2, "--channels", d / "s");
  check_refused(sparsead({"synth", "--out", d / "s", "--size", "8"}), 2, "--size", d / "s");
  check_refused(sparsead({"synth", "--out", d / "s", "--defects", "hole,dent"}), 2, "dent", d / "s");
  check_refused(sparsead({"predict", "--model", "m", "--input", ds, "--out", d / "p", "--threshold", "2"}), 2,
                "--threshold", d / "p");
}

TEST_CASE("cli bad input: model file from another config") {
  TempDir d("cli");
  const std::string ds = tiny_dataset(d);
  // G and S tensors of width 4 under a config that says width 8.
  const Config small = untrained_config();
  AnomalyModel m(small);
  m.init(1);
  Config other = small;
  other.width = 8;
  const std::string bad = d / "other.safetensors";
  save_safetensors(bad, m.state(), {{"config", other.to_json().dump()}});
  check_refused(sparsead({"test", "--model", bad, "--data", ds, "--out", d / "t"}), 1, bad, d / "t");
  check_refused(sparsead({"predict", "--model", bad, "--input", ds + "/test/good", "--out", d / "p"}), 1, bad, d / "p");
  // A safetensors file that is no model at all.
  const std::string plain = d / "plain.safetensors";
  save_safetensors(plain, {{"w", Tensor::zeros({2})}}, {});
  check_refused(sparsead({"info", "--model", plain}), 1, "not a sparsead model file", "");
  // A generator to share whose shape does not fit the run.
  m.save(d / "w4.safetensors");
  check_refused(sparsead({"train", "--data", ds, "--out", d / "run", "--set", "image_size=32", "width=8",
                          "--init-generator", d / "w4.safetensors"}),
                1, "--init-generator '" + (d / "w4.safetensors") + "'", d / "run");
  // One whose config fits the run but whose tensors do not (width 4 under width 8).
  check_refused(sparsead({"train", "--data", ds, "--out", d / "run", "--set", "image_size=32", "width=8",
                          "--init-generator", bad}),
                1, "--init-generator '" + bad + "'", d / "run");
}

TEST_CASE("cli bad input: oversize image") {
  TempDir d("cli");
  const std::string ds = tiny_dataset(d);
  const std::string big = ds + "/train/good/zz_big.png";
  sad::test::write_bytes(big, png_header(30000, 10));
  check_refused(sparsead({"train", "--data", ds, "--out", d / "run"}), 1, big, d / "run");
  CHECK(sparsead({"train", "--data", ds, "--out", d / "run"}).err.find("exceeds the limit of 20000") !=
        std::string::npos);
  // predict refuses it too, before its output directory exists.
  const Config cfg = untrained_config();
  AnomalyModel m(cfg);
  m.init(1);
  m.save(d / "m.safetensors");
  check_refused(sparsead({"predict", "--model", d / "m.safetensors", "--input", big, "--out", d / "p"}), 1, big,
                d / "p");
}

TEST_CASE("cli bad input: existing run without --resume") {
  TempDir d("cli");
  const std::string ds = tiny_dataset(d);
  const std::string run = d / "run";
  sad::test::write_bytes(run + "/notes.txt", "an earlier run");
  const auto before = snapshot(run);
  check_refused(sparsead({"train", "--data", ds, "--out", run}), 1, "--out '" + run + "'", "");
  CHECK(snapshot(run) == before);
  // --resume on a directory without a checkpoint, and on none at all.
  check_refused(sparsead({"train", "--data", ds, "--out", run, "--resume"}), 1, "checkpoint", "");
  check_refused(sparsead({"train", "--data", ds, "--out", d / "fresh", "--resume"}), 1, d / "fresh", d / "fresh");
  CHECK(snapshot(run) == before);
}

TEST_CASE("cli bad input: --device cuda without a GPU" * doctest::skip(cuda_available())) {
  TempDir d("cli");
  const std::string ds = tiny_dataset(d);
  check_refused(sparsead({"train", "--data", ds, "--out", d / "run", "--device", "cuda"}), 1, "--device cuda",
                d / "run");
}

// ---- panels ------------------------------------------------------------------------------------

TEST_CASE("cli panels: jet colormap endpoints and a square's outline") {
  float r, g, b;
  cli::jet(0.0f, r, g, b);  // dark blue
  CHECK(r == 0.0f);
  CHECK(g == 0.0f);
  CHECK(b == doctest::Approx(0.5));
  cli::jet(0.5f, r, g, b);  // green in the middle
  CHECK(g == 1.0f);
  CHECK(r == doctest::Approx(0.5));
  CHECK(b == doctest::Approx(0.5));
  cli::jet(1.0f, r, g, b);  // dark red
  CHECK(r == doctest::Approx(0.5));
  CHECK(g == 0.0f);
  CHECK(b == 0.0f);
  cli::jet(7.0f, r, g, b);  // clamped
  CHECK(r == doctest::Approx(0.5));

  // A 3 x 3 square in a 7 x 7 image: its 8 border pixels are drawn, its centre is not.
  Tensor region = Tensor::zeros({7, 7});
  for (int i = 2; i <= 4; ++i)
    for (int j = 2; j <= 4; ++j) region.data<float>()[i * 7 + j] = 1;
  Tensor rgb = Tensor::zeros({3, 7, 7});
  cli::draw_outline(rgb, region, 1, 0, 0);
  int red = 0;
  for (int i = 0; i < 49; ++i) red += rgb.data<float>()[i] == 1.0f ? 1 : 0;
  CHECK(red == 8);
  CHECK(rgb.data<float>()[3 * 7 + 3] == 0.0f);

  // A panel is four tiles and three 2-pixel gaps wide; large images are shrunk to the tile size.
  Tensor panel = cli::make_panel(Tensor::full({1, 300, 150}, 0.5), Tensor(), Tensor::zeros({300, 150}), 100);
  CHECK(panel.dim(0) == 3);
  CHECK(panel.dim(1) == 100);
  CHECK(panel.dim(2) == 4 * 50 + 6);
  CHECK(cli::user_message("bad thing [check failed: x > 0] [model/config.cpp:12]") == "bad thing");
  CHECK(cli::user_message("keep [this]") == "keep [this]");
}

// ---- training runs -------------------------------------------------------------------------------

TEST_CASE("cli end to end: synth train test predict info on a tiny set") {
  TempDir d("cli");
  Run s = sparsead({"synth", "--out", d / "ds", "--seed", "3", "--size", "32", "--train", "8", "--test-good", "2",
                    "--per-defect", "1", "--defects", "hole,scratch"});
  REQUIRE(s.rc == 0);
  const std::string run = d / "run";
  Run t = sparsead(tiny_train(d / "ds", run));
  INFO(t.err);
  REQUIRE(t.rc == 0);
  for (const char* f : {"model.safetensors", "config.json", "train_log.csv"}) CHECK(fs::exists(run + "/" + f));

  Run e = sparsead({"test", "--model", run + "/model.safetensors", "--data", d / "ds", "--out", d / "eval", "--quiet"});
  INFO(e.err);
  REQUIRE(e.rc == 0);
  const Json metrics = Json::parse(sad::test::read_bytes(d / "eval/metrics.json"));
  for (const char* k : {"image_auroc", "pixel_auroc", "aupro", "pixel_ap", "image_f1"}) CHECK(metrics.contains(k));
  CHECK(metrics.get_object("per_type", "metrics").contains("hole"));
  CHECK(e.out.find("image_auroc") != std::string::npos);  // the printed table
  // One panel per test image, mirroring test/<type>/<stem>.
  for (const char* p : {"good/000.png", "good/001.png", "hole/000.png", "scratch/000.png"}) {
    CAPTURE(p);
    REQUIRE(fs::exists(d / "eval/panels/" + p));
    data::ImageInfo info = data::read_image_info(d / ("eval/panels/" + std::string(p)));
    CHECK(info.width == 4 * 32 + 6);
    CHECK(info.height == 32);
  }
  const std::string scores = sad::test::read_bytes(d / "eval/scores.csv");
  CHECK(std::count(scores.begin(), scores.end(), '\n') == 1 + 4);  // header + one row per test image

  // Folder mode: the same images as normal / abnormal / mask directories.
  Run f = sparsead({"test", "--model", run + "/model.safetensors", "--folder-normal", d / "ds/test/good",
                    "--folder-abnormal", d / "ds/test/hole", "--folder-mask", d / "ds/ground_truth/hole", "--out",
                    d / "eval_folder", "--quiet", "--no-panels"});
  INFO(f.err);
  REQUIRE(f.rc == 0);
  const Json fm = Json::parse(sad::test::read_bytes(d / "eval_folder/metrics.json"));
  CHECK(fm.get_object("per_type", "metrics").contains("abnormal"));
  CHECK(fm.get("pixel_auroc", "metrics").is_number());
  CHECK_FALSE(fs::exists(d / "eval_folder/panels"));

  Run p = sparsead({"predict", "--model", run + "/model.safetensors", "--input", d / "ds/test/hole", "--out",
                    d / "pred", "--threshold", "0.4"});
  INFO(p.err);
  REQUIRE(p.rc == 0);
  CHECK(fs::exists(d / "pred/000_heatmap.png"));
  const std::string csv = sad::test::read_bytes(d / "pred/predictions.csv");
  CHECK(csv.rfind("path,raw_score,score,label,latency_ms\n", 0) == 0);
  CHECK(csv.find(d / "ds/test/hole/000.png") != std::string::npos);
  CHECK(p.out.find("latency") != std::string::npos);

  Run i = sparsead({"info", "--model", run + "/model.safetensors", "--json"});
  REQUIRE(i.rc == 0);
  const Json cfg = Json::parse(i.out);
  CHECK(cfg.get_int("width", "info") == 4);
  CHECK(cfg.get_int("image_size", "info") == 32);
  CHECK(cfg.get_string("mode", "info") == "sparse-kl");
  const Run plain_info = sparsead({"info", "--model", run + "/model.safetensors"});
  CHECK(plain_info.out.find("residual_kind") != std::string::npos);
  CHECK(plain_info.out.find("network tensors") != std::string::npos);
  // score_reference=mean is the default on whole images: the run stores a map, and info counts it.
  CHECK(plain_info.out.find("  score reference: 1024 values") != std::string::npos);

  // Phase 1 shared with another mode: the second run starts from this generator.
  Run m = sparsead({"train", "--data", d / "ds", "--out", d / "run_mask", "--set", "image_size=32", "width=4",
                    "--batch", "4", "--epochs-seg", "1", "--mode", "mask-supervised", "--quiet", "--device", "cpu",
                    "--init-generator", run + "/model.safetensors"});
  INFO(m.err);
  CHECK(m.rc == 0);
  CHECK(fs::exists(d / "run_mask/model.safetensors"));
  CHECK(m.err.find("skips phase 1") == std::string::npos);  // no phase-1 option set: nothing to warn of

  // Phase-1 options that differ from the generator's do nothing there: the run says so.
  Run w = sparsead({"train",
                    "--data",
                    d / "ds",
                    "--out",
                    d / "run_mask2",
                    "--set",
                    "image_size=32",
                    "width=4",
                    "lr_schedule_g=cosine",
                    "lr_g=0.001",
                    "lr_s=0.002",
                    "--batch",
                    "4",
                    "--epochs-seg",
                    "1",
                    "--mode",
                    "mask-supervised",
                    "--quiet",
                    "--device",
                    "cpu",
                    "--init-generator",
                    run + "/model.safetensors"});
  INFO(w.err);
  CHECK(w.rc == 0);
  CHECK(w.err.find("skips phase 1, so these settings do nothing (the model records its generator's): lr_g 0.001 "
                   "(its generator: 2e-04), lr_schedule_g \"cosine\" (its generator: \"constant\")") !=
        std::string::npos);
  CHECK(w.err.find("lr_s 0.002") == std::string::npos);  // a phase-2 option is not named
  // The model records the generator's phase 1, and this run's phase 2.
  const Run wi = sparsead({"info", "--model", d / "run_mask2/model.safetensors", "--json"});
  REQUIRE(wi.rc == 0);
  const Json wc = Json::parse(wi.out);
  CHECK(wc.get_number("lr_g", "info") == 2e-4);
  CHECK(wc.get_string("lr_schedule_g", "info") == "constant");
  CHECK(wc.get_number("lr_s", "info") == 0.002);
}

namespace {
std::atomic<int> g_test_sigints{0};
extern "C" void count_sigint(int) { g_test_sigints.fetch_add(1); }
}  // namespace

// `cmd`, a training into `run`, with Ctrl-C as soon as its first checkpoint exists (training
// is then under way). A harmless handler of our own stands by meanwhile, restored after: a
// signal that arrives after train() returned cannot kill the test process.
Run interrupted_training(const std::vector<std::string>& cmd, const std::string& run) {
  struct sigaction sa = {}, old = {};
  sa.sa_handler = count_sigint;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old);
  std::thread interrupter([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!fs::exists(run + "/checkpoint.safetensors") && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ::kill(::getpid(), SIGINT);
  });
  Run r = sparsead(cmd);
  interrupter.join();
  sigaction(SIGINT, &old, nullptr);
  return r;
}

TEST_CASE("cli train: Ctrl-C stops with a checkpoint and --resume finishes the run") {
  TempDir d("cli");
  const std::string ds = tiny_dataset(d);
  const std::string run = d / "run";
  Run stopped = interrupted_training(tiny_train(ds, run, /*epochs_gan=*/6), run);
  INFO(stopped.err);
  REQUIRE(stopped.rc == 130);
  CHECK(stopped.err.find("--resume") != std::string::npos);
  CHECK(fs::exists(run + "/checkpoint.safetensors"));
  CHECK_FALSE(fs::exists(run + "/model.safetensors"));
  CHECK(g_test_sigints.load() == 0);  // the CLI's handler took it, not ours

  // The same command plus --resume continues; a changed setting is named and refused.
  std::vector<std::string> changed = tiny_train(ds, run, 7);
  changed.push_back("--resume");
  check_refused(sparsead(changed), 2, "epochs_gan", "");
  std::vector<std::string> again = tiny_train(ds, run, 6);
  again.push_back("--resume");
  Run resumed = sparsead(again);
  INFO(resumed.err);
  CHECK(resumed.rc == 0);
  CHECK(fs::exists(run + "/model.safetensors"));
}

// A run from --init-generator records its generator's phase 1, so the phase-1 options of the
// command that started it (which did nothing) must not stop its resume; others still must.
TEST_CASE("cli train: a run from --init-generator resumes with its own command minus the generator") {
  TempDir d("cli");
  const std::string ds = tiny_dataset(d);
  REQUIRE(sparsead(tiny_train(ds, d / "gen", 2)).rc == 0);
  const std::string run = d / "run";
  std::vector<std::string> cmd = tiny_train(ds, run, /*epochs_gan=*/6);  // 6: not the generator's 2
  *(std::find(cmd.begin(), cmd.end(), "--epochs-seg") + 1) = "6";
  for (const char* a : {"--set", "lr_g=0.001"}) cmd.push_back(a);
  std::vector<std::string> start = cmd;
  for (const std::string& a : {std::string("--init-generator"), d / "gen/model.safetensors"}) start.push_back(a);
  Run stopped = interrupted_training(start, run);
  INFO(stopped.err);
  REQUIRE(stopped.rc == 130);
  CHECK(stopped.err.find("skips phase 1") != std::string::npos);
  std::vector<std::string> changed = cmd;
  for (const char* a : {"--set", "lr_s=0.002", "--resume"}) changed.push_back(a);
  check_refused(sparsead(changed), 2, "lr_s 0.002", "");
  cmd.push_back("--resume");
  Run resumed = sparsead(cmd);
  INFO(resumed.err);
  REQUIRE(resumed.rc == 0);
  const Run info = sparsead({"info", "--model", run + "/model.safetensors", "--json"});
  REQUIRE(info.rc == 0);
  const Json c = Json::parse(info.out);
  CHECK(c.get_int("epochs_gan", "info") == 2);  // the generator's
  CHECK(c.get_number("lr_g", "info") == 2e-4);
}
