// Dataset indexing: the MVTec AD layout of one category (METHOD.md, Data) and a plain
// Folder layout, read into sorted lists of image items with their masks paired and every
// header checked up front, so a bad file fails the run before any training starts rather
// than hours into it. Also the seeded 10% validation hold-out of train/good.
//
// MVTec layout of a category directory:
//   train/good/<stem>.<ext>                 normal training images
//   test/<type>/<stem>.<ext>                type "good" is normal, any other a defect type
//   ground_truth/<type>/<stem>_mask.<ext>   or ground_truth/<type>/<stem>.<ext>
// Image files are .png/.jpg/.jpeg/.bmp (case-insensitive); other files are ignored.
// Every list is sorted by file name (byte order), test items by type, then name.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sad::data {

inline constexpr const char* kGoodType = "good";

struct ImageItem {
  std::string path;        // the image file
  std::string type;        // "good" or the defect type (Folder mode: "abnormal")
  bool anomalous = false;  // type != good
  std::string mask_path;   // empty: no mask (normal images, or Folder mode without a mask dir)
  int width = 0, height = 0;
  int file_channels = 0;  // as stored in the file: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
};

struct Dataset {
  std::string root;                // what was read (category dir or normal dir)
  std::vector<ImageItem> train;    // normal training images (before the validation hold-out)
  std::vector<ImageItem> test;     // sorted by (type, name)
  std::vector<std::string> types;  // the test types present, sorted ("good" among them if present)
  // 1 when every training image is grayscale (its header says 1 or 2 channels: gray or
  // gray+alpha), else 3.
  int channels = 3;
  bool has_masks = true;  // every anomalous test image has a mask
};

// Reads one MVTec AD category directory. `require_test` = false allows a directory with
// only train/good (training needs nothing else); `require_test` = true (evaluation) reads
// train/good only if it is there, since evaluation never uses it. Errors (sad::Error, one line): a missing
// train/good or test directory, an empty training set, a defect image without a mask
// (names the image), a mask whose size differs from its image (names both), an
// unreadable or oversized image header (names the file).
Dataset read_mvtec(const std::string& category_dir, bool require_test = true);

// Folder mode: normal images for training; optionally a directory of normal test images,
// a directory of anomalous test images (type "abnormal") and a mask directory for the
// latter (same stem rule as MVTec: <stem>_mask.<ext> or <stem>.<ext>). With a mask dir,
// every abnormal image must have a mask; without one, has_masks is false.
struct FolderSpec {
  std::string normal_dir;
  std::string normal_test_dir;  // optional
  std::string abnormal_dir;     // optional
  std::string mask_dir;         // optional; only with abnormal_dir
};
Dataset read_folder(const FolderSpec& spec);

// Image files of one directory, sorted by name (full paths). Error when `dir` is missing.
std::vector<std::string> list_images(const std::string& dir);

// The hold-out of METHOD.md: 10% of the n training images (rounded to nearest, at least
// one; n >= 2 so that one is left for training), chosen by a seeded shuffle. Small sets
// hold out at least min(min_count, n / 4) images, so that validation is not four images
// of a 37-image set while training keeps three quarters. Both lists hold indices into the
// training list, sorted ascending.
struct Split {
  std::vector<int64_t> train;
  std::vector<int64_t> validation;
};
// FNV-1a over the files' names and sizes, as 16 hex digits: identifies the data a model saw
// (stored in the model file; --resume refuses other data by it).
std::string dataset_digest(const std::vector<ImageItem>& items);

Split split_validation(int64_t n, uint64_t seed, double fraction = 0.1, int64_t min_count = 1);

// Rng stream purposes of the data layer (first id of Rng::stream), so that no two uses of
// one seed draw the same numbers.
enum StreamPurpose : uint64_t {
  kStreamValidation = 0x5641'4c00,  // "VAL"
  kStreamShuffle = 0x5348'5546,     // "SHUF"
  kStreamPerturb = 0x5045'5254,     // "PERT"
  kStreamSynth = 0x5359'4e54,       // "SYNT"
  kStreamCrop = 0x4352'4f50,        // "CROP": tile mode's window positions
  kStreamAugment = 0x4155'4721,     // "AUG!": the augment option's transform of a sample
};

}  // namespace sad::data
