// Perlin noise and the training-time perturbation (see perturb.h and METHOD.md). The order
// of random draws below is part of the contract: changing it changes every training run.
#include "data/perturb.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace sad::data {

namespace {

constexpr double kPi = 3.14159265358979323846;

inline double fade(double t) { return t * t * t * (t * (t * 6.0 - 15.0) + 10.0); }

// (S, S) plane rotated by k * 90 degrees counter-clockwise.
void rotate_square(const float* in, float* out, int64_t s, int k) {
  for (int64_t i = 0; i < s; ++i)
    for (int64_t j = 0; j < s; ++j) {
      int64_t si = i, sj = j;
      switch (k & 3) {
        case 0: break;
        case 1: si = j, sj = s - 1 - i; break;
        case 2: si = s - 1 - i, sj = s - 1 - j; break;
        case 3: si = s - 1 - j, sj = i; break;
      }
      out[i * s + j] = in[si * s + sj];
    }
}

void check_image(const Tensor& x) {
  SAD_CHECK(x.defined() && x.ndim() == 3 && x.dtype() == DType::F32 && x.device().is_cpu(),
            "perturb: expected a float32 CPU image (C, S, S), got ", x.defined() ? x.str() : "undefined");
  SAD_CHECK(x.dim(1) == x.dim(2) && x.dim(1) > 0, "perturb: image must be square, got ", x.str());
}

}  // namespace

Tensor perlin_noise(int64_t h, int64_t w, int res_y, int res_x, Rng& rng) {
  SAD_CHECK(h > 0 && w > 0 && res_y > 0 && res_x > 0, "perlin_noise: bad size ", h, " x ", w, " or resolution ", res_y,
            " x ", res_x);
  // Unit gradients at the lattice points, row-major.
  const int64_t gw = res_x + 1;
  std::vector<double> gx(static_cast<size_t>((res_y + 1) * gw)), gy(gx.size());
  for (size_t g = 0; g < gx.size(); ++g) {
    const double th = 2.0 * kPi * rng.uniform();
    gx[g] = std::cos(th);
    gy[g] = std::sin(th);
  }
  Tensor out = Tensor::empty({h, w});
  float* dst = out.data<float>();
  for (int64_t i = 0; i < h; ++i) {
    const double v = static_cast<double>(i * res_y) / h;
    const int64_t cy = std::min<int64_t>(static_cast<int64_t>(v), res_y - 1);
    const double fy = v - cy, wy = fade(fy);
    for (int64_t j = 0; j < w; ++j) {
      const double u = static_cast<double>(j * res_x) / w;
      const int64_t cx = std::min<int64_t>(static_cast<int64_t>(u), res_x - 1);
      const double fx = u - cx, wx = fade(fx);
      auto corner = [&](int64_t dy, int64_t dx) {
        const size_t g = static_cast<size_t>((cy + dy) * gw + cx + dx);
        return gx[g] * (fx - dx) + gy[g] * (fy - dy);
      };
      const double top = corner(0, 0) + wx * (corner(0, 1) - corner(0, 0));
      const double bottom = corner(1, 0) + wx * (corner(1, 1) - corner(1, 0));
      dst[i * w + j] = static_cast<float>(std::sqrt(2.0) * (top + wy * (bottom - top)));
    }
  }
  return out;
}

Tensor perlin_region(int64_t size, Rng& rng, const PerturbOptions& opt) {
  const int a = static_cast<int>(rng.below(static_cast<uint64_t>(opt.max_scale_log2) + 1));
  const int b = static_cast<int>(rng.below(static_cast<uint64_t>(opt.max_scale_log2) + 1));
  Tensor noise = perlin_noise(size, size, 1 << a, 1 << b, rng);
  const int k = static_cast<int>(rng.below(4));
  Tensor m = Tensor::empty({1, size, size});
  rotate_square(noise.data<float>(), m.data<float>(), size, k);
  float* p = m.data<float>();
  for (int64_t i = 0; i < m.numel(); ++i) p[i] = p[i] > opt.threshold ? 1.0f : 0.0f;
  return m;
}

Tensor crack_region(int64_t size, Rng& rng) {
  Tensor m = Tensor::zeros({1, size, size});
  float* p = m.data<float>();
  const double n = static_cast<double>(size);
  double y = rng.uniform(0, n), x = rng.uniform(0, n), angle = rng.uniform(0, 2 * std::numbers::pi);
  const double length = rng.uniform(n / 4, n), half = rng.uniform(0.5, 0.5 + n / 64);
  const int64_t reach = static_cast<int64_t>(std::ceil(half));
  for (double t = 0; t < length; t += 0.5) {
    angle += rng.normal(0.0, 0.15);
    y += 0.5 * std::sin(angle);
    x += 0.5 * std::cos(angle);
    const int64_t cy = static_cast<int64_t>(std::floor(y)), cx = static_cast<int64_t>(std::floor(x));
    for (int64_t i = cy - reach; i <= cy + reach; ++i)
      for (int64_t j = cx - reach; j <= cx + reach; ++j) {
        if (i < 0 || j < 0 || i >= size || j >= size) continue;
        const double dy = static_cast<double>(i) + 0.5 - y, dx = static_cast<double>(j) + 0.5 - x;
        if (dy * dy + dx * dx <= half * half) p[i * size + j] = 1.0f;
      }
  }
  return m;
}

Tensor uneven_weights(int64_t size, Rng& rng) {
  const int res_y = 1 + static_cast<int>(rng.below(2)), res_x = 1 + static_cast<int>(rng.below(2));
  Tensor noise = perlin_noise(size, size, res_y, res_x, rng);
  const int k = static_cast<int>(rng.below(4));
  const double level = rng.uniform(-0.3, 0.3);
  Tensor w = Tensor::empty({1, size, size});
  rotate_square(noise.data<float>(), w.data<float>(), size, k);
  float* p = w.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i) p[i] = static_cast<float>(std::clamp(0.5 + (p[i] - level) / 0.5, 0.0, 1.0));
  return w;
}

Perturbed perturb(const Tensor& x, Rng& rng, const PerturbOptions& opt, const OtherImages& others) {
  check_image(x);
  SAD_CHECK(opt.p_perturb >= 0.0 && opt.p_perturb <= 1.0, "perturb: p_perturb must be in [0, 1], got ", opt.p_perturb);
  SAD_CHECK(opt.p_crack >= 0.0 && opt.p_crack <= 1.0, "perturb: p_crack must be in [0, 1], got ", opt.p_crack);
  SAD_CHECK(opt.p_uneven >= 0.0 && opt.p_uneven <= 1.0, "perturb: p_uneven must be in [0, 1], got ", opt.p_uneven);
  SAD_CHECK(opt.max_draws >= 1 && opt.max_scale_log2 >= 0 && opt.max_scale_log2 < 16 && opt.noise_res >= 1,
            "perturb: bad options");
  const int64_t c = x.dim(0), s = x.dim(1), plane = s * s;
  Perturbed r;
  r.image = x.clone();
  r.mask = Tensor::zeros({1, s, s});
  if (!(rng.uniform() < opt.p_perturb)) return r;

  const float* xs = x.data<float>();
  Tensor t = Tensor::empty({c, s, s});
  float* ts = t.data<float>();
  float* out = r.image.data<float>();
  for (int draw = 1; draw <= opt.max_draws; ++draw) {
    r.draws = draw;
    const bool crack = opt.p_crack > 0 && rng.uniform() < opt.p_crack;
    const bool uneven = !crack && opt.p_uneven > 0 && rng.uniform() < opt.p_uneven;
    // The blend weights: the binary mask itself, or an uneven region's soft weights.
    const Tensor weights = uneven ? uneven_weights(s, rng) : Tensor();
    Tensor m = crack ? crack_region(s, rng) : uneven ? Tensor::empty({1, s, s}) : perlin_region(s, rng, opt);
    if (uneven) {
      const float* wp = weights.data<float>();
      float* mp = m.data<float>();
      for (int64_t i = 0; i < plane; ++i) mp[i] = wp[i] >= 0.5f ? 1.0f : 0.0f;
    }
    const float* ms = m.data<float>();
    const float* ws = uneven ? weights.data<float>() : ms;
    double area = 0;
    for (int64_t i = 0; i < plane; ++i) area += ms[i];
    area /= static_cast<double>(plane);
    if (area < (uneven ? opt.uneven_min_area : opt.min_area) || area > (uneven ? opt.uneven_max_area : opt.max_area))
      continue;

    const auto source = uneven ? PerturbSource::Intensity : static_cast<PerturbSource>(rng.below(3));
    if (source == PerturbSource::OtherImage) {
      Tensor other = x;
      if (others.count >= 2 && others.get) {
        const bool has_self = others.self >= 0 && others.self < others.count;
        int64_t j = static_cast<int64_t>(rng.below(static_cast<uint64_t>(others.count - (has_self ? 1 : 0))));
        if (has_self && j >= others.self) ++j;
        other = others.get(j);
        SAD_CHECK(other.defined() && other.shape() == x.shape() && other.dtype() == DType::F32,
                  "perturb: other training image ", j, " is ", other.defined() ? other.str() : "undefined",
                  ", expected ", x.str());
      }
      const int64_t dy = static_cast<int64_t>(rng.below(static_cast<uint64_t>(s)));
      const int64_t dx = static_cast<int64_t>(rng.below(static_cast<uint64_t>(s)));
      const float* os = other.data<float>();
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t i = 0; i < s; ++i)
          for (int64_t j = 0; j < s; ++j)
            ts[ch * plane + i * s + j] = os[ch * plane + ((i + dy) % s) * s + (j + dx) % s];
    } else if (source == PerturbSource::Noise) {
      // One Perlin field per channel (coloured blobs for RGB), then per-element Gaussian.
      for (int64_t ch = 0; ch < c; ++ch) {
        Tensor pn = perlin_noise(s, s, opt.noise_res, opt.noise_res, rng);
        const float* pp = pn.data<float>();
        for (int64_t i = 0; i < plane; ++i) {
          const double v = rng.normal(0.0, opt.noise_std) + pp[i];
          ts[ch * plane + i] = static_cast<float>(std::clamp(v, -1.0, 1.0));
        }
      }
    } else {
      const double sign = rng.below(2) ? 1.0 : -1.0;
      const double delta = sign * rng.uniform(opt.shift_min, opt.shift_max);
      for (int64_t i = 0; i < c * plane; ++i) ts[i] = static_cast<float>(xs[i] + delta);
    }
    const double beta = rng.uniform(opt.beta_min, opt.beta_max);

    // x~ = clip((1 - w) x + w ((1 - beta) x + beta t), -1, 1) with w = m (METHOD.md) or an
    // uneven region's soft weights; visibility = mean over m of |x~ - x|.
    double diff = 0;
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < plane; ++i) {
        const int64_t e = ch * plane + i;
        const double wv = ws[i];
        const double v = (1.0 - wv) * xs[e] + wv * ((1.0 - beta) * xs[e] + beta * ts[e]);
        out[e] = static_cast<float>(std::clamp(v, -1.0, 1.0));
        diff += static_cast<double>(ms[i]) * std::abs(static_cast<double>(out[e]) - xs[e]);
      }
    const double visibility = diff / (area * static_cast<double>(plane) * static_cast<double>(c));
    if (visibility < opt.min_visibility) continue;
    r.mask = m;
    r.label = 1.0f;
    r.source = source;
    return r;
  }
  // Every draw failed: the image stays as it was.
  r.image.copy_from(x);
  return r;
}

}  // namespace sad::data
