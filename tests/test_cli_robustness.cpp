// The `sparsead` command line against hostile input and failures, run in-process: damaged
// or foreign model files, control characters, rho out of float range, --resume with other
// data, failed starts, --overwrite of foreign directories, panels of images that share a
// stem, and output that must appear whole or not at all.
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "apps/cli_args.h"
#include "cli_fixtures.h"
#include "data/image.h"
#include "tensor/json.h"

using namespace sad;
using namespace sad::test;
namespace fs = std::filesystem;

TEST_CASE("cli bad input: a model with a NaN weight or an invalid stored config is refused by predict and info") {
  TempDir d("cli-nan-model");
  const std::string ds = tiny_dataset(d);
  const std::string image = ds + "/test/hole/000.png";
  const std::string ok = model_file(d, "ok.safetensors", [](Config&) {});
  Run pred_ok = sparsead({"predict", "--model", ok, "--input", image, "--out", d / "pred-ok", "--quiet"});
  INFO(pred_ok.err);
  REQUIRE(pred_ok.rc == 0);
  REQUIRE(sparsead({"info", "--model", ok}).rc == 0);

  const std::string nan = model_file(
      d, "nan.safetensors", [](Config&) {}, "S.head_out.bias");
  check_refused(sparsead({"predict", "--model", nan, "--input", image, "--out", d / "pred-nan", "--quiet"}), 1,
                "'S.head_out.bias' holds a NaN", d / "pred-nan");
  check_refused(sparsead({"info", "--model", nan}), 1, "nan.safetensors", "");

  const std::string bad_range =
      model_file(d, "range.safetensors", [](Config& c) { c.image_score_min = 2, c.image_score_max = 1; });
  check_refused(sparsead({"predict", "--model", bad_range, "--input", image, "--out", d / "pred-range", "--quiet"}), 1,
                "image_score_min 2 exceeds image_score_max 1", d / "pred-range");
  check_refused(sparsead({"info", "--model", bad_range}), 1, "range.safetensors", "");

  const std::string huge_sigma = model_file(d, "sigma.safetensors", [](Config& c) { c.residual_sigma = 1e9; });
  check_refused(sparsead({"info", "--model", huge_sigma}), 1, "residual_sigma", "");
}

TEST_CASE("cli info and predict repeat a model's collapse alarm on stderr") {
  TempDir d("cli-alarm");
  const std::string ds = tiny_dataset(d);
  const std::string m =
      model_file(d, "alarm.safetensors", [](Config& c) { c.alarm = "collapse alarm: test line. Try: more steps"; });
  Run info = sparsead({"info", "--model", m});
  CHECK(info.rc == 0);
  CHECK(info.err.find("warning: model '" + m + "': collapse alarm: test line") != std::string::npos);
  Run pred = sparsead({"predict", "--model", m, "--input", ds + "/test/hole/000.png", "--out", d / "pred", "--quiet"});
  CHECK(pred.rc == 0);
  CHECK(pred.err.find("collapse alarm: test line") != std::string::npos);
  const std::string healthy = model_file(d, "healthy.safetensors", [](Config&) {});
  CHECK(sparsead({"info", "--model", healthy}).err.find("alarm") == std::string::npos);
}

TEST_CASE("cli messages: control characters from files never reach the terminal raw") {
  CHECK(cli::user_message("image 'a\x1b[31mred.png': bad\tchunk\x7f") ==
        "image 'a\\x1b[31mred.png': bad\\x09chunk\\x7f");
  CHECK(cli::user_message("two\nlines") == "two lines");
}

TEST_CASE("cli bad input: rho too small for float32 and --resume with other data are named") {
  TempDir d("cli-rho-resume");
  const std::string ds = tiny_dataset(d);
  std::vector<std::string> tiny = tiny_train(ds, d / "rho");
  tiny.insert(tiny.end(), {"--set", "rho=1e-300"});
  check_refused(sparsead(tiny), 2, "rho must lie in [1e-6", d / "rho");

  // A run stopped after its first step, then resumed on other images.
  const std::string other = tiny_dataset(d, "other", 9);
  const std::string run = d / "run";
  std::vector<std::string> first = tiny_train(ds, run);
  first.insert(first.end(), {"--set", "steps_gan=1"});
  first.erase(std::find(first.begin(), first.end(), "--epochs-gan"),
              std::find(first.begin(), first.end(), "--epochs-seg"));
  REQUIRE(sparsead(first).rc == 0);
  fs::remove(run + "/model.safetensors");  // as if it had stopped after phase 1's checkpoint
  std::vector<std::string> resumed = tiny_train(other, run);
  resumed.insert(resumed.end(), {"--set", "steps_gan=1", "--resume"});
  resumed.erase(std::find(resumed.begin(), resumed.end(), "--epochs-gan"),
                std::find(resumed.begin(), resumed.end(), "--epochs-seg"));
  Run r = sparsead(resumed);
  INFO(r.err);
  CHECK(r.rc == 1);
  CHECK(r.err.find("different settings or data than the interrupted run: dataset_digest") != std::string::npos);
  CHECK(r.err.size() < 400);  // the differing key, not two whole configs
}

TEST_CASE("cli train: a run that failed before its first checkpoint is started again in place") {
  TempDir d("cli-failed-start");
  const std::string ds = tiny_dataset(d);
  const std::string run = d / "run";
  // What a start that died leaves: our marker and the lock file, no checkpoint, no model.
  fs::create_directories(run + "/samples");
  sad::test::write_bytes(run + "/.sparsead-run", "a sparsead training run\n");
  sad::test::write_bytes(run + "/.lock", "");
  sad::test::write_bytes(run + "/samples/leftover.png", "x");
  Run t = sparsead(tiny_train(ds, run));
  INFO(t.err);
  CHECK(t.rc == 0);
  CHECK(t.err.find("failed before its first checkpoint; starting it again") != std::string::npos);
  CHECK(fs::exists(run + "/model.safetensors"));
  CHECK_FALSE(fs::exists(run + "/samples/leftover.png"));
  // A non-empty directory without our marker is never cleaned.
  const std::string foreign = d / "foreign";
  fs::create_directories(foreign);
  sad::test::write_bytes(foreign + "/thesis.txt", "keep");
  check_refused(sparsead(tiny_train(ds, foreign)), 1, "directory exists and is not empty", "");
  CHECK(fs::exists(foreign + "/thesis.txt"));
}

TEST_CASE("cli test and predict: --overwrite replaces only sparsead's own output") {
  TempDir d("cli-overwrite");
  const std::string ds = tiny_dataset(d);
  REQUIRE(sparsead(tiny_train(ds, d / "run")).rc == 0);
  const std::string model = d / "run/model.safetensors";
  const std::string foreign = d / "home";
  fs::create_directories(foreign);
  sad::test::write_bytes(foreign + "/notes.txt", "keep");
  for (const char* verb : {"test", "predict"}) {
    std::vector<std::string> args = {verb, "--model", model, "--out", foreign, "--overwrite", "--quiet"};
    if (std::string(verb) == "test")
      args.insert(args.end(), {"--data", ds, "--no-panels"});
    else
      args.insert(args.end(), {"--input", ds + "/test/hole/000.png"});
    check_refused(sparsead(args), 1, "holds files sparsead did not write", "");
    CHECK(sad::test::read_bytes(foreign + "/notes.txt") == "keep");
  }
  // An earlier output of sparsead may be replaced.
  const std::string out = d / "out";
  REQUIRE(sparsead({"test", "--model", model, "--data", ds, "--out", out, "--quiet", "--no-panels"}).rc == 0);
  CHECK(sparsead({"test", "--model", model, "--data", ds, "--out", out, "--quiet", "--no-panels", "--overwrite"}).rc ==
        0);
}

TEST_CASE("cli test: needs no training images and keeps panels of images that share a stem apart") {
  TempDir d("cli-test-stems");
  const std::string ds = tiny_dataset(d);
  REQUIRE(sparsead(tiny_train(ds, d / "run")).rc == 0);
  // The test set alone, with two good images of one stem in two formats.
  const std::string test_only = d / "test-only";
  fs::create_directories(test_only);
  fs::copy(ds + "/test", test_only + "/test", fs::copy_options::recursive);
  fs::copy(ds + "/ground_truth", test_only + "/ground_truth", fs::copy_options::recursive);
  Tensor img = data::load_image(test_only + "/test/good/000.png", 3);
  data::save_jpeg(test_only + "/test/good/000.jpg", img, 95);
  Run t =
      sparsead({"test", "--model", d / "run/model.safetensors", "--data", test_only, "--out", d / "eval", "--quiet"});
  INFO(t.err);
  REQUIRE(t.rc == 0);
  CHECK(fs::exists(d / "eval/panels/good/000_png.png"));
  CHECK(fs::exists(d / "eval/panels/good/000_jpg.png"));
  CHECK(fs::exists(d / "eval/panels/good/001.png"));
}

// test and predict write into a staging directory beside --out and move it into place only
// when everything is written. A write that fails partway (here a file-size limit, as a full
// disk would) leaves the earlier output exactly as it was and no staging directory behind.
TEST_CASE("cli test and predict: a write failing partway leaves the earlier output as it was") {
  TempDir d("cli-staged");
  const std::string ds = tiny_dataset(d);
  const std::string model = model_file(d, "m.safetensors", [](Config&) {});
  // A large noise image: its heatmap PNG is far over the limit below, the small ones are not.
  const std::string big = d / "big.png";
  data::save_png(big, sad::test::byte_image(3, 256, 256, 9));
  const std::string inputs = d / "inputs";
  fs::create_directories(inputs);
  fs::copy_file(ds + "/test/hole/000.png", inputs + "/000.png");
  auto siblings = [&] {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(d.path()))
      if (e.path().filename().string().find(".partial.") != std::string::npos ||
          e.path().filename().string().find(".old.") != std::string::npos)
        names.push_back(e.path().filename().string());
    return names;
  };
  auto listing = [](const std::string& dir) {
    std::vector<std::pair<std::string, std::string>> files;
    for (const auto& e : fs::recursive_directory_iterator(dir))
      if (e.is_regular_file()) files.emplace_back(e.path().string(), sad::test::read_bytes(e.path().string()));
    std::sort(files.begin(), files.end());
    return files;
  };
  for (const char* verb : {"predict", "test"}) {
    const std::string out = d / (std::string("out-") + verb);
    std::vector<std::string> args = {verb, "--model", model, "--out", out, "--quiet"};
    if (std::string(verb) == "test")
      args.insert(args.end(), {"--data", ds});
    else
      args.insert(args.end(), {"--input", inputs});
    const Run first = sparsead(args);
    INFO(first.err);
    REQUIRE(first.rc == 0);
    const auto before = listing(out);
    REQUIRE(before.size() >= 2);

    // Again with --overwrite and the big image last, under a 16 KiB file-size limit: the
    // small image's output is written, then the big one's fails.
    args.push_back("--overwrite");
    const std::string big_copy = std::string(verb) == "predict" ? inputs + "/zzz.png" : ds + "/test/good/zzz.png";
    fs::copy_file(big, big_copy);
    rlimit old{};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
    rlimit small_files = old;
    small_files.rlim_cur = 16 * 1024;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &small_files) == 0);
    const Run failed = sparsead(args);
    // And into a new directory: nothing at all may appear.
    std::vector<std::string> fresh_args = args;
    const std::string fresh = d / (std::string("fresh-") + verb);
    fresh_args[4] = fresh;
    fresh_args.pop_back();  // --overwrite
    const Run failed_fresh = sparsead(fresh_args);
    REQUIRE(setrlimit(RLIMIT_FSIZE, &old) == 0);
    fs::remove(big_copy);
    check_refused(failed, 1, "disk full", "");
    check_refused(failed_fresh, 1, "disk full", fresh);
    CHECK(listing(out) == before);
    CHECK(siblings().empty());
  }
}
