// Heatmaps, outlines and four-tile panels (apps/cli_panels.h).
#include "apps/cli_panels.h"

#include <algorithm>
#include <cmath>

#include "data/image.h"
#include "tensor/check.h"

namespace sad::cli {

namespace {

// (H, W) or (1, H, W) -> its H and W.
void plane_dims(const Tensor& t, const char* what, int64_t& h, int64_t& w) {
  SAD_CHECK(t.defined() && t.dtype() == DType::F32 && t.device().is_cpu() &&
                (t.ndim() == 2 || (t.ndim() == 3 && t.dim(0) == 1)),
            what, ": expected a float32 CPU (H, W) or (1, H, W) tensor, got ", t.defined() ? t.str() : "undefined");
  h = t.dim(-2);
  w = t.dim(-1);
}

float clamp01(float v) { return std::isnan(v) ? 0.0f : std::clamp(v, 0.0f, 1.0f); }

}  // namespace

void jet(float v, float& r, float& g, float& b) {
  v = clamp01(v);
  // Piecewise-linear ramps: each channel is a trapezoid over [0, 1] (the classic jet shape).
  auto ramp = [](float x) { return std::clamp(1.5f - std::fabs(4.0f * x), 0.0f, 1.0f); };
  r = ramp(v - 0.75f);
  g = ramp(v - 0.5f);
  b = ramp(v - 0.25f);
}

Tensor to_rgb(const Tensor& image) {
  SAD_CHECK(image.defined() && image.ndim() == 3 && (image.dim(0) == 1 || image.dim(0) == 3) &&
                image.dtype() == DType::F32 && image.device().is_cpu(),
            "panel: expected a (1|3, H, W) float32 CPU image, got ", image.defined() ? image.str() : "undefined");
  if (image.dim(0) == 3) return image.clone();
  const int64_t hw = image.dim(1) * image.dim(2);
  Tensor out = Tensor::empty({3, image.dim(1), image.dim(2)});
  const float* src = image.data<float>();
  float* dst = out.data<float>();
  for (int c = 0; c < 3; ++c) std::copy(src, src + hw, dst + c * hw);
  return out;
}

Tensor heatmap_overlay(const Tensor& image, const Tensor& map) {
  Tensor rgb = to_rgb(image);
  int64_t h = 0, w = 0;
  plane_dims(map, "heatmap map", h, w);
  SAD_CHECK(h == rgb.dim(1) && w == rgb.dim(2), "heatmap: map ", map.str(), " does not match image ", image.str());
  const int64_t hw = h * w;
  float* p = rgb.data<float>();
  const float* m = map.data<float>();
  for (int64_t i = 0; i < hw; ++i) {
    const float v = clamp01(m[i]);
    float c[3];
    jet(v, c[0], c[1], c[2]);
    const float a = 0.35f + 0.4f * v;
    for (int k = 0; k < 3; ++k) p[k * hw + i] = (1.0f - a) * clamp01(p[k * hw + i]) + a * c[k];
  }
  return rgb;
}

void draw_outline(Tensor& rgb, const Tensor& region, float r, float g, float b, int thickness) {
  int64_t h = 0, w = 0;
  plane_dims(region, "outline region", h, w);
  SAD_CHECK(rgb.ndim() == 3 && rgb.dim(0) == 3 && rgb.dim(1) == h && rgb.dim(2) == w, "outline: image ", rgb.str(),
            " does not match region ", region.str());
  const float* m = region.data<float>();
  auto inside = [&](int64_t i, int64_t j) { return i >= 0 && j >= 0 && i < h && j < w && m[i * w + j] >= 0.5f; };
  std::vector<uint8_t> edge(static_cast<size_t>(h * w), 0);
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < w; ++j)
      if (inside(i, j) && (!inside(i - 1, j) || !inside(i + 1, j) || !inside(i, j - 1) || !inside(i, j + 1)))
        edge[static_cast<size_t>(i * w + j)] = 1;
  // Thicken inwards and outwards by dilating the one-pixel boundary with a square.
  const int64_t rad = std::max(thickness, 1) - 1;
  float* p = rgb.data<float>();
  const float col[3] = {r, g, b};
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < w; ++j) {
      bool on = false;
      for (int64_t di = -rad; di <= rad && !on; ++di)
        for (int64_t dj = -rad; dj <= rad && !on; ++dj) {
          const int64_t y = i + di, x = j + dj;
          on = y >= 0 && x >= 0 && y < h && x < w && edge[static_cast<size_t>(y * w + x)];
        }
      if (on)
        for (int k = 0; k < 3; ++k) p[(k * h + i) * w + j] = col[k];
    }
}

Tensor make_panel(const Tensor& image, const Tensor& mask, const Tensor& map, int tile_max) {
  SAD_CHECK(tile_max >= 8, "panel: tile_max must be >= 8, got ", tile_max);
  Tensor rgb = to_rgb(image);
  const int64_t h0 = rgb.dim(1), w0 = rgb.dim(2);
  // Tile size: the image's, shrunk so the longer side fits tile_max (aspect kept).
  const double scale = std::min(1.0, static_cast<double>(tile_max) / static_cast<double>(std::max(h0, w0)));
  const int th = std::max(1, static_cast<int>(std::lround(static_cast<double>(h0) * scale)));
  const int tw = std::max(1, static_cast<int>(std::lround(static_cast<double>(w0) * scale)));

  Tensor img = data::resize(rgb, th, tw);
  int64_t mh = 0, mw = 0;
  plane_dims(map, "panel map", mh, mw);
  SAD_CHECK(mh == h0 && mw == w0, "panel: map ", map.str(), " does not match image ", image.str());
  Tensor map_t = data::resize(map.reshape({1, mh, mw}), th, tw);
  // Tiles 3 and 4: heatmap overlay, and the predicted region's outline.
  Tensor heat = heatmap_overlay(img, map_t);
  Tensor pred = Tensor::empty({1, th, tw});
  {
    const float* s = map_t.data<float>();
    float* d = pred.data<float>();
    for (int64_t i = 0; i < static_cast<int64_t>(th) * tw; ++i) d[i] = s[i] >= 0.5f ? 1.0f : 0.0f;
  }
  Tensor outl = img.clone();
  const int thick = std::max(1, std::min(th, tw) / 128 + 1);
  // Tile 2: the mask (white defect on black), or mid-gray when there is none.
  Tensor mask_tile;
  if (mask.defined()) {
    int64_t kh = 0, kw = 0;
    plane_dims(mask, "panel mask", kh, kw);
    SAD_CHECK(kh == h0 && kw == w0, "panel: mask ", mask.str(), " does not match image ", image.str());
    Tensor m = data::resize_mask(mask.reshape({1, kh, kw}), th, tw, data::MaskResize::Area);
    draw_outline(outl, m, 0.1f, 0.9f, 0.1f, thick);
    mask_tile = to_rgb(m);
  } else {
    mask_tile = Tensor::full({3, th, tw}, 0.5);
  }
  draw_outline(outl, pred, 1.0f, 0.1f, 0.1f, thick);

  const int gap = 2;
  const int64_t pw = 4 * static_cast<int64_t>(tw) + 3 * gap;
  Tensor panel = Tensor::full({3, th, pw}, 1.0);
  float* dst = panel.data<float>();
  const Tensor* tiles[4] = {&img, &mask_tile, &heat, &outl};
  for (int t = 0; t < 4; ++t) {
    const float* src = tiles[t]->data<float>();
    const int64_t x0 = t * (static_cast<int64_t>(tw) + gap);
    for (int c = 0; c < 3; ++c)
      for (int64_t i = 0; i < th; ++i)
        for (int64_t j = 0; j < tw; ++j)
          dst[(c * th + i) * pw + x0 + j] = clamp01(src[(c * static_cast<int64_t>(th) + i) * tw + j]);
  }
  return panel;
}

}  // namespace sad::cli
