// Fuzz target: dataset indexing and mask pairing (`--data DIR` in MVTec layout, and Folder
// mode). The input describes a directory tree: byte 0 picks the reader, then each 3-byte
// record puts one entry (a directory of the layout x a file name x one of a few contents:
// good images of two sizes and channel counts, a JPEG, a mask, an empty file, garbage, a
// truncated PNG, a directory) into a fresh tree. Beyond the shared rules (an error names a
// path inside the tree): an accepted dataset has training images, one channel count, test
// items sorted by (type, name), and every defect image's mask exists with its image's size.
// (A training read must find training images; evaluation reads train/good only if present.)
#include <algorithm>
#include <array>
#include <filesystem>
#include <vector>

#include "data/dataset.h"
#include "data/image.h"
#include "fuzz/fuzz_util.h"

using namespace sad;
namespace fs = std::filesystem;

namespace {

const std::array<const char*, 10> kDirs = {
    "train/good",        "test/good",         "test/crack", "test/hole", "ground_truth/crack",
    "ground_truth/hole", "ground_truth/good", "",           "test",      "ground_truth"};
const std::array<const char*, 10> kStems = {"000",      "001",      "002",    "a",  "b",
                                            "000_mask", "001_mask", "a_mask", ".h", "x y"};
const std::array<const char*, 8> kExts = {".png", ".PNG", ".jpg", ".jpeg", ".bmp", ".txt", "", ".png.bak"};
constexpr int kContents = 9;  // the last is "a directory"

std::vector<std::vector<uint8_t>> make_bank() {
  auto image = [](int c, int h, int w, bool jpeg, bool mask) {
    Tensor t = Tensor::zeros({c, h, w});
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i)
      p[i] = mask ? ((i % w) >= w / 2 ? 1.0f : 0.0f) : static_cast<float>(i % 7) / 7;
    const std::string path = fuzz::work_dir() + "/bank.img";
    if (jpeg)
      data::save_jpeg(path, t);
    else
      data::save_png(path, t);
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  };
  std::vector<std::vector<uint8_t>> bank;
  bank.push_back(image(1, 8, 8, false, false));
  bank.push_back(image(3, 8, 8, false, false));
  bank.push_back(image(1, 8, 16, false, false));
  bank.push_back(image(3, 8, 8, true, false));
  bank.push_back(image(1, 8, 8, false, true));
  bank.push_back({});
  const std::string junk = "not an image at all";
  bank.emplace_back(junk.begin(), junk.end());
  bank.emplace_back(bank[0].begin(), bank[0].begin() + static_cast<std::ptrdiff_t>(bank[0].size() / 2));
  return bank;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<std::vector<uint8_t>> bank = make_bank();
  if (size == 0 || size > 3 * 32 + 1) return 0;
  const std::string root = fuzz::work_dir() + "/ds";
  std::error_code ec;
  fs::remove_all(root, ec);
  fs::create_directories(root);
  for (size_t i = 1; i + 3 <= size; i += 3) {
    const std::string dir = root + "/" + kDirs[data[i] % kDirs.size()];
    const uint8_t n = data[i + 1];
    const std::string path = dir + "/" + kStems[n % kStems.size()] + kExts[(n / kStems.size()) % kExts.size()];
    fs::create_directories(dir, ec);
    if (ec || fs::exists(path, ec)) continue;
    const int content = data[i + 2] % kContents;
    if (content == kContents - 1)
      fs::create_directory(path, ec);
    else
      fuzz::write_bytes(path, bank[static_cast<size_t>(content)].data(), bank[static_cast<size_t>(content)].size());
  }

  data::Dataset d;
  const int reader = data[0] % 3;
  const bool ok = fuzz::accepted(
      [&] {
        if (reader == 2)
          d = data::read_folder(
              {root + "/train/good", root + "/test/good", root + "/test/crack", root + "/ground_truth/crack"});
        else
          d = data::read_mvtec(root, reader == 0);
      },
      root);
  if (!ok) return 0;
  // Evaluation (read_mvtec with require_test) reads train/good only when it is there.
  if (d.train.empty() && reader != 0) fuzz::finding("a training set without images was accepted");
  if (d.channels != 1 && d.channels != 3) fuzz::finding("channels " + std::to_string(d.channels));
  for (size_t i = 1; i < d.test.size(); ++i)
    if (std::make_pair(d.test[i - 1].type, d.test[i - 1].path) > std::make_pair(d.test[i].type, d.test[i].path))
      fuzz::finding("test items out of order");
  for (const data::ImageItem& it : d.test) {
    if (!it.anomalous || it.mask_path.empty()) {
      if (it.anomalous && d.has_masks)
        fuzz::finding("a defect image without a mask in a dataset with masks: " + it.path);
      continue;
    }
    data::ImageInfo m;
    if (!fuzz::accepted([&] { m = data::read_image_info(it.mask_path); }))
      fuzz::finding("an accepted mask has no readable header: " + it.mask_path);
    if (m.width != it.width || m.height != it.height) fuzz::finding("mask and image sizes differ: " + it.mask_path);
  }
  return 0;
}
