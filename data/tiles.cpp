// Tiles: working size, window grid, crops and weighted stitching.
#include "data/tiles.h"

#include <algorithm>
#include <cmath>

#include "data/image.h"
#include "tensor/check.h"

namespace sad::data {

Size2 working_size(int64_t h, int64_t w, double scale, int64_t s) {
  SAD_CHECK(h > 0 && w > 0 && s > 0 && scale > 0 && std::isfinite(scale), "tiles: bad image ", h, "x", w, " or scale ",
            scale);
  const double f = std::max(scale, static_cast<double>(s) / static_cast<double>(std::min(h, w)));
  auto side = [&](int64_t n) { return std::max<int64_t>(s, std::llround(static_cast<double>(n) * f)); };
  return {side(h), side(w)};
}

std::vector<int64_t> window_starts(int64_t n, int64_t s, int64_t stride) {
  SAD_CHECK(n >= s && s > 0 && stride > 0 && stride <= s, "tiles: axis ", n, " window ", s, " stride ", stride);
  std::vector<int64_t> v;
  for (int64_t p = 0; p + s <= n; p += stride) v.push_back(p);
  if (v.back() + s < n) v.push_back(n - s);
  return v;
}

TileGrid tile_grid(Size2 size, int64_t s, int64_t stride) {
  TileGrid g;
  g.size = size;
  g.s = s;
  g.ys = window_starts(size.h, s, stride);
  g.xs = window_starts(size.w, s, stride);
  return g;
}

std::vector<float> window_weight(int64_t s) {
  const double half = static_cast<double>((s + 1) / 2);
  std::vector<double> t(static_cast<size_t>(s));
  for (int64_t i = 0; i < s; ++i) t[static_cast<size_t>(i)] = static_cast<double>(std::min(i, s - 1 - i) + 1) / half;
  std::vector<float> w(static_cast<size_t>(s * s));
  for (int64_t i = 0; i < s; ++i)
    for (int64_t j = 0; j < s; ++j)
      w[static_cast<size_t>(i * s + j)] = static_cast<float>(t[static_cast<size_t>(i)] * t[static_cast<size_t>(j)]);
  return w;
}

Tensor working_input(const Tensor& image, double scale, int64_t s) {
  const Size2 ws = working_size(image.dim(1), image.dim(2), scale, s);
  Tensor x = resize(image, static_cast<int>(ws.h), static_cast<int>(ws.w));
  to_signed_range(x);
  return x;
}

Tensor load_working_image(const std::string& path, int channels, double scale, int64_t s) {
  return working_input(load_image(path, channels), scale, s);
}

Tensor crop(const Tensor& image, int64_t y, int64_t x, int64_t s) {
  SAD_CHECK(image.ndim() == 3 && image.device().is_cpu() && image.dtype() == DType::F32, "crop: expects (C, H, W)");
  const int64_t c = image.dim(0), h = image.dim(1), w = image.dim(2);
  SAD_CHECK(y >= 0 && x >= 0 && y + s <= h && x + s <= w, "crop: window (", y, ", ", x, ") of side ", s, " leaves the ",
            h, "x", w, " image");
  Tensor out = Tensor::empty({c, s, s});
  const float* a = image.data<float>();
  float* o = out.data<float>();
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t i = 0; i < s; ++i) std::copy_n(a + (ch * h + y + i) * w + x, s, o + (ch * s + i) * s);
  return out;
}

Tensor stitch(const Tensor& maps, const TileGrid& grid) {
  const int64_t s = grid.s, n = grid.count();
  SAD_CHECK(maps.numel() == n * s * s && maps.dim(0) == n && maps.device().is_cpu(), "stitch: ", n, " maps of side ", s,
            " expected, got ", shape_str(maps.shape()));
  const int64_t h = grid.size.h, w = grid.size.w;
  const std::vector<float> wt = window_weight(s);
  const std::vector<float> v = maps.to_vector();
  std::vector<double> sum(static_cast<size_t>(h * w), 0.0), den(static_cast<size_t>(h * w), 0.0);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t y0 = grid.y(k), x0 = grid.x(k);
    const float* m = v.data() + k * s * s;
    for (int64_t i = 0; i < s; ++i)
      for (int64_t j = 0; j < s; ++j) {
        const size_t at = static_cast<size_t>((y0 + i) * w + x0 + j);
        const double q = wt[static_cast<size_t>(i * s + j)];
        sum[at] += q * m[i * s + j];
        den[at] += q;
      }
  }
  std::vector<float> out(sum.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(sum[i] / den[i]);
  return Tensor::from_vector(out, {h, w});
}

Tensor dihedral(const Tensor& x, int k) {
  SAD_CHECK(x.ndim() == 3 && x.dim(1) == x.dim(2) && k >= 0 && k < 8, "dihedral: image ", shape_str(x.shape()),
            " must be (C, s, s) and k in [0, 8), got ", k);
  const int64_t c = x.dim(0), s = x.dim(1);
  const std::vector<float> v = x.to(Device::cpu()).to_vector();
  std::vector<float> out(v.size());
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t i = 0; i < s; ++i)
      for (int64_t j = 0; j < s; ++j) {
        // Output (i, j) reads the source pixel that the transform moves there.
        int64_t y = i, xx = (k & 4) ? s - 1 - j : j;  // undo the mirror first
        for (int r = 0; r < (k & 3); ++r) {           // then each quarter turn
          const int64_t ny = xx, nx = s - 1 - y;
          y = ny, xx = nx;
        }
        out[static_cast<size_t>((ch * s + i) * s + j)] = v[static_cast<size_t>((ch * s + y) * s + xx)];
      }
  return Tensor::from_vector(out, x.shape());
}

}  // namespace sad::data
