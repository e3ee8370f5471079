// MVTec / Folder dataset indexing and the validation hold-out (see dataset.h). Only file
// headers are read here (stbi_info through read_image_info): decoding is the loader's job.
#include "data/dataset.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <numeric>

#include "data/image.h"
#include "tensor/check.h"
#include "tensor/rng.h"

namespace sad::data {

namespace fs = std::filesystem;

namespace {

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

void require_dir(const fs::path& p, const std::string& what) {
  if (!is_dir(p)) SAD_FAIL("dataset: missing directory '", p.string(), "' (", what, ")");
}

// Subdirectory names of `dir`, sorted.
std::vector<std::string> list_subdirs(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string()[0] != '.') out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Mask files of one directory by stem (file name without extension).
class MaskIndex {
 public:
  MaskIndex() = default;
  explicit MaskIndex(const std::string& dir) {
    for (const std::string& p : list_images(dir)) by_stem_[fs::path(p).stem().string()].push_back(p);
  }
  // `<stem>_mask.<ext>` first, then `<stem>.<ext>`; "" when neither exists.
  std::string find(const std::string& image_path) const {
    const std::string stem = fs::path(image_path).stem().string();
    for (const std::string& key : {stem + "_mask", stem}) {
      auto it = by_stem_.find(key);
      if (it == by_stem_.end()) continue;
      if (it->second.size() > 1)
        SAD_FAIL("dataset: image '", image_path, "' has ambiguous masks '", it->second[0], "' and '", it->second[1],
                 "'");
      return it->second[0];
    }
    return "";
  }

 private:
  std::map<std::string, std::vector<std::string>> by_stem_;
};

std::vector<ImageItem> make_items(const std::vector<std::string>& paths, const std::string& type, bool anomalous) {
  std::vector<ImageItem> out;
  for (const std::string& p : paths) {
    ImageItem it;
    it.path = p;
    it.type = type;
    it.anomalous = anomalous;
    out.push_back(std::move(it));
  }
  return out;
}

// Pairs every item with its mask; a missing mask is an error when `required`.
void attach_masks(std::vector<ImageItem>& items, const MaskIndex& masks, const std::string& mask_dir, bool required) {
  for (ImageItem& it : items) {
    it.mask_path = masks.find(it.path);
    if (it.mask_path.empty() && required)
      SAD_FAIL("dataset: defect image '", it.path, "' has no mask in '", mask_dir, "' (expected <stem>_mask.png or ",
               "<stem>.png)");
  }
}

// Reads every header (image and mask) and checks that masks match their images.
void validate(std::vector<ImageItem>& items) {
  for (ImageItem& it : items) {
    ImageInfo info = read_image_info(it.path);
    it.width = info.width;
    it.height = info.height;
    it.file_channels = info.channels;
    if (!it.mask_path.empty()) {
      ImageInfo m = read_image_info(it.mask_path);
      if (m.width != info.width || m.height != info.height)
        SAD_FAIL("dataset: mask '", it.mask_path, "' is ", m.width, " x ", m.height, " but its image '", it.path,
                 "' is ", info.width, " x ", info.height);
    }
  }
}

void finish(Dataset& ds) {
  validate(ds.train);
  validate(ds.test);
  ds.channels = 1;
  for (const ImageItem& it : ds.train)
    if (it.file_channels > 2) ds.channels = 3;
  std::stable_sort(ds.test.begin(), ds.test.end(), [](const ImageItem& a, const ImageItem& b) {
    return a.type != b.type ? a.type < b.type : fs::path(a.path).filename() < fs::path(b.path).filename();
  });
  ds.types.clear();
  for (const ImageItem& it : ds.test)
    if (ds.types.empty() || ds.types.back() != it.type) ds.types.push_back(it.type);
  ds.has_masks = true;
  for (const ImageItem& it : ds.test)
    if (it.anomalous && it.mask_path.empty()) ds.has_masks = false;
}

}  // namespace

std::vector<std::string> list_images(const std::string& dir) {
  require_dir(dir, "image directory");
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name[0] == '.' || !is_image_name(e.path())) continue;  // hidden files: editor and OS litter
    std::error_code ec;
    if (fs::is_regular_file(e.path(), ec)) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  std::vector<std::string> out;
  for (const std::string& n : names) out.push_back((fs::path(dir) / n).string());
  return out;
}

Dataset read_mvtec(const std::string& category_dir, bool require_test) {
  const fs::path root(category_dir);
  require_dir(root, "dataset category");
  Dataset ds;
  ds.root = category_dir;
  // Evaluation (require_test) never reads the training images: a test set without them is
  // complete.
  const fs::path train = root / "train" / "good";
  if (!require_test || is_dir(train)) {
    require_dir(train, "normal training images");
    ds.train = make_items(list_images(train.string()), kGoodType, false);
    if (ds.train.empty() && !require_test) SAD_FAIL("dataset: empty training set: no images in '", train.string(), "'");
  }

  const fs::path test = root / "test";
  if (require_test || is_dir(test)) {
    require_dir(test, "test images");
    for (const std::string& type : list_subdirs(test)) {
      const bool anomalous = type != kGoodType;
      std::vector<ImageItem> items = make_items(list_images((test / type).string()), type, anomalous);
      if (anomalous && !items.empty()) {
        const fs::path gt = root / "ground_truth" / type;
        if (!is_dir(gt))
          SAD_FAIL("dataset: defect image '", items[0].path, "' has no mask: missing directory '", gt.string(), "'");
        attach_masks(items, MaskIndex(gt.string()), gt.string(), true);
      }
      ds.test.insert(ds.test.end(), items.begin(), items.end());
    }
    if (ds.test.empty()) SAD_FAIL("dataset: no test images under '", test.string(), "'");
  }
  finish(ds);
  return ds;
}

Dataset read_folder(const FolderSpec& spec) {
  SAD_CHECK(!spec.normal_dir.empty(), "dataset: Folder mode needs a normal image directory");
  SAD_CHECK(spec.mask_dir.empty() || !spec.abnormal_dir.empty(),
            "dataset: a mask directory was given without an abnormal image directory");
  Dataset ds;
  ds.root = spec.normal_dir;
  ds.train = make_items(list_images(spec.normal_dir), kGoodType, false);
  if (ds.train.empty()) SAD_FAIL("dataset: empty training set: no images in '", spec.normal_dir, "'");
  if (!spec.normal_test_dir.empty()) ds.test = make_items(list_images(spec.normal_test_dir), kGoodType, false);
  if (!spec.abnormal_dir.empty()) {
    std::vector<ImageItem> items = make_items(list_images(spec.abnormal_dir), "abnormal", true);
    if (!spec.mask_dir.empty()) attach_masks(items, MaskIndex(spec.mask_dir), spec.mask_dir, true);
    ds.test.insert(ds.test.end(), items.begin(), items.end());
  }
  finish(ds);
  return ds;
}

Split split_validation(int64_t n, uint64_t seed, double fraction, int64_t min_count) {
  SAD_CHECK(n >= 2, "validation split: need at least 2 training images (one held out), got ", n);
  SAD_CHECK(fraction > 0.0 && fraction < 1.0, "validation split: fraction must be in (0, 1), got ", fraction);
  const int64_t share = static_cast<int64_t>(std::floor(fraction * n + 0.5));
  const int64_t n_val = std::clamp<int64_t>(std::max(share, std::min(min_count, n / 4)), 1, n - 1);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  Rng rng = Rng::stream(seed, {kStreamValidation});
  for (int64_t i = n - 1; i > 0; --i)  // Fisher-Yates
    std::swap(order[static_cast<size_t>(i)], order[rng.below(static_cast<uint64_t>(i + 1))]);
  Split s;
  s.validation.assign(order.begin(), order.begin() + n_val);
  s.train.assign(order.begin() + n_val, order.end());
  std::sort(s.validation.begin(), s.validation.end());
  std::sort(s.train.begin(), s.train.end());
  return s;
}

// FNV-1a over the training files' names and sizes: identifies the data a model saw.
std::string dataset_digest(const std::vector<ImageItem>& items) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  };
  for (const auto& it : items) {
    mix(fs::path(it.path).filename().string());
    std::error_code ec;
    mix(std::to_string(fs::file_size(it.path, ec)));
  }
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace sad::data
