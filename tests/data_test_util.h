// Helpers for the data-layer tests: a temporary directory removed at scope exit, and a
// small writer of synthetic PNGs for building dataset trees.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/image.h"
#include "data/synth.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"

namespace sad::test {

// The real MTD set of ../shared (beside the repository), or "" when it is absent (a fresh
// clone elsewhere): tests that need it are then reported as skipped.
inline std::string mtd_root() {
#ifdef SPARSEAD_SOURCE_DIR
  const std::filesystem::path root = std::filesystem::path(SPARSEAD_SOURCE_DIR) / "../shared/data/mtd";
#else
  const std::filesystem::path root = "../shared/data/mtd";
#endif
  return std::filesystem::is_directory(root) ? root.lexically_normal().string() : std::string();
}

class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("sparsead-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return (path_ / rel).string(); }

 private:
  std::filesystem::path path_;
};

// A (C, H, W) image of seeded byte values k / 255 (exactly representable after a PNG round trip).
inline Tensor byte_image(int c, int h, int w, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(c * h * w));
  for (float& x : v) x = static_cast<float>(rng.below(256)) / 255.0f;
  return Tensor::from_vector(v, {c, h, w});
}

// Writes a seeded PNG at `path`, creating its directory.
inline void write_png(const std::string& path, int c, int h, int w, uint64_t seed = 1) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  data::save_png(path, byte_image(c, h, w, seed));
}

// doctest::Contains takes a doctest::String; this builds one from a std::string message.
inline doctest::Contains has(const std::string& s) { return doctest::Contains(doctest::String(s.c_str())); }

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// The trainer tests' tiny set: 16 training images of 32 x 32 gray, 2 good and 1 of each defect
// type for testing; fast enough for a unit test on one core. Returns its directory, root/name.
inline std::string tiny_gray_dataset(const std::string& root, const std::string& name = "ds") {
  data::SynthConfig sc;
  sc.seed = 3;
  sc.size = 32;
  sc.channels = 1;
  sc.train = 16;
  sc.test_good = 2;
  sc.per_defect = 1;
  const std::string dir = root + "/" + name;
  data::generate_synthetic_dataset(sc, dir);
  return dir;
}

}  // namespace sad::test
