// CPU reference for the SSIM map and its backward: the structural term of L_G and half
// of the residual evidence r in METHOD.md. Per channel, with a Gaussian window G
// (window x window taps, sigma, normalised to sum 1, applied separably):
//   mu_x = G*x, mu_y = G*y, s_xx = G*(x^2) - mu_x^2, s_yy = G*(y^2) - mu_y^2,
//   s_xy = G*(xy) - mu_x mu_y,
//   map  = ((2 mu_x mu_y + C1)(2 s_xy + C2)) / ((mu_x^2 + mu_y^2 + C1)(s_xx + s_yy + C2)),
//   C1 = (k1 L)^2, C2 = (k2 L)^2, L = data_range.
// "G*" is a correlation. same_size = true: zero padding window/2, i.e. the filtered
// images are what a 2-D convolution with that padding computes (values outside the image
// are zeros, exactly like PyTorch's conv2d(padding = window/2)); false: valid positions.
// Every plane is computed in double, independently, so results do not depend on threads.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/checks.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/isa.h"

// ---- the contract: the checks kernels/ops.h runs before either backend ----------------------

namespace sad::ops {

std::vector<double> gaussian_taps(int window, double sigma) {
  SAD_CHECK(window >= 1 && sigma > 0, "gaussian_taps: window must be >= 1 and sigma > 0, got ", window, ", ", sigma);
  std::vector<double> g(static_cast<size_t>(window));
  double sum = 0;
  for (int k = 0; k < window; ++k) {
    const double d = k - window / 2;
    g[static_cast<size_t>(k)] = std::exp(-d * d / (2 * sigma * sigma));
    sum += g[static_cast<size_t>(k)];
  }
  for (double& v : g) v /= sum;
  return g;
}

Shape ssim_map_shape(const SsimParams& p, const Shape& in) {
  SAD_CHECK(in.size() == 4, "ssim: input must be (N, C, H, W), got ", shape_str(in));
  SAD_CHECK(p.window >= 1 && p.window % 2 == 1 && p.sigma > 0, "ssim: window ", p.window, " (odd) / sigma ", p.sigma);
  if (p.same_size) return in;
  SAD_CHECK(in[2] >= p.window && in[3] >= p.window, "ssim: image ", shape_str(in), " smaller than the window ",
            p.window);
  return {in[0], in[1], in[2] - p.window + 1, in[3] - p.window + 1};
}

namespace contract {

using namespace detail;

const Tensor& ssim_forward(const SsimParams& p, const Tensor& x, const Tensor& y, Tensor& map) {
  const char* op = "ssim";
  check_call(op, OpId::Ssim, "x", x, {{"y", &y}, {"map", &map}});
  check_shape(op, "y", y, x.shape());
  check_shape(op, "map", map, ssim_map_shape(p, x.shape()));
  return x;
}

const Tensor& ssim_backward(const SsimParams& p, const Tensor& x, const Tensor& y, const Tensor& dmap, Tensor* dx,
                            Tensor* dy) {
  const char* op = "ssim_backward";
  check_call(op, OpId::Ssim, "x", x, {{"y", &y}, {"dmap", &dmap}, {"dx", dx}, {"dy", dy}});
  check_shape(op, "y", y, x.shape());
  check_shape(op, "dmap", dmap, ssim_map_shape(p, x.shape()));
  if (dx) check_shape(op, "dx", *dx, x.shape());
  if (dy) check_shape(op, "dy", *dy, x.shape());
  return x;
}

}  // namespace contract
}  // namespace sad::ops

namespace sad::cpu {

namespace {

// One plane's geometry: input h x w, output ho x wo, and the offset `off` (the padding)
// that maps output (i, j) to the window's first input (i - off, j - off).
struct Plane {
  int64_t h, w, ho, wo, off;
};

// out(i, j) = sum_{u, v} g[u] g[v] in(i + u - off, j + v - off), zero outside the image.
// Separable: a horizontal pass into tmp (h x wo), then a vertical pass. Each output is the
// sum of its in-image taps in tap order, starting from 0; the loops run tap by tap over a
// whole row (the range of outputs a tap reaches inside the image is contiguous), so the
// compiler vectorises them across the row and every sum keeps its order.
inline void filter_body(const std::vector<double>& g, const Plane& s, const double* __restrict in,
                        double* __restrict tmp, double* __restrict out) {
  const int64_t k = static_cast<int64_t>(g.size());
  for (int64_t r = 0; r < s.h; ++r) {
    double* __restrict t = tmp + r * s.wo;
    const double* __restrict row = in + r * s.w;
    std::fill(t, t + s.wo, 0.0);
    for (int64_t v = 0; v < k; ++v) {
      const int64_t shift = v - s.off, j0 = std::max<int64_t>(0, -shift), j1 = std::min(s.wo, s.w - shift);
      const double gv = g[static_cast<size_t>(v)];
      for (int64_t j = j0; j < j1; ++j) t[j] += gv * row[j + shift];
    }
  }
  for (int64_t i = 0; i < s.ho; ++i) {
    double* __restrict o = out + i * s.wo;
    std::fill(o, o + s.wo, 0.0);
    for (int64_t u = 0; u < k; ++u) {
      const int64_t r = i + u - s.off;
      if (r < 0 || r >= s.h) continue;
      const double gu = g[static_cast<size_t>(u)];
      const double* __restrict src = tmp + r * s.wo;
      for (int64_t j = 0; j < s.wo; ++j) o[j] += gu * src[j];
    }
  }
}

// The adjoint (transpose) of `filter`: din(r, c) = sum_{i, j} g[r - i + off] g[c - j + off]
// dout(i, j) over the outputs whose window covers (r, c). Written as a gather (tap u of
// output i = r + off - u), so each input pixel is summed in a fixed order (tap order, as
// `filter`, and vectorised the same way).
inline void filter_adjoint_body(const std::vector<double>& g, const Plane& s, const double* __restrict dout,
                                double* __restrict tmp, double* __restrict din) {
  const int64_t k = static_cast<int64_t>(g.size());
  for (int64_t r = 0; r < s.h; ++r) {
    double* __restrict t = tmp + r * s.wo;
    std::fill(t, t + s.wo, 0.0);
    for (int64_t u = 0; u < k; ++u) {
      const int64_t i = r + s.off - u;
      if (i < 0 || i >= s.ho) continue;
      const double gu = g[static_cast<size_t>(u)];
      const double* __restrict src = dout + i * s.wo;
      for (int64_t j = 0; j < s.wo; ++j) t[j] += gu * src[j];
    }
  }
  for (int64_t r = 0; r < s.h; ++r) {
    double* __restrict d = din + r * s.w;
    const double* __restrict t = tmp + r * s.wo;
    std::fill(d, d + s.w, 0.0);
    for (int64_t v = 0; v < k; ++v) {
      // j = c + off - v must lie in [0, wo).
      const int64_t shift = s.off - v, c0 = std::max<int64_t>(0, -shift), c1 = std::min(s.w, s.wo - shift);
      const double gv = g[static_cast<size_t>(v)];
      for (int64_t c = c0; c < c1; ++c) d[c] += gv * t[c + shift];
    }
  }
}

// Both on the instruction-set path of kernels/cpu/isa.h (the same bits on each).
void filter(const std::vector<double>& g, const Plane& s, const double* in, double* tmp, double* out) {
  isa_run([&] { filter_body(g, s, in, tmp, out); });
}
void filter_adjoint(const std::vector<double>& g, const Plane& s, const double* dout, double* tmp, double* din) {
  isa_run([&] { filter_adjoint_body(g, s, dout, tmp, din); });
}

// The five filtered images of one plane: G*x, G*y, G*(x^2), G*(y^2), G*(xy), each ho x wo.
struct Moments {
  std::vector<double> mx, my, exx, eyy, exy;
};

template <typename T>
Moments plane_moments(const std::vector<double>& g, const Plane& s, const T* x, const T* y) {
  const int64_t hw = s.h * s.w, howo = s.ho * s.wo;
  std::vector<double> xd(hw), yd(hw), xx(hw), yy(hw), xy(hw), tmp(s.h * s.wo);
  for (int64_t k = 0; k < hw; ++k) {
    xd[k] = x[k];
    yd[k] = y[k];
    xx[k] = xd[k] * xd[k];
    yy[k] = yd[k] * yd[k];
    xy[k] = xd[k] * yd[k];
  }
  Moments m{std::vector<double>(howo), std::vector<double>(howo), std::vector<double>(howo), std::vector<double>(howo),
            std::vector<double>(howo)};
  filter(g, s, xd.data(), tmp.data(), m.mx.data());
  filter(g, s, yd.data(), tmp.data(), m.my.data());
  filter(g, s, xx.data(), tmp.data(), m.exx.data());
  filter(g, s, yy.data(), tmp.data(), m.eyy.data());
  filter(g, s, xy.data(), tmp.data(), m.exy.data());
  return m;
}

Plane plane_of(const ops::SsimParams& p, const Tensor& x) {
  const int64_t h = x.dim(2), w = x.dim(3);
  if (p.same_size) return {h, w, h, w, p.window / 2};
  return {h, w, h - p.window + 1, w - p.window + 1, 0};
}

}  // namespace

void ssim_forward(const ops::SsimParams& p, const Tensor& x, const Tensor& y, Tensor& map) {
  dispatch_float(x.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* px = x.data<T>();  // (N, C, H, W)
    const T* py = y.data<T>();  // (N, C, H, W)
    T* pm = map.data<T>();      // (N, C, Ho, Wo)
    const std::vector<double> g = ops::gaussian_taps(p.window, p.sigma);
    const Plane s = plane_of(p, x);
    const double c1 = std::pow(double(p.k1) * p.data_range, 2), c2 = std::pow(double(p.k2) * p.data_range, 2);
    const int64_t planes = x.dim(0) * x.dim(1);
#pragma omp parallel for schedule(dynamic) if (planes > 1 && s.h * s.w * planes > 16384)
    for (int64_t pl = 0; pl < planes; ++pl) {
      Moments m = plane_moments(g, s, px + pl * s.h * s.w, py + pl * s.h * s.w);
      T* out = pm + pl * s.ho * s.wo;
      for (int64_t k = 0; k < s.ho * s.wo; ++k) {
        const double mx = m.mx[k], my = m.my[k];
        const double sxx = m.exx[k] - mx * mx, syy = m.eyy[k] - my * my, sxy = m.exy[k] - mx * my;
        out[k] = static_cast<T>(((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2)));
      }
    }
  });
}

// Backward. At one output position write A1 = 2 mx my + C1, A2 = 2 sxy + C2,
// B1 = mx^2 + my^2 + C1, B2 = sxx + syy + C2, S = A1 A2 / (B1 B2). Take the five filtered
// images mx, my, exx = G*(x^2), eyy = G*(y^2), exy = G*(xy) as the independent variables
// (sxx = exx - mx^2, syy = eyy - my^2, sxy = exy - mx my). Point-wise:
//   dS/dexx = dS/dsxx = -S / B2            dS/deyy = -S / B2
//   dS/dexy = dS/dsxy = 2 A1 / (B1 B2)
//   dS/dmx  = [2 my A2 / (B1 B2) - 2 mx S / B1]       (through A1 and B1)
//           + (-S / B2)(-2 mx) + (2 A1 / (B1 B2))(-my)  (through sxx and sxy)
//           = 2 my (A2 - A1) / (B1 B2) + 2 mx S (1/B2 - 1/B1)
//   dS/dmy  = 2 mx (A2 - A1) / (B1 B2) + 2 my S (1/B2 - 1/B1)      (by symmetry)
// Each is multiplied by dmap, giving a gradient image per filtered image; the filtering
// is linear, so its adjoint G^T (filter_adjoint) carries each one back to the input grid:
//   dx = G^T(gmx) + 2 x G^T(gexx) + y G^T(gexy)
//   dy = G^T(gmy) + 2 y G^T(geyy) + x G^T(gexy)
// (the chain rule through x^2 and xy, which are point-wise in the input).
void ssim_backward(const ops::SsimParams& p, const Tensor& x, const Tensor& y, const Tensor& dmap, Tensor* dx,
                   Tensor* dy) {
  if (!dx && !dy) return;
  dispatch_float(x.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* px = x.data<T>();      // (N, C, H, W)
    const T* py = y.data<T>();      // (N, C, H, W)
    const T* pdm = dmap.data<T>();  // (N, C, Ho, Wo)
    T* pdx = dx ? dx->data<T>() : nullptr;
    T* pdy = dy ? dy->data<T>() : nullptr;
    const std::vector<double> g = ops::gaussian_taps(p.window, p.sigma);
    const Plane s = plane_of(p, x);
    const double c1 = std::pow(double(p.k1) * p.data_range, 2), c2 = std::pow(double(p.k2) * p.data_range, 2);
    const int64_t planes = x.dim(0) * x.dim(1), hw = s.h * s.w, howo = s.ho * s.wo;
#pragma omp parallel for schedule(dynamic) if (planes > 1 && hw * planes > 16384)
    for (int64_t pl = 0; pl < planes; ++pl) {
      const T* xp = px + pl * hw;
      const T* yp = py + pl * hw;
      const T* dm = pdm + pl * howo;
      Moments m = plane_moments(g, s, xp, yp);
      // Gradients with respect to the filtered images, overwriting the moments in place.
      for (int64_t k = 0; k < howo; ++k) {
        const double mx = m.mx[k], my = m.my[k];
        const double sxx = m.exx[k] - mx * mx, syy = m.eyy[k] - my * my, sxy = m.exy[k] - mx * my;
        const double a1 = 2 * mx * my + c1, a2 = 2 * sxy + c2;
        const double b1 = mx * mx + my * my + c1, b2 = sxx + syy + c2;
        const double ssim = a1 * a2 / (b1 * b2), d = dm[k];
        const double cross = 2 * (a2 - a1) / (b1 * b2), self = 2 * ssim * (1 / b2 - 1 / b1);
        m.mx[k] = d * (my * cross + mx * self);
        m.my[k] = d * (mx * cross + my * self);
        m.exx[k] = d * (-ssim / b2);
        m.eyy[k] = m.exx[k];
        m.exy[k] = d * (2 * a1 / (b1 * b2));
      }
      std::vector<double> tmp(s.h * s.wo), a_m(hw), a_e(hw), a_xy(hw);
      filter_adjoint(g, s, m.exy.data(), tmp.data(), a_xy.data());
      if (pdx) {
        filter_adjoint(g, s, m.mx.data(), tmp.data(), a_m.data());
        filter_adjoint(g, s, m.exx.data(), tmp.data(), a_e.data());
        T* o = pdx + pl * hw;
        for (int64_t k = 0; k < hw; ++k)
          o[k] = static_cast<T>(a_m[k] + 2 * double(xp[k]) * a_e[k] + double(yp[k]) * a_xy[k]);
      }
      if (pdy) {
        filter_adjoint(g, s, m.my.data(), tmp.data(), a_m.data());
        filter_adjoint(g, s, m.eyy.data(), tmp.data(), a_e.data());
        T* o = pdy + pl * hw;
        for (int64_t k = 0; k < hw; ++k)
          o[k] = static_cast<T>(a_m[k] + 2 * double(yp[k]) * a_e[k] + double(xp[k]) * a_xy[k]);
      }
    }
  });
}

}  // namespace sad::cpu
