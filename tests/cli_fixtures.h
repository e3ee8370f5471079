// The CLI tests' fixtures (tests/test_cli*.cpp): the refusal check, a tiny MVTec-layout set,
// the flags of a tiny training run, directory snapshots, crafted headers and model files.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cli_test_util.h"
#include "data/synth.h"
#include "data_test_util.h"
#include "model/anomaly_model.h"
#include "test_util.h"

namespace sad::test {

namespace fs = std::filesystem;

// The contract of a refused command: exit code, exactly one line on stderr in the
// house format that contains `names`, and nothing at `out_dir`.
inline void check_refused(const Run& r, int rc, const std::string& names, const std::string& out_dir) {
  INFO("stderr: " << r.err);
  CHECK(r.rc == rc);
  CHECK(r.err.rfind("sparsead: error: ", 0) == 0);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.find(names) != std::string::npos);
  CHECK(r.err.find("[check failed") == std::string::npos);  // developer suffixes stripped
  if (!out_dir.empty()) CHECK_MESSAGE(!fs::exists(out_dir), "a refused command created ", out_dir);
}

// A tiny MVTec-layout set: 32 x 32 RGB, 8 train, 2 test good, 1 per defect type.
inline std::string tiny_dataset(const TempDir& d, const std::string& name = "ds", uint64_t seed = 3) {
  data::SynthConfig sc;
  sc.seed = seed;
  sc.size = 32;
  sc.channels = 3;
  sc.train = 8;
  sc.test_good = 2;
  sc.per_defect = 1;
  sc.defects = {"hole", "scratch"};
  const std::string dir = d / name;
  data::generate_synthetic_dataset(sc, dir);
  return dir;
}

// Flags for a training run small enough for a unit test on one core.
inline std::vector<std::string> tiny_train(const std::string& data, const std::string& run, int epochs_gan = 1) {
  return {"train",
          "--data",
          data,
          "--out",
          run,
          "--set",
          "image_size=32",
          "width=4",
          "--batch",
          "4",
          "--epochs-gan",
          std::to_string(epochs_gan),
          "--epochs-seg",
          "1",
          "--seed",
          "2",
          "--quiet",
          "--device",
          "cpu"};
}

inline std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) out[fs::relative(e.path(), root).string()] = sad::test::read_bytes(e.path().string());
  return out;
}

// The 33-byte PNG of test_image.cpp: signature + IHDR claiming `w` x `h` (CRC unchecked).
inline std::string png_header(uint32_t w, uint32_t h) {
  std::string hdr = std::string("\x89PNG\r\n\x1a\n", 8) + std::string("\0\0\0\x0dIHDR", 8);
  for (uint32_t v : {w, h})
    for (int s = 24; s >= 0; s -= 8) hdr += static_cast<char>((v >> s) & 0xff);
  hdr += std::string("\x08\x02\x00\x00\x00", 5) + std::string("\0\0\0\0", 4);
  return hdr;
}

// The finalised config of an untrained model of the tiny set's shape (S 32, w 4, RGB). An
// untrained model has no score reference to store, so score_reference is none.
inline Config untrained_config() {
  Config c;
  c.image_size = 32;
  c.width = 4;
  c.channels = 3;
  c.set("score_reference", "none");
  c.finalise();
  return c;
}

// An untrained model file of the tiny set's shape with one change applied to its config
// or its tensors before saving.
inline std::string model_file(const TempDir& d, const std::string& name, const std::function<void(Config&)>& edit_cfg,
                              const std::string& nan_tensor = "") {
  Config c = untrained_config();
  edit_cfg(c);
  AnomalyModel m(c);
  m.init(1);
  if (!nan_tensor.empty()) {
    bool found = false;
    for (auto& [n, t] : m.state())
      if (n == nan_tensor) {
        std::vector<float> v = t.to_vector();
        v[0] = NAN;
        Tensor(t).copy_from(Tensor::from_vector(v, t.shape()));
        found = true;
      }
    REQUIRE_MESSAGE(found, nan_tensor);
  }
  const std::string path = d / name;
  m.save(path);
  return path;
}

}  // namespace sad::test
