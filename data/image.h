// Image files and resizing for the data layer: decoding PNG/JPEG/BMP (stb_image) into
// float CHW tensors, writing 8-bit PNGs atomically, and the two resize rules used to
// bring images and masks to the network's S x S. Every error is one sad::Error line that
// names the file and the problem, because a bad file in a dataset of thousands must be
// findable from the message alone.
//
// Value conventions: a loaded image is (C, H, W) float32 on the CPU in [0, 1] (byte / 255);
// to_signed_range maps it to the network's [-1, 1]. A mask is (1, H, W) in {0, 1}.
#pragma once

#include <string>

#include "tensor/tensor.h"

namespace sad::data {

// Larger sides are refused before decoding: a 20000 x 20000 RGB image already needs
// 1.2 GB of bytes, and no dataset we target comes close.
inline constexpr int kMaxImageSide = 20000;

// What the file header says, read without decoding pixels (stbi_info).
struct ImageInfo {
  int width = 0;
  int height = 0;
  int channels = 0;  // as stored: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
  bool gray() const { return channels <= 2; }
};

// Header only; errors: missing file, unreadable header, a side over kMaxImageSide.
ImageInfo read_image_info(const std::string& path);

// Decodes to `channels` (1 or 3) channels: gray -> RGB replicates the gray value;
// RGB -> gray is ITU-R BT.601 luma 0.299 R + 0.587 G + 0.114 B; alpha is dropped.
// Returns (C, H, W) float32 in [0, 1].
Tensor load_image(const std::string& path, int channels);

// A mask file (any format and channel count, reduced to luma as above on the 0..255
// scale): 1 where the value is >= 128, else 0. Returns (1, H, W) float32.
Tensor load_mask(const std::string& path);

// Writes an 8-bit PNG: `image` is (C, H, W) float32, C = 1 (gray) or 3 (RGB), values in
// [0, 1], clamped and rounded to the nearest byte; NaN is an error. The file appears
// atomically (written to a temporary in the same directory, then renamed), so a reader
// never sees half a file.
void save_png(const std::string& path, const Tensor& image);
// The same for baseline JPEG (quality 1..100); used by tests and tools that need JPEGs.
void save_jpeg(const std::string& path, const Tensor& image, int quality = 95);

// Resizes (C, H, W) to (C, out_h, out_w), float32. Separable, one rule per axis, chosen
// by that axis alone:
// - shrinking (out < in): area averaging. Output sample o covers the input interval
//   [o * in / out, (o + 1) * in / out) and is the mean of the input pixels weighted by
//   their overlap with it (pixel i spans [i, i + 1)); the same as OpenCV's INTER_AREA,
//   and for integer factors the plain box mean.
// - enlarging (out > in): bilinear with pixel centres aligned (PyTorch align_corners =
//   False, OpenCV INTER_LINEAR): source coordinate (o + 0.5) * in / out - 0.5, clamped
//   to [0, in - 1], interpolated between its two neighbours.
// - equal: copied unchanged.
// Accumulates in double; the width pass runs first, then the height pass.
Tensor resize(const Tensor& image, int out_h, int out_w);

enum class MaskResize {
  Nearest,  // source pixel floor((o + 0.5) * in / out) per axis
  Area,     // resize() above (area when shrinking, bilinear when enlarging), then >= threshold
};
// Resizes a (1, H, W) {0, 1} mask; the result is (1, out_h, out_w) in {0, 1}.
Tensor resize_mask(const Tensor& mask, int out_h, int out_w, MaskResize mode = MaskResize::Nearest,
                   float threshold = 0.5f);

// [0, 1] -> [-1, 1] (2 v - 1) and back ((v + 1) / 2), in place, float32 CPU tensors.
void to_signed_range(Tensor& image);
void to_unit_range(Tensor& image);

// The network input of METHOD.md: load with `channels` channels, resize to size x size,
// scale to [-1, 1]. Returns (C, size, size).
Tensor load_model_input(const std::string& path, int channels, int size);

}  // namespace sad::data
