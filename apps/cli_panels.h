// Pictures for people: the heatmap and panel PNGs that `sparsead test` and `predict`
// write. A panel is four tiles side by side: the image, its ground-truth mask, the anomaly
// map as a jet-like heatmap over the image, and the image with the predicted region's
// outline (red; the ground truth's in green). Drawn with plain loops on CPU tensors, in
// [0, 1] RGB, so it needs nothing beyond data/image.h to write.
#pragma once

#include "tensor/tensor.h"

namespace sad::cli {

// A jet-like colormap: 0 dark blue -> blue -> cyan -> yellow -> red -> 1 dark red.
// Values outside [0, 1] are clamped. Writes r, g, b in [0, 1].
void jet(float v, float& r, float& g, float& b);

// (C, H, W) image in [0, 1] (C = 1 or 3) -> (3, H, W).
Tensor to_rgb(const Tensor& image);

// The heatmap over the image: rgb = (1 - a) image + a jet(map), with a = 0.35 + 0.4 map,
// so the strong (anomalous) parts dominate while the part stays recognisable.
// image (C, H, W) in [0, 1]; map (H, W) or (1, H, W) in [0, 1] (0.5 = threshold), same H, W.
Tensor heatmap_overlay(const Tensor& image, const Tensor& map);

// Draws the boundary of region (H, W) or (1, H, W) ({0, 1}; a pixel is on the boundary
// when it is inside and a 4-neighbour is outside or off the image) onto rgb (3, H, W) in
// place, `thickness` pixels wide (>= 1).
void draw_outline(Tensor& rgb, const Tensor& region, float r, float g, float b, int thickness = 1);

// The four-tile panel. image (C, H, W) in [0, 1]; mask (1, H, W) {0, 1} or undefined (no
// mask: a blank tile, and no ground-truth outline); map (H, W) normalised, 0.5 the pixel
// threshold. Tiles are scaled so the longer side is at most `tile_max` pixels and
// separated by 2-pixel white gaps. Returns (3, h, 4 w + 6).
Tensor make_panel(const Tensor& image, const Tensor& mask, const Tensor& map, int tile_max = 256);

}  // namespace sad::cli
