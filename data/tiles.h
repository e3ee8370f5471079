// Native-resolution tiles: the geometry of working on S x S windows of a large image
// instead of the whole image shrunk to S x S (issue "Detection that finds real defects").
//
// An image of H x W pixels is first resized by the model's `tile_scale` (1 = its own
// resolution) to its working size, never smaller than S on either side, keeping its aspect
// ratio. Training crops random S x S windows from it; inference covers it with a grid of
// windows, `stride` apart (the last one flush with the far edge), and stitches the windows'
// maps back by a weighted mean whose weight falls off towards each window's border, where
// a convolutional network sees the least context.
//
// Every function here is plain geometry on CPU float tensors: nothing depends on the
// network, so the same rules serve training, validation, `test`, `predict` and the
// reference stitcher of an exported model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace sad::data {

struct Size2 {
  int64_t h = 0, w = 0;
  bool operator==(const Size2&) const = default;
};

// The working size of an h x w image at `scale`: round(h * f) x round(w * f) with
// f = max(scale, s / min(h, w)), so the shorter side is at least s (a window always fits);
// each side at least s.
Size2 working_size(int64_t h, int64_t w, double scale, int64_t s);

// Window origins along one axis of length n >= s: 0, stride, 2 stride, ... while the window
// fits, then n - s when the last one did not reach the end (so the whole axis is covered).
std::vector<int64_t> window_starts(int64_t n, int64_t s, int64_t stride);

struct TileGrid {
  Size2 size;                   // the working size
  int64_t s = 0;                // window side
  std::vector<int64_t> ys, xs;  // window origins, rows and columns
  int64_t count() const { return static_cast<int64_t>(ys.size() * xs.size()); }
  // Window k's origin, row-major over (ys, xs).
  int64_t y(int64_t k) const { return ys[static_cast<size_t>(k) / xs.size()]; }
  int64_t x(int64_t k) const { return xs[static_cast<size_t>(k) % xs.size()]; }
};
TileGrid tile_grid(Size2 size, int64_t s, int64_t stride);

// The stitching weight of a window, (s, s) flattened: the outer product of the tent
// t(i) = (min(i, s - 1 - i) + 1) / ceil(s / 2), which is 1 in the middle and 1 / ceil(s / 2)
// at the border: never zero, so a pixel seen by a single window keeps that window's value.
std::vector<float> window_weight(int64_t s);

// Tile mode's network input: a (C, H, W) image in [0, 1] resized to its working size and
// scaled to [-1, 1]; load_working_image does the same for a file (loaded with `channels`).
Tensor working_input(const Tensor& image, double scale, int64_t s);
Tensor load_working_image(const std::string& path, int channels, double scale, int64_t s);

// One of the eight symmetries of the square applied to a (C, s, s) image: k in [0, 8),
// k & 3 quarter turns counter-clockwise, then a left-right mirror when k & 4. k = 0 is the
// identity; dihedral(dihedral(x, k), inverse) gives x back.
Tensor dihedral(const Tensor& x, int k);

// The (C, s, s) window of a (C, H, W) image at (y, x); the window must lie inside.
Tensor crop(const Tensor& image, int64_t y, int64_t x, int64_t s);

// Weighted mean of the windows' maps over the grid: maps is (N, s, s) or (N, 1, s, s) with
// N = grid.count(), in the grid's order. Returns (H, W) of the working size.
Tensor stitch(const Tensor& maps, const TileGrid& grid);

}  // namespace sad::data
