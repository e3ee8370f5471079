// Image IO over stb_image / stb_image_write (compiled in by data/stb_impl.cpp), after the
// container checks of data/image_format.h, plus the resize rules documented in image.h.
#include "data/image.h"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <cmath>
#include <filesystem>
#include <vector>

#include "data/image_format.h"
#include "tensor/file_io.h"

namespace sad::data {

namespace fs = std::filesystem;

namespace {

// A user-facing data error: one line, the file first.
[[noreturn]] void image_error(const std::string& path, const std::string& problem) {
  SAD_FAIL("image '", path, "': ", problem);
}

void require_regular_file(const std::string& path) {
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) image_error(path, "file not found");
  if (!fs::is_regular_file(st)) image_error(path, "not a regular file");
}

std::string stb_reason() {
  const char* r = stbi_failure_reason();
  return r ? r : "unknown reason";
}

// Owns the bytes stbi_load returns.
struct Decoded {
  int width = 0, height = 0, channels = 0;  // channels as stored (1..4)
  stbi_uc* pixels = nullptr;                // interleaved, channels bytes per pixel
  Decoded() = default;
  Decoded(const Decoded&) = delete;
  Decoded& operator=(const Decoded&) = delete;
  ~Decoded() {
    if (pixels) stbi_image_free(pixels);
  }
};

// The largest file read whole into memory: far above any 20000 x 20000 PNG or JPEG.
constexpr size_t kMaxFileBytes = size_t{1} << 30;

// The container (format, declared size, JPEG tables), then stb's header, on the file's bytes.
ImageInfo inspect(const std::string& path, const std::vector<uint8_t>& bytes) {
  const ContainerInfo c = inspect_container(path, bytes);
  if (c.width > kMaxImageSide || c.height > kMaxImageSide)
    image_error(path, std::to_string(c.width) + " x " + std::to_string(c.height) + " pixels exceeds the limit of " +
                          std::to_string(kMaxImageSide) + " a side");
  ImageInfo info;
  if (!stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), &info.width, &info.height, &info.channels))
    image_error(path, std::string("corrupt ") + format_name(c.format) + " header (stb: " + stb_reason() + ")");
  if (info.width < 1 || info.height < 1 || info.channels < 1 || info.channels > 4)
    image_error(path, "header reports an invalid size or channel count");
  if (info.width != c.width || info.height != c.height) image_error(path, "its headers disagree on the image size");
  return info;
}

// Header checks first (missing file, not an image, oversize), then the full decode from the
// same bytes; a decode failure after a good header means the data is corrupt or truncated.
void decode(const std::string& path, Decoded& out) {
  require_regular_file(path);
  const std::vector<uint8_t> bytes = read_file_bytes(path, kMaxFileBytes);
  ImageInfo info = inspect(path, bytes);
  out.pixels =
      stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &out.width, &out.height, &out.channels, 0);
  if (!out.pixels) image_error(path, "corrupt or truncated image (stb: " + stb_reason() + ")");
  if (out.width != info.width || out.height != info.height || out.channels < 1 || out.channels > 4)
    image_error(path, "decoded size disagrees with its header");
}

// Luma of pixel p as stored (any channel count), on the 0..255 scale.
inline double luma(const stbi_uc* p, int channels) {
  if (channels <= 2) return p[0];
  return 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
}

void check_image_tensor(const Tensor& t, const char* what) {
  SAD_CHECK(t.defined() && t.ndim() == 3 && t.dtype() == DType::F32 && t.device().is_cpu(), what,
            ": expected a float32 CPU tensor of shape (C, H, W), got ", t.defined() ? t.str() : "undefined");
  SAD_CHECK(t.dim(1) > 0 && t.dim(2) > 0, what, ": empty image ", t.str());
}

// (C, H, W) [0, 1] -> interleaved bytes, C in {1, 3}.
std::vector<unsigned char> to_bytes(const std::string& path, const Tensor& image) {
  check_image_tensor(image, "save image");
  const int64_t c = image.dim(0), h = image.dim(1), w = image.dim(2);
  SAD_CHECK(c == 1 || c == 3, "save image '", path, "': C must be 1 or 3, got ", image.str());
  SAD_CHECK(h <= kMaxImageSide && w <= kMaxImageSide, "save image '", path, "': too large ", image.str());
  const float* src = image.data<float>();
  std::vector<unsigned char> bytes(static_cast<size_t>(c * h * w));
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t i = 0; i < h * w; ++i) {
      float v = src[ch * h * w + i];
      if (std::isnan(v)) image_error(path, "cannot save: the image contains NaN");
      v = std::min(1.0f, std::max(0.0f, v));
      bytes[static_cast<size_t>(i * c + ch)] = static_cast<unsigned char>(std::lround(v * 255.0f));
    }
  return bytes;
}

void append_bytes(void* context, void* data, int size) {
  auto* buf = static_cast<std::vector<unsigned char>*>(context);
  auto* p = static_cast<unsigned char*>(data);
  buf->insert(buf->end(), p, p + size);
}

}  // namespace

ImageInfo read_image_info(const std::string& path) {
  require_regular_file(path);
  return inspect(path, read_file_bytes(path, kMaxFileBytes));
}

Tensor load_image(const std::string& path, int channels) {
  SAD_CHECK(channels == 1 || channels == 3, "load_image '", path, "': channels must be 1 or 3, got ", channels);
  Decoded d;
  decode(path, d);
  const int64_t hw = int64_t{d.width} * d.height;
  Tensor out = Tensor::empty({channels, d.height, d.width});
  float* dst = out.data<float>();
  const int n = d.channels;
  for (int64_t i = 0; i < hw; ++i) {
    const stbi_uc* p = d.pixels + i * n;
    if (channels == 1) {
      dst[i] = static_cast<float>(luma(p, n) / 255.0);
    } else if (n <= 2) {
      float g = static_cast<float>(p[0] / 255.0);
      dst[i] = dst[hw + i] = dst[2 * hw + i] = g;
    } else {
      for (int c = 0; c < 3; ++c) dst[c * hw + i] = static_cast<float>(p[c] / 255.0);
    }
  }
  return out;
}

Tensor load_mask(const std::string& path) {
  Decoded d;
  decode(path, d);
  const int64_t hw = int64_t{d.width} * d.height;
  Tensor out = Tensor::empty({1, d.height, d.width});
  float* dst = out.data<float>();
  for (int64_t i = 0; i < hw; ++i) dst[i] = luma(d.pixels + i * d.channels, d.channels) >= 128.0 ? 1.0f : 0.0f;
  return out;
}

void save_png(const std::string& path, const Tensor& image) {
  std::vector<unsigned char> pixels = to_bytes(path, image);
  const int c = static_cast<int>(image.dim(0)), h = static_cast<int>(image.dim(1)), w = static_cast<int>(image.dim(2));
  std::vector<unsigned char> file;
  if (!stbi_write_png_to_func(append_bytes, &file, w, h, c, pixels.data(), w * c))
    image_error(path, "PNG encoding failed");
  write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(file.data()), file.size()), "image");
}

void save_jpeg(const std::string& path, const Tensor& image, int quality) {
  SAD_CHECK(quality >= 1 && quality <= 100, "save_jpeg '", path, "': quality must be in 1..100, got ", quality);
  std::vector<unsigned char> pixels = to_bytes(path, image);
  const int c = static_cast<int>(image.dim(0)), h = static_cast<int>(image.dim(1)), w = static_cast<int>(image.dim(2));
  std::vector<unsigned char> file;
  if (!stbi_write_jpg_to_func(append_bytes, &file, w, h, c, pixels.data(), quality))
    image_error(path, "JPEG encoding failed");
  write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(file.data()), file.size()), "image");
}

namespace {

// One output sample of a 1-D resampling: a weighted sum of input samples.
struct Tap {
  int index;
  double weight;
};
using Taps = std::vector<std::vector<Tap>>;  // per output sample

// The per-axis rule of image.h: area when shrinking, bilinear when enlarging.
Taps axis_taps(int in, int out) {
  Taps taps(static_cast<size_t>(out));
  for (int o = 0; o < out; ++o) {
    auto& t = taps[static_cast<size_t>(o)];
    if (out == in) {
      t.push_back({o, 1.0});
    } else if (out < in) {
      // Integer numerators keep the interval ends exact for integer factors.
      const double lo = static_cast<double>(int64_t{o} * in) / out;
      const double hi = static_cast<double>(int64_t{o + 1} * in) / out;
      const double scale = static_cast<double>(in) / out;
      for (int i = static_cast<int>(std::floor(lo)); i < in && i < hi; ++i) {
        double overlap = std::min<double>(i + 1, hi) - std::max<double>(i, lo);
        if (overlap > 0) t.push_back({i, overlap / scale});
      }
    } else {
      double src = static_cast<double>(int64_t{2 * o + 1} * in - out) / (2.0 * out);
      src = std::min<double>(std::max(src, 0.0), in - 1);
      const int i0 = static_cast<int>(std::floor(src));
      const int i1 = std::min(i0 + 1, in - 1);
      const double w1 = src - i0;
      t.push_back({i0, 1.0 - w1});
      if (w1 > 0) t.push_back({i1, w1});
    }
  }
  return taps;
}

}  // namespace

Tensor resize(const Tensor& image, int out_h, int out_w) {
  check_image_tensor(image, "resize");
  SAD_CHECK(out_h > 0 && out_w > 0, "resize: output size must be positive, got ", out_h, " x ", out_w);
  const int64_t c = image.dim(0);
  const int h = static_cast<int>(image.dim(1)), w = static_cast<int>(image.dim(2));
  const Taps tw = axis_taps(w, out_w), th = axis_taps(h, out_h);
  const float* src = image.data<float>();
  // Width pass into a double buffer (C, H, out_w), then the height pass.
  std::vector<double> mid(static_cast<size_t>(c * h * out_w));
#pragma omp parallel for if (c * h * out_w > 65536)
  for (int64_t row = 0; row < c * h; ++row)
    for (int o = 0; o < out_w; ++o) {
      double acc = 0;
      for (const Tap& t : tw[static_cast<size_t>(o)]) acc += t.weight * src[row * w + t.index];
      mid[static_cast<size_t>(row * out_w + o)] = acc;
    }
  Tensor out = Tensor::empty({c, out_h, out_w});
  float* dst = out.data<float>();
#pragma omp parallel for if (c * out_h * out_w > 65536)
  for (int64_t co = 0; co < c * out_h; ++co) {
    const int64_t ch = co / out_h;
    const int oy = static_cast<int>(co % out_h);
    for (int x = 0; x < out_w; ++x) {
      double acc = 0;
      for (const Tap& t : th[static_cast<size_t>(oy)])
        acc += t.weight * mid[static_cast<size_t>((ch * h + t.index) * out_w + x)];
      dst[co * out_w + x] = static_cast<float>(acc);
    }
  }
  return out;
}

Tensor resize_mask(const Tensor& mask, int out_h, int out_w, MaskResize mode, float threshold) {
  check_image_tensor(mask, "resize_mask");
  SAD_CHECK(mask.dim(0) == 1, "resize_mask: expected a (1, H, W) mask, got ", mask.str());
  SAD_CHECK(out_h > 0 && out_w > 0, "resize_mask: output size must be positive, got ", out_h, " x ", out_w);
  if (mode == MaskResize::Area) {
    Tensor r = resize(mask, out_h, out_w);
    float* p = r.data<float>();
    for (int64_t i = 0; i < r.numel(); ++i) p[i] = p[i] >= threshold ? 1.0f : 0.0f;
    return r;
  }
  const int64_t h = mask.dim(1), w = mask.dim(2);
  auto nearest = [](int64_t o, int64_t in, int64_t out) { return std::min(in - 1, ((2 * o + 1) * in) / (2 * out)); };
  Tensor out = Tensor::empty({1, out_h, out_w});
  const float* src = mask.data<float>();
  float* dst = out.data<float>();
  for (int64_t y = 0; y < out_h; ++y) {
    const int64_t sy = nearest(y, h, out_h);
    for (int64_t x = 0; x < out_w; ++x) dst[y * out_w + x] = src[sy * w + nearest(x, w, out_w)];
  }
  return out;
}

void to_signed_range(Tensor& image) {
  check_image_tensor(image, "to_signed_range");
  float* p = image.data<float>();
  for (int64_t i = 0; i < image.numel(); ++i) p[i] = 2.0f * p[i] - 1.0f;
}

void to_unit_range(Tensor& image) {
  check_image_tensor(image, "to_unit_range");
  float* p = image.data<float>();
  for (int64_t i = 0; i < image.numel(); ++i) p[i] = 0.5f * (p[i] + 1.0f);
}

Tensor load_model_input(const std::string& path, int channels, int size) {
  SAD_CHECK(size > 0, "load_model_input: size must be positive, got ", size);
  Tensor img = resize(load_image(path, channels), size, size);
  to_signed_range(img);
  return img;
}

}  // namespace sad::data
