// Fuzz target: image decoding (every image and mask a dataset or `predict` names). The
// input is a whole file, read by content whatever its name. Beyond the shared rules: what
// decodes has the size its header reported, gray and colour decodes agree on the size, and
// a mask holds only 0 and 1.
#include "data/image.h"
#include "fuzz/fuzz_util.h"

using namespace sad;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::input_file("image.png", data, size);
  data::ImageInfo info;
  if (!fuzz::accepted([&] { info = data::read_image_info(path); }, path)) return 0;
  if (info.width < 1 || info.height < 1 || info.width > data::kMaxImageSide || info.height > data::kMaxImageSide ||
      info.channels < 1 || info.channels > 4)
    fuzz::finding("read_image_info accepted an impossible header");
  for (int channels : {1, 3}) {
    Tensor t;
    if (!fuzz::accepted([&] { t = data::load_image(path, channels); }, path)) return 0;
    if (t.dim(0) != channels || t.dim(1) != info.height || t.dim(2) != info.width)
      fuzz::finding("the decoded size " + t.str() + " is not the header's");
    for (float v : t.to_vector())
      if (!(v >= 0.0f && v <= 1.0f)) fuzz::finding("a decoded pixel outside [0, 1]");
  }
  Tensor m;
  if (!fuzz::accepted([&] { m = data::load_mask(path); }, path))
    fuzz::finding("load_mask refused what load_image read");
  for (float v : m.to_vector())
    if (v != 0.0f && v != 1.0f) fuzz::finding("a mask value other than 0 or 1");
  return 0;
}
